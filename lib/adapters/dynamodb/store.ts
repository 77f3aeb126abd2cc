/**
 * `BackoffStore` on DynamoDB: one item per container key, every write
 * conditional on the version read (optimistic concurrency), TTL as kubelet's
 * `gc`, and two sharded indexes so the sync reads only what it must.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  ScanCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type PutItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Clock, ContainerState } from '../../core/index.ts';
import {
  InvalidCursorError,
  type BackoffStore,
  type ContainerFilter,
  type ContainerPage,
  type ExpiredEntry,
  type IndexPage,
  type Versioned,
  type WriteResult,
} from '../../ports.ts';
import { TABLE_SCHEMA } from './schema.ts';

const PK = TABLE_SCHEMA.partitionKey.name;
const VERSION = TABLE_SCHEMA.versionAttribute;
const TTL = TABLE_SCHEMA.ttlAttribute;
const WAITING = TABLE_SCHEMA.indexes.waiting;
const EXPIRY = TABLE_SCHEMA.indexes.expiry;
/** Attributes the store adds around the container state. */
const STORE_ATTRIBUTES = [PK, VERSION, TTL, WAITING.partitionKey.name, WAITING.sortKey.name, EXPIRY.partitionKey.name];

export interface DynamoBackoffStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly clock: Clock;
  /** @default TABLE_SCHEMA.defaultShards (16) */
  readonly shards?: number;
  /**
   * How long an entry outlives its back-off: the TTL is the last activity plus
   * the policy's reset threshold (after which the back-off has expired anyway,
   * as client-go's gc) plus this margin.
   * @default TABLE_SCHEMA.defaultEntryRetentionMs (24 hours)
   */
  readonly retentionMs?: number;
  /** @default 500 */
  readonly pageSize?: number;
}

export class DynamoBackoffStore implements BackoffStore {
  readonly shards: number;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly clock: Clock;
  private readonly retentionMs: number;
  private readonly pageSize: number;

  constructor(options: DynamoBackoffStoreOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.clock = options.clock;
    this.shards = options.shards ?? TABLE_SCHEMA.defaultShards;
    this.retentionMs = options.retentionMs ?? TABLE_SCHEMA.defaultEntryRetentionMs;
    this.pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(this.shards) || this.shards < 1 || this.shards > 1_000) {
      throw new RangeError(`shards must be an integer in 1..1000, got ${this.shards}`);
    }
  }

  async get(key: string): Promise<Versioned<ContainerState> | undefined> {
    const { Item } = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { [PK]: { S: key } }, ConsistentRead: true }),
    );
    if (!Item) return undefined;
    // DynamoDB deletes expired items lazily (within days), so an item past its
    // TTL is treated as already gone.
    if (isExpired(Item, this.clock.now())) return undefined;
    return { value: toState(Item), version: Number(Item[VERSION]?.N) };
  }

  async put(state: ContainerState, expectedVersion: number | undefined): Promise<WriteResult> {
    const now = this.clock.now();
    // A new item's version starts at the current time rather than 1, so an item
    // recreated after expiry can never match a version read before it expired.
    const version = expectedVersion === undefined ? now : expectedVersion + 1;
    const condition: Pick<PutItemCommandInput, 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'> =
      expectedVersion === undefined
        ? { ConditionExpression: 'attribute_not_exists(#pk) OR #ttl <= :nowSeconds', ExpressionAttributeNames: { '#pk': PK, '#ttl': TTL }, ExpressionAttributeValues: { ':nowSeconds': { N: String(epochSeconds(now)) } } }
        : { ConditionExpression: '#version = :expected', ExpressionAttributeNames: { '#version': VERSION }, ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } } };
    try {
      await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: this.toItem(state, version), ...condition }));
      return { written: true, version };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { written: false };
      throw error;
    }
  }

  async delete(key: string, expectedVersion?: number): Promise<boolean> {
    const versioned = expectedVersion !== undefined;
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { [PK]: { S: key } },
          ConditionExpression: versioned ? '#version = :expected' : 'attribute_exists(#pk)',
          ExpressionAttributeNames: versioned ? { '#version': VERSION } : { '#pk': PK },
          ...(versioned ? { ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } } } : {}),
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async collect(key: string, now: number): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { [PK]: { S: key } },
          ConditionExpression: '#ttl <= :nowSeconds',
          ExpressionAttributeNames: { '#ttl': TTL },
          ExpressionAttributeValues: { ':nowSeconds': { N: String(epochSeconds(now)) } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async listWaiting(shard: number, cursor?: string): Promise<IndexPage<ContainerState>> {
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: WAITING.indexName,
        KeyConditionExpression: '#shard = :shard',
        ExpressionAttributeNames: { '#shard': WAITING.partitionKey.name },
        ExpressionAttributeValues: { ':shard': { N: String(shard) } },
        Limit: this.pageSize,
        ...(cursor ? { ExclusiveStartKey: decodeCursor(cursor, WAITING_KEY) } : {}),
      }),
    );
    const items = response.Items ?? [];
    return {
      items: items.map(toState),
      itemsRead: response.Count ?? items.length,
      ...(response.LastEvaluatedKey ? { cursor: encodeCursor(response.LastEvaluatedKey) } : {}),
    };
  }

  async listExpired(shard: number, now: number, limit: number): Promise<IndexPage<ExpiredEntry>> {
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: EXPIRY.indexName,
        KeyConditionExpression: '#shard = :shard AND #ttl <= :nowSeconds',
        ExpressionAttributeNames: { '#shard': EXPIRY.partitionKey.name, '#ttl': TTL },
        ExpressionAttributeValues: { ':shard': { N: String(shard) }, ':nowSeconds': { N: String(epochSeconds(now)) } },
        Limit: limit,
      }),
    );
    const items = response.Items ?? [];
    return {
      items: items.map((item) => ({ key: String(item[PK]?.S), expiresAt: Number(item[TTL]?.N) })),
      itemsRead: response.Count ?? items.length,
    };
  }

  async list(filter: ContainerFilter): Promise<ContainerPage> {
    const limit = filter.limit ?? 100;
    const names: Record<string, string> = { '#ttl': TTL };
    const values: Record<string, AttributeValue> = { ':nowSeconds': { N: String(epochSeconds(this.clock.now())) } };
    const conditions = ['#ttl > :nowSeconds'];
    if (filter.namespace !== undefined) {
      names['#namespace'] = 'namespace';
      values[':namespace'] = { S: filter.namespace };
      conditions.push('#namespace = :namespace');
    }
    if (filter.state !== undefined) {
      names['#state'] = 'state';
      values[':state'] = { S: filter.state };
      conditions.push('#state = :state');
    }
    // An operator's listing: a filtered, paginated Scan is the honest tool here.
    // Neither the hot path nor the sync ever calls this. A selective filter over
    // a large table would scan it all in one request; instead each request reads
    // a bounded number of pages and hands back the cursor to go on from.
    const items: ContainerState[] = [];
    let startKey = filter.cursor ? decodeCursor(filter.cursor, TABLE_KEY) : undefined;
    let pages = 0;
    do {
      pages++;
      const response = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: conditions.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          Limit: limit - items.length,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      items.push(...(response.Items ?? []).map(toState));
      startKey = response.LastEvaluatedKey;
    } while (startKey && items.length < limit && pages < MAX_SCAN_PAGES_PER_LIST);
    items.sort((a, b) => a.key.localeCompare(b.key));
    return { items, ...(startKey ? { cursor: encodeCursor(startKey) } : {}) };
  }

  /** The shard of a key in both indexes: stable, so rewriting an item never moves it. */
  shardOf(key: string): number {
    return fnv1a(key) % this.shards;
  }

  /** When the entry may be deleted: the last activity, plus the reset threshold, plus the retention margin. */
  expiresAtMs(state: ContainerState): number {
    const lastActivity = Math.max(state.updatedAt, state.backoff?.lastUpdate ?? 0, state.restart?.restartAt ?? 0);
    return lastActivity + state.policy.resetAfterMs + this.retentionMs;
  }

  private toItem(state: ContainerState, version: number): Record<string, AttributeValue> {
    const shard = this.shardOf(state.key);
    const waiting = state.restart !== undefined && state.restart.status !== 'dispatched';
    return {
      ...marshall(state, { removeUndefinedValues: true, convertClassInstanceToMap: false }),
      [PK]: { S: state.key },
      [VERSION]: { N: String(version) },
      [TTL]: { N: String(Math.ceil(this.expiresAtMs(state) / 1_000)) },
      [EXPIRY.partitionKey.name]: { N: String(shard) },
      // Sparse: only a container with an undispatched restart carries these,
      // so only such containers appear in the waiting index.
      ...(waiting
        ? {
            [WAITING.partitionKey.name]: { N: String(shard) },
            [WAITING.sortKey.name]: { N: String(state.restart!.restartAt) },
          }
        : {}),
    };
  }
}

/** The CreateTable input for the schema; the CDK construct builds the same shape. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const attribute = (spec: { name: string; type: string }) => ({ AttributeName: spec.name, AttributeType: spec.type as 'S' | 'N' });
  const index = (spec: (typeof TABLE_SCHEMA.indexes)[keyof typeof TABLE_SCHEMA.indexes]) => ({
    IndexName: spec.indexName,
    KeySchema: [
      { AttributeName: spec.partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: spec.sortKey.name, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: spec.projection },
  });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: PK, KeyType: 'HASH' }],
    AttributeDefinitions: [
      attribute(TABLE_SCHEMA.partitionKey),
      attribute(WAITING.partitionKey),
      attribute(WAITING.sortKey),
      attribute(EXPIRY.partitionKey),
      attribute(EXPIRY.sortKey),
    ],
    GlobalSecondaryIndexes: [index(WAITING), index(EXPIRY)],
  };
}

/** Creates the table (the back-off table unless `input` says otherwise) unless it exists, and waits until it is active. */
export async function ensureTable(client: DynamoDBClient, tableName: string, input: CreateTableCommandInput = createTableInput(tableName)): Promise<void> {
  try {
    await client.send(new CreateTableCommand({ ...input, TableName: tableName }));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      const indexesActive = (Table?.GlobalSecondaryIndexes ?? []).every((gsi) => gsi.IndexStatus === 'ACTIVE');
      if (Table?.TableStatus === 'ACTIVE' && indexesActive) return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`table ${tableName} did not become active`);
}

function toState(item: Record<string, AttributeValue>): ContainerState {
  const record = unmarshall(item);
  for (const attribute of STORE_ATTRIBUTES) delete record[attribute];
  return record as ContainerState;
}

function isExpired(item: Record<string, AttributeValue>, now: number): boolean {
  const expiresAt = item[TTL]?.N;
  return expiresAt !== undefined && Number(expiresAt) <= epochSeconds(now);
}

function epochSeconds(ms: number): number {
  return Math.floor(ms / 1_000);
}

function encodeCursor(key: Record<string, AttributeValue>): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

/** Scan pages (up to 1 MB each) one `list` call reads at most. */
const MAX_SCAN_PAGES_PER_LIST = 8;

/** The attributes (and their types) of the key a cursor must hold. */
type KeyShape = Readonly<Record<string, 'S' | 'N'>>;
const TABLE_KEY: KeyShape = { [PK]: 'S' };
const WAITING_KEY: KeyShape = { [PK]: 'S', [WAITING.partitionKey.name]: 'N', [WAITING.sortKey.name]: 'N' };
/** DynamoDB's limit on a partition key value. */
const MAX_KEY_BYTES = 2_048;

function decodeCursor(cursor: string, shape: KeyShape): Record<string, AttributeValue> {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(cursor);
  }
  const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
  const valid =
    isRecord(decoded) &&
    Object.keys(decoded).length === Object.keys(shape).length &&
    Object.entries(shape).every(([name, type]) => {
      const attribute = decoded[name];
      if (!isRecord(attribute) || Object.keys(attribute).length !== 1) return false;
      const value = attribute[type];
      if (typeof value !== 'string' || value === '') return false;
      return type === 'N' ? /^-?\d{1,38}$/.test(value) : Buffer.byteLength(value) <= MAX_KEY_BYTES;
    });
  if (!valid) throw new InvalidCursorError(cursor);
  return decoded as Record<string, AttributeValue>;
}



/** 32-bit FNV-1a: a cheap, stable spread of keys over shards. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
