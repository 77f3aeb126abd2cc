/**
 * `BackoffStore` on DynamoDB: one item per container key, every write
 * conditional on the version read (optimistic concurrency), TTL as kubelet's
 * `gc`, and sharded indexes (schema.ts) so that every read is a GetItem or a
 * Query that returns what it needs: the sync reads only what is overdue, and
 * listings read one index partition a page at a time. No Scan.
 */
import {
  BatchGetItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  ResourceNotFoundException,
  type AttributeValue,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type PutItemCommandInput,
  type QueryCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { backOffRepeatAt, type Clock, type ContainerPhase, type ContainerState } from '../../core/index.ts';
import {
  InvalidCursorError,
  type BackoffStore,
  type ContainerFilter,
  type ContainerPage,
  type ExpiredEntry,
  type IndexCount,
  type IndexPage,
  type Versioned,
  type WriteResult,
} from '../../ports.ts';
import { sleep } from '../../concurrency.ts';
import { keyAttributes, nonKeyAttributes, TABLE_SCHEMA, type IndexSpec } from './schema.ts';

const PK = TABLE_SCHEMA.partitionKey.name;
const VERSION = TABLE_SCHEMA.versionAttribute;
const TTL = TABLE_SCHEMA.ttlAttribute;
const WAITING = TABLE_SCHEMA.indexes.waiting;
const EXPIRY = TABLE_SCHEMA.indexes.expiry;
const REPEATS = TABLE_SCHEMA.indexes.backOffRepeats;
const BY_STATE = TABLE_SCHEMA.indexes.byState;
const BY_NAMESPACE = TABLE_SCHEMA.indexes.byNamespace;
/** Attributes the store adds around the container state. */
const STORE_ATTRIBUTES = [
  PK,
  VERSION,
  TTL,
  WAITING.partitionKey.name,
  WAITING.sortKey.name,
  EXPIRY.partitionKey.name,
  REPEATS.sortKey.name,
  BY_STATE.partitionKey.name,
  BY_NAMESPACE.partitionKey.name,
];

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

  async getMany(keys: readonly string[]): Promise<ReadonlyMap<string, Versioned<ContainerState>>> {
    const items = await this.batchGet(keys, true);
    const now = this.clock.now();
    const found = new Map<string, Versioned<ContainerState>>();
    for (const [key, item] of items) {
      if (!isExpired(item, now)) found.set(key, { value: toState(item), version: Number(item[VERSION]?.N) });
    }
    return found;
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

  async listWaiting(shard: number, options: { readonly dueBy?: number; readonly cursor?: string } = {}): Promise<IndexPage<string>> {
    return this.listShardKeys(WAITING, shard, options.dueBy !== undefined ? { placeholder: ':dueBy', at: options.dueBy } : undefined, options.cursor);
  }

  async listBackOffRepeats(shard: number, now: number, cursor?: string): Promise<IndexPage<string>> {
    return this.listShardKeys(REPEATS, shard, { placeholder: ':now', at: now }, cursor);
  }

  async listExpired(shard: number, now: number, options: { readonly limit: number; readonly cursor?: string }): Promise<IndexPage<ExpiredEntry>> {
    const page = await this.query(EXPIRY, {
      KeyConditionExpression: '#shard = :shard AND #ttl <= :nowSeconds',
      ExpressionAttributeNames: { '#shard': EXPIRY.partitionKey.name, '#ttl': TTL },
      ExpressionAttributeValues: { ':shard': { N: String(shard) }, ':nowSeconds': { N: String(epochSeconds(now)) } },
      Limit: Math.min(options.limit, this.pageSize),
    }, options.cursor);
    return { ...page, items: page.items.map((item) => ({ key: entryKey(item), expiresAt: Number(item[TTL]?.N) })) };
  }

  async countInState(state: ContainerPhase, shard: number, cursor?: string): Promise<IndexCount> {
    const partition = statePartition(state, shard);
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: BY_STATE.indexName,
        KeyConditionExpression: '#partition = :partition',
        ExpressionAttributeNames: { '#partition': BY_STATE.partitionKey.name },
        ExpressionAttributeValues: { ':partition': { S: partition } },
        Select: 'COUNT',
        ...(cursor ? { ExclusiveStartKey: decodeCursor(cursor, (content) => validKey(content, indexKeyShape(BY_STATE), { [BY_STATE.partitionKey.name]: partition })) } : {}),
      }),
    );
    return {
      count: response.Count ?? 0,
      itemsRead: response.ScannedCount ?? response.Count ?? 0,
      ...(response.LastEvaluatedKey ? { cursor: encodeCursor(response.LastEvaluatedKey) } : {}),
    };
  }

  /**
   * A page of containers: Queries on the state index (a state given, with or
   * without a namespace), the namespace index (a namespace alone) or, for
   * everything, the expiry index (which holds every item), one partition
   * after another in order, then the page's items by key. The cursor says which partition to
   * go on from and where in it. The first partition is read alone (a large
   * one fills the page by itself); when it runs out before the page is full,
   * the next ones are read `PARTITION_CONCURRENCY` at a time, so a listing
   * over many small or empty partitions is not as many round trips one after
   * another. A request reads at most `MAX_QUERIES_PER_LIST` pages, so a
   * selective filter over a large fleet answers with fewer items (even none)
   * and a cursor, rather than reading everything at once.
   */
  async list(filter: ContainerFilter): Promise<ContainerPage> {
    const limit = filter.limit ?? 100;
    const plan = listPlan(filter, this.shards);
    let position: ListPosition = filter.cursor ? decodeCursor(filter.cursor, (content) => listPosition(content, plan)) : { partition: 0 };
    const keys: string[] = [];
    let queries = 0;
    reading: while (keys.length < limit && position.partition < plan.partitions.length && queries < MAX_QUERIES_PER_LIST) {
      const width = Math.min(queries === 0 ? 1 : PARTITION_CONCURRENCY, plan.partitions.length - position.partition, MAX_QUERIES_PER_LIST - queries);
      const first = position;
      const room = limit - keys.length;
      const pages = await Promise.all(
        Array.from({ length: width }, (_, offset) => this.listPartition(plan, first.partition + offset, offset === 0 ? first.start : undefined, room)),
      );
      queries += width;
      for (const [offset, page] of pages.entries()) {
        const partition = first.partition + offset;
        const left = limit - keys.length;
        if (page.entries.length > left) {
          // Read ahead of what fits: the page ends inside this partition, after the last entry taken.
          const taken = page.entries.slice(0, left);
          keys.push(...taken.map(entryKey));
          position = { partition, start: indexKeyOf(taken.at(-1)!, plan.index) };
          break reading;
        }
        keys.push(...page.entries.map(entryKey));
        if (page.lastKey) {
          position = { partition, start: page.lastKey };
          break reading;
        }
        position = { partition: partition + 1 };
      }
    }
    // The index is eventually consistent: an item that has since moved to
    // another state, or expired, is left out rather than shown as it was.
    const items = (await this.listedItems(keys)).filter(
      (state) =>
        (filter.state === undefined || state.state === filter.state) && (filter.namespace === undefined || state.namespace === filter.namespace),
    );
    const more = position.partition < plan.partitions.length;
    return { items, ...(more ? { cursor: encodeCursor({ p: position.partition, ...(position.start ? { k: position.start } : {}) }) } : {}) };
  }

  /** Up to `limit` entries (keys) of one partition of a listing, from `start`, and where the partition goes on (if it does). */
  private async listPartition(
    plan: ListPlan,
    partition: number,
    start: Record<string, AttributeValue> | undefined,
    limit: number,
  ): Promise<{ entries: Record<string, AttributeValue>[]; lastKey?: Record<string, AttributeValue> }> {
    const filtered = plan.namespaceFilter !== undefined;
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: plan.index.indexName,
        KeyConditionExpression: '#partition = :partition',
        ExpressionAttributeNames: { '#partition': plan.index.partitionKey.name, ...(filtered ? { '#namespace': 'namespace' } : {}) },
        ExpressionAttributeValues: {
          ':partition': plan.index.partitionKey.type === 'N' ? { N: plan.partitions[partition]! } : { S: plan.partitions[partition]! },
          ...(filtered ? { ':namespace': { S: plan.namespaceFilter! } } : {}),
        },
        ...(filtered ? { FilterExpression: '#namespace = :namespace' } : {}),
        Limit: limit,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    return { entries: response.Items ?? [], ...(response.LastEvaluatedKey ? { lastKey: response.LastEvaluatedKey } : {}) };
  }

  /**
   * A page of the keys in one shard of a sparse index keyed by shard and
   * instant: those due by `upTo.at` (bound as `upTo.placeholder`), or all of
   * them without it, from where `cursor` left off.
   */
  private async listShardKeys(
    index: IndexSpec,
    shard: number,
    upTo: { readonly placeholder: string; readonly at: number } | undefined,
    cursor: string | undefined,
  ): Promise<IndexPage<string>> {
    const page = await this.query(index, {
      KeyConditionExpression: upTo ? `#shard = :shard AND #at <= ${upTo.placeholder}` : '#shard = :shard',
      ExpressionAttributeNames: { '#shard': index.partitionKey.name, ...(upTo ? { '#at': index.sortKey.name } : {}) },
      ExpressionAttributeValues: { ':shard': { N: String(shard) }, ...(upTo ? { [upTo.placeholder]: { N: String(upTo.at) } } : {}) },
      Limit: this.pageSize,
    }, cursor);
    return { ...page, items: page.items.map(entryKey) };
  }

  /** One page of one partition of `index`, from where `cursor` left off. */
  private async query(
    index: IndexSpec,
    input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues' | 'Limit'>,
    cursor: string | undefined,
  ): Promise<IndexPage<Record<string, AttributeValue>>> {
    const response = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: index.indexName,
        ...input,
        ...(cursor ? { ExclusiveStartKey: decodeCursor(cursor, (content) => validKey(content, indexKeyShape(index))) } : {}),
      }),
    );
    const items = response.Items ?? [];
    return { items, itemsRead: response.Count ?? items.length, ...(response.LastEvaluatedKey ? { cursor: encodeCursor(response.LastEvaluatedKey) } : {}) };
  }

  /**
   * The items of `listed` (eventually consistent, as a listing may be), in the
   * order given, each once; missing and expired ones are left out.
   */
  private async listedItems(listed: readonly string[]): Promise<ContainerState[]> {
    // A container that changed state while the page was read can be listed
    // in two partitions; BatchGetItem refuses a key twice, and a page shows it once.
    const keys = [...new Set(listed)];
    const found = await this.batchGet(keys, false);
    const now = this.clock.now();
    return keys.flatMap((key) => {
      const item = found.get(key);
      return item && !isExpired(item, now) ? [toState(item)] : [];
    });
  }

  /**
   * The items of `keys` (distinct), by key. BatchGetItem takes 100 keys a
   * call and may hand some back unprocessed under load: those are asked for
   * again after a short pause.
   */
  private async batchGet(keys: readonly string[], consistentRead: boolean): Promise<Map<string, Record<string, AttributeValue>>> {
    const found = new Map<string, Record<string, AttributeValue>>();
    for (let start = 0; start < keys.length; start += BATCH_GET_KEYS) {
      let pending: Record<string, AttributeValue>[] = keys.slice(start, start + BATCH_GET_KEYS).map((key) => ({ [PK]: { S: key } }));
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > BATCH_GET_ATTEMPTS) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed after ${BATCH_GET_ATTEMPTS} attempts`);
        if (attempt > 1) await sleep(25 * 2 ** (attempt - 2));
        const response = await this.client.send(
          new BatchGetItemCommand({ RequestItems: { [this.tableName]: { Keys: pending, ...(consistentRead ? { ConsistentRead: true } : {}) } } }),
        );
        for (const item of response.Responses?.[this.tableName] ?? []) found.set(entryKey(item), item);
        pending = response.UnprocessedKeys?.[this.tableName]?.Keys ?? [];
      }
    }
    return found;
  }

  /** The shard of a key in every index: stable, so rewriting an item never moves it. */
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
    const repeatAt = backOffRepeatAt(state);
    return {
      ...marshall(state, { removeUndefinedValues: true, convertClassInstanceToMap: false }),
      [PK]: { S: state.key },
      [VERSION]: { N: String(version) },
      [TTL]: { N: String(Math.ceil(this.expiresAtMs(state) / 1_000)) },
      [EXPIRY.partitionKey.name]: { N: String(shard) },
      [BY_STATE.partitionKey.name]: { S: statePartition(state.state, shard) },
      [BY_NAMESPACE.partitionKey.name]: { S: namespacePartition(state.namespace, shard) },
      // Sparse: only a container with an undispatched restart carries these,
      // so only such containers appear in the waiting index…
      ...(waiting
        ? {
            [WAITING.partitionKey.name]: { N: String(shard) },
            [WAITING.sortKey.name]: { N: String(state.restart!.restartAt) },
          }
        : {}),
      // …and only those with a BackOff repeat due before their restart in the repeats index.
      ...(repeatAt !== undefined ? { [REPEATS.sortKey.name]: { N: String(repeatAt) } } : {}),
    };
  }
}

/** The CreateTable input for the schema; the CDK construct builds the same shape. */
export function createTableInput(tableName: string): CreateTableCommandInput {
  const index = (spec: IndexSpec) => ({
    IndexName: spec.indexName,
    KeySchema: [
      { AttributeName: spec.partitionKey.name, KeyType: 'HASH' as const },
      { AttributeName: spec.sortKey.name, KeyType: 'RANGE' as const },
    ],
    Projection: spec.projection === 'INCLUDE' ? { ProjectionType: spec.projection, NonKeyAttributes: [...nonKeyAttributes(spec)] } : { ProjectionType: spec.projection },
  });
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [{ AttributeName: PK, KeyType: 'HASH' }],
    AttributeDefinitions: keyAttributes().map((key) => ({ AttributeName: key.name, AttributeType: key.type })),
    GlobalSecondaryIndexes: Object.values(TABLE_SCHEMA.indexes).map(index),
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

/**
 * Cursors are JSON, base64url-encoded: an index page's is its last key, a
 * listing's its position (`{ p, k }`, see `listPosition`).
 */
function encodeCursor(content: unknown): string {
  return Buffer.from(JSON.stringify(content)).toString('base64url');
}

/** What `cursor` holds, as `read` takes it; an `InvalidCursorError` when it is not JSON or `read` refuses it (undefined). */
function decodeCursor<T>(cursor: string, read: (content: unknown) => T | undefined): T {
  let content: unknown;
  try {
    content = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new InvalidCursorError(cursor);
  }
  const value = read(content);
  if (value === undefined) throw new InvalidCursorError(cursor);
  return value;
}

/**
 * Index pages (up to 1 MB each) one `list` call reads at most: enough for a
 * listing of everything (3 states × 16 shards by default) to visit every
 * partition of a small table in one request; past that it answers with a cursor.
 */
const MAX_QUERIES_PER_LIST = 64;
/** Partitions of a listing read at once, once the first has run out. */
const PARTITION_CONCURRENCY = 8;
/** BatchGetItem's limit, and how often unprocessed keys are asked for again. */
const BATCH_GET_KEYS = 100;
const BATCH_GET_ATTEMPTS = 6;

/** The state index's partition of a container: `{state}#{shard}`. */
function statePartition(state: ContainerPhase, shard: number): string {
  return `${state}#${shard}`;
}

/** The namespace index's partition of a container: `{namespace}#{shard}` (namespaces hold no `#`). */
function namespacePartition(namespace: string, shard: number): string {
  return `${namespace}#${shard}`;
}

/** Which index a listing reads, and its partitions (their key values, as text) in the order it reads them. */
interface ListPlan {
  readonly index: IndexSpec;
  readonly partitions: readonly string[];
  /** Filter on the projected namespace (a listing by state and namespace). */
  readonly namespaceFilter?: string;
}

function listPlan(filter: ContainerFilter, shards: number): ListPlan {
  const shardList = Array.from({ length: shards }, (_, shard) => shard);
  if (filter.state !== undefined) {
    return {
      index: BY_STATE,
      partitions: shardList.map((shard) => statePartition(filter.state!, shard)),
      ...(filter.namespace !== undefined ? { namespaceFilter: filter.namespace } : {}),
    };
  }
  if (filter.namespace !== undefined) return { index: BY_NAMESPACE, partitions: shardList.map((shard) => namespacePartition(filter.namespace!, shard)) };
  // Everything: the expiry index holds every item in one partition per shard
  // (the state index would take one per state and shard).
  return { index: EXPIRY, partitions: shardList.map(String) };
}

/** The table key of an item or index entry. */
function entryKey(entry: Record<string, AttributeValue>): string {
  return String(entry[PK]?.S);
}

/** An index entry's key, as its Query's `ExclusiveStartKey` takes it: the table key and the index's keys. */
function indexKeyOf(entry: Record<string, AttributeValue>, index: IndexSpec): Record<string, AttributeValue> {
  const key: Record<string, AttributeValue> = {};
  for (const name of [PK, index.partitionKey.name, index.sortKey.name]) key[name] = entry[name]!;
  return key;
}

interface ListPosition {
  /** The index of the partition to read next in the plan. */
  readonly partition: number;
  /** Where in it: the last key read, or the start. */
  readonly start?: Record<string, AttributeValue>;
}

/** A listing cursor's content as a position in this plan, or undefined: its partition must exist, and its key lie in that partition. */
function listPosition(content: unknown, plan: ListPlan): ListPosition | undefined {
  if (!isRecord(content) || Object.keys(content).some((name) => name !== 'p' && name !== 'k')) return undefined;
  const partition = content.p;
  if (typeof partition !== 'number' || !Number.isInteger(partition) || partition < 0 || partition >= plan.partitions.length) return undefined;
  if (content.k === undefined) return { partition };
  const start = validKey(content.k, indexKeyShape(plan.index), { [plan.index.partitionKey.name]: plan.partitions[partition]! });
  return start ? { partition, start } : undefined;
}

/** The attributes (and their types) of the key a cursor must hold. */
type KeyShape = Readonly<Record<string, 'S' | 'N'>>;

/** An index page's last key: the table key and the index's keys. */
function indexKeyShape(index: IndexSpec): KeyShape {
  return { [PK]: 'S', [index.partitionKey.name]: index.partitionKey.type, [index.sortKey.name]: index.sortKey.type };
}

/** DynamoDB's limit on a partition key value. */
const MAX_KEY_BYTES = 2_048;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `value` as a key of `shape` whose attributes in `fixed` hold exactly those strings, or undefined. */
function validKey(value: unknown, shape: KeyShape, fixed: Readonly<Record<string, string>> = {}): Record<string, AttributeValue> | undefined {
  const valid =
    isRecord(value) &&
    Object.keys(value).length === Object.keys(shape).length &&
    Object.entries(shape).every(([name, type]) => {
      const attribute = value[name];
      if (!isRecord(attribute) || Object.keys(attribute).length !== 1) return false;
      const text = attribute[type];
      if (typeof text !== 'string' || text === '') return false;
      if (fixed[name] !== undefined && text !== fixed[name]) return false;
      return type === 'N' ? /^-?\d{1,38}$/.test(text) : Buffer.byteLength(text) <= MAX_KEY_BYTES;
    });
  return valid ? (value as Record<string, AttributeValue>) : undefined;
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
