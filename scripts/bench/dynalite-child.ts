/**
 * dynalite in a process of its own, in memory, served over HTTP by dynalite's
 * own server, for benchmarks whose subject must not share its process with
 * the table (sync-scale.ts). Prints one line when ready,
 * `dynalite listening on http://HOST:PORT`, and serves until killed.
 */
import { createRequire } from 'node:module';
import type { AddressInfo, Server } from 'node:net';

const dynaliteServer = createRequire(import.meta.url)('dynalite') as (options: object) => Server;
const server = dynaliteServer({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
console.log(`dynalite listening on http://127.0.0.1:${port}`);
const stop = () => server.close(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
