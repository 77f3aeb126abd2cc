/**
 * What the API shows of stored containers and of decisions: the status a
 * `kubectl get pods` user expects, with instants as ISO-8601 strings.
 */
import { hasExpired, type ContainerState, type Decision } from '../core/index.ts';
import type { ContainerView, DecisionView } from './responses.ts';

// The shapes are defined once, as the schemas the OpenAPI document is made from.
export type { ContainerView, DecisionView, LastExitView } from './responses.ts';

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
