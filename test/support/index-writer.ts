/**
 * A process that writes container items to an on-disk table as fast as it
 * can, for a test to `kill -9` at any moment: each write moves a container
 * into or out of the waiting index (a restart waiting, then dispatched), the
 * write whose item and index entries must change together.
 *
 * Usage: node --import tsx test/support/index-writer.ts DIR CONTAINERS
 * Prints `writing` once the first write has landed.
 */
import { DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { planExit, resolveBackoffPolicy, type ContainerState } from '../../lib/core/index.ts';
import { startDynalite } from '../../lib/local/dynalite.ts';

const [dir, containers] = process.argv.slice(2);
const dynamo = await startDynalite({ path: dir! });
await ensureTable(dynamo.client, 'index-writer');
const store = new DynamoBackoffStore({ client: dynamo.client, tableName: 'index-writer', clock: { now: () => Date.now() } });
const now = Date.now();
const planned = planExit(undefined, { namespace: 'kill', pod: 'p', podUid: 'u', container: 'app', exitCode: 1, finishedAt: now, exitId: 'e' }, { policy: resolveBackoffPolicy(), now }).next!;
const waiting = (n: number): ContainerState => ({ ...planned, key: `p-${n}_kill_u_app_`, pod: `p-${n}`, restart: { restartCount: 1, restartAt: now, status: 'waiting' } });
const dispatched = (n: number): ContainerState => ({ ...waiting(n), restart: { restartCount: 1, restartAt: now, status: 'dispatched', claimedAt: now, dispatchedAt: now } });

let announced = false;
const count = Number(containers);
await Promise.all(
  Array.from({ length: count }, async (_, n) => {
    for (let round = 0; ; round++) {
      const current = await store.get(waiting(n).key);
      await store.put(round % 2 === 0 ? waiting(n) : dispatched(n), current?.version);
      if (!announced) {
        announced = true;
        console.log('writing');
      }
    }
  }),
);
