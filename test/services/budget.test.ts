/**
 * A namespace's restart budget through the production services (handleExit,
 * fireRestart, sync) on a real dynalite: never early, never more than the
 * budget in any window, every restart dispatched once, and the hostile cases
 * — a restart due now that the budget defers, lost writes, duplicates, stale
 * exits, a reset, skewed workload clocks, many callers at once. A namespace
 * without a budget makes no budget call at all.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DynamoRestartBudget } from '../../lib/adapters/dynamodb/budget.ts';
import type { NamespaceDefaults } from '../../lib/config.ts';
import {
  budgetWindowBound,
  busiestWindow,
  containerKey,
  resolveBackoffPolicy,
  type Decision,
  type RestartBudgetSetting,
} from '../../lib/core/index.ts';
import { createServiceBackend } from '../../lib/services/backend.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { fireRestart } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { sync } from '../../lib/services/sync.ts';
import { acquireDynalite, createHarness, exitOf, releaseDynalite, T0, type Harness } from '../support/pipeline.ts';

const harnesses: Harness[] = [];
async function budgeted(restartBudget: RestartBudgetSetting, defaults: Omit<NamespaceDefaults, 'restartBudget'> = {}): Promise<Harness> {
  const h = await createHarness({ config: { namespaces: { batch: { ...defaults, restartBudget } } } });
  harnesses.push(h);
  return h;
}
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
});

const batchExit = (pod: string, finishedAt: number, overrides: Parameters<typeof exitOf>[1] = {}) => exitOf(finishedAt, { namespace: 'batch', pod, ...overrides });
const reservations = (h: Harness) => h.dynamoCalls.calls.filter((call) => call === 'UpdateItem').length;
/** Slots taken so far from a budget of one per second (burst 1) first used at T0: its `tat` moves a second per slot. */
const slotsTaken = async (h: Harness) => (Number((await h.rawItem('budget#batch#0'))?.tat?.N ?? T0) - T0) / 1_000;
/** The fine-stage messages sent so far, as the restart handler would receive them. */
const fineStage = (h: Harness) => h.sqs.commandCalls(SendMessageCommand).map((call) => ({ ...(JSON.parse(call.args[0].input.MessageBody!) as { key: string; restartCount: number; restartAt: number }), delaySeconds: call.args[0].input.DelaySeconds }));

describe('handleExit with a restart budget', () => {
  it('makes no budget call for a namespace without one: an immediate restart is still GetItem, PutItem ×2, PutEvents', async () => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    h.dynamoCalls.reset();
    const decision = await handleExit(h.deps, exitOf(T0));
    expect(decision).not.toHaveProperty('budgetDelayMs');
    expect(h.dynamoCalls.calls).toEqual(['GetItem', 'PutItem', 'PutItem']);
    expect(h.awsCalls()).toEqual(['PutEvents']);
  });

  it('restarts at once within the burst, then defers a restart due now: a RestartScheduled that says the budget delayed it, and by how much', async () => {
    const h = await budgeted({ perSecond: 1, burst: 2 });
    h.dynamoCalls.reset();
    const [a, b] = [await handleExit(h.deps, batchExit('a', T0)), await handleExit(h.deps, batchExit('b', T0))];
    expect([a.decision, b.decision]).toEqual(['RestartNow', 'RestartNow']);
    expect(h.dynamoCalls.calls).toEqual(['GetItem', 'UpdateItem', 'PutItem', 'PutItem', 'GetItem', 'UpdateItem', 'PutItem', 'PutItem']);
    expect(h.restartRequests()).toHaveLength(2);

    h.resetAwsCalls();
    h.records.splice(0);
    const c = await handleExit(h.deps, batchExit('c', T0));
    expect(c).toMatchObject({
      decision: 'RestartScheduled',
      restartAt: T0 + 1_000,
      delayMs: 0,
      budgetDelayMs: 1_000,
      restartCount: 1,
      state: 'CrashLoopBackOff',
      message: 'back-off 0s restarting failed container=app pod=c_batch(uid-1); restart delayed by budget (+1s)',
    });
    expect(h.restartRequests()).toEqual([]);
    expect(fineStage(h)).toEqual([{ key: c.key, restartCount: 1, restartAt: T0 + 1_000, delaySeconds: 1 }]);
    expect((await h.store.get(c.key))?.value).toMatchObject({ state: 'CrashLoopBackOff', message: c.message, restart: { restartCount: 1, restartAt: T0 + 1_000, status: 'waiting', budgetDelayMs: 1_000 } });
    expect(h.records.map((record) => record.type)).toEqual(['Exited', 'RestartScheduled']);
    expect(h.records[1]).toMatchObject({ budgetDelayMs: 1_000, restartAt: new Date(T0 + 1_000).toISOString(), message: expect.stringContaining('restart delayed by budget (+1s)') });

    // Its callback at the slot dispatches it, without taking another slot.
    h.clock.set(T0 + 1_000);
    h.dynamoCalls.reset();
    expect(await fireRestart(h.deps, { key: c.key, restartCount: 1 })).toBe('Dispatched');
    expect(reservations(h)).toBe(0);
    expect(h.restartRequests()).toMatchObject([{ key: c.key, restartAt: new Date(T0 + 1_000).toISOString(), firedAt: new Date(T0 + 1_000).toISOString() }]);
  });

  it('takes no slot for a duplicate or a stale exit', async () => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    await handleExit(h.deps, batchExit('a', T0, { exitId: 'one' }));
    h.clock.set(T0 + 5_000);
    await handleExit(h.deps, batchExit('a', T0 + 5_000, { exitId: 'two' }));
    h.dynamoCalls.reset();
    expect((await handleExit(h.deps, batchExit('a', T0 + 5_000, { exitId: 'two' }))).decision).toBe('Duplicate');
    expect((await handleExit(h.deps, batchExit('a', T0 + 1_000, { exitId: 'late' }))).decision).toBe('Stale');
    expect(h.dynamoCalls.calls).toEqual(['GetItem', 'GetItem']);
  });

  it('keeps the slot it took when its write loses a race: one reservation for the exit, not one per attempt', async () => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    await handleExit(h.deps, batchExit('a', T0));
    const put = vi.spyOn(h.store, 'put');
    put.mockResolvedValueOnce({ written: false }).mockResolvedValueOnce({ written: false });
    h.dynamoCalls.reset();
    const decision = await handleExit(h.deps, batchExit('b', T0));
    expect(decision).toMatchObject({ decision: 'RestartScheduled', restartAt: T0 + 1_000, budgetDelayMs: 1_000 });
    expect(reservations(h)).toBe(1);
    // The next exit gets the next slot: nothing leaked.
    expect(await handleExit(h.deps, batchExit('c', T0))).toMatchObject({ restartAt: T0 + 2_000 });
  });

  it('costs at most one slot per concurrent copy of an exit, and dispatches its restart once', async () => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    h.dynamoCalls.reset();
    const decisions = await Promise.all(Array.from({ length: 5 }, () => handleExit(h.deps, batchExit('a', T0, { exitId: 'same' }))));
    expect(decisions.filter((decision) => decision.decision === 'Duplicate')).toHaveLength(4);
    expect(await slotsTaken(h)).toBeGreaterThanOrEqual(1);
    expect(await slotsTaken(h)).toBeLessThanOrEqual(5);
    expect(h.restartRequests()).toHaveLength(decisions.some((decision) => decision.decision === 'RestartNow') ? 1 : 0);
  });

  it.each([
    ['an hour behind', -3_600_000],
    ['four minutes ahead', 240_000],
  ])("takes the slot at the service's clock when the workload's clock runs %s", async (_label, skewMs) => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    h.clock.set(T0 + 60_000);
    const first = await handleExit(h.deps, batchExit('a', T0 + 60_000 + skewMs));
    expect(first).toMatchObject({ decision: 'RestartNow', restartAt: T0 + 60_000 });
    const second = await handleExit(h.deps, batchExit('b', T0 + 60_000 + skewMs));
    expect(second).toMatchObject({ decision: 'RestartScheduled', restartAt: T0 + 61_000, budgetDelayMs: 1_000 });
  });

  it('starts a reset container over: the old slot is abandoned, its callback is stale, the next exit takes a new slot', async () => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    await handleExit(h.deps, batchExit('a', T0));
    const delayed = await handleExit(h.deps, batchExit('b', T0));
    expect(delayed.budgetDelayMs).toBe(1_000);
    expect(await createServiceBackend(h.deps).resetContainer(delayed.key)).toBe(true);
    h.clock.set(T0 + 1_000);
    expect(await fireRestart(h.deps, { key: delayed.key, restartCount: 1 })).toBe('Stale');
    h.clock.set(T0 + 1_500);
    // The abandoned slot at T0 + 1 s still counts: the next one is a second after it.
    expect(await handleExit(h.deps, batchExit('b', T0 + 1_500))).toMatchObject({ decision: 'RestartScheduled', restartCount: 1, restartAt: T0 + 2_000, budgetDelayMs: 500 });
  });
});

describe('fireRestart with a restart budget', () => {
  /** Container a's second crash: its restart (count 2) is due at T0 + 10.1 s; b's first crash at that instant takes the budget's one slot. */
  async function dueWhileBudgetBusy() {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    await handleExit(h.deps, batchExit('a', T0));
    h.clock.set(T0 + 100);
    h.dynamoCalls.reset();
    const second = await handleExit(h.deps, batchExit('a', T0 + 100));
    expect(second).toMatchObject({ decision: 'RestartScheduled', restartAt: T0 + 10_100, delayMs: 10_000 });
    // A restart due later takes its slot when it is due, not now.
    expect(reservations(h)).toBe(0);
    h.clock.set(T0 + 10_100);
    expect((await handleExit(h.deps, batchExit('b', T0 + 10_100))).decision).toBe('RestartNow');
    h.resetAwsCalls();
    h.records.splice(0);
    return { h, key: second.key };
  }

  it('moves a due restart to its later slot: written back waiting, status and record say so, handed to the fine stage', async () => {
    const { h, key } = await dueWhileBudgetBusy();
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('DelayedByBudget');
    const stored = (await h.store.get(key))!.value;
    expect(stored).toMatchObject({
      state: 'CrashLoopBackOff',
      message: 'back-off 10s restarting failed container=app pod=a_batch(uid-1); restart delayed by budget (+1s)',
      restart: { restartCount: 2, restartAt: T0 + 11_100, status: 'waiting', budgetDelayMs: 1_000 },
      backoff: { lastUpdate: T0 + 11_100 },
    });
    expect(h.records).toMatchObject([{ type: 'RestartScheduled', restartCount: 2, delayMs: 10_000, budgetDelayMs: 1_000, restartAt: new Date(T0 + 11_100).toISOString() }]);
    expect(fineStage(h)).toEqual([{ key, restartCount: 2, restartAt: T0 + 11_100, delaySeconds: 1 }]);
    expect(h.restartRequests()).toEqual([]);

    h.clock.set(T0 + 11_100);
    h.dynamoCalls.reset();
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(reservations(h)).toBe(0);
    expect(h.restartRequests()).toMatchObject([{ restartCount: 2, restartAt: new Date(T0 + 11_100).toISOString() }]);
  });

  it('dispatches at once, holding its slot, when the budget has room', async () => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    await handleExit(h.deps, batchExit('a', T0));
    h.clock.set(T0 + 100);
    const { key } = await handleExit(h.deps, batchExit('a', T0 + 100));
    h.clock.set(T0 + 10_100);
    h.dynamoCalls.reset();
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(h.dynamoCalls.calls).toEqual(['GetItem', 'UpdateItem', 'PutItem', 'PutItem']);
    expect((await h.store.get(key))?.value.restart).toMatchObject({ status: 'dispatched', budgetDelayMs: 0 });
  });

  it('costs at most one slot per duplicate callback, and dispatches the restart once', async () => {
    const { h, key } = await dueWhileBudgetBusy();
    const before = await slotsTaken(h);
    const outcomes = await Promise.all(Array.from({ length: 4 }, () => fireRestart(h.deps, { key, restartCount: 2 })));
    expect(outcomes.filter((outcome) => outcome === 'DelayedByBudget')).toHaveLength(1);
    expect((await slotsTaken(h)) - before).toBeLessThanOrEqual(4);
    const slot = (await h.store.get(key))!.value.restart!.restartAt;
    h.clock.set(slot);
    const later = await Promise.all(fineStage(h).map((message) => fireRestart(h.deps, message)));
    expect(later.filter((outcome) => outcome === 'Dispatched')).toHaveLength(1);
    expect(h.restartRequests()).toHaveLength(1);
  });

  it('gives an overdue restart the sync recovers a slot too, then dispatches it', async () => {
    const h = await budgeted({ perSecond: 1, burst: 1 });
    await handleExit(h.deps, batchExit('a', T0));
    h.clock.set(T0 + 100);
    const { key } = await handleExit(h.deps, batchExit('a', T0 + 100));
    // Its timer is lost; much later a storm of first crashes holds the budget when the sync runs.
    const recoverAt = T0 + 10_100 + h.deps.config.recoveryGraceMs;
    h.clock.set(recoverAt);
    await Promise.all(['b', 'c'].map((pod) => handleExit(h.deps, batchExit(pod, recoverAt))));
    h.resetAwsCalls();
    await sync(h.deps);
    expect((await h.store.get(key))?.value.restart).toMatchObject({ status: 'waiting', restartAt: recoverAt + 2_000, budgetDelayMs: 2_000 });
    h.clock.set(recoverAt + 2_000);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
  });
});

describe('a restart budget shared by many callers', () => {
  it('holds the bound for 500 exits at the same instant from 10 callers, never early, and dispatches every restart once', async () => {
    const h = await budgeted({ perSecond: 50, burst: 100 });
    const local = await acquireDynalite();
    try {
      // Ten service instances (as ten Lambda instances): one table, a budget adapter each.
      const callers: ServiceDeps[] = Array.from({ length: 10 }, () => ({ ...h.deps, budget: new DynamoRestartBudget({ client: local.client, tableName: h.tableName }) }));
      h.dynamoCalls.reset();
      const decisions = await Promise.all(Array.from({ length: 500 }, (_, index) => handleExit(callers[index % 10]!, batchExit(`pod-${index}`, T0))));
      const budget = { perSecond: 50, burst: 100 };
      const instants = decisions.map((decision) => decision.restartAt!);
      expect(Math.min(...instants)).toBe(T0);
      for (const windowMs of [1, 1_000, 3_000]) expect(busiestWindow(instants, windowMs)).toBeLessThanOrEqual(budgetWindowBound(budget, windowMs));
      expect(decisions.filter((decision) => decision.decision === 'RestartNow')).toHaveLength(100);
      // 400 more at 50/s: the last starts 8 s after the storm.
      expect(Math.max(...instants)).toBe(T0 + 8_000);
      // Exactly 500 slots were taken (100 at once and 400 more end at 8 s), each in one or two UpdateItems:
      // a request that set out while the budget looked idle tries the idle form first.
      expect(reservations(h)).toBeGreaterThanOrEqual(500);
      expect(reservations(h)).toBeLessThanOrEqual(1_000);

      // Their timers fire at the slots: every restart is dispatched, once, and none takes another slot.
      h.dynamoCalls.reset();
      const messages = fineStage(h).sort((a, b) => a.restartAt - b.restartAt);
      expect(messages).toHaveLength(400);
      for (let start = 0; start < messages.length; start += 50) {
        const group = messages.slice(start, start + 50);
        h.clock.set(group.at(-1)!.restartAt);
        expect(await Promise.all(group.map((message) => fireRestart(h.deps, message)))).toEqual(group.map(() => 'Dispatched'));
      }
      expect(reservations(h)).toBe(0);
      const requests = h.restartRequests();
      expect(new Set(requests.map((request) => request.restartId))).toEqual(new Set(decisions.map((decision) => decision.restartId)));
      expect(requests).toHaveLength(500);
    } finally {
      await releaseDynalite();
    }
  });
});

describe('restart budget, over generated fleets', () => {
  interface Fleet {
    readonly budget: RestartBudgetSetting;
    /** Per container: when it first crashes, and how long each run lasts before the next crash. */
    readonly containers: readonly { readonly firstCrashMs: number; readonly runsMs: readonly number[] }[];
  }
  const fleetArb: fc.Arbitrary<Fleet> = fc.record({
    budget: fc.record({ perSecond: fc.integer({ min: 1, max: 20 }), burst: fc.integer({ min: 1, max: 10 }) }),
    containers: fc.array(
      // Round numbers as well as any: containers whose restarts, and so whose next crashes, coincide.
      fc.record({
        firstCrashMs: fc.oneof(fc.constantFrom(0, 250, 1_000), fc.integer({ min: 0, max: 3_000 })),
        runsMs: fc.array(fc.oneof(fc.constantFrom(0, 500, 1_000, 2_000), fc.integer({ min: 0, max: 4_000 })), { minLength: 0, maxLength: 3 }),
      }),
      { minLength: 1, maxLength: 12 },
    ),
  });

  /**
   * Plays the fleet through the services: each container crashes, its exit is
   * handled at once, its restart (dispatched by the exit's handling or by a
   * fine-stage callback delivered at the instant it names) starts it again,
   * and it crashes again `runMs` later.
   */
  async function play(fleet: Fleet) {
    const h = await budgeted(fleet.budget, { policy: resolveBackoffPolicy({ initial: '1s', max: '4s' }) });
    type Step = { at: number; order: number } & ({ kind: 'crash'; container: number; run: number } | { kind: 'callback'; key: string; restartCount: number });
    const queue: Step[] = fleet.containers.map((container, index) => ({ at: T0 + container.firstCrashMs, order: index, kind: 'crash', container: index, run: 0 }));
    let order = queue.length;
    let messagesSeen = 0;
    let requestsSeen = 0;
    const decisions: Decision[] = [];
    while (queue.length > 0) {
      queue.sort((a, b) => a.at - b.at || a.order - b.order);
      const step = queue.shift()!;
      h.clock.set(step.at);
      if (step.kind === 'crash') decisions.push(await handleExit(h.deps, batchExit(`pod-${step.container}`, step.at, { exitId: `exit-${step.run}` })));
      else await fireRestart(h.deps, step);
      const messages = fineStage(h);
      for (const message of messages.slice(messagesSeen)) queue.push({ at: Math.max(step.at, message.restartAt), order: order++, kind: 'callback', key: message.key, restartCount: message.restartCount });
      messagesSeen = messages.length;
      const requests = h.restartRequests();
      for (const request of requests.slice(requestsSeen)) {
        const container = Number(String(request.pod).replace('pod-', ''));
        const run = (request.restartCount as number) - 1;
        const runMs = fleet.containers[container]!.runsMs[run];
        if (runMs !== undefined) queue.push({ at: Date.parse(String(request.firedAt)) + runMs, order: order++, kind: 'crash', container, run: run + 1 });
      }
      requestsSeen = requests.length;
    }
    return { decisions, requests: h.restartRequests() };
  }

  it('never restarts early, never more than the budget in any window, and dispatches every restart once', async () => {
    await fc.assert(
      fc.asyncProperty(fleetArb, async (fleet) => {
        const { decisions, requests } = await play(fleet);
        expect(decisions.every((decision) => decision.decision === 'RestartNow' || decision.decision === 'RestartScheduled')).toBe(true);
        // Every restart decided went out exactly once.
        expect(requests.map((request) => request.restartId).sort()).toEqual(decisions.map((decision) => decision.restartId).sort());
        const byId = new Map(decisions.map((decision) => [decision.restartId, decision]));
        const fired = requests.map((request) => Date.parse(String(request.firedAt)));
        requests.forEach((request, index) => {
          const decision = byId.get(String(request.restartId))!;
          // Never before the instant its exit's decision named (the back-off, or the slot the exit took).
          expect(fired[index]).toBeGreaterThanOrEqual(decision.restartAt!);
          expect(fired[index]).toBeGreaterThanOrEqual(Date.parse(String(request.restartAt)));
        });
        for (const windowMs of [1, 1_000]) expect(busiestWindow(fired, windowMs)).toBeLessThanOrEqual(budgetWindowBound(fleet.budget, windowMs));
        expect(new Set(requests.map((request) => request.key))).toEqual(new Set(fleet.containers.map((_, index) => containerKey(batchExit(`pod-${index}`, T0)))));
      }),
      { numRuns: 15 },
    );
  });
});
