import { describe, expect, it } from 'vitest';
import {
  planExit,
  RECENT_EXIT_IDS,
  resolveBackoffPolicy,
  simulateTimeline,
  terminationReason,
  type BackoffPolicy,
  type ContainerState,
  type ExitEvent,
  type ExitPlan,
  type PlanOptions,
  type RestartStatus,
} from '../../lib/core/index.ts';

const T0 = 1_767_225_600_000;
const KUBELET = resolveBackoffPolicy();
const POD = 'web-0_default(uid)';

function exitAt(finishedAt: number, overrides: Partial<ExitEvent> = {}): ExitEvent {
  return { namespace: 'default', pod: 'web-0', podUid: 'uid', container: 'app', exitCode: 1, finishedAt, ...overrides };
}

function options(now: number, overrides: Partial<PlanOptions> = {}): PlanOptions {
  return { policy: KUBELET, now, ...overrides };
}

/**
 * Drives a container that runs `runsMs[i]` after each (re)start and then
 * crashes, each exit handled `lagMs` after it happened. Returns every plan.
 */
function crashLoop(runsMs: readonly number[], policy: BackoffPolicy = KUBELET, lagMs = 0): ExitPlan[] {
  const plans: ExitPlan[] = [];
  let stored: ContainerState | undefined;
  let startedAt = T0;
  runsMs.forEach((runMs, index) => {
    const finishedAt = startedAt + runMs;
    const plan = planExit(stored, exitAt(finishedAt, { startedAt, exitId: `exit-${index}` }), { policy, now: finishedAt + lagMs });
    plans.push(plan);
    stored = plan.next;
    startedAt = plan.decision.restartAt!;
  });
  return plans;
}

function last<T>(items: readonly T[]): T {
  const item = items[items.length - 1];
  if (item === undefined) throw new Error('empty list');
  return item;
}

function stateAfter(plans: readonly ExitPlan[]): ContainerState {
  const next = last(plans).next;
  if (!next) throw new Error('the last plan stores nothing');
  return next;
}

describe('planExit', () => {
  describe('the first exit', () => {
    it('restarts a first crash now even when the workload’s clock runs ahead', () => {
      const plan = planExit(undefined, exitAt(T0 + 120_000, { exitId: 'skewed' }), options(T0));
      expect(plan.decision).toMatchObject({ decision: 'RestartNow', restartAt: T0, delayMs: 0, state: 'Running' });
      // Placed at its arrival on the service's clock; the reported instant is
      // kept beside it, so a replay of this exit is still recognised.
      expect(plan.next?.lastExit).toMatchObject({ finishedAt: T0, reportedFinishedAt: T0 + 120_000, receivedAt: T0, restartCount: 0 });
      expect(plan.events[0]?.message).toContain("the workload's clock runs ahead");
    });

    it('restarts now with no delay and starts the entry at initial', () => {
      const plan = planExit(undefined, exitAt(T0, { exitId: 'e1' }), options(T0));
      expect(plan.decision).toEqual({
        key: 'web-0_default_uid_app_',
        decision: 'RestartNow',
        restartAt: T0,
        // The entry's creation instant keeps restart ids unique across resets.
        restartId: `web-0_default_uid_app_#${T0}.1`,
        delayMs: 0,
        restartCount: 1,
        backoffMs: 10_000,
        state: 'Running',
        message: `restarting container=app pod=${POD} now`,
      });
      expect(plan.next).toMatchObject({
        key: 'web-0_default_uid_app_',
        backoff: { backoffMs: 10_000, lastUpdate: T0 },
        restartCount: 1,
        state: 'Running',
        lastExit: { exitCode: 1, finishedAt: T0, receivedAt: T0, restartCount: 0, reportedFinishedAt: T0, exitId: 'e1' },
        recentExitIds: ['e1'],
        lastDecision: plan.decision,
        restart: { restartCount: 1, restartAt: T0, status: 'waiting' },
        policy: KUBELET,
        createdAt: T0,
        updatedAt: T0,
      });
      expect(plan.next).not.toHaveProperty('reason');
      expect(plan.events.map((event) => event.type)).toEqual(['Exited']);
      expect(plan.events[0]).toMatchObject({
        time: new Date(T0).toISOString(),
        key: 'web-0_default_uid_app_',
        namespace: 'default',
        pod: 'web-0',
        podUid: 'uid',
        container: 'app',
        exitCode: 1,
        restartCount: 0,
        message: `Container app in pod ${POD} exited with code 1 (Error)`,
      });
    });

    it('handled late, restarts at the processing time and stamps the entry with it', () => {
      const plan = planExit(undefined, exitAt(T0), options(T0 + 3_000));
      expect(plan.decision).toMatchObject({ decision: 'RestartNow', restartAt: T0 + 3_000, delayMs: 0, backoffMs: 10_000 });
      expect(plan.next?.backoff).toEqual({ backoffMs: 10_000, lastUpdate: T0 + 3_000 });
    });

    it('keys the container by pod, namespace, uid, container and hash', () => {
      const plan = planExit(undefined, exitAt(T0, { containerHash: 'abc123' }), options(T0));
      expect(plan.decision.key).toBe('web-0_default_uid_app_abc123');
      expect(plan.next?.containerHash).toBe('abc123');
    });
  });

  describe('a crash loop', () => {
    it('gives kubelet’s delays 0, 10s, 20s, 40s, 80s, 160s, 300s, 300s', () => {
      const plans = crashLoop(Array(8).fill(1_000));
      expect(plans.map((plan) => plan.decision.delayMs)).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
      expect(plans.map((plan) => plan.decision.backoffMs)).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
      expect(plans.map((plan) => plan.decision.restartCount)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(plans.map((plan) => plan.decision.decision)).toEqual(['RestartNow', ...Array(7).fill('RestartScheduled')]);
    });

    it('waits in CrashLoopBackOff with kubelet’s message, a RestartScheduled event and the wait’s first BackOff', () => {
      const [, second] = crashLoop([1_000, 1_000]);
      const finishedAt = T0 + 2_000;
      expect(second!.decision).toEqual({
        key: 'web-0_default_uid_app_',
        decision: 'RestartScheduled',
        restartAt: finishedAt + 10_000,
        restartId: `web-0_default_uid_app_#${T0 + 1_000}.2`,
        delayMs: 10_000,
        restartCount: 2,
        backoffMs: 20_000,
        state: 'CrashLoopBackOff',
        reason: 'CrashLoopBackOff',
        message: `back-off 10s restarting failed container=app pod=${POD}`,
      });
      // The entry moves when kubelet's sync loop would call next: at restartAt.
      expect(second!.next).toMatchObject({
        backoff: { backoffMs: 20_000, lastUpdate: finishedAt + 10_000 },
        state: 'CrashLoopBackOff',
        reason: 'CrashLoopBackOff',
        restart: { restartCount: 2, restartAt: finishedAt + 10_000, status: 'waiting' },
        recentExitIds: ['exit-0', 'exit-1'],
        createdAt: T0 + 1_000,
        updatedAt: finishedAt,
      });
      expect(second!.events.map((event) => event.type)).toEqual(['Exited', 'RestartScheduled', 'BackOff']);
      expect(second!.events[2]).toMatchObject({
        type: 'BackOff',
        reason: 'CrashLoopBackOff',
        restartCount: 2,
        delayMs: 10_000,
        restartAt: new Date(finishedAt + 10_000).toISOString(),
        count: 1,
        firstTimestamp: new Date(finishedAt).toISOString(),
        lastTimestamp: new Date(finishedAt).toISOString(),
        message: `Back-off 10s restarting failed container=app pod=${POD}`,
      });
      // A 10 s wait is shorter than the 5 min interval: no repeat is due.
      expect(second!.next!.backOffEvent).toEqual({ restartCount: 2, delayMs: 10_000, count: 1, firstTimestamp: finishedAt, lastTimestamp: finishedAt });
      expect(second!.events[1]).toMatchObject({
        type: 'RestartScheduled',
        exitCode: 1,
        reason: 'CrashLoopBackOff',
        restartCount: 2,
        restartId: `web-0_default_uid_app_#${T0 + 1_000}.2`,
        delayMs: 10_000,
        backoffMs: 20_000,
        restartAt: new Date(finishedAt + 10_000).toISOString(),
        decision: 'RestartScheduled',
        message: `Back-off 10s restarting failed container=app pod=${POD}`,
      });
    });

    it('writes the back-off in Go’s format once it reaches the cap', () => {
      const plans = crashLoop(Array(7).fill(0));
      expect(last(plans).decision.message).toBe(`back-off 5m0s restarting failed container=app pod=${POD}`);
    });

    it.each([
      ['on time', 0, 'RestartScheduled', 10_000],
      ['1 ms before the back-off elapses', 9_999, 'RestartScheduled', 10_000],
      ['exactly when the back-off elapses', 10_000, 'RestartNow', 10_000],
      ['after the back-off elapsed', 25_000, 'RestartNow', 25_000],
    ])('handled %s: restartAt = max(now, finishedAt + back-off)', (_name, lagMs, kind, restartAfterMs) => {
      const first = planExit(undefined, exitAt(T0, { exitId: 'a' }), options(T0));
      const finishedAt = T0 + 1_000;
      const now = finishedAt + lagMs;
      const plan = planExit(first.next, exitAt(finishedAt, { exitId: 'b' }), options(now));
      expect(plan.decision).toMatchObject({ decision: kind, restartAt: finishedAt + restartAfterMs, delayMs: 10_000, backoffMs: 20_000 });
      expect(plan.next?.backoff).toEqual({ backoffMs: 20_000, lastUpdate: finishedAt + restartAfterMs });
      expect(plan.events.map((event) => event.type)).toEqual(kind === 'RestartScheduled' ? ['Exited', 'RestartScheduled', 'BackOff'] : ['Exited']);
    });
  });

  describe('back-off reset', () => {
    // Three quick crashes leave the entry at 40s, updated at the third restart.
    const streak = [0, 0, 0];

    it('does not reset after a run of exactly resetAfter', () => {
      const plans = crashLoop([...streak, KUBELET.resetAfterMs]);
      expect(last(plans).decision).toMatchObject({ decision: 'RestartScheduled', delayMs: 40_000, backoffMs: 80_000 });
      expect(last(plans).events.map((event) => event.type)).toEqual(['Exited', 'RestartScheduled', 'BackOff']);
    });

    it('resets after a run 1 ms longer than resetAfter', () => {
      const plans = crashLoop([...streak, KUBELET.resetAfterMs + 1]);
      const plan = last(plans);
      expect(plan.decision).toMatchObject({ decision: 'RestartNow', delayMs: 0, backoffMs: 10_000, restartCount: 4, state: 'Running' });
      expect(plan.next?.backoff).toEqual({ backoffMs: 10_000, lastUpdate: plan.decision.restartAt });
      expect(plan.events.map((event) => event.type)).toEqual(['Exited', 'BackoffReset']);
      expect(plan.events[1]).toMatchObject({
        type: 'BackoffReset',
        restartCount: 3,
        backoffMs: 10_000,
        message: `Back-off reset for container=app pod=${POD}: 10m0.001s since the last restart, longer than 10m`,
      });
    });

    // With max 1s the entry stays at 1s: without a reset the third exit waits 1s.
    it.each([
      ['exactly 10m', 600_000, 1_000],
      ['10m and 1 ms', 600_001, 0],
    ])('uses the policy’s resetAfter (KEP-5593 flat 10m with max 1s): a run of %s (%i ms) → delay %i', (_name, runMs, delayMs) => {
      const policy = resolveBackoffPolicy({ preset: 'reduced', max: '1s', resetAfter: '10m' });
      expect(policy).toMatchObject({ initialMs: 1_000, maxMs: 1_000, resetAfterMs: 600_000 });
      const plans = crashLoop([0, 0, runMs], policy);
      expect(last(plans).decision.delayMs).toBe(delayMs);
    });
  });

  describe('BackOff records (Kubernetes event correlation)', () => {
    const backOffs = (plans: readonly ExitPlan[]) => plans.flatMap((plan) => plan.events.filter((event) => event.type === 'BackOff'));

    it('records one BackOff per wait, starting a new series whenever the message changes', () => {
      const plans = crashLoop(Array(6).fill(0));
      expect(backOffs(plans).map((record) => [record.count, record.message.split(' ')[1]])).toEqual([
        [1, '10s'],
        [1, '20s'],
        [1, '40s'],
        [1, '1m20s'],
        [1, '2m40s'],
      ]);
    });

    it('continues the series at the cap, where every wait has the same message: count and firstTimestamp carry over', () => {
      const plans = crashLoop(Array(10).fill(0));
      const atCap = backOffs(plans).filter((record) => record.message.startsWith('Back-off 5m0s'));
      expect(atCap.map((record) => record.count)).toEqual([1, 2, 3, 4]);
      expect(new Set(atCap.map((record) => record.firstTimestamp)).size).toBe(1);
      expect(atCap.map((record) => record.lastTimestamp)).toEqual([...new Set(atCap.map((record) => record.lastTimestamp))]);
      expect(Date.parse(atCap.at(-1)!.lastTimestamp!) - Date.parse(atCap[0]!.firstTimestamp!)).toBe(3 * 300_000);
    });

    it('starts over after a back-off reset, even with the same message', () => {
      const constant = resolveBackoffPolicy({ initial: '1m', max: '1m' });
      const plans = crashLoop([0, 0, 0, constant.resetAfterMs + 1, 0], constant);
      expect(backOffs(plans).map((record) => record.count)).toEqual([1, 2, 1]);
    });

    it('asks for a repeat one interval after the record when the wait outlasts the interval, and for none otherwise', () => {
      const hourly = resolveBackoffPolicy({ initial: '1h', max: '1h' });
      const [, second] = [planExit(undefined, exitAt(T0, { exitId: 'a' }), options(T0, { policy: hourly }))].flatMap((first) => [
        first,
        planExit(first.next, exitAt(T0 + 1_000, { exitId: 'b' }), options(T0 + 1_000, { policy: hourly, backOffEventIntervalMs: 600_000 })),
      ]);
      expect(second!.next!.backOffEvent).toMatchObject({ count: 1, lastTimestamp: T0 + 1_000, nextRepeatAt: T0 + 1_000 + 600_000 });
      const [, short] = crashLoop([0, 0]);
      expect(short!.next!.backOffEvent).not.toHaveProperty('nextRepeatAt');
    });

    it('keeps the series through a dispatch and a termination, without a new record', () => {
      const plans = crashLoop([0, 0]);
      const terminated = planExit(plans[1]!.next, exitAt(T0 + 20_000, { exitId: 'c', restartPolicy: 'Never' }), options(T0 + 20_000));
      expect(terminated.events.map((event) => event.type)).toEqual(['Exited', 'Terminated']);
      expect(terminated.next!.backOffEvent).toEqual(plans[1]!.next!.backOffEvent);
    });
  });

  describe('jitter', () => {
    it('adds truncated jitter to the initial entry (uncapped) and to each doubling (capped)', () => {
      const policy = resolveBackoffPolicy({ initial: '10s', max: '10s', jitterFactor: 0.5 });
      const draws = [0.5, 0.99999];
      const random = () => draws.shift() ?? Number.NaN;
      const first = planExit(undefined, exitAt(T0, { exitId: 'a' }), options(T0, { policy, random }));
      expect(first.decision.backoffMs).toBe(12_500); // 10000 + trunc(0.5 × 0.5 × 10000), above max
      const second = planExit(first.next, exitAt(T0 + 1_000, { exitId: 'b' }), options(T0 + 1_000, { policy, random }));
      expect(second.decision).toMatchObject({ delayMs: 12_500, backoffMs: 10_000 });
      expect(draws).toEqual([]);
    });
  });

  describe('restart policy', () => {
    it.each<[string, string, Partial<ExitEvent>, Partial<PlanOptions>]>([
      ['Never, exit 1', 'Error', { restartPolicy: 'Never' }, {}],
      ['Never, exit 0', 'Completed', { restartPolicy: 'Never', exitCode: 0 }, {}],
      ['Never, with a reported reason', 'OOMKilled', { restartPolicy: 'Never', exitCode: 137, reason: 'OOMKilled' }, {}],
      ['OnFailure, exit 0', 'Completed', { restartPolicy: 'OnFailure', exitCode: 0 }, {}],
      ['a default of Never', 'Error', {}, { defaultRestartPolicy: 'Never' }],
      ['a DoNotRestart rule over Always', 'Error', { restartPolicy: 'Always', exitCode: 42, restartPolicyRules: [{ action: 'DoNotRestart', exitCodes: { operator: 'In', values: [42] } }] }, {}],
    ])('%s → NoRestart, Terminated (%s)', (_name, reason, exitFields, optionFields) => {
      const plan = planExit(undefined, exitAt(T0, exitFields), options(T0, optionFields));
      expect(plan.decision).toMatchObject({ decision: 'NoRestart', restartAt: null, delayMs: 0, restartCount: 0, backoffMs: 0, state: 'Terminated', reason });
      expect(plan.decision.message).toContain(`container=app pod=${POD} terminated: ${reason}`);
      expect(plan.next).toMatchObject({ state: 'Terminated', reason, restartCount: 0, lastDecision: plan.decision });
      expect(plan.next).not.toHaveProperty('restart');
      expect(plan.next).not.toHaveProperty('backoff');
      expect(plan.events.map((event) => event.type)).toEqual(['Exited', 'Terminated']);
      expect(plan.events[1]).toMatchObject({ type: 'Terminated', reason, restartCount: 0, backoffMs: 0, message: plan.decision.message });
    });

    it.each<[string, Partial<ExitEvent>, Partial<PlanOptions>]>([
      ['OnFailure, exit 1', { restartPolicy: 'OnFailure' }, {}],
      ['Always, exit 0', { restartPolicy: 'Always', exitCode: 0 }, {}],
      ['the container’s Always over a default of Never', { restartPolicy: 'Always' }, { defaultRestartPolicy: 'Never' }],
      ['a Restart rule over Never', { restartPolicy: 'Never', exitCode: 3, restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'NotIn', values: [0] } }] }, {}],
      [
        'the first matching rule',
        {
          exitCode: 42,
          restartPolicy: 'Never',
          restartPolicyRules: [
            { action: 'Restart', exitCodes: { operator: 'In', values: [42] } },
            { action: 'DoNotRestart', exitCodes: { operator: 'In', values: [42] } },
          ],
        },
        {},
      ],
    ])('%s → restarts', (_name, exitFields, optionFields) => {
      const plan = planExit(undefined, exitAt(T0, exitFields), options(T0, optionFields));
      expect(plan.decision).toMatchObject({ decision: 'RestartNow', restartCount: 1 });
    });

    it('keeps the back-off entry of a container that stops restarting', () => {
      const plans = crashLoop([0, 0]);
      const stored = stateAfter(plans);
      const plan = planExit(stored, exitAt(stored.restart!.restartAt + 5_000, { restartPolicy: 'Never' }), options(stored.restart!.restartAt + 5_000));
      expect(plan.decision).toMatchObject({ decision: 'NoRestart', restartCount: 2, backoffMs: 20_000 });
      expect(plan.next?.backoff).toEqual(stored.backoff);
    });
  });

  describe('maxRestarts', () => {
    it('allows that many restarts, then terminates with RestartLimitExceeded', () => {
      let stored: ContainerState | undefined;
      const plans: ExitPlan[] = [];
      for (let i = 0; i < 3; i++) {
        const finishedAt = stored?.restart ? stored.restart.restartAt : T0;
        const plan = planExit(stored, exitAt(finishedAt, { exitId: `e${i}`, maxRestarts: 2 }), options(finishedAt));
        plans.push(plan);
        stored = plan.next;
      }
      expect(plans.map((plan) => plan.decision.decision)).toEqual(['RestartNow', 'RestartScheduled', 'NoRestart']);
      const final = last(plans);
      expect(final.decision).toMatchObject({ restartCount: 2, state: 'Terminated', reason: 'RestartLimitExceeded', restartAt: null, backoffMs: 20_000 });
      expect(final.decision.message).toBe(`container=app pod=${POD} terminated: RestartLimitExceeded, exit code 1 (maxRestarts 2 reached)`);
      expect(final.events.map((event) => event.type)).toEqual(['Exited', 'Terminated']);
    });

    it('with maxRestarts 0 never restarts', () => {
      const plan = planExit(undefined, exitAt(T0, { maxRestarts: 0 }), options(T0));
      expect(plan.decision).toMatchObject({ decision: 'NoRestart', reason: 'RestartLimitExceeded', restartCount: 0 });
    });

    it('reports the policy’s reason when the policy would not restart anyway', () => {
      const plan = planExit(undefined, exitAt(T0, { exitCode: 0, restartPolicy: 'OnFailure', maxRestarts: 0 }), options(T0));
      expect(plan.decision).toMatchObject({ decision: 'NoRestart', reason: 'Completed' });
      expect(plan.decision.message).toContain('(restartPolicy OnFailure)');
    });
  });

  describe('a pending restart and a newer exit', () => {
    function storedWithRestart(status: RestartStatus): ContainerState {
      const plans = crashLoop([0, 0]);
      const stored = stateAfter(plans);
      return { ...stored, restart: { ...stored.restart!, status } };
    }

    it.each<RestartStatus>(['waiting', 'dispatching'])('drops a %s restart when the newer exit will not restart', (status) => {
      const stored = storedWithRestart(status);
      const finishedAt = stored.lastExit!.finishedAt + 1;
      const plan = planExit(stored, exitAt(finishedAt, { exitId: 'newer', restartPolicy: 'Never' }), options(finishedAt));
      expect(plan.decision.decision).toBe('NoRestart');
      expect(plan.next).toBeDefined();
      expect(plan.next).not.toHaveProperty('restart');
    });

    it('keeps a dispatched restart as history', () => {
      const stored = storedWithRestart('dispatched');
      const finishedAt = stored.restart!.restartAt + 1_000;
      const plan = planExit(stored, exitAt(finishedAt, { exitId: 'newer', restartPolicy: 'Never' }), options(finishedAt));
      expect(plan.next?.restart).toEqual(stored.restart);
    });

    it('replaces a pending restart with the newer exit’s restart', () => {
      const stored = storedWithRestart('waiting');
      const finishedAt = stored.lastExit!.finishedAt + 1;
      const plan = planExit(stored, exitAt(finishedAt, { exitId: 'newer' }), options(finishedAt));
      expect(plan.next?.restart).toEqual({ restartCount: 3, restartAt: finishedAt + 20_000, status: 'waiting' });
    });
  });

  describe('replays', () => {
    function relabelled(plan: ExitPlan, kind: 'Duplicate' | 'Stale') {
      return { ...plan.decision, decision: kind, message: expect.stringContaining(plan.decision.message) };
    }

    it('answers a repeated exitId with the earlier decision, as Duplicate, changing nothing', () => {
      const plans = crashLoop([1_000, 1_000]);
      const earlier = last(plans);
      const stored = stateAfter(plans);
      const replay = planExit(stored, exitAt(stored.lastExit!.finishedAt, { exitId: 'exit-1' }), options(stored.lastExit!.finishedAt + 3_000));
      expect(replay.decision).toEqual(relabelled(earlier, 'Duplicate'));
      expect(replay.decision.message).toMatch(/^duplicate of an exit already handled; /);
      expect(replay).not.toHaveProperty('next');
      expect(replay.events).toEqual([]);
    });

    it('recognises any remembered exitId, even with another finishedAt', () => {
      const plans = crashLoop([1_000, 1_000, 1_000]);
      const stored = stateAfter(plans);
      const replay = planExit(stored, exitAt(stored.lastExit!.finishedAt + 99_000, { exitId: 'exit-0' }), options(stored.lastExit!.finishedAt + 99_000));
      expect(replay.decision).toEqual(relabelled(last(plans), 'Duplicate'));
      expect(replay.next).toBeUndefined();
    });

    it('answers an older finishedAt with the earlier decision, as Stale, changing nothing', () => {
      const plans = crashLoop([1_000, 1_000]);
      const stored = stateAfter(plans);
      const replay = planExit(stored, exitAt(stored.lastExit!.finishedAt - 1, { exitId: 'unseen' }), options(stored.lastExit!.finishedAt + 1));
      expect(replay.decision).toEqual(relabelled(last(plans), 'Stale'));
      expect(replay.decision.message).toMatch(/^older than the last exit handled; /);
      expect(replay.next).toBeUndefined();
      expect(replay.events).toEqual([]);
    });

    it.each<[string, 'Duplicate' | 'RestartScheduled', string | undefined, string | undefined]>([
      ['neither has an exitId', 'Duplicate', undefined, undefined],
      ['only the stored exit has one', 'Duplicate', 'first', undefined],
      ['only the new exit has one', 'Duplicate', undefined, 'second'],
      ['both have the same one', 'Duplicate', 'first', 'first'],
      ['they have distinct ones', 'RestartScheduled', 'first', 'second'],
    ])('with an equal finishedAt when %s → %s', (_name, kind, storedId, newId) => {
      const first = planExit(undefined, exitAt(T0, storedId ? { exitId: storedId } : {}), options(T0));
      const plan = planExit(first.next, exitAt(T0, newId ? { exitId: newId } : {}), options(T0 + 10));
      expect(plan.decision.decision).toBe(kind);
      if (kind === 'Duplicate') {
        expect(plan.decision).toEqual(relabelled(first, 'Duplicate'));
        expect(plan.next).toBeUndefined();
      } else {
        // A zero-length run is a new crash: it waits out the back-off.
        expect(plan.decision).toMatchObject({ restartAt: T0 + 10_000, delayMs: 10_000, restartCount: 2, backoffMs: 20_000 });
        expect(plan.next).toBeDefined();
      }
    });

    it('answers a replay of a NoRestart decision with no restart instant, even after an earlier dispatched restart', () => {
      const plans = crashLoop([0, 0]);
      const stored = stateAfter(plans);
      const dispatched: ContainerState = { ...stored, restart: { ...stored.restart!, status: 'dispatched', dispatchedAt: stored.restart!.restartAt } };
      const finishedAt = stored.restart!.restartAt + 1_000;
      const stop = planExit(dispatched, exitAt(finishedAt, { exitId: 'stop', restartPolicy: 'Never' }), options(finishedAt));
      expect(stop.decision).toMatchObject({ decision: 'NoRestart', restartAt: null });
      expect(stop.next?.restart?.status).toBe('dispatched');
      const replay = planExit(stop.next, exitAt(finishedAt, { exitId: 'stop', restartPolicy: 'Never' }), options(finishedAt + 1));
      expect(replay.decision).toEqual(relabelled(stop, 'Duplicate'));
      expect(replay.decision.restartAt).toBeNull();
    });

    it(`remembers the latest ${RECENT_EXIT_IDS} exit ids, newest last`, () => {
      const plans = crashLoop(Array(RECENT_EXIT_IDS + 3).fill(0));
      const ids = stateAfter(plans).recentExitIds;
      expect(ids).toHaveLength(RECENT_EXIT_IDS);
      expect(ids[0]).toBe('exit-3');
      expect(last(ids)).toBe(`exit-${RECENT_EXIT_IDS + 2}`);
    });

    it('does not remember exits without an id', () => {
      const first = planExit(undefined, exitAt(T0), options(T0));
      expect(first.next?.recentExitIds).toEqual([]);
    });
  });
});

describe('terminationReason', () => {
  it.each([
    [0, undefined, 'Completed'],
    [1, undefined, 'Error'],
    [137, undefined, 'Error'],
    [-1, undefined, 'Error'],
    [137, 'OOMKilled', 'OOMKilled'],
    [0, 'Evicted', 'Evicted'],
  ])('exit %i with reason %j → %s', (exitCode, reason, expected) => {
    expect(terminationReason({ exitCode, ...(reason !== undefined ? { reason } : {}) })).toBe(expected);
  });
});

describe('simulateTimeline', () => {
  it('replays a crash loop from offset 0 with each exit handled as it happens', () => {
    const steps = simulateTimeline(KUBELET, [1_000, 1_000, 1_000]);
    expect(steps).toEqual([
      { restart: 1, finishedAt: 1_000, restartAt: 1_000, delayMs: 0, backoffMs: 10_000, state: 'Running' },
      { restart: 2, finishedAt: 2_000, restartAt: 12_000, delayMs: 10_000, backoffMs: 20_000, state: 'CrashLoopBackOff' },
      { restart: 3, finishedAt: 13_000, restartAt: 33_000, delayMs: 20_000, backoffMs: 40_000, state: 'CrashLoopBackOff' },
    ]);
  });

  it('tells zero-length runs apart, so each one is a new crash', () => {
    const steps = simulateTimeline(resolveBackoffPolicy({ preset: 'reduced' }), [0, 0, 0]);
    expect(steps.map((step) => [step.finishedAt, step.restartAt])).toEqual([
      [0, 0],
      [0, 1_000],
      [1_000, 3_000],
    ]);
  });

  it('resets after a run longer than resetAfter', () => {
    const steps = simulateTimeline(KUBELET, [0, 0, 600_001, 0]);
    expect(steps.map((step) => step.delayMs)).toEqual([0, 10_000, 0, 10_000]);
  });

  it('passes the source of randomness to the back-off', () => {
    const policy = resolveBackoffPolicy({ jitterFactor: 1 });
    const steps = simulateTimeline(policy, [0, 0], () => 0.5);
    // 10000 + trunc(0.5 × 10000), then 2 × 15000 + trunc(0.5 × 15000)
    expect(steps.map((step) => step.backoffMs)).toEqual([15_000, 37_500]);
  });
});
