import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTableInput, DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { DynaliteRequestHandler, LOCAL_AWS_CONFIG, startDynalite, type LocalDynamo } from '../../lib/local/dynalite.ts';

/** Writes container items on disk until killed (test/support/index-writer.ts). */
const INDEX_WRITER = fileURLToPath(new URL('../support/index-writer.ts', import.meta.url));

/** dynalite's own HTTP server, the reference the in-process handler must answer like. */
const dynaliteServer = createRequire(import.meta.url)('dynalite') as (options: object) => Server;

/** Any DynamoDB command (the client's `send` is typed per command). */
type AnyCommand = object;
const send = (client: DynamoDBClient, command: AnyCommand) => (client.send as (command: AnyCommand) => Promise<{ $metadata: { httpStatusCode?: number } }>).call(client, command);

/** What a command's outcome looks like to the caller, minus what differs by transport (request ids, timings). */
async function outcome(client: DynamoDBClient, command: AnyCommand): Promise<unknown> {
  try {
    const { $metadata, ...output } = await send(client, command);
    return { ok: withoutVolatile(output), status: $metadata.httpStatusCode };
  } catch (error) {
    const failure = error as Error & { $fault?: string; $metadata?: { httpStatusCode?: number } };
    return { error: failure.name, message: failure.message, fault: failure.$fault, status: failure.$metadata?.httpStatusCode, sdkClass: failure.constructor.name };
  }
}

/** Table descriptions carry creation times and ARNs with the account; everything else must match. */
function withoutVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutVolatile);
  if (value instanceof Date) return 'date';
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([name]) => !['CreationDateTime', 'TableId', 'LastIncreaseDateTime', 'LastDecreaseDateTime'].includes(name))
        .map(([name, inner]) => [name, withoutVolatile(inner)]),
    );
  }
  return value;
}

const TABLE = 'backoff';
const item = (pk: string, extra: Record<string, unknown> = {}) => ({
  pk: { S: pk },
  version: { N: '1' },
  expiresAt: { N: '2000000000' },
  gcShard: { N: '3' },
  ...extra,
});

/** Every call the store, the local runtime and the benchmarks make, and the failures they rely on. */
const COMMANDS: readonly [string, () => AnyCommand][] = [
  ['CreateTable', () => new CreateTableCommand(createTableInput(TABLE))],
  ['CreateTable again: ResourceInUseException', () => new CreateTableCommand(createTableInput(TABLE))],
  ['DescribeTable', () => new DescribeTableCommand({ TableName: TABLE })],
  ['DescribeTable of a missing table: ResourceNotFoundException', () => new DescribeTableCommand({ TableName: 'missing' })],
  ['ListTables', () => new ListTablesCommand({})],
  ['GetItem of a missing item', () => new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } }, ConsistentRead: true })],
  [
    'PutItem if absent',
    () => new PutItemCommand({ TableName: TABLE, Item: item('a', { waitShard: { N: '1' }, waitAt: { N: '5' } }), ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } }),
  ],
  [
    'PutItem if absent again: ConditionalCheckFailedException',
    () => new PutItemCommand({ TableName: TABLE, Item: item('a'), ConditionExpression: 'attribute_not_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } }),
  ],
  [
    'PutItem on the version read',
    () =>
      new PutItemCommand({
        TableName: TABLE,
        Item: item('a', { version: { N: '2' }, nested: { M: { list: { L: [{ S: 'x' }, { N: '1.5' }, { BOOL: true }, { NULL: true }] } } } }),
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': { N: '1' } },
      }),
  ],
  ['GetItem, consistent', () => new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } }, ConsistentRead: true })],
  ['GetItem with an empty key: ValidationException', () => new GetItemCommand({ TableName: TABLE, Key: { pk: { S: '' } } })],
  ['GetItem from a missing table: ResourceNotFoundException', () => new GetItemCommand({ TableName: 'missing', Key: { pk: { S: 'a' } } })],
  [
    'BatchWriteItem',
    () => new BatchWriteItemCommand({ RequestItems: { [TABLE]: ['b', 'c', 'd'].map((pk, n) => ({ PutRequest: { Item: item(pk, { waitShard: { N: '1' }, waitAt: { N: String(10 + n) } }) } })) } }),
  ],
  ['BatchGetItem', () => new BatchGetItemCommand({ RequestItems: { [TABLE]: { Keys: [{ pk: { S: 'b' } }, { pk: { S: 'zz' } }], ConsistentRead: true } } })],
  [
    'Query an index, one page',
    () =>
      new QueryCommand({
        TableName: TABLE,
        IndexName: 'waiting',
        KeyConditionExpression: '#shard = :shard',
        ExpressionAttributeNames: { '#shard': 'waitShard' },
        ExpressionAttributeValues: { ':shard': { N: '1' } },
        Limit: 2,
      }),
  ],
  [
    'Query an index from a cursor',
    () =>
      new QueryCommand({
        TableName: TABLE,
        IndexName: 'waiting',
        KeyConditionExpression: '#shard = :shard',
        ExpressionAttributeNames: { '#shard': 'waitShard' },
        ExpressionAttributeValues: { ':shard': { N: '1' } },
        Limit: 2,
        ExclusiveStartKey: { pk: { S: 'b' }, waitShard: { N: '1' }, waitAt: { N: '10' } },
      }),
  ],
  [
    'Query a range of the expiry index',
    () =>
      new QueryCommand({
        TableName: TABLE,
        IndexName: 'expiry',
        KeyConditionExpression: '#shard = :shard AND #ttl <= :now',
        ExpressionAttributeNames: { '#shard': 'gcShard', '#ttl': 'expiresAt' },
        ExpressionAttributeValues: { ':shard': { N: '3' }, ':now': { N: '2000000001' } },
        Limit: 10,
      }),
  ],
  ['Query with a bad expression: ValidationException', () => new QueryCommand({ TableName: TABLE, IndexName: 'waiting', KeyConditionExpression: 'waitShard = = :x' })],
  [
    'Scan with a filter',
    () =>
      new ScanCommand({
        TableName: TABLE,
        FilterExpression: '#ttl > :now',
        ExpressionAttributeNames: { '#ttl': 'expiresAt' },
        ExpressionAttributeValues: { ':now': { N: '1' } },
        Limit: 3,
      }),
  ],
  [
    'UpdateItem',
    () =>
      new UpdateItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'b' } },
        UpdateExpression: 'SET #state = :state REMOVE waitShard, waitAt',
        ExpressionAttributeNames: { '#state': 'state' },
        ExpressionAttributeValues: { ':state': { S: 'Running' } },
        ReturnValues: 'ALL_NEW',
      }),
  ],
  [
    'DeleteItem on a stale version: ConditionalCheckFailedException',
    () =>
      new DeleteItemCommand({
        TableName: TABLE,
        Key: { pk: { S: 'a' } },
        ConditionExpression: '#version = :expected',
        ExpressionAttributeNames: { '#version': 'version' },
        ExpressionAttributeValues: { ':expected': { N: '1' } },
      }),
  ],
  ['DeleteItem if it exists', () => new DeleteItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } }, ConditionExpression: 'attribute_exists(#pk)', ExpressionAttributeNames: { '#pk': 'pk' } })],
  ['GetItem after the delete', () => new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'a' } }, ConsistentRead: true })],
  ['DeleteTable', () => new DeleteTableCommand({ TableName: TABLE })],
];

describe('DynaliteRequestHandler', () => {
  let inProcess: LocalDynamo;
  let overHttp: { server: Server; client: DynamoDBClient };
  beforeAll(async () => {
    inProcess = await startDynalite();
    const server = dynaliteServer({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    overHttp = { server, client: new DynamoDBClient({ ...LOCAL_AWS_CONFIG, endpoint: `http://127.0.0.1:${port}`, maxAttempts: 1 }) };
  });
  afterAll(async () => {
    await inProcess.close();
    overHttp.client.destroy();
    await new Promise((resolve) => overHttp.server.close(resolve));
  });

  it('answers every call the store makes as dynalite does over HTTP, failures as the same SDK exceptions', async () => {
    const client = inProcess.createClient();
    for (const [name, command] of COMMANDS) {
      const expected = await outcome(overHttp.client, command());
      expect({ name, outcome: await outcome(client, command()) }).toEqual({ name, outcome: expected });
    }
  });

  it.each([
    ['a failed condition', ConditionalCheckFailedException, () => new PutItemCommand({ TableName: 'typed', Item: item('a'), ConditionExpression: 'attribute_not_exists(pk)' })],
    ['a table that exists', ResourceInUseException, () => new CreateTableCommand(createTableInput('typed'))],
    ['a table that does not', ResourceNotFoundException, () => new GetItemCommand({ TableName: 'nowhere', Key: { pk: { S: 'a' } } })],
  ])('raises %s as the SDK class the store catches', async (_case, type, command) => {
    await ensureTable(inProcess.client, 'typed');
    await inProcess.client.send(new PutItemCommand({ TableName: 'typed', Item: item('a') }));
    await expect(send(inProcess.client, command())).rejects.toBeInstanceOf(type);
  });

  it.each([
    ['an operation dynalite does not serve', { 'x-amz-target': 'DynamoDB_20120810.TransactWriteItems' }, '{}', 'UnknownOperationException'],
    ['another API version', { 'x-amz-target': 'DynamoDB_20111205.GetItem' }, '{}', 'UnknownOperationException'],
    ['no target', {}, '{}', 'UnknownOperationException'],
    ['a body that is not JSON', { 'x-amz-target': 'DynamoDB_20120810.GetItem' }, '{', 'SerializationException'],
    ['a body of the wrong types', { 'x-amz-target': 'DynamoDB_20120810.GetItem' }, '{"TableName": 5}', 'SerializationException'],
  ])('answers %s with a 400 and the error dynalite names', async (_case, headers, body, type) => {
    const store = (await startDynalite()) as LocalDynamo;
    try {
      const handler = (store.client.config.requestHandler as unknown) as DynaliteRequestHandler;
      const { response } = await handler.handle({ method: 'POST', headers, body });
      expect(response.statusCode).toBe(400);
      expect(JSON.parse(Buffer.from(response.body).toString('utf8')).__type).toContain(type);
    } finally {
      await store.close();
    }
  });

  it('keeps each item and its index entries in step when its process is killed in the middle of writing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynalite-kill-'));
    const containers = 20;
    try {
      for (let kill = 0; kill < 16; kill++) {
        const writer = spawn(process.execPath, ['--import', 'tsx', INDEX_WRITER, dir, String(containers)], { stdio: ['ignore', 'pipe', 'inherit'] });
        const exited = once(writer, 'exit');
        // Killed once it is writing, at a different moment of its writes each time.
        await new Promise<void>((resolve, reject) => {
          writer.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('writing') && resolve());
          void exited.then(() => reject(new Error('the writer exited before writing')));
        });
        await new Promise((resolve) => setTimeout(resolve, 20 + (kill % 8) * 25));
        writer.kill('SIGKILL');
        await exited;
      }
      const dynamo = await startDynalite({ path: dir });
      try {
        const store = new DynamoBackoffStore({ client: dynamo.client, tableName: 'index-writer', clock: { now: () => Date.now() } });
        const items = await store.getMany(Array.from({ length: containers }, (_, n) => `p-${n}_kill_u_app_`));
        const waitingItems = [...items].filter(([, item]) => item.value.restart?.status === 'waiting').map(([key]) => key);
        const waitingIndex: string[] = [];
        for (let shard = 0; shard < store.shards; shard++) waitingIndex.push(...(await store.listWaiting(shard)).items);
        expect(items.size).toBeGreaterThan(0);
        expect(waitingIndex.sort()).toEqual(waitingItems.sort());
      } finally {
        await dynamo.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('keeps an on-disk table across a close and a new start on the same directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dynalite-'));
    try {
      const first = await startDynalite({ path: dir });
      await ensureTable(first.client, TABLE);
      await first.client.send(new PutItemCommand({ TableName: TABLE, Item: item('kept') }));
      await first.close();
      // The LevelDB lock is released by close: a second start on the directory opens it.
      const second = await startDynalite({ path: dir });
      const { Item } = await second.client.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'kept' } }, ConsistentRead: true }));
      await second.close();
      expect(Item?.pk).toEqual({ S: 'kept' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
