import { applyBudgetSlot, containerKey, pickRef, planExit, type ContainerState, type Decision, type ExitPlan } from '../core/index.ts';
import { policyFor } from '../config.ts';
import { BUS_DETAIL_TYPES, type Versioned } from '../ports.ts';
import { budgetPort, errorDetails, pauseAfterConflict, WriteContentionError, type ServiceDeps } from './deps.ts';
import { dispatchClaimed, writeDispatched } from './fire-restart.ts';
import { crashLoopBackOffMessage } from './backoff-events.ts';

/**
 * Handles one exit event: consistent read → plan (core) → conditional write →
 * event records → the outbound call. The call arms the timer for a restart
 * due later (with the wait's first `Container CrashLoopBackOff` beside it, in
 * parallel), announces a termination, or — for a restart due now — publishes
 * the restart itself: the decision is written already claimed, so the restart
 * goes out in this one trip (no second read, no fine-stage hop), through the
 * same claimed → dispatched transition as every other dispatch. Where the
 * restart log is an outbox (the local runtime), the decision is written
 * already dispatched instead, bound to the publish: one write in all.
 * Duplicates and stale exits make no write and no call.
 *
 * In a namespace with a restart budget, a restart due now first takes a
 * budget slot (between planning and writing: the planner decides the back-off
 * instant, the budget may only move it later); a slot later than now makes
 * it a `RestartScheduled`. The slot is taken once per exit and kept across the
 * write's retries, so a lost write costs at most that one slot. A restart due
 * later takes its slot when its timer fires (`fireRestart`).
 *
 * A batch reads its containers at once beforehand and hands each exit its
 * read (`prefetched`) in place of the first attempt's.
 */
export async function handleExit(
  deps: ServiceDeps,
  exit: Parameters<typeof planExit>[1],
  options: { readonly prefetched?: PrefetchedRead } = {},
): Promise<Decision> {
  const key = containerKey(exit);
  const policy = policyFor(exit, deps.config);
  const defaultRestartPolicy = deps.config.namespaces[exit.namespace]?.restartPolicy;
  const budget = budgetPort(deps, exit.namespace);
  let slotAt: number | undefined;
  for (let attempt = 1; attempt <= deps.config.maxWriteAttempts; attempt++) {
    // A read made for the whole batch stands in for the first attempt's; a
    // write it lets through conflicts as any stale read would, and the retry reads afresh.
    const current = attempt === 1 && options.prefetched ? options.prefetched.current : await deps.store.get(key);
    const now = deps.clock.now();
    const planned = planExit(current?.value, exit, {
      policy,
      now,
      random: deps.random,
      backOffEventIntervalMs: deps.config.backOffEventIntervalMs,
      ...(defaultRestartPolicy ? { defaultRestartPolicy } : {}),
    });
    if (!planned.next) return planned.decision;
    let plan = { ...planned, next: planned.next };
    if (budget && plan.decision.decision === 'RestartNow') {
      // GCRA takes requests in time order: `now` on the service's clock, never the workload's.
      slotAt ??= await budget.port.reserve(exit.namespace, budget.budget, now);
      plan = applyBudgetSlot(plan, slotAt, now);
    }
    const immediate = plan.decision.decision === 'RestartNow';
    if (immediate && deps.restartOutbox) {
      if (await writeDispatched(deps, deps.restartOutbox, plan.next, current?.version, now, { events: plan.events })) return plan.decision;
      await pauseAfterConflict(deps, attempt);
      continue;
    }
    const next = immediate ? claimedNow(plan.next, now) : plan.next;
    const written = await deps.store.put(next, current?.version);
    if (!written.written) {
      await pauseAfterConflict(deps, attempt);
      continue;
    }
    deps.sink.record(plan.events);
    if (immediate) await dispatchNow(deps, plan, next, written.version);
    else await Promise.all([announce(deps, plan), announceBackOff(deps, next)]);
    return plan.decision;
  }
  throw new WriteContentionError(key, deps.config.maxWriteAttempts);
}

/** A consistent read of the exit's container made before the handling began (`BackoffStore.getMany`). */
export interface PrefetchedRead {
  readonly current: Versioned<ContainerState> | undefined;
}

/** The planned state with its restart claimed by this handling, at `now`. */
function claimedNow(state: ContainerState, now: number): ContainerState {
  return { ...state, restart: { ...state.restart!, status: 'dispatching', claimedAt: now } };
}

/**
 * Publishes a restart due now, claimed by the write that stored its decision.
 * If publishing fails the claim is released and the restart handed to the
 * timer for a retry; if that fails too, or this process dies first, the claim
 * expires and the sync recovers the restart.
 */
async function dispatchNow(deps: ServiceDeps, plan: ExitPlan, claimed: ContainerState, version: number): Promise<void> {
  try {
    await dispatchClaimed(deps, { state: claimed, version, release: plan.next! });
  } catch (error) {
    deps.log.warn('publishing an immediate restart failed; handing it to the timer', { key: claimed.key, ...errorDetails(error) });
    await announce(deps, plan);
  }
}

/**
 * A container entering a wait gets its BackOff on the bus at once, as its
 * record in the log (kubelet emits BackOff when it finds the container in
 * back-off); repeats, if the wait outlasts the interval, come from the sync.
 * Sent beside the timer call, not after it. A failure loses this message
 * only: the decision stands and the timer is armed.
 */
async function announceBackOff(deps: ServiceDeps, state: ContainerState): Promise<void> {
  const series = state.backOffEvent;
  if (state.state !== 'CrashLoopBackOff' || series?.restartCount !== state.restart?.restartCount) return;
  try {
    await deps.sink.publish([crashLoopBackOffMessage(state, series!)]);
  } catch (error) {
    deps.log.error('publishing Container CrashLoopBackOff failed', { key: state.key, ...errorDetails(error) });
  }
}

/**
 * The timer call after the write. Its failure does not fail the exit:
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
