/**
 * "Containers in CrashLoopBackOff now", counted from the table: a `COUNT`
 * Query over each shard of the state index, which returns no items, so the
 * count runs in constant memory and reads only the index's small keys-only
 * entries (about 100 bytes each, 40,000 to a read unit). It publishes the
 * `ContainersInCrashLoopBackOff` metric the dashboard graphs.
 */
import { forEachConcurrently } from '../concurrency.ts';
import { errorDetails, type ServiceDeps } from './deps.ts';

/** Shards counted at once. */
const SHARD_CONCURRENCY = 8;

export interface CensusReport {
  /** Containers in CrashLoopBackOff; null when a shard could not be counted (no metric is published then). */
  readonly crashLoopBackOff: number | null;
  /** Index entries the count read. */
  readonly itemsRead: number;
  readonly failedShards: readonly number[];
}

export async function countCrashLoopBackOff(deps: ServiceDeps): Promise<CensusReport> {
  let containers = 0;
  let itemsRead = 0;
  const failedShards: number[] = [];
  const shards = Array.from({ length: deps.store.shards }, (_, shard) => shard);
  await forEachConcurrently(shards, SHARD_CONCURRENCY, async (shard) => {
    let cursor: string | undefined;
    try {
      do {
        const page = await deps.store.countInState('CrashLoopBackOff', shard, cursor);
        containers += page.count;
        itemsRead += page.itemsRead;
        cursor = page.cursor;
      } while (cursor);
    } catch (error) {
      failedShards.push(shard);
      deps.log.error('counting containers in CrashLoopBackOff failed for a shard', { shard, ...errorDetails(error) });
    }
  });
  // A partial count would read as containers leaving CrashLoopBackOff: publish none.
  if (failedShards.length > 0) return { crashLoopBackOff: null, itemsRead, failedShards };
  deps.sink.metric('ContainersInCrashLoopBackOff', containers);
  return { crashLoopBackOff: containers, itemsRead, failedShards };
}
