/**
 * A simulated workload driving the production services (`handleExit`, then
 * `fireRestart` at the instant the decision names) with a manual clock, and
 * reporting its exits the way real workloads do: on its own clock (skewed),
 * in whole seconds or milliseconds, with or without a restart count, some
 * time after the crash. Alongside, an oracle plays kubelet's back-off on the
 * real instants, so a test can tell whether a restart came early in real time.
 */
import { hasExpired, nextEntry, type BackoffEntry, type BackoffPolicy, type Decision, type ExitEvent } from '../../lib/core/index.ts';
import { fireRestart, type FireOutcome } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import type { ManualClock } from './pipeline.ts';

export interface WorkloadRun {
  /** How long the container runs after its (re)start, in real time. */
  readonly runMs: number;
  /** How far the workload's clock is off when it reports this run's exit (positive: ahead). */
  readonly skewMs?: number;
  /** How long after the crash the exit reaches the service. @default 0 */
  readonly reportLagMs?: number;
}

export interface WorkloadOptions {
  readonly deps: ServiceDeps;
  readonly clock: ManualClock;
  readonly policy: BackoffPolicy;
  /** The unit of the reported timestamps: 1000 for whole seconds. @default 1 */
  readonly resolutionMs?: number;
  /** Report `restartCount` (the restarts before the run that ended). @default false */
  readonly reportRestartCount?: boolean;
  /** Report `startedAt` too. @default true */
  readonly reportStartedAt?: boolean;
  /** How long after a restart is dispatched the container is running again. @default 0 */
  readonly startLatencyMs?: number;
  readonly ref?: Pick<ExitEvent, 'namespace' | 'pod' | 'podUid' | 'container'>;
}

export interface ObservedExit {
  readonly index: number;
  /** Real instants (the service's clock is the real clock here). */
  readonly realStartedAt: number;
  readonly realFinishedAt: number;
  readonly arrivedAt: number;
  readonly reported: ExitEvent;
  readonly decision: Decision;
  /** When kubelet, watching the real instants, would restart at the earliest: the real exit plus the back-off in force. */
  readonly earliestAllowedAt: number;
  /** The back-off kubelet would apply. */
  readonly kubeletDelayMs: number;
  /** When the restart was dispatched, as the store recorded it (undefined when none was due). */
  readonly dispatchedAt?: number;
  /** `Dispatched` when the restart went out exactly once: by the exit's own handling (due now) or by its timer. */
  readonly outcome?: FireOutcome;
}

/** Truncates an instant to the reporting unit, as a clock that counts whole seconds does. */
export function truncateTo(ms: number, resolutionMs: number): number {
  return Math.floor(ms / resolutionMs) * resolutionMs;
}

/**
 * Runs the container through `runs`: each run starts when its restart is
 * dispatched (plus the start latency), crashes after `runMs`, and is reported
 * `reportLagMs` later. Stops early when the service decides not to restart.
 */
export async function playWorkload(options: WorkloadOptions, runs: readonly WorkloadRun[]): Promise<ObservedExit[]> {
  const { deps, clock, policy } = options;
  const resolutionMs = options.resolutionMs ?? 1;
  const ref = options.ref ?? { namespace: 'default', pod: 'web-0', podUid: 'uid-1', container: 'app' };
  const observed: ObservedExit[] = [];
  let realStartedAt = clock.now();
  // kubelet's entry, moved at the real restart instants.
  let kubelet: BackoffEntry | undefined;
  for (const [index, run] of runs.entries()) {
    const realFinishedAt = realStartedAt + run.runMs;
    const arrivedAt = realFinishedAt + (run.reportLagMs ?? 0);
    const skew = run.skewMs ?? 0;
    const reported: ExitEvent = {
      ...ref,
      exitCode: 1,
      finishedAt: truncateTo(realFinishedAt + skew, resolutionMs),
      ...(options.reportStartedAt === false ? {} : { startedAt: truncateTo(realStartedAt + skew, resolutionMs) }),
      ...(resolutionMs > 1 ? { timestampResolutionMs: resolutionMs } : {}),
      ...(options.reportRestartCount ? { restartCount: index } : {}),
      backoffPolicy: policy,
    };
    const expired = !kubelet || hasExpired(realFinishedAt, kubelet.lastUpdate, policy.resetAfterMs);
    const kubeletDelayMs = expired ? 0 : kubelet!.backoffMs;
    clock.set(arrivedAt);
    const decision = await handleExit(deps, reported);
    const base = { index, realStartedAt, realFinishedAt, arrivedAt, reported, decision, earliestAllowedAt: realFinishedAt + kubeletDelayMs, kubeletDelayMs };
    if (decision.restartAt === null || (decision.decision !== 'RestartNow' && decision.decision !== 'RestartScheduled')) {
      observed.push(base);
      break;
    }
    // A restart due now went out with the exit's handling; a later one when its
    // timer calls back at the instant the decision names.
    const outcome =
      decision.decision === 'RestartNow'
        ? 'Dispatched'
        : (clock.set(Math.max(arrivedAt, decision.restartAt)), await fireRestart(deps, { key: decision.key, restartCount: decision.restartCount }));
    const restart = (await deps.store.get(decision.key))?.value.restart;
    const dispatchedAt = restart?.restartCount === decision.restartCount && restart.status === 'dispatched' ? restart.dispatchedAt : undefined;
    observed.push({ ...base, ...(dispatchedAt !== undefined ? { dispatchedAt } : {}), outcome });
    if (dispatchedAt === undefined) break;
    kubelet = nextEntry(kubelet, realFinishedAt, dispatchedAt, policy);
    realStartedAt = dispatchedAt + (options.startLatencyMs ?? 0);
  }
  return observed;
}
