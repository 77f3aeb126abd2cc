import { backOffEventMessage, eventRecord, pickRef, type ContainerState, type EventRecord } from '../core/index.ts';
import { BUS_DETAIL_TYPES, type BusMessage } from '../ports.ts';
import { errorDetails, type ServiceDeps } from './deps.ts';
import { forEachConcurrently } from '../concurrency.ts';
import { fireRestart } from './fire-restart.ts';

/** Overdue restarts recovered at once by one sync run. */
const RECOVERY_CONCURRENCY = 16;
/** Shards read at once. */
const SHARD_CONCURRENCY = 8;

export interface SyncReport {
  /** Containers read from the waiting index. */
  readonly waiting: number;
  /** Of those, containers in CrashLoopBackOff: one `BackOff` event each. */
  readonly inBackOff: number;
  /** Overdue restarts dispatched by this run (`RestartRecovered`). */
  readonly recovered: number;
  /** Expired entries deleted. */
  readonly collected: number;
  /** Items returned by every index read of this run: what the run cost. */
  readonly itemsRead: number;
  /** Containers whose handling failed (retried on the next run). */
  readonly failures: number;
}

/**
 * The periodic sync, kubelet's sync loop for what an event-driven design
 * cannot get from events alone. It reads only waiting containers (the sparse
 * index) and expired entries (the expiry index), never the whole table:
 *
 * - one `BackOff` event per container waiting in CrashLoopBackOff, with
 *   kubelet's wording, and a `Container CrashLoopBackOff` bus message;
 * - any restart whose instant plus the grace period has passed without a
 *   dispatch (a lost schedule, a timer never armed, a failed callback), or
 *   whose dispatch claim has expired, is dispatched — once, by `fireRestart`'s
 *   conditional transition — as `RestartRecovered`;
 * - expired entries are deleted (DynamoDB's TTL deletion is lazy and the local
 *   store has none).
 */
export async function sync(deps: ServiceDeps): Promise<SyncReport> {
  const { config, store } = deps;
  const now = deps.clock.now();
  let waiting = 0;
  let recovered = 0;
  let failures = 0;
  let itemsRead = 0;
  const backOff: EventRecord[] = [];
  const messages: BusMessage[] = [];
  const overdueRestarts: { key: string; restartCount: number }[] = [];

  const shards = Array.from({ length: store.shards }, (_, shard) => shard);
  // Shards are independent partitions: read them side by side, not one after another.
  await forEachConcurrently(shards, SHARD_CONCURRENCY, async (shard) => {
    let cursor: string | undefined;
    do {
      const page = await store.listWaiting(shard, cursor);
      itemsRead += page.itemsRead;
      cursor = page.cursor;
      for (const state of page.items) {
        const restart = state.restart;
        // The index is eventually consistent: skip what has moved on since.
        if (!restart || restart.status === 'dispatched') continue;
        waiting++;
        const overdue =
          restart.status === 'waiting'
            ? now >= restart.restartAt + config.recoveryGraceMs
            : now >= (restart.claimedAt ?? 0) + config.dispatchLeaseMs;
        if (overdue) {
          overdueRestarts.push({ key: state.key, restartCount: restart.restartCount });
        } else if (state.state === 'CrashLoopBackOff' && restart.status === 'waiting') {
          backOff.push(backOffRecord(state, now));
          messages.push({ detailType: BUS_DETAIL_TYPES.crashLoopBackOff, detail: backOffDetail(state) });
        }
      }
    } while (cursor);
  });

  // After an outage many restarts can be overdue at once: recover them in parallel.
  await forEachConcurrently(overdueRestarts, RECOVERY_CONCURRENCY, async (ref) => {
    try {
      if ((await fireRestart(deps, ref, { recovered: true })) === 'Recovered') recovered++;
    } catch (error) {
      failures++;
      deps.log.error('recovering an overdue restart failed; the next sync retries', { key: ref.key, ...errorDetails(error) });
    }
  });

  deps.sink.record(backOff);
  deps.sink.metric('ContainersInCrashLoopBackOff', backOff.length);
  if (messages.length > 0) {
    try {
      await deps.sink.publish(messages);
    } catch (error) {
      deps.log.error('publishing Container CrashLoopBackOff messages failed', errorDetails(error));
    }
  }

  let collected = 0;
  await forEachConcurrently(shards, SHARD_CONCURRENCY, async (shard) => {
    const page = await store.listExpired(shard, now, config.gcBatchSize);
    itemsRead += page.itemsRead;
    for (const entry of page.items) {
      if (await store.collect(entry.key, now)) collected++;
    }
  });

  return { waiting, inBackOff: backOff.length, recovered, collected, itemsRead, failures };
}

/** The back-off in force for a waiting container: the delay its decision applied. */
function delayInForce(state: ContainerState): number {
  return state.lastDecision?.delayMs ?? 0;
}

function backOffRecord(state: ContainerState, now: number): EventRecord {
  return eventRecord('BackOff', state, now, {
    reason: 'CrashLoopBackOff',
    restartCount: state.restartCount,
    delayMs: delayInForce(state),
    ...(state.backoff ? { backoffMs: state.backoff.backoffMs } : {}),
    restartAt: state.restart?.restartAt,
    ...(state.lastExit ? { exitCode: state.lastExit.exitCode } : {}),
    message: backOffEventMessage(state, delayInForce(state)),
  });
}

function backOffDetail(state: ContainerState): Record<string, unknown> {
  return {
    key: state.key,
    ...pickRef(state),
    restartCount: state.restartCount,
    restartAt: state.restart ? new Date(state.restart.restartAt).toISOString() : null,
    message: backOffEventMessage(state, delayInForce(state)),
  };
}
