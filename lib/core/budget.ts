/**
 * The restart budget: optional, per namespace, storm control. When a
 * dependency fails and a whole fleet crash-loops at once, restarts over the
 * budget are deferred — never brought forward — so the restarts reach the
 * failing dependency at a bounded rate.
 *
 * The model is GCRA, the generic cell rate algorithm, in its virtual
 * scheduling form: a budget keeps one instant, the theoretical arrival time
 * `tat`. A restart due at `at` takes the earliest slot at or after `at` that
 * conforms, `burst` slots at one instant and then one every `1000 / perSecond`
 * ms:
 *
 *     slot = tat <= at ? at : max(at, tat − τ)      τ = (burst − 1) × interval
 *     tat' = max(tat, at) + interval
 *
 * GCRA needs its requests in time order, so a slot is taken when a restart
 * becomes due (an exit whose restart is due now, or a timer firing at a
 * restart's instant), never for a restart due later: that would book the
 * future and hold back restarts due before it.
 *
 * The bound (any window of `W` ms, half-open `[t, t + W)`): at most
 * `burst + ceil(W × perSecond / 1000) − 1` slots; so at most `burst` at one
 * instant and at most `perSecond + burst − 1` in any one second. A budget kept
 * in several items (shards) splits both the rate and the burst between them,
 * and the total keeps the same bound.
 */
import { backOffEventMessage, backOffStatusMessage, restartIdOf } from './container.ts';
import { formatDuration } from './duration.ts';
import { eventRecord } from './events.ts';
import type { ContainerState, Decision, EventRecord } from './model.ts';
import type { ExitPlan } from './planner.ts';

/** A namespace's restart budget (namespace defaults `restartBudget`). */
export interface RestartBudgetSetting {
  /** Sustained restarts per second, after the burst. */
  readonly perSecond: number;
  /** Restarts allowed at one instant when the budget is unused. */
  readonly burst: number;
}

/**
 * Restarts per second one budget item is meant to take before the budget is
 * split over more items: a tenth of what one DynamoDB partition writes per
 * second (1,000), so that a storm arriving ten times faster than the budget
 * still does not throttle.
 */
const BUDGET_RATE_PER_SHARD = 100;
/** @default most items one namespace's budget is split over */
export const DEFAULT_BUDGET_MAX_SHARDS = 16;

/**
 * How many items a budget is kept in: one per `BUDGET_RATE_PER_SHARD`
 * restarts per second, at most `maxShards`, and never more than `burst` (each
 * item needs a burst of at least one).
 */
export function budgetShardCount(budget: RestartBudgetSetting, maxShards = DEFAULT_BUDGET_MAX_SHARDS): number {
  return Math.max(1, Math.min(maxShards, budget.burst, Math.ceil(budget.perSecond / BUDGET_RATE_PER_SHARD)));
}

/** One item's share of a budget, as GCRA parameters. */
export interface ShardRate {
  /** ms between slots: `1000 × shards / perSecond`, rounded up (a rounding only ever slows the budget down). */
  readonly intervalMs: number;
  /** τ: how far ahead of `tat` a slot may be, `(burst of this shard − 1) × interval`. */
  readonly toleranceMs: number;
}

/** Shard `shard`'s share of `budget` kept in `shards` items: the rate split evenly, the burst as evenly as integers go. */
export function shardRate(budget: RestartBudgetSetting, shards: number, shard: number): ShardRate {
  const intervalMs = Math.max(1, Math.ceil((1_000 * shards) / budget.perSecond));
  const burst = Math.floor(budget.burst / shards) + (shard < budget.burst % shards ? 1 : 0);
  return { intervalMs, toleranceMs: (burst - 1) * intervalMs };
}

export interface Reservation {
  /** The instant the restart may start: never before the `at` asked for. */
  readonly slotAt: number;
  /** The budget's new theoretical arrival time. */
  readonly tat: number;
}

/** GCRA: the earliest conforming slot at or after `at`, given the budget's `tat` (undefined: never used). */
export function reserveSlot(tat: number | undefined, at: number, rate: ShardRate): Reservation {
  if (tat === undefined || tat <= at) return { slotAt: at, tat: at + rate.intervalMs };
  return { slotAt: Math.max(at, tat - rate.toleranceMs), tat: tat + rate.intervalMs };
}

/** The most slots `budget` gives in any window `[t, t + windowMs)`: `burst + ceil(windowMs × perSecond / 1000) − 1`. */
export function budgetWindowBound(budget: RestartBudgetSetting, windowMs: number): number {
  return budget.burst + Math.ceil((windowMs * budget.perSecond) / 1_000) - 1;
}

/** What the decision, the status message and the event record say about a budget's delay. */
function budgetDelayNote(delayMs: number): string {
  return `restart delayed by budget (+${formatDuration(delayMs)})`;
}

/** `20/s, burst 20`: a budget as people read it. */
export function describeBudget(budget: RestartBudgetSetting): string {
  return `${budget.perSecond}/s, burst ${budget.burst}`;
}

/**
 * A planned restart moved to its budget slot. The planner decided the
 * back-off instant; the budget may only move it later. A restart that was due
 * now and whose slot is later becomes a `RestartScheduled`, waiting in
 * CrashLoopBackOff. Either way the restart records the slot it holds
 * (`budgetDelayMs`, 0 when it was free at once), so it never takes another.
 * The entry's `lastUpdate` moves with the restart: kubelet measures the next
 * run from when the container did restart.
 */
export function applyBudgetSlot<Plan extends ExitPlan & { readonly next: ContainerState }>(plan: Plan, slotAt: number, now: number): Plan {
  const { decision, next } = plan;
  if (!next.restart || decision.restartAt === null) throw new Error(`applyBudgetSlot: ${decision.key} has no restart planned`);
  const budgetDelayMs = Math.max(0, slotAt - decision.restartAt);
  if (budgetDelayMs === 0) return { ...plan, next: { ...next, restart: { ...next.restart, budgetDelayMs: 0 } } };

  const restartAt = decision.restartAt + budgetDelayMs;
  const delay = budgetDelayed(next, now, {
    restartCount: decision.restartCount,
    ...(decision.restartId ? { restartId: decision.restartId } : {}),
    delayMs: decision.delayMs,
    backoffMs: decision.backoffMs,
    restartAt,
    budgetDelayMs,
  });
  const delayed: Decision = {
    ...decision,
    decision: 'RestartScheduled',
    restartAt,
    budgetDelayMs,
    state: 'CrashLoopBackOff',
    reason: 'CrashLoopBackOff',
    message: delay.status.message,
  };
  return {
    ...plan,
    decision: delayed,
    next: {
      ...next,
      ...delay.status,
      lastDecision: delayed,
      restart: { ...next.restart, restartAt, status: 'waiting', budgetDelayMs },
    },
    // The plan's own RestartScheduled (if any) said the back-off instant: this one replaces it.
    events: [...plan.events.filter((event) => event.type !== 'RestartScheduled'), delay.event],
  };
}

/**
 * A waiting restart whose timer fired, moved to its budget slot: the same
 * rules as `applyBudgetSlot`, for a restart decided earlier. The decision of
 * its exit stays as it was answered; the status and a `RestartScheduled`
 * record say the budget delayed it.
 */
export function delayWaitingRestart(state: ContainerState, slotAt: number, now: number): { state: ContainerState; event?: EventRecord } {
  const restart = state.restart;
  if (!restart || restart.status === 'dispatched') throw new Error(`delayWaitingRestart: ${state.key} has no restart waiting`);
  const budgetDelayMs = Math.max(0, slotAt - now);
  if (budgetDelayMs === 0) return { state: { ...state, restart: { ...restart, budgetDelayMs: 0 } } };

  const restartAt = now + budgetDelayMs;
  const delay = budgetDelayed(state, now, {
    restartCount: restart.restartCount,
    restartId: restartIdOf(state.key, state.createdAt, restart.restartCount),
    delayMs: state.lastDecision?.delayMs ?? 0,
    ...(state.backoff ? { backoffMs: state.backoff.backoffMs } : {}),
    restartAt,
    budgetDelayMs,
  });
  return {
    state: {
      ...state,
      ...delay.status,
      restart: { restartCount: restart.restartCount, restartAt, status: 'waiting', budgetDelayMs },
      updatedAt: now,
    },
    event: delay.event,
  };
}

interface BudgetDelay {
  readonly restartCount: number;
  readonly restartId?: string;
  /** The back-off's own delay (what kubelet's message says). */
  readonly delayMs: number;
  readonly backoffMs?: number;
  readonly restartAt: number;
  readonly budgetDelayMs: number;
}

/**
 * What a restart moved by the budget says, for both of the points where it
 * takes its slot: the container's status (CrashLoopBackOff, the message with
 * the budget's note, `lastUpdate` moved with the restart) and its
 * `RestartScheduled` record.
 */
function budgetDelayed(state: ContainerState, now: number, delay: BudgetDelay): { status: Pick<ContainerState, 'state' | 'reason' | 'backoff'> & { readonly message: string }; event: EventRecord } {
  const note = budgetDelayNote(delay.budgetDelayMs);
  const message = `${backOffStatusMessage(state, delay.delayMs)}; ${note}`;
  const event = eventRecord('RestartScheduled', state, now, {
    ...(state.lastExit ? { exitCode: state.lastExit.exitCode } : {}),
    reason: 'CrashLoopBackOff',
    restartCount: delay.restartCount,
    ...(delay.restartId ? { restartId: delay.restartId } : {}),
    delayMs: delay.delayMs,
    budgetDelayMs: delay.budgetDelayMs,
    ...(delay.backoffMs !== undefined ? { backoffMs: delay.backoffMs } : {}),
    restartAt: delay.restartAt,
    decision: 'RestartScheduled',
    message: `${backOffEventMessage(state, delay.delayMs)}; ${note}`,
  });
  return {
    status: {
      ...(state.backoff ? { backoff: { ...state.backoff, lastUpdate: Math.max(state.backoff.lastUpdate, delay.restartAt) } } : {}),
      state: 'CrashLoopBackOff',
      reason: 'CrashLoopBackOff',
      message,
    },
    event,
  };
}

/**
 * The most of `instants` inside any one window `[t, t + windowMs)`: the
 * quantity `budgetWindowBound` bounds (the busiest second, for 1000 ms).
 */
export function busiestWindow(instants: readonly number[], windowMs: number): number {
  const sorted = [...instants].sort((a, b) => a - b);
  let most = 0;
  let start = 0;
  for (let end = 0; end < sorted.length; end++) {
    while (sorted[end]! - sorted[start]! >= windowMs) start++;
    most = Math.max(most, end - start + 1);
  }
  return most;
}
