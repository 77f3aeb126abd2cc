/**
 * The restart budget's arithmetic (GCRA, virtual scheduling): the exact
 * bound, over generated arrival patterns and budgets, for one item and for a
 * budget split over several; and the plan and state it rewrites.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyBudgetSlot,
  budgetShardCount,
  budgetWindowBound,
  busiestWindow,
  delayWaitingRestart,
  planExit,
  reserveSlot,
  resolveBackoffPolicy,
  shardRate,
  type ContainerState,
  type RestartBudgetSetting,
} from '../../lib/core/index.ts';

const T0 = 1_767_225_600_000;

/** The budget as the DynamoDB adapter keeps it: `shards` items, callers taking turns over them. */
function simulate(budget: RestartBudgetSetting, maxShards: number, arrivals: readonly number[], firstTurn = 0): number[] {
  const shards = budgetShardCount(budget, maxShards);
  const tats: (number | undefined)[] = Array.from({ length: shards }, () => undefined);
  return arrivals.map((at, index) => {
    const shard = (firstTurn + index) % shards;
    const reservation = reserveSlot(tats[shard], at, shardRate(budget, shards, shard));
    tats[shard] = reservation.tat;
    return reservation.slotAt;
  });
}

const budgetArb = fc.record({
  perSecond: fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.double({ min: 0.2, max: 50, noNaN: true })),
  burst: fc.integer({ min: 1, max: 200 }),
});

/** Restarts becoming due: gaps of 0 (a storm), short, or long (the budget refills). */
const arrivalsArb = fc
  .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 5_000 })), { minLength: 1, maxLength: 400 })
  .map((gaps) => {
    let at = T0;
    return gaps.map((gap) => (at += gap));
  });

const WINDOWS = [1, 250, 1_000, 2_500, 10_000];

describe('reserveSlot (GCRA)', () => {
  it('gives `burst` slots at once, then one every interval', () => {
    const budget = { perSecond: 20, burst: 20 };
    const slots = simulate(budget, 1, Array(100).fill(T0));
    expect(slots.slice(0, 20)).toEqual(Array(20).fill(T0));
    expect(slots.slice(20).map((slot) => slot - T0)).toEqual(Array.from({ length: 80 }, (_, index) => (index + 1) * 50));
    // 100 simultaneous first crashes at 20/s with a burst of 20: the last starts 4 s later.
    expect(Math.max(...slots) - T0).toBe(4_000);
  });

  it('takes an idle budget at the instant asked for, and a refilled one whole again', () => {
    const rate = shardRate({ perSecond: 10, burst: 3 }, 1, 0);
    expect(rate).toEqual({ intervalMs: 100, toleranceMs: 200 });
    expect(reserveSlot(undefined, T0, rate)).toEqual({ slotAt: T0, tat: T0 + 100 });
    // Three at once, the fourth one interval after the first.
    let tat: number | undefined;
    const slots = [0, 0, 0, 0].map(() => {
      const reservation = reserveSlot(tat, T0, rate);
      tat = reservation.tat;
      return reservation.slotAt - T0;
    });
    expect(slots).toEqual([0, 0, 0, 100]);
    // Long after, the whole burst is back.
    expect(reserveSlot(tat, T0 + 10_000, rate).slotAt).toBe(T0 + 10_000);
  });

  it.each([
    [{ perSecond: 20, burst: 20 }, 1_000, 39],
    [{ perSecond: 500, burst: 500 }, 1_000, 999],
    [{ perSecond: 50, burst: 100 }, 1, 100],
    [{ perSecond: 0.5, burst: 1 }, 1_000, 1],
  ])('bounds %j to burst + ceil(W × perSecond / 1000) − 1 in any [t, t + %i ms): %i', (budget, windowMs, bound) => {
    expect(budgetWindowBound(budget, windowMs)).toBe(bound);
  });

  it('never gives a slot before the instant asked for, never more than the bound in any window, and a slot to every restart', () => {
    fc.assert(
      fc.property(budgetArb, fc.integer({ min: 1, max: 16 }), arrivalsArb, fc.nat(), (budget, maxShards, arrivals, firstTurn) => {
        const slots = simulate(budget, maxShards, arrivals, firstTurn);
        slots.forEach((slot, index) => expect(slot).toBeGreaterThanOrEqual(arrivals[index]!));
        for (const windowMs of WINDOWS) expect(busiestWindow(slots, windowMs)).toBeLessThanOrEqual(budgetWindowBound(budget, windowMs));
        // Every restart gets a finite slot, no later than its shard's earlier restarts all one interval apart.
        const shards = budgetShardCount(budget, maxShards);
        slots.forEach((slot, index) => {
          const { intervalMs } = shardRate(budget, shards, (firstTurn + index) % shards);
          expect(slot).toBeLessThanOrEqual(arrivals[index]! + Math.ceil((index + 1) / shards) * intervalMs);
        });
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the bound whatever order the requests arrive in (callers with slightly different clocks)', () => {
    fc.assert(
      fc.property(budgetArb, fc.integer({ min: 1, max: 16 }), arrivalsArb.chain((arrivals) => fc.shuffledSubarray(arrivals, { minLength: arrivals.length })), (budget, maxShards, arrivals) => {
        const slots = simulate(budget, maxShards, arrivals);
        slots.forEach((slot, index) => expect(slot).toBeGreaterThanOrEqual(arrivals[index]!));
        for (const windowMs of WINDOWS) expect(busiestWindow(slots, windowMs)).toBeLessThanOrEqual(budgetWindowBound(budget, windowMs));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps one item per 100 restarts a second, never more items than the burst or the cap', () => {
    expect(budgetShardCount({ perSecond: 20, burst: 20 })).toBe(1);
    expect(budgetShardCount({ perSecond: 500, burst: 500 })).toBe(5);
    expect(budgetShardCount({ perSecond: 500, burst: 2 })).toBe(2);
    expect(budgetShardCount({ perSecond: 100_000, burst: 100_000 })).toBe(16);
    expect(budgetShardCount({ perSecond: 100_000, burst: 100_000 }, 4)).toBe(4);
  });

  it('splits the burst between items as evenly as integers go, and rounds each interval up', () => {
    const budget = { perSecond: 7, burst: 10 };
    const rates = [0, 1, 2].map((shard) => shardRate(budget, 3, shard));
    expect(rates.map((rate) => rate.toleranceMs / rate.intervalMs + 1)).toEqual([4, 3, 3]);
    expect(rates[0]!.intervalMs).toBe(Math.ceil(3_000 / 7));
  });
});

describe('busiestWindow', () => {
  it('counts the most instants in any half-open window', () => {
    expect(busiestWindow([], 1_000)).toBe(0);
    expect(busiestWindow([0, 999, 1_000, 1_999], 1_000)).toBe(2);
    expect(busiestWindow([0, 0, 0, 5_000], 1)).toBe(3);
  });
});

describe('applyBudgetSlot', () => {
  const policy = resolveBackoffPolicy();
  const exit = { namespace: 'batch', pod: 'job-0', podUid: 'uid-1', container: 'app', exitCode: 1, finishedAt: T0 };
  const first = () => {
    const plan = planExit(undefined, exit, { policy, now: T0 });
    return { ...plan, next: plan.next! };
  };

  it('turns a restart due now whose slot is later into a RestartScheduled that says so', () => {
    const plan = applyBudgetSlot(first(), T0 + 1_250, T0);
    expect(plan.decision).toMatchObject({
      decision: 'RestartScheduled',
      restartAt: T0 + 1_250,
      delayMs: 0,
      budgetDelayMs: 1_250,
      state: 'CrashLoopBackOff',
      reason: 'CrashLoopBackOff',
      message: 'back-off 0s restarting failed container=app pod=job-0_batch(uid-1); restart delayed by budget (+1.25s)',
    });
    expect(plan.next.restart).toEqual({ restartCount: 1, restartAt: T0 + 1_250, status: 'waiting', budgetDelayMs: 1_250 });
    // The next run is measured from when the container does restart.
    expect(plan.next.backoff).toEqual({ backoffMs: 10_000, lastUpdate: T0 + 1_250 });
    expect(plan.next.lastDecision).toEqual(plan.decision);
    expect(plan.events.map((event) => event.type)).toEqual(['Exited', 'RestartScheduled']);
    expect(plan.events[1]).toMatchObject({ budgetDelayMs: 1_250, delayMs: 0, restartAt: new Date(T0 + 1_250).toISOString(), message: expect.stringContaining('restart delayed by budget (+1.25s)') });
  });

  it('leaves a restart whose slot is free at once as it was, holding its slot', () => {
    const planned = first();
    const plan = applyBudgetSlot(planned, T0, T0);
    expect(plan.decision).toEqual(planned.decision);
    expect(plan.events).toEqual(planned.events);
    expect(plan.next.restart).toEqual({ ...planned.next.restart, budgetDelayMs: 0 });
  });

  it('replaces the back-off RestartScheduled of a later restart rather than adding a second one', () => {
    const stored = first().next;
    const second = planExit({ ...stored, restart: { ...stored.restart!, status: 'dispatched', dispatchedAt: T0 } }, { ...exit, finishedAt: T0 + 1_000 }, { policy, now: T0 + 1_000 });
    const plan = applyBudgetSlot({ ...second, next: second.next! }, T0 + 11_000 + 500, T0 + 1_000);
    expect(plan.decision).toMatchObject({ restartAt: T0 + 11_500, delayMs: 10_000, budgetDelayMs: 500 });
    expect(plan.events.filter((event) => event.type === 'RestartScheduled')).toHaveLength(1);
  });
});

describe('delayWaitingRestart', () => {
  const waiting = (): ContainerState => {
    const plan = planExit(undefined, { namespace: 'batch', pod: 'job-0', container: 'app', exitCode: 1, finishedAt: T0 }, { policy: resolveBackoffPolicy(), now: T0 });
    return { ...plan.next!, state: 'CrashLoopBackOff', restart: { restartCount: 1, restartAt: T0, status: 'waiting' } };
  };

  it('moves a due restart to a later slot, with the status message and a RestartScheduled record', () => {
    const { state, event } = delayWaitingRestart(waiting(), T0 + 20_000, T0 + 2_000);
    expect(state.restart).toEqual({ restartCount: 1, restartAt: T0 + 20_000, status: 'waiting', budgetDelayMs: 18_000 });
    expect(state.message).toBe('back-off 0s restarting failed container=app pod=job-0_batch; restart delayed by budget (+18s)');
    expect(state.updatedAt).toBe(T0 + 2_000);
    expect(event).toMatchObject({ type: 'RestartScheduled', budgetDelayMs: 18_000, restartAt: new Date(T0 + 20_000).toISOString(), decision: 'RestartScheduled' });
  });

  it('marks a restart whose slot is now as holding it, and records nothing', () => {
    const { state, event } = delayWaitingRestart(waiting(), T0 + 2_000, T0 + 2_000);
    expect(state.restart).toEqual({ restartCount: 1, restartAt: T0, status: 'waiting', budgetDelayMs: 0 });
    expect(event).toBeUndefined();
  });
});
