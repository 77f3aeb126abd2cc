/**
 * Starts dynalite (a DynamoDB implementation on LevelDB) in this process, on
 * disk under a directory or in memory, and hands back a DynamoDB client for it.
 */
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

type DynaliteFactory = (options: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;

// dynalite is CommonJS without type declarations. Loaded when a table is
// started, not on import: LOCAL_AWS_CONFIG alone must not load a database.
const loadDynalite = (): DynaliteFactory => createRequire(import.meta.url)('dynalite') as DynaliteFactory;

export interface LocalDynamo {
  readonly endpoint: string;
  readonly client: DynamoDBClient;
  close(): Promise<void>;
}

export interface LocalDynamoOptions {
  /** LevelDB directory; in memory when omitted. */
  readonly path?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

/** Local credentials and region: dynalite accepts any signature. */
export const LOCAL_AWS_CONFIG = {
  region: 'us-east-1',
  credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
} as const;

export async function startDynalite(options: LocalDynamoOptions = {}): Promise<LocalDynamo> {
  const server = loadDynalite()({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const endpoint = `http://${address}:${port}`;
  const client = new DynamoDBClient({ ...LOCAL_AWS_CONFIG, endpoint, maxAttempts: 3 });
  return {
    endpoint,
    client,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}
