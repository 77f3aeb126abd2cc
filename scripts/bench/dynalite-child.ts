/**
 * dynalite in a process of its own, in memory, for benchmarks whose subject
 * must not share its process with the table (sync-scale.ts). Prints one line
 * when ready, `dynalite listening on http://HOST:PORT`, and serves until killed.
 */
import { startDynalite } from '../../lib/local/dynalite.ts';

const dynamo = await startDynalite();
console.log(`dynalite listening on ${dynamo.endpoint}`);
const stop = () => {
  void dynamo.close().finally(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
