/**
 * Counting AWS calls where they leave the process: an SDK middleware on every
 * client (DynamoDB, Scheduler, SQS, EventBridge) sees each command once, by
 * name, whatever the service code does. DynamoDB calls go to a real dynalite
 * and are metered in request units from the items they read and write. The
 * services we cannot run here (Scheduler, SQS, EventBridge) answer from a
 * local request handler that plays the service's part at the HTTP layer, so
 * the full SDK pipeline — serialisation, signing, parsing — still runs, as it
 * would in a Lambda, and the request sizes are known.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { nonKeyAttributes, TABLE_SCHEMA } from '../../lib/adapters/dynamodb/schema.ts';
import { itemSize, readUnits, writeUnits, type IndexShape, type Item } from './capacity.ts';

/** The commands any of our clients may send, as counted. */
export type CallName = 'GetItem' | 'PutItem' | 'DeleteItem' | 'Query' | 'Scan' | 'CreateSchedule' | 'SendMessage' | 'PutEvents' | string;

interface MiddlewareStackLike {
  add(middleware: (next: (args: { input: unknown }) => Promise<{ output: unknown }>, context: { commandName?: string }) => (args: { input: unknown }) => Promise<{ output: unknown }>, options: { step: 'initialize'; name: string }): void;
}

/** Calls by command name, for every client it is attached to. */
export class CallCounter {
  private counts = new Map<string, number>();

  attach(client: { middlewareStack: unknown }): void {
    (client.middlewareStack as MiddlewareStackLike).add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
        this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
        return next(args);
      },
      { step: 'initialize', name: `bench-count-${randomUUID()}` },
    );
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  reset(): void {
    this.counts = new Map();
  }
}

export const BACKOFF_TABLE_INDEXES: readonly IndexShape[] = Object.values(TABLE_SCHEMA.indexes).map((index) => ({
  name: index.indexName,
  partitionKey: index.partitionKey.name,
  sortKey: index.sortKey.name,
  projection: index.projection,
  nonKeyAttributes: nonKeyAttributes(index),
}));

const PK = TABLE_SCHEMA.partitionKey.name;

interface DynamoInput {
  readonly Key?: Item;
  readonly Item?: Item;
  readonly ConsistentRead?: boolean;
  readonly IndexName?: string;
}

interface DynamoOutput {
  readonly Item?: Item;
  readonly Items?: Item[];
  readonly Responses?: Record<string, Item[]>;
}

/**
 * Request units of every call a DynamoDB client makes against the back-off
 * table, from a shadow copy of each item (what a write replaced), so the GSI
 * writes a change causes are counted as DynamoDB bills them.
 */
export class DynamoMeter {
  private shadow = new Map<string, Item>();
  rru = 0;
  wru = 0;
  readonly wruByIndex: Record<string, number> = {};
  wruTable = 0;
  /** Sizes of the items written, bytes. */
  readonly writtenItemBytes: number[] = [];

  attach(client: DynamoDBClient): void {
    (client.middlewareStack as unknown as MiddlewareStackLike).add(
      (next, context) => async (args) => {
        const name = String(context.commandName ?? '').replace(/Command$/, '');
        const input = args.input as DynamoInput;
        try {
          const result = await next(args);
          this.account(name, input, result.output as DynamoOutput);
          return result;
        } catch (error) {
          // A failed condition still consumes write units (the size of the item it checked).
          if ((error as Error).name === 'ConditionalCheckFailedException' && (name === 'PutItem' || name === 'DeleteItem')) {
            const key = (input.Item ?? input.Key)?.[PK]?.S;
            const existing = key ? this.shadow.get(key) : undefined;
            const units = writeUnits(existing, existing, [], PK).table;
            this.wru += units;
            this.wruTable += units;
          }
          throw error;
        }
      },
      { step: 'initialize', name: `bench-meter-${randomUUID()}` },
    );
  }

  private account(name: string, input: DynamoInput, output: DynamoOutput): void {
    switch (name) {
      case 'GetItem':
        this.rru += readUnits(output.Item ? [output.Item] : [], input.ConsistentRead === true);
        break;
      case 'Query':
      case 'Scan':
        this.rru += readUnits(output.Items ?? [], input.ConsistentRead === true && !input.IndexName);
        break;
      case 'BatchGetItem':
        this.rru += readUnits(Object.values(output.Responses ?? {}).flat(), false);
        break;
      case 'PutItem': {
        const item = input.Item!;
        const key = item[PK]!.S!;
        this.charge(writeUnits(this.shadow.get(key), item, BACKOFF_TABLE_INDEXES, PK));
        this.shadow.set(key, item);
        this.writtenItemBytes.push(itemSize(item));
        break;
      }
      case 'DeleteItem': {
        const key = input.Key![PK]!.S!;
        this.charge(writeUnits(this.shadow.get(key), undefined, BACKOFF_TABLE_INDEXES, PK));
        this.shadow.delete(key);
        break;
      }
      case 'BatchWriteItem':
        // Table fills only; not part of any measured path.
        break;
    }
  }

  private charge(units: ReturnType<typeof writeUnits>): void {
    this.wru += units.total;
    this.wruTable += units.table;
    for (const [index, value] of Object.entries(units.indexes)) this.wruByIndex[index] = (this.wruByIndex[index] ?? 0) + value;
  }

  /** Remembers an item written behind the meter's back (a bulk fill). */
  seed(item: Item): void {
    this.shadow.set(item[PK]!.S!, item);
  }

  resetUnits(): void {
    this.rru = 0;
    this.wru = 0;
    this.wruTable = 0;
    for (const index of Object.keys(this.wruByIndex)) this.wruByIndex[index] = 0;
    this.writtenItemBytes.length = 0;
  }
}

interface HttpRequestLike {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
}

/** Request bodies the stand-in services received, by command. */
export interface ReceivedRequest {
  readonly command: string;
  readonly bytes: number;
  readonly entries: number;
}

/**
 * A request handler for the SDK clients of Scheduler, SQS and EventBridge that
 * answers as the services do, without a network: CreateSchedule → its ARN,
 * SendMessage → a message id and the body's MD5 (which the SQS client checks),
 * PutEvents → one event id per entry.
 */
export class StandInServices {
  readonly received: ReceivedRequest[] = [];

  readonly requestHandler = {
    handle: async (request: HttpRequestLike) => ({ response: this.answer(request) }),
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
    destroy: () => undefined,
  };

  private answer(request: HttpRequestLike): { statusCode: number; headers: Record<string, string>; body: Uint8Array } {
    const text = typeof request.body === 'string' ? request.body : request.body instanceof Uint8Array ? new TextDecoder().decode(request.body) : '';
    const target = request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'] ?? '';
    const json = (status: number, body: unknown, contentType = 'application/json') => ({
      statusCode: status,
      headers: { 'content-type': contentType, 'x-amzn-requestid': randomUUID() },
      body: new Uint8Array(Buffer.from(JSON.stringify(body))),
    });
    if (target.endsWith('.SendMessage')) {
      const input = JSON.parse(text) as { MessageBody: string };
      this.received.push({ command: 'SendMessage', bytes: Buffer.byteLength(input.MessageBody), entries: 1 });
      return json(200, { MessageId: randomUUID(), MD5OfMessageBody: createHash('md5').update(input.MessageBody).digest('hex') }, 'application/x-amz-json-1.0');
    }
    if (target.endsWith('.PutEvents')) {
      const input = JSON.parse(text) as { Entries: { Detail?: string }[] };
      for (const entry of input.Entries) this.received.push({ command: 'PutEvents', bytes: Buffer.byteLength(entry.Detail ?? ''), entries: 1 });
      return json(200, { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: randomUUID() })) }, 'application/x-amz-json-1.1');
    }
    if (request.method === 'POST' && request.path.startsWith('/schedules/')) {
      this.received.push({ command: 'CreateSchedule', bytes: Buffer.byteLength(text), entries: 1 });
      const name = decodeURIComponent(request.path.slice('/schedules/'.length));
      return json(200, { ScheduleArn: `arn:aws:scheduler:us-east-1:123456789012:schedule/restart-scheduler/${name}` });
    }
    return json(400, { __type: 'ValidationException', message: `the stand-in does not serve ${request.method} ${request.path} ${target}` });
  }

  reset(): void {
    this.received.length = 0;
  }
}
