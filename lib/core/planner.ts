/**
 * The exit → decision planner: given what is stored about a container and a
 * new exit event, decide when (and whether) it restarts, and what to store.
 *
 * kubelet decides in its sync loop: while `isInBackOffSince(key, finishedAt)`
 * it waits, and at the first instant it is not it calls `next(key, finishedAt)`
 * and restarts. Being event-driven, we compute that instant up front:
 *
 * - no entry, or the entry expired (the container ran longer than `resetAfter`)
 *   → restart now, entry `{initial, now}`;
 * - otherwise → restart at `max(now, finishedAt + backoff)`, entry
 *   `{min(2 × backoff, max), restartAt}` — `restartAt` is when kubelet's ideal
 *   sync loop would have called `next`.
 *
 * `finishedAt` here is the exit placed on the service's clock (`placeExit`):
 * the workload's clock may be wrong, and the restart must not be early in real
 * time for that.
 */
import { hasExpired, nextEntry, type Random } from './backoff.ts';
import { backOffRecord, DEFAULT_BACKOFF_EVENT_INTERVAL_MS, enterBackOff } from './backoff-events.ts';
import { backOffEventMessage, backOffStatusMessage, containerKey, formatPod, pickRef, restartIdOf } from './container.ts';
import { formatDuration } from './duration.ts';
import { classifyExit, placeExit, runRestartCount, type ExitPlacement } from './exit-report.ts';
import { eventRecord } from './events.ts';
import type { ContainerState, Decision, DecisionKind, EventRecord, ExitEvent, ExitRecord } from './model.ts';
import { decideRestart, type BackoffPolicy, type RestartPolicy } from './policy.ts';

/** How many exit ids a container remembers for duplicate detection. */
export const RECENT_EXIT_IDS = 16;

export interface PlanOptions {
  readonly policy: BackoffPolicy;
  /** The pod's or namespace's restart policy, when the exit event names none. */
  readonly defaultRestartPolicy?: RestartPolicy;
  readonly now: number;
  readonly random?: Random;
  /** The least time between BackOff records of one wait. @default DEFAULT_BACKOFF_EVENT_INTERVAL_MS (5 min) */
  readonly backOffEventIntervalMs?: number;
}

export interface ExitPlan {
  readonly decision: Decision;
  /** The state to store; absent when nothing changes (`Duplicate`, `Stale`). */
  readonly next?: ContainerState;
  /** Event records for what happened, in order. */
  readonly events: readonly EventRecord[];
}

export function planExit(stored: ContainerState | undefined, exit: ExitEvent, options: PlanOptions): ExitPlan {
  const key = containerKey(exit);
  const { policy, now } = options;
  const replay = stored && classifyExit(stored, exit, now);
  if (stored && replay && replay !== 'New') return { decision: repeatDecision(stored, replay), events: [] };

  const placed = placeExit(stored, exit, now);
  const ref = { key, ...pickRef(exit) };
  const lastExit: ExitRecord = {
    exitCode: exit.exitCode,
    ...(exit.reason !== undefined ? { reason: exit.reason } : {}),
    ...(placed.startedAt !== undefined ? { startedAt: placed.startedAt } : {}),
    finishedAt: placed.finishedAt,
    receivedAt: now,
    restartCount: runRestartCount(stored, exit),
    reportedFinishedAt: exit.finishedAt,
    ...(exit.startedAt !== undefined ? { reportedStartedAt: exit.startedAt } : {}),
    ...(exit.exitId !== undefined ? { exitId: exit.exitId } : {}),
  };
  const base = {
    ...ref,
    restartCount: stored?.restartCount ?? 0,
    lastExit,
    recentExitIds: rememberExitId(stored?.recentExitIds ?? [], exit.exitId),
    policy,
    ...(exit.restartTarget !== undefined ? { restartTarget: exit.restartTarget } : {}),
    createdAt: stored?.createdAt ?? now,
    updatedAt: now,
  };
  const exited = eventRecord('Exited', ref, now, {
    exitCode: exit.exitCode,
    ...(exit.reason !== undefined ? { reason: exit.reason } : {}),
    restartCount: base.restartCount,
    message: `Container ${exit.container} in pod ${formatPod(exit)} exited with code ${exit.exitCode} (${terminationReason(exit)})${clockNote(exit, placed)}`,
  });

  const verdict = decideRestart(
    {
      restartPolicy: exit.restartPolicy,
      defaultRestartPolicy: options.defaultRestartPolicy,
      restartPolicyRules: exit.restartPolicyRules,
    },
    exit.exitCode,
  );
  const limitReached = exit.maxRestarts !== undefined && base.restartCount >= exit.maxRestarts;
  if (!verdict.restart || limitReached) {
    const reason = limitReached && verdict.restart ? 'RestartLimitExceeded' : terminationReason(exit);
    const because = limitReached && verdict.restart ? `maxRestarts ${exit.maxRestarts} reached` : verdict.because;
    const message = `container=${exit.container} pod=${formatPod(exit)} terminated: ${reason}, exit code ${exit.exitCode} (${because})`;
    const backoffMs = stored?.backoff?.backoffMs ?? 0;
    const decision: Decision = { key, decision: 'NoRestart', restartAt: null, delayMs: 0, restartCount: base.restartCount, backoffMs, state: 'Terminated', reason, message };
    // A restart that was still pending belongs to an earlier exit: this newer
    // exit supersedes it, so it is dropped (its timer becomes a no-op).
    const keptRestart = stored?.restart?.status === 'dispatched' ? stored.restart : undefined;
    const next: ContainerState = {
      ...base,
      ...(stored?.backoff ? { backoff: stored.backoff } : {}),
      ...(keptRestart ? { restart: keptRestart } : {}),
      ...(stored?.backOffEvent ? { backOffEvent: stored.backOffEvent } : {}),
      state: 'Terminated',
      reason,
      message,
      lastDecision: decision,
    };
    const terminated = eventRecord('Terminated', ref, now, { exitCode: exit.exitCode, reason, restartCount: base.restartCount, backoffMs, message });
    return { decision, next, events: [exited, terminated] };
  }

  const entry = stored?.backoff;
  // Whether the run proved stable is judged from the earliest instant the exit
  // can have happened, the wait from the latest: neither a reset nor a restart
  // comes early because the workload's clock is wrong.
  const { finishedAt, earliestFinishedAt } = placed;
  const expired = entry !== undefined && hasExpired(earliestFinishedAt, entry.lastUpdate, policy.resetAfterMs);
  const delayMs = entry && !expired ? entry.backoffMs : 0;
  const restartAt = Math.max(now, finishedAt + delayMs);
  // `next` runs at the instant kubelet would restart: that is the entry's lastUpdate.
  const backoff = nextEntry(entry, earliestFinishedAt, restartAt, policy, options.random);
  const restartCount = base.restartCount + 1;
  const kind: DecisionKind = restartAt > now ? 'RestartScheduled' : 'RestartNow';
  const waiting = kind === 'RestartScheduled';
  const message = waiting
    ? backOffStatusMessage(exit, delayMs)
    : `restarting container=${exit.container} pod=${formatPod(exit)} now`;
  const restartId = restartIdOf(key, base.createdAt, restartCount);
  const decision: Decision = {
    key,
    decision: kind,
    restartAt,
    restartId,
    delayMs,
    restartCount,
    backoffMs: backoff.backoffMs,
    state: waiting ? 'CrashLoopBackOff' : 'Running',
    ...(waiting ? { reason: 'CrashLoopBackOff' } : {}),
    message,
  };
  // Entering a wait records a BackOff (kubelet's event), continuing the series
  // while the back-off entry carries over and the message stays the same; a
  // reset (or a first entry) ends the series.
  const carried = entry !== undefined && !expired ? stored?.backOffEvent : undefined;
  const backOffEvent = waiting
    ? enterBackOff(carried, { restartCount, restartAt, delayMs }, now, options.backOffEventIntervalMs ?? DEFAULT_BACKOFF_EVENT_INTERVAL_MS)
    : carried;
  const next: ContainerState = {
    ...base,
    backoff,
    restartCount,
    state: decision.state,
    ...(waiting ? { reason: 'CrashLoopBackOff' } : {}),
    message,
    lastDecision: decision,
    restart: { restartCount, restartAt, status: 'waiting' },
    ...(backOffEvent ? { backOffEvent } : {}),
  };
  const events: EventRecord[] = [exited];
  if (expired) {
    events.push(
      eventRecord('BackoffReset', ref, now, {
        restartCount: base.restartCount,
        backoffMs: backoff.backoffMs,
        message: `Back-off reset for container=${exit.container} pod=${formatPod(exit)}: ${formatDuration(earliestFinishedAt - entry.lastUpdate)} since the last restart, longer than ${formatDuration(policy.resetAfterMs)}`,
      }),
    );
  }
  if (waiting) {
    events.push(
      eventRecord('RestartScheduled', ref, now, {
        exitCode: exit.exitCode,
        reason: 'CrashLoopBackOff',
        restartCount,
        restartId,
        delayMs,
        backoffMs: backoff.backoffMs,
        restartAt,
        decision: kind,
        message: backOffEventMessage(exit, delayMs),
      }),
      backOffRecord(next, backOffEvent!),
    );
  }
  return { decision, next, events };
}

/** `Completed` for exit 0 and `Error` otherwise, unless the workload named a reason. */
export function terminationReason(exit: Pick<ExitEvent, 'exitCode' | 'reason'>): string {
  return exit.reason ?? (exit.exitCode === 0 ? 'Completed' : 'Error');
}

type Replay = 'Duplicate' | 'Stale';

/** The earlier decision, relabelled: a replay changes nothing. */
function repeatDecision(stored: ContainerState, kind: Replay): Decision {
  const earlier = stored.lastDecision;
  return {
    key: stored.key,
    decision: kind,
    // `null` is an answer (NoRestart), not a missing one: do not fall through to
    // a restart that an earlier exit already dispatched.
    restartAt: earlier ? earlier.restartAt : (stored.restart?.restartAt ?? null),
    ...(earlier?.restartId ? { restartId: earlier.restartId } : {}),
    delayMs: earlier?.delayMs ?? 0,
    restartCount: stored.restartCount,
    backoffMs: stored.backoff?.backoffMs ?? 0,
    state: stored.state,
    ...(stored.reason !== undefined ? { reason: stored.reason } : {}),
    message: `${kind === 'Duplicate' ? 'duplicate of an exit already handled' : 'older than the last exit handled'}; ${earlier?.message ?? stored.message ?? 'no change'}`,
  };
}

/** Says in the Exited record when the reported finishedAt could not be taken as it was. */
function clockNote(exit: ExitEvent, placed: ExitPlacement): string {
  if (placed.clock === 'consistent') return '';
  const reported = new Date(exit.finishedAt).toISOString();
  return placed.clock === 'ahead'
    ? `; finishedAt ${reported} is after the exit reached the service (the workload's clock runs ahead): counted from its arrival`
    : `; finishedAt ${reported} is before the run can have ended (the workload's clock runs behind): counted from its arrival`;
}

function rememberExitId(ids: readonly string[], exitId: string | undefined): string[] {
  if (exitId === undefined) return [...ids];
  return [...ids, exitId].slice(-RECENT_EXIT_IDS);
}
