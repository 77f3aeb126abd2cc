/**
 * Runs dynalite (a DynamoDB implementation on LevelDB) in this process, on
 * disk under a directory or in memory, and hands back a DynamoDB client for it.
 *
 * The client and dynalite share the process, so the client's requests do not
 * go over HTTP: an SDK request handler hands each one to dynalite's DynamoDB
 * API in memory. The command's serialisation, endpoint resolution and the
 * parsing of the response and of errors run as they do against AWS (a failed
 * condition still arrives as a `ConditionalCheckFailedException`), and dynalite
 * validates and executes the request exactly as its HTTP server would. Left
 * out of every call: node's HTTP client, server and loopback sockets, and the
 * client's middleware that only a remote service needs (`UNNEEDED_IN_PROCESS`).
 */
import { createRequire } from 'node:module';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { flatString } from './flat-string.ts';

const require = createRequire(import.meta.url);

/** dynalite is CommonJS without type declarations: the parts of it used here. */
interface DynaliteStore {
  readonly db: {
    readonly supports: { readonly encodings: Record<string, boolean> };
    batch(operations: readonly LevelOperation[], callback: (error?: Error | null) => void): void;
  };
  readonly lifecycleManager: { gracefulClose(callback: (error?: Error | null) => void): void };
  getItemDb(tableName: string): SubDb;
  getIndexDb(indexType: string, tableName: string, indexName: string): SubDb;
}
/** One of dynalite's key-prefixed views of its one LevelDB (a table's items, or one index). */
interface SubDb {
  put(key: string, value: unknown, callback: (error?: Error | null) => void): void;
  del(key: string, callback: (error?: Error | null) => void): void;
}
type LevelOperation = { readonly type: 'put'; readonly key: string; readonly value: unknown } | { readonly type: 'del'; readonly key: string };
interface DynaliteError extends Error {
  readonly statusCode?: number;
  readonly body?: unknown;
}
type DynaliteCallback = (error: DynaliteError | null | undefined, result?: unknown) => void;
interface ActionValidation {
  readonly types: unknown;
  readonly custom?: unknown;
}
/**
 * In memory, dynalite keeps its table in memory-level, built as
 * `new MemoryLevel({ valueEncoding: 'json' })`, which stores every key and
 * value as a Buffer by default. A small Buffer is a slice of node's shared
 * 8 KB allocation pool, and a stored slice keeps its whole pool alive, most of
 * it garbage from the requests around it: the table then weighs several times
 * its items. memory-level can store strings instead (`storeEncoding: 'utf8'`,
 * ordered the same for dynalite's keys, and cheaper to encode and decode), but
 * dynalite passes no options through, so the class it is given (the one its own
 * `require` resolves) defaults to strings. This must run before dynalite's
 * database module loads; `startDynalite` checks that it took effect.
 */
interface DynaliteModules {
  readonly db: { create(options: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }): DynaliteStore };
  readonly validations: {
    checkTypes(data: unknown, types: unknown): unknown;
    checkValidations(data: unknown, types: unknown, custom: unknown, store: DynaliteStore): void;
  };
  /** dynalite's action and validation modules, by operation (as its server loads them). */
  readonly operations: ReadonlyMap<string, Operation>;
}

let loaded: DynaliteModules | undefined;

/** Loaded when a table is started, not on import: LOCAL_AWS_CONFIG alone must not load a database. */
function loadDynalite(): DynaliteModules {
  if (loaded) return loaded;
  const memoryLevel = createRequire(require.resolve('dynalite/db'))('memory-level') as { MemoryLevel: new (location?: unknown, options?: object) => object };
  const BufferMemoryLevel = memoryLevel.MemoryLevel;
  type Put = (key: string, value: string, options: object) => Promise<void>;
  type Batch = (operations: readonly { type: string; key: string; value?: string }[], options: object) => Promise<void>;
  const base = BufferMemoryLevel.prototype as { _put: Put; _batch: Batch };
  memoryLevel.MemoryLevel = class StringMemoryLevel extends BufferMemoryLevel {
    constructor(location?: unknown, options?: object) {
      const given = typeof location === 'object' && location !== null ? location : options;
      super({ storeEncoding: 'utf8', ...given });
    }

    // Stored flat: dynalite builds keys (hash prefix, parts, table prefix) and
    // items by concatenation, and the pieces' trees cost about 0.4 KB per container.
    _put(key: string, value: string, options: object): Promise<void> {
      return base._put.call(this, flatString(key), flatString(value), options);
    }

    _batch(operations: readonly { type: string; key: string; value?: string }[], options: object): Promise<void> {
      return base._batch.call(this, operations.map((operation) => ({ ...operation, key: flatString(operation.key), ...(operation.value !== undefined ? { value: flatString(operation.value) } : {}) })), options);
    }
  };
  loaded = {
    db: require('dynalite/db') as DynaliteModules['db'],
    validations: require('dynalite/validations') as DynaliteModules['validations'],
    operations: new Map<string, Operation>(
      OPERATIONS.map((name) => {
        const module = `${name[0]!.toLowerCase()}${name.slice(1)}`;
        return [name, { run: require(`dynalite/actions/${module}`) as Operation['run'], validation: require(`dynalite/validations/${module}`) as ActionValidation }];
      }),
    ),
  };
  return loaded;
}

/** The writes of one item, each made atomic by `atomicItemWrite`. */
const SINGLE_ITEM_WRITES: ReadonlySet<string> = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);

/**
 * dynalite writes an item's index entries first and the item after, as
 * separate LevelDB writes. A process killed in between (the local runtime
 * under `kill -9`) keeps the item as it was with its index entries already
 * changed: a waiting restart could leave the waiting index while its item
 * still waits, and nothing would ever find it again. So a single-item write
 * runs against a view of the store whose item and index databases hold their
 * writes back until the item's own write, and then commit all of them in one
 * LevelDB batch: the item and its index entries change together or not at
 * all (on disk; in memory nothing outlives the process). The keys are the
 * ones dynalite's views would write (its prefixes:
 * `item-{table}~`, `index-{type}~{table}~{index}~`); a wrong one would lose
 * every index read, which test/local/dynalite.test.ts compares against
 * dynalite's own server.
 */
function atomicItemWrite(store: DynaliteStore): DynaliteStore {
  const held: LevelOperation[] = [];
  const holding = (db: SubDb, prefix: string, commits: boolean): SubDb => {
    const done = (callback: (error?: Error | null) => void) => (commits ? store.db.batch(held.splice(0), callback) : process.nextTick(callback, null));
    return Object.assign(Object.create(db) as SubDb, {
      put: (key: string, value: unknown, callback: (error?: Error | null) => void) => {
        held.push({ type: 'put', key: `${prefix}${key}`, value });
        done(callback);
      },
      del: (key: string, callback: (error?: Error | null) => void) => {
        held.push({ type: 'del', key: `${prefix}${key}` });
        done(callback);
      },
    });
  };
  return Object.assign(Object.create(store) as DynaliteStore, {
    getItemDb: (tableName: string) => holding(store.getItemDb(tableName), `item-${tableName}~`, true),
    getIndexDb: (indexType: string, tableName: string, indexName: string) =>
      holding(store.getIndexDb(indexType, tableName, indexName), `index-${indexType.toLowerCase()}~${tableName}~${indexName}~`, false),
  });
}

/** The DynamoDB API version dynalite serves (the one the SDK speaks), and its operations. */
const API_VERSION = 'DynamoDB_20120810';
const OPERATIONS = [
  'BatchGetItem',
  'BatchWriteItem',
  'CreateTable',
  'DeleteItem',
  'DeleteTable',
  'DescribeTable',
  'DescribeTimeToLive',
  'GetItem',
  'ListTables',
  'ListTagsOfResource',
  'PutItem',
  'Query',
  'Scan',
  'TagResource',
  'UntagResource',
  'UpdateItem',
  'UpdateTable',
] as const;

interface Operation {
  readonly run: (store: DynaliteStore, data: unknown, callback: DynaliteCallback) => void;
  readonly validation: ActionValidation;
}

/** What the SDK hands a request handler, and what it takes back (structurally, as @smithy/types defines them). */
interface SdkHttpRequest {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: unknown;
}
interface SdkHttpResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

const CONTENT_TYPE = 'application/x-amz-json-1.0';

/**
 * An SDK request handler (`requestHandler` of a DynamoDBClient) that answers
 * every request from dynalite's DynamoDB API in this process. It does what
 * dynalite's HTTP server does once a request has arrived — read the target
 * operation from `X-Amz-Target`, parse the JSON body, check its types and
 * constraints, run the action — and answers as that server does: the action's
 * result as JSON, or dynalite's error body with its status code.
 */
export class DynaliteRequestHandler {
  private requests = 0;

  /**
   * @param atomicItemWrites each single-item write as one LevelDB batch
   *   (`atomicItemWrite`): for a table on disk, which must survive a kill in
   *   the middle of a write; a table in memory dies with its process anyway
   */
  constructor(
    private readonly store: DynaliteStore,
    private readonly modules: DynaliteModules,
    private readonly atomicItemWrites = false,
  ) {}

  async handle(request: SdkHttpRequest): Promise<{ response: SdkHttpResponse }> {
    return { response: await this.answer(request) };
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {}

  private answer(request: SdkHttpRequest): Promise<SdkHttpResponse> {
    const target = (headerOf(request.headers, 'x-amz-target') ?? '').split('.');
    const operation = target.length === 2 && target[0] === API_VERSION ? this.modules.operations.get(target[1]!) : undefined;
    if (request.method !== 'POST' || !operation) return Promise.resolve(this.reply(400, { __type: 'com.amazon.coral.service#UnknownOperationException' }));
    let data: unknown;
    try {
      data = JSON.parse(bodyText(request.body));
    } catch {
      return Promise.resolve(this.reply(400, { __type: 'com.amazon.coral.service#SerializationException' }));
    }
    try {
      data = this.modules.validations.checkTypes(data, operation.validation.types);
      this.modules.validations.checkValidations(data, operation.validation.types, operation.validation.custom, this.store);
    } catch (error) {
      return Promise.resolve(this.failure(error));
    }
    return new Promise((resolve) => {
      try {
        const store = this.atomicItemWrites && SINGLE_ITEM_WRITES.has(target[1]!) ? atomicItemWrite(this.store) : this.store;
        operation.run(store, data, (error, result) => resolve(error ? this.failure(error) : this.reply(200, result)));
      } catch (error) {
        resolve(this.failure(error));
      }
    });
  }

  /** dynalite's errors carry their DynamoDB status and body; anything else is its internal failure. */
  private failure(error: unknown): SdkHttpResponse {
    const known = error as DynaliteError;
    if (typeof known?.statusCode === 'number' && known.body !== undefined) return this.reply(known.statusCode, known.body);
    return this.reply(500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: error instanceof Error ? error.message : String(error) });
  }

  private reply(statusCode: number, body: unknown): SdkHttpResponse {
    return {
      statusCode,
      headers: { 'content-type': CONTENT_TYPE, 'x-amzn-requestid': `dynalite-${++this.requests}` },
      body: Buffer.from(JSON.stringify(body ?? {})),
    };
  }
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  if (headers[name] !== undefined) return headers[name];
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  return '';
}

export interface LocalDynamo {
  /** A client on this dynalite. */
  readonly client: DynamoDBClient;
  /** Another client on the same dynalite, with a middleware stack of its own (to count or meter one user's calls). */
  createClient(): DynamoDBClient;
  close(): Promise<void>;
}

export interface LocalDynamoOptions {
  /** LevelDB directory; in memory when omitted. */
  readonly path?: string;
  /**
   * The SDK's `cacheMiddleware` for every client: each command's middleware
   * stack is resolved once instead of on every request, a good part of the
   * SDK's work per call. A middleware added after a client's first request of
   * a command is then not applied to it, so clients that tests or benchmarks
   * instrument leave it off.
   * @default false
   */
  readonly cacheMiddleware?: boolean;
}

/** Local credentials and region: dynalite accepts any signature. */
export const LOCAL_AWS_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

/** The SDK resolves an endpoint; nothing connects to it. */
const IN_PROCESS_ENDPOINT = 'http://dynalite.local';

/**
 * The client's middleware that does nothing for dynalite in this process, and
 * costs a good part of the client's work per call: headers nobody reads (user
 * agent, host, recursion detection), the per-call logger, signing (resolving
 * an identity and signing for a service that checks no signature) and the
 * retry strategy (dynalite here is never throttled and has no network to fail;
 * its errors are answers, and the services retry what they retry themselves).
 */
const UNNEEDED_IN_PROCESS = [
  'getUserAgentMiddleware',
  'hostHeaderMiddleware',
  'recursionDetectionMiddleware',
  'loggerMiddleware',
  'httpSigningMiddleware',
  'retryMiddleware',
] as const;

export async function startDynalite(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
  const modules = loadDynalite();
  const store = modules.db.create({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  if (!options.path && !store.db.supports.encodings.utf8) {
    throw new Error('dynalite was loaded before lib/local/dynalite.ts could make its in-memory table store strings');
  }
  const requestHandler = new DynaliteRequestHandler(store, modules, options.path !== undefined);
  const config: DynamoDBClientConfig = {
    ...LOCAL_AWS_CONFIG,
    endpoint: IN_PROCESS_ENDPOINT,
    requestHandler,
    cacheMiddleware: options.cacheMiddleware === true,
  };
  const clients = new Set<DynamoDBClient>();
  const createClient = () => {
    const client = new DynamoDBClient(config);
    for (const name of UNNEEDED_IN_PROCESS) {
      if (!client.middlewareStack.remove(name)) throw new Error(`the DynamoDB client has no ${name} to leave out`);
    }
    clients.add(client);
    return client;
  };
  const client = createClient();
  return {
    client,
    createClient,
    close: async () => {
      for (const each of clients) each.destroy();
      // Waits for the operations under way, then closes LevelDB (on disk: releases its lock).
      await new Promise<void>((resolve, reject) => store.lifecycleManager.gracefulClose((error) => (error ? reject(error) : resolve())));
    },
  };
}
