/**
 * Reading a workload's exit report. kubelet has one clock; this service gets
 * times from the workload's, which may run ahead, run behind, or count whole
 * seconds. Two questions are answered here, without I/O:
 *
 * - `classifyExit`: is the report a new exit, a repeat of one already
 *   handled, or from an older run? Precedence: the exit id, then the run's
 *   restart count, then the timestamps — and a timestamp alone never makes an
 *   exit `Stale` while the service's own record says the container was
 *   restarted since.
 * - `placeExit`: when did it happen on the service's clock? The run's length
 *   is measured on the workload's clock (`finishedAt − startedAt` is free of
 *   skew) and placed on the service's, which knows when it dispatched the
 *   restart the run followed and when the exit reached it.
 */
import type { ContainerState, ExitEvent, ExitRecord } from './model.ts';

/** What a report is, relative to what the service has handled. */
export type ReportKind = 'New' | 'Duplicate' | 'Stale';

/** How a reported `finishedAt` compares with what the service can prove. */
export type ReportedClock =
  /** Within the bounds the service knows: taken as reported. */
  | 'consistent'
  /** After the exit reached the service: the workload's clock runs ahead. */
  | 'ahead'
  /** Before the run can have ended (its restart's dispatch plus its length): the clock runs behind. */
  | 'behind'
  /**
   * The run followed a restart the service dispatched, but without `startedAt`
   * its length is unknown: `finishedAt` could be off by anything up to the run,
   * so the back-off counts from the exit's arrival.
   */
  | 'unchecked';

export interface ExitPlacement {
  /**
   * The exit on the service's clock, as late as it can have happened: the
   * back-off counts from here, so a restart is never early in real time.
   */
  readonly finishedAt: number;
  /**
   * The exit on the service's clock, as early as it can have happened: this is
   * what is judged against `resetAfter`, so a back-off is never reset by a run
   * that was not really that long.
   */
  readonly earliestFinishedAt: number;
  /** The run's start on the service's clock, when the report gives the run's length. */
  readonly startedAt?: number;
  readonly clock: ReportedClock;
}

/**
 * How much later than its value a reported instant can mean. Container
 * runtimes and Kubernetes' container status report whole seconds, and a
 * whole-second instant stands for the whole second it names: the exit can have
 * happened up to 999 ms after it.
 */
export function reportGranularityMs(exit: Pick<ExitEvent, 'timestampResolutionMs'>): number {
  return Math.max(1, exit.timestampResolutionMs ?? 1) - 1;
}

/** The run's length on the workload's clock, when the report says when it started. */
function runLengthMs(exit: Pick<ExitEvent, 'finishedAt' | 'startedAt'>): number | undefined {
  return exit.startedAt === undefined ? undefined : exit.finishedAt - exit.startedAt;
}

/**
 * When the service dispatched the restart this exit's run followed, if it did:
 * the run cannot have started before. A report whose restart count names
 * another restart did not follow this one.
 */
function dispatchFollowed(stored: ContainerState | undefined, exit: Pick<ExitEvent, 'restartCount'>): number | undefined {
  const restart = stored?.restart;
  if (!restart || restart.status !== 'dispatched') return undefined;
  if (exit.restartCount !== undefined && exit.restartCount !== restart.restartCount) return undefined;
  return restart.dispatchedAt ?? restart.restartAt;
}

/**
 * The earliest instant on the service's clock at which the run can have ended:
 * the dispatch of the restart it followed plus its length (less the rounding of
 * whole-second timestamps); -Infinity when the service started no run.
 */
function earliestRunEnd(stored: ContainerState | undefined, exit: ExitEvent): number {
  const dispatchedAt = dispatchFollowed(stored, exit);
  if (dispatchedAt === undefined) return Number.NEGATIVE_INFINITY;
  return dispatchedAt + Math.max(0, (runLengthMs(exit) ?? 0) - reportGranularityMs(exit));
}

/**
 * Places the exit on the service's clock. The reported `finishedAt` is used
 * when it lies within what the service can prove — no later than the exit's
 * arrival, no earlier than the restart's dispatch plus the run's length — so a
 * correct clock gives kubelet's instants exactly, also for a late report. A
 * timestamp outside those bounds is wrong by at least the difference and by an
 * unknown amount more: the back-off then counts from the arrival (the latest
 * the exit can have happened). So does a report without `startedAt` of a run
 * the service started: nothing bounds its `finishedAt` closer than the whole
 * run.
 *
 * Whether the run lasted long enough to reset the back-off is judged from the
 * earliest it can have ended. A run the service started and whose length is
 * reported is measured from the restart's dispatch, free of any skew (a reset
 * is a restart at once: a skew of milliseconds at the threshold must not make
 * one). Without the run's length, a consistent `finishedAt` is all there is; a
 * wrong one proves nothing, and the run counts as ending at the dispatch (no
 * reset while the clock is wrong).
 */
export function placeExit(stored: ContainerState | undefined, exit: ExitEvent, now: number): ExitPlacement {
  const granularity = reportGranularityMs(exit);
  const runMs = runLengthMs(exit);
  const earliest = earliestRunEnd(stored, exit);
  const started = Number.isFinite(earliest);
  const startOf = (finishedAt: number) => (runMs === undefined ? {} : { startedAt: finishedAt - runMs });
  const wrong = exit.finishedAt > now || exit.finishedAt + granularity < earliest;
  const earliestFinishedAt = started
    ? runMs !== undefined || wrong
      ? Math.min(earliest, now)
      : Math.max(exit.finishedAt, earliest)
    : Math.min(exit.finishedAt, now);

  if (wrong) return { finishedAt: now, earliestFinishedAt, ...startOf(now), clock: exit.finishedAt > now ? 'ahead' : 'behind' };
  if (runMs === undefined && started) return { finishedAt: now, earliestFinishedAt, clock: 'unchecked' };
  const finishedAt = Math.min(exit.finishedAt + granularity, now);
  return { finishedAt, earliestFinishedAt, ...startOf(finishedAt), clock: 'consistent' };
}

/** The run's restart count a report carries, or what the service infers: the restarts dispatched before it. */
export function runRestartCount(stored: ContainerState | undefined, exit: Pick<ExitEvent, 'restartCount'>): number {
  if (exit.restartCount !== undefined) return exit.restartCount;
  if (!stored) return 0;
  const pending = stored.restart !== undefined && stored.restart.status !== 'dispatched';
  return Math.max(0, stored.restartCount - (pending ? 1 : 0));
}

/**
 * Is this report one the service has already handled? In order:
 *
 * 1. an exit id seen before → `Duplicate`;
 * 2. the run's restart count, when both this report and the last exit carry
 *    one: higher → new, equal → `Duplicate` (a run ends once), lower → `Stale`;
 * 3. the timestamps, on the workload's own clock: the same `finishedAt` (and
 *    `startedAt`) as the last report → `Duplicate`, unless distinct exit ids or
 *    start times tell two exits apart; a later one → new; an earlier one →
 *    `Stale`, unless the service has dispatched a restart since the last exit
 *    and this run fits between that dispatch and now — then the workload's
 *    clock was set back, and the exit is new.
 */
export function classifyExit(stored: ContainerState, exit: ExitEvent, now: number): ReportKind {
  if (exit.exitId !== undefined && stored.recentExitIds.includes(exit.exitId)) return 'Duplicate';
  const last = stored.lastExit;
  if (!last) return 'New';
  if (exit.restartCount !== undefined && last.restartCount !== undefined) {
    if (exit.restartCount > last.restartCount) return 'New';
    return exit.restartCount === last.restartCount ? 'Duplicate' : 'Stale';
  }
  const reported = reportedTimes(last);
  if (exit.finishedAt === reported.finishedAt) {
    const distinct = differ(exit.exitId, last.exitId) || differ(exit.startedAt, reported.startedAt);
    return distinct ? 'New' : 'Duplicate';
  }
  if (exit.finishedAt > reported.finishedAt) return 'New';
  return restartedSinceLastExit(stored) && earliestRunEnd(stored, exit) <= now ? 'New' : 'Stale';
}

/** The last exit's times as the workload reported them (entries from before they were kept hold only those). */
function reportedTimes(last: ExitRecord): { finishedAt: number; startedAt?: number } {
  if (last.reportedFinishedAt === undefined) return { finishedAt: last.finishedAt, ...(last.startedAt !== undefined ? { startedAt: last.startedAt } : {}) };
  return { finishedAt: last.reportedFinishedAt, ...(last.reportedStartedAt !== undefined ? { startedAt: last.reportedStartedAt } : {}) };
}

/** Both present and not equal: two values that tell two reports apart. */
function differ<T>(a: T | undefined, b: T | undefined): boolean {
  return a !== undefined && b !== undefined && a !== b;
}

/** Did the service dispatch the restart it decided on the last exit? Then a new run has begun since. */
function restartedSinceLastExit(stored: ContainerState): boolean {
  const decision = stored.lastDecision;
  const restart = stored.restart;
  if (!decision || !restart || restart.status !== 'dispatched') return false;
  const restarting = decision.decision === 'RestartNow' || decision.decision === 'RestartScheduled';
  return restarting && decision.restartCount === restart.restartCount;
}
