import type { ContainerState } from '../core/index.ts';
import type { BusMessage, IndexPage } from '../ports.ts';
import { errorDetails, pauseBeforeRetry, type ServiceDeps } from './deps.ts';
import { createLimiter, forEachConcurrently } from '../concurrency.ts';
import { recordBackOffRepeat } from './backoff-events.ts';
import { fireRestart } from './fire-restart.ts';

/** Shards read at once. */
const SHARD_CONCURRENCY = 8;
/** Containers handled at once (recoveries, BackOff repeats, collections), across every shard. */
const WORK_CONCURRENCY = 16;
/** Attempts of one index page read before its shard is reported and left to the next run. */
export const SHARD_READ_ATTEMPTS = 3;

/** What the sync does per shard, in this order. */
const SYNC_PASSES = ['overdue', 'backOffRepeats', 'expired'] as const;
export type SyncPass = (typeof SYNC_PASSES)[number];

export interface SyncOptions {
  /**
   * Asked before every page: true when the run must start nothing more (the
   * Lambda's time is nearly up). Whatever is left stays in the indexes and the
   * next run picks it up.
   */
  readonly shouldStop?: () => boolean;
}

export interface ShardFailure {
  readonly shard: number;
  readonly pass: SyncPass;
  readonly error: string;
}

export interface SyncReport {
  /** Restarts found overdue past the grace period (or with an expired claim). */
  readonly overdue: number;
  /** Of those, the ones this run dispatched (`RestartRecovered`). */
  readonly recovered: number;
  /** BackOff repeats recorded (each also a `Container CrashLoopBackOff` message). */
  readonly backOffRepeats: number;
  /** Expired entries deleted. */
  readonly collected: number;
  /** Items returned by every index read of this run: what the run cost. */
  readonly itemsRead: number;
  /** Containers whose handling failed (retried on the next run). */
  readonly failures: number;
  /** Shards whose reads kept failing, by pass: their work waits for the next run; the other shards' was done. */
  readonly failedShards: readonly ShardFailure[];
  /** True when `shouldStop` ended the run before every page was read. */
  readonly stoppedEarly: boolean;
}

/**
 * The periodic sync, kubelet's sync loop for what an event-driven design
 * cannot get from events alone. Its cost follows what needs doing, not how
 * many containers wait: every read is a range of a sparse, sharded index that
 * holds only work that is due.
 *
 * - `overdue`: restarts whose instant plus the grace period has passed without
 *   a dispatch (a lost schedule, a timer never armed, a failed callback), read
 *   from the waiting index up to `now − grace` only (its sort key is the
 *   restart instant), or whose dispatch claim has expired, are dispatched —
 *   once, by `fireRestart`'s conditional transition — as `RestartRecovered`;
 * - `backOffRepeats`: waits that outlast `backOffEventInterval` get their
 *   BackOff record repeated (count + 1) and a `Container CrashLoopBackOff`
 *   message, at most once per interval (the first one came with the exit);
 * - `expired`: entries past their TTL are deleted, at most `gcBatchSize` per
 *   shard per run (DynamoDB's TTL deletion is lazy and the local store has none).
 *
 * Memory stays bounded by the page size: each page is handled before the next
 * is read, and nothing is gathered across pages. Shards are independent: a
 * page read that keeps failing is retried, then its shard is reported in
 * `failedShards` and the other shards go on.
 *
 * Why one invocation suffices: a run reads what is overdue, due or expired,
 * one index key per restart to recover; 1,000 overdue restarts (a regional
 * outage's worth) take 1,000 keys-only entries and 4 calls each (a read,
 * which `fireRestart` decides on too, a claim, the publish, the mark), 16 at a time — a few seconds of the sync's
 * 60-second timeout. A larger backlog
 * is cut short by `shouldStop` and the next run, a minute later, goes on where
 * the indexes say: nothing is lost, only later.
 */
export async function sync(deps: ServiceDeps, options: SyncOptions = {}): Promise<SyncReport> {
  const { config, store } = deps;
  const now = deps.clock.now();
  const horizon = now - config.recoveryGraceMs;
  const limit = createLimiter(WORK_CONCURRENCY);
  const counts = { overdue: 0, recovered: 0, backOffRepeats: 0, collected: 0, itemsRead: 0, failures: 0 };
  const failedShards: ShardFailure[] = [];
  let stoppedEarly = false;

  const failed = (what: string, key: string, error: unknown) => {
    counts.failures++;
    deps.log.error(`${what} failed; the next sync retries`, { key, ...errorDetails(error) });
  };

  /** Reads the pages of one pass of one shard, handling each page before reading the next. */
  const eachPage = async <T>(read: (cursor: string | undefined) => Promise<IndexPage<T>>, handle: (items: readonly T[]) => Promise<boolean | void>) => {
    let cursor: string | undefined;
    do {
      if (options.shouldStop?.()) {
        stoppedEarly = true;
        return;
      }
      const page = await readWithRetries(deps, () => read(cursor));
      counts.itemsRead += page.itemsRead;
      cursor = page.cursor;
      if ((await handle(page.items)) === false) return;
    } while (cursor);
  };

  const passes: Record<SyncPass, (shard: number) => Promise<void>> = {
    overdue: (shard) =>
      eachPage(
        (cursor) => store.listWaiting(shard, { dueBy: horizon, ...(cursor ? { cursor } : {}) }),
        async (keys) => {
          await Promise.all(
            keys.map((key) =>
              limit(async () => {
                try {
                  // The index may lag: judge on the item as it is.
                  const current = await store.get(key);
                  if (!current || !isOverdue(current.value, now, horizon, config.dispatchLeaseMs)) return;
                  counts.overdue++;
                  const ref = { key, restartCount: current.value.restart!.restartCount };
                  if ((await fireRestart(deps, ref, { recovered: true, prefetched: current })) === 'Recovered') counts.recovered++;
                } catch (error) {
                  failed('recovering an overdue restart', key, error);
                }
              }),
            ),
          );
        },
      ),
    backOffRepeats: (shard) =>
      eachPage(
        (cursor) => store.listBackOffRepeats(shard, now, cursor),
        async (keys) => {
          const messages: BusMessage[] = [];
          await Promise.all(
            keys.map((key) =>
              limit(async () => {
                try {
                  const message = await recordBackOffRepeat(deps, key, now);
                  if (message) {
                    counts.backOffRepeats++;
                    messages.push(message);
                  }
                } catch (error) {
                  failed('recording a BackOff repeat', key, error);
                }
              }),
            ),
          );
          await publishRepeats(deps, messages);
        },
      ),
    expired: async (shard) => {
      let budget = config.gcBatchSize;
      await eachPage(
        (cursor) => store.listExpired(shard, now, { limit: budget, ...(cursor ? { cursor } : {}) }),
        async (entries) => {
          budget -= entries.length;
          await Promise.all(
            entries.map((entry) =>
              limit(async () => {
                try {
                  if (await store.collect(entry.key, now)) counts.collected++;
                } catch (error) {
                  failed('collecting an expired entry', entry.key, error);
                }
              }),
            ),
          );
          return budget > 0;
        },
      );
    },
  };

  const shards = Array.from({ length: store.shards }, (_, shard) => shard);
  // Shards are independent partitions: read them side by side, not one after another.
  await forEachConcurrently(shards, SHARD_CONCURRENCY, async (shard) => {
    for (const pass of SYNC_PASSES) {
      try {
        await passes[pass](shard);
      } catch (error) {
        failedShards.push({ shard, pass, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
        deps.log.error('a sync shard failed after retries; the next sync retries it', { shard, pass, ...errorDetails(error) });
      }
    }
  });

  return { ...counts, failedShards, stoppedEarly };
}

/**
 * Overdue: a waiting restart past its instant plus the grace period, or a
 * claimed one whose claim has expired (its claimer is presumed dead).
 * `fireRestart` then decides again on its own consistent read.
 */
function isOverdue(state: ContainerState, now: number, horizon: number, dispatchLeaseMs: number): boolean {
  const restart = state.restart;
  if (!restart || restart.status === 'dispatched') return false;
  return restart.status === 'waiting' ? restart.restartAt <= horizon : now >= (restart.claimedAt ?? 0) + dispatchLeaseMs;
}

/** One index page read, retried with jittered pauses: a throttled or failing partition gets a second and third chance in this run. */
async function readWithRetries<T>(deps: ServiceDeps, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= SHARD_READ_ATTEMPTS) throw error;
      await pauseBeforeRetry(deps, attempt, { baseMs: 100, capMs: 1_000 });
    }
  }
}

/** The page's repeats on the bus; their records are already logged, so a failure here loses these messages only. */
async function publishRepeats(deps: ServiceDeps, messages: readonly BusMessage[]): Promise<void> {
  if (messages.length === 0) return;
  try {
    await deps.sink.publish(messages);
  } catch (error) {
    deps.log.error('publishing Container CrashLoopBackOff repeats failed', { messages: messages.length, ...errorDetails(error) });
  }
}
