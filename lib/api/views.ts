/**
 * What the API shows of stored containers and of decisions: the status a
 * `kubectl get pods` user expects, with instants as ISO-8601 strings.
 */
import { hasExpired, type ContainerPhase, type ContainerState, type Decision, type DecisionKind } from '../core/index.ts';

export interface LastExitView {
  readonly exitCode: number;
  readonly reason?: string;
  /** On the service's clock, like `finishedAt`. */
  readonly startedAt?: string;
  /** The exit on the service's clock: what the back-off counted from. */
  readonly finishedAt: string;
  /** `finishedAt` as the workload reported it, when the service placed it elsewhere (its clock was off). */
  readonly reportedFinishedAt?: string;
}

export interface ContainerView {
  readonly key: string;
  readonly namespace: string;
  readonly pod: string;
  readonly podUid?: string;
  readonly container: string;
  readonly state: ContainerPhase;
  readonly reason?: string;
  readonly restartCount: number;
  readonly lastExit?: LastExitView;
  /** The back-off the next crash will get: 0 once the entry has expired (a crash now restarts at once). */
  readonly backoffMs: number;
  /** When the pending restart is due; null when none is pending. */
  readonly nextRestartAt: string | null;
  /** When the latest restart was dispatched. */
  readonly lastRestartAt?: string;
  readonly message?: string;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The response to one exit event (DESIGN §4). */
export interface DecisionView {
  readonly key: string;
  readonly decision: DecisionKind;
  /** ISO-8601; null when the container will not restart. */
  readonly restartAt: string | null;
  /** The id the restart's stream notice and `Container Restart Requested` carry. */
  readonly restartId?: string;
  readonly delayMs: number;
  /** How much later than the back-off allows the namespace's restart budget moved the restart; absent when it did not. */
  readonly budgetDelayMs?: number;
  readonly restartCount: number;
  readonly backoffMs: number;
  readonly state: ContainerPhase;
  readonly reason?: string;
  readonly message: string;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toContainerView(state: ContainerState, now: number): ContainerView {
  const { restart, lastExit, backoff } = state;
  // An entry older than the reset threshold is as good as gone (kubelet's gc
  // would have dropped it): whatever crash comes next starts over.
  const backoffMs = backoff && !hasExpired(now, backoff.lastUpdate, state.policy.resetAfterMs) ? backoff.backoffMs : 0;
  const pending = restart && restart.status !== 'dispatched' ? restart : undefined;
  const dispatched = restart?.status === 'dispatched' ? restart : undefined;
  return {
    key: state.key,
    namespace: state.namespace,
    pod: state.pod,
    ...(state.podUid ? { podUid: state.podUid } : {}),
    container: state.container,
    state: state.state,
    ...(state.reason !== undefined ? { reason: state.reason } : {}),
    restartCount: state.restartCount,
    ...(lastExit
      ? {
          lastExit: {
            exitCode: lastExit.exitCode,
            ...(lastExit.reason !== undefined ? { reason: lastExit.reason } : {}),
            ...(lastExit.startedAt !== undefined ? { startedAt: iso(lastExit.startedAt) } : {}),
            finishedAt: iso(lastExit.finishedAt),
            ...(lastExit.reportedFinishedAt !== undefined && lastExit.reportedFinishedAt !== lastExit.finishedAt
              ? { reportedFinishedAt: iso(lastExit.reportedFinishedAt) }
              : {}),
          },
        }
      : {}),
    backoffMs,
    nextRestartAt: pending ? iso(pending.restartAt) : null,
    ...(dispatched ? { lastRestartAt: iso(dispatched.dispatchedAt ?? dispatched.restartAt) } : {}),
    ...(state.message !== undefined ? { message: state.message } : {}),
    createdAt: iso(state.createdAt),
    updatedAt: iso(state.updatedAt),
  };
}

export function toDecisionView(decision: Decision): DecisionView {
  return {
    key: decision.key,
    decision: decision.decision,
    restartAt: decision.restartAt === null ? null : iso(decision.restartAt),
    ...(decision.restartId !== undefined ? { restartId: decision.restartId } : {}),
    delayMs: decision.delayMs,
    ...(decision.budgetDelayMs !== undefined ? { budgetDelayMs: decision.budgetDelayMs } : {}),
    restartCount: decision.restartCount,
    backoffMs: decision.backoffMs,
    state: decision.state,
    ...(decision.reason !== undefined ? { reason: decision.reason } : {}),
    message: decision.message,
  };
}
