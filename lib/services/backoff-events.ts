/**
 * BackOff records and `Container CrashLoopBackOff` messages after the first
 * one of a wait (which the exit's own handling records): the sync finds the
 * repeats that are due on a sparse index and records each one here, at most
 * once per interval whatever the number of syncs or of concurrent callers.
 */
import { backOffRecord, backOffRepeatAt, backOffSeriesMessage, pickRef, repeatBackOff, type BackOffSeries, type ContainerState } from '../core/index.ts';
import { BUS_DETAIL_TYPES, type BusMessage } from '../ports.ts';
import { pauseAfterConflict, WriteContentionError, type ServiceDeps } from './deps.ts';

/** The `Container CrashLoopBackOff` message for the series' latest record. */
export function crashLoopBackOffMessage(state: ContainerState, series: BackOffSeries): BusMessage {
  return {
    detailType: BUS_DETAIL_TYPES.crashLoopBackOff,
    detail: {
      key: state.key,
      ...pickRef(state),
      restartCount: series.restartCount,
      restartAt: state.restart ? new Date(state.restart.restartAt).toISOString() : null,
      count: series.count,
      firstTimestamp: new Date(series.firstTimestamp).toISOString(),
      lastTimestamp: new Date(series.lastTimestamp).toISOString(),
      message: backOffSeriesMessage(state, series),
    },
  };
}

/**
 * Records the repeat of `key`'s BackOff series if one is due at `now`: a
 * conditional write moves the series on (count + 1, the next repeat one
 * interval later) and only then is the record logged, so two callers cannot
 * both record the same repeat. Returns the message to publish, or undefined
 * when no repeat is due (the restart went out, a newer exit replaced the wait,
 * or another caller recorded it).
 */
export async function recordBackOffRepeat(deps: ServiceDeps, key: string, now: number): Promise<BusMessage | undefined> {
  for (let attempt = 1; attempt <= deps.config.maxWriteAttempts; attempt++) {
    const current = await deps.store.get(key);
    if (!current) return undefined;
    const state = current.value;
    const dueAt = backOffRepeatAt(state);
    if (dueAt === undefined || dueAt > now) return undefined;
    const series = repeatBackOff(state.backOffEvent!, state.restart!.restartAt, now, deps.config.backOffEventIntervalMs);
    // An observation, not a change of the container: `updatedAt` (and so the TTL) stays.
    const next: ContainerState = { ...state, backOffEvent: series };
    if (!(await deps.store.put(next, current.version)).written) {
      await pauseAfterConflict(deps, attempt);
      continue;
    }
    deps.sink.record([backOffRecord(next, series)]);
    return crashLoopBackOffMessage(next, series);
  }
  throw new WriteContentionError(key, deps.config.maxWriteAttempts);
}
