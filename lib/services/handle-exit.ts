import { containerKey, pickRef, planExit, type Decision, type ExitPlan } from '../core/index.ts';
import { policyFor } from '../config.ts';
import { BUS_DETAIL_TYPES } from '../ports.ts';
import { errorDetails, pauseAfterConflict, WriteContentionError, type ServiceDeps } from './deps.ts';

/**
 * Handles one exit event: consistent read → plan (core) → conditional write →
 * exactly one outbound call (arm the timer, or announce the termination) →
 * event records. Duplicates and stale exits make no write and no call.
 */
export async function handleExit(deps: ServiceDeps, exit: Parameters<typeof planExit>[1]): Promise<Decision> {
  const key = containerKey(exit);
  const policy = policyFor(exit, deps.config);
  const defaultRestartPolicy = deps.config.namespaces[exit.namespace]?.restartPolicy;
  for (let attempt = 1; attempt <= deps.config.maxWriteAttempts; attempt++) {
    const current = await deps.store.get(key);
    const now = deps.clock.now();
    const plan = planExit(current?.value, exit, {
      policy,
      now,
      random: deps.random,
      ...(defaultRestartPolicy ? { defaultRestartPolicy } : {}),
    });
    if (!plan.next) return plan.decision;
    const written = await deps.store.put(plan.next, current?.version);
    if (!written.written) {
      await pauseAfterConflict(deps, attempt);
      continue;
    }
    deps.sink.record(plan.events);
    await announce(deps, plan);
    return plan.decision;
  }
  throw new WriteContentionError(key, deps.config.maxWriteAttempts);
}

/**
 * The one outbound call after the write. Its failure does not fail the exit:
 * the decision is stored, and the sync re-dispatches a restart whose timer was
 * never armed once its instant plus the grace period has passed.
 */
async function announce(deps: ServiceDeps, plan: ExitPlan): Promise<void> {
  const { decision } = plan;
  if (decision.restartAt !== null) {
    const ref = { key: decision.key, restartCount: decision.restartCount, restartAt: decision.restartAt };
    try {
      // The delay is measured from now, not from when the attempt began: the read
      // and write in between would otherwise make every restart that much late.
      await deps.timer.arm(ref, deps.clock.now());
    } catch (error) {
      deps.sink.metric('TimerFailures', 1);
      deps.log.error('arming the restart timer failed; the sync will recover the restart', { ...ref, ...errorDetails(error) });
    }
    return;
  }
  const state = plan.next!;
  try {
    await deps.sink.publish([
      {
        detailType: BUS_DETAIL_TYPES.terminated,
        detail: {
          key: state.key,
          ...pickRef(state),
          exitCode: state.lastExit?.exitCode,
          reason: decision.reason,
          restartCount: decision.restartCount,
          message: decision.message,
        },
      },
    ]);
  } catch (error) {
    deps.log.error('publishing Container Terminated failed', { key: state.key, ...errorDetails(error) });
  }
}
