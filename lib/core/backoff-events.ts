/**
 * BackOff records the way Kubernetes' event correlator makes them (see
 * `BackOffSeries`): one when a container enters a wait, repeats at most once
 * per interval while it waits, each carrying the series' count and its first
 * and last instants. Pure: the services store the series with the container
 * and the sync finds the repeats that are due from a sparse index.
 */
import { backOffEventMessage } from './container.ts';
import { eventRecord } from './events.ts';
import type { BackOffSeries, ContainerState, EventRecord } from './model.ts';

/** kubelet's event spam filter lets one event per object through every five minutes once its burst is spent. */
export const DEFAULT_BACKOFF_EVENT_INTERVAL_MS = 5 * 60_000;

/** The wait a BackOff record is about: the restart it waits for and the back-off it waits out. */
export interface BackOffWait {
  readonly restartCount: number;
  readonly restartAt: number;
  readonly delayMs: number;
}

/**
 * The series after a container enters `wait` at `now`: `previous` (the series
 * of the same back-off entry, none after a reset) continues when its message
 * is the same — the same container and back-off; otherwise the series starts
 * again at 1.
 */
export function enterBackOff(previous: BackOffSeries | undefined, wait: BackOffWait, now: number, intervalMs: number): BackOffSeries {
  const carried = previous !== undefined && previous.delayMs === wait.delayMs ? previous : undefined;
  return withNextRepeat(
    {
      restartCount: wait.restartCount,
      delayMs: wait.delayMs,
      count: (carried?.count ?? 0) + 1,
      firstTimestamp: carried?.firstTimestamp ?? now,
      lastTimestamp: now,
    },
    wait.restartAt,
    intervalMs,
  );
}

/** The series after a repeat recorded at `now` for the wait that ends at `restartAt`. */
export function repeatBackOff(series: BackOffSeries, restartAt: number, now: number, intervalMs: number): BackOffSeries {
  const { nextRepeatAt: _done, ...rest } = series;
  return withNextRepeat({ ...rest, count: series.count + 1, lastTimestamp: now }, restartAt, intervalMs);
}

/** A repeat is due one interval after the latest record, if that is still before the restart. */
function withNextRepeat(series: Omit<BackOffSeries, 'nextRepeatAt'>, restartAt: number, intervalMs: number): BackOffSeries {
  const next = series.lastTimestamp + intervalMs;
  return next < restartAt ? { ...series, nextRepeatAt: next } : series;
}

/** The instant the stored series asks for a repeat, while its wait is the container's pending one. */
export function backOffRepeatAt(state: ContainerState): number | undefined {
  const series = state.backOffEvent;
  const restart = state.restart;
  if (!series || series.nextRepeatAt === undefined || !restart || restart.status !== 'waiting') return undefined;
  if (state.state !== 'CrashLoopBackOff' || restart.restartCount !== series.restartCount) return undefined;
  return series.nextRepeatAt;
}

/** kubelet's BackOff message for the series: `Back-off 5m0s restarting failed container=app pod=web-0_default(uid)`. */
export function backOffSeriesMessage(state: ContainerState, series: BackOffSeries): string {
  return backOffEventMessage(state, series.delayMs);
}

/** The BackOff record for the series' latest occurrence (at its `lastTimestamp`). */
export function backOffRecord(state: ContainerState, series: BackOffSeries): EventRecord {
  return eventRecord('BackOff', state, series.lastTimestamp, {
    reason: 'CrashLoopBackOff',
    restartCount: series.restartCount,
    delayMs: series.delayMs,
    ...(state.backoff ? { backoffMs: state.backoff.backoffMs } : {}),
    restartAt: state.restart?.restartAt,
    ...(state.lastExit ? { exitCode: state.lastExit.exitCode } : {}),
    count: series.count,
    firstTimestamp: new Date(series.firstTimestamp).toISOString(),
    lastTimestamp: new Date(series.lastTimestamp).toISOString(),
    message: backOffSeriesMessage(state, series),
  });
}
