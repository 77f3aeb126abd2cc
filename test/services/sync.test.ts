import { CreateScheduleCommand, ThrottlingException } from '@aws-sdk/client-scheduler';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveBackoffPolicy, type ContainerState } from '../../lib/core/index.ts';
import type { IndexPage } from '../../lib/ports.ts';
import { fireRestart } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { SHARD_READ_ATTEMPTS, sync } from '../../lib/services/sync.ts';
import { createHarness, exitOf, storeWith, T0, type Harness } from '../support/pipeline.ts';

const slowPolicy = resolveBackoffPolicy({ initial: '5m', max: '5m' });
const hourly = resolveBackoffPolicy({ initial: '1h', max: '1h' });

/** A container waiting for restart `restartCount` at `restartAt`, written as the planner would leave it. */
function pending(h: Harness, pod: string, restartAt: number, overrides: Partial<ContainerState> = {}): ContainerState {
  return {
    key: `${pod}_default__app_`,
    namespace: 'default',
    pod,
    container: 'app',
    restartCount: 3,
    state: 'CrashLoopBackOff',
    reason: 'CrashLoopBackOff',
    recentExitIds: [],
    backoff: { backoffMs: 80_000, lastUpdate: restartAt },
    restart: { restartCount: 3, restartAt, status: 'waiting' },
    policy: h.deps.config.policy,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

async function putAll(h: Harness, states: readonly ContainerState[]): Promise<void> {
  for (let start = 0; start < states.length; start += 50) {
    await Promise.all(states.slice(start, start + 50).map((state) => h.store.put(state, undefined)));
  }
}

describe('sync', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  /** Crashes `pod` twice so it waits in CrashLoopBackOff until T0 + 11 s. */
  async function crashLoop(pod: string, backoffPolicy = resolveBackoffPolicy()): Promise<string> {
    h.clock.set(T0);
    await handleExit(h.deps, exitOf(T0, { pod, backoffPolicy }));
    await fireRestart(h.deps, { key: `${pod}_default_uid-1_app_`, restartCount: 1 });
    h.clock.set(T0 + 1_000);
    return (await handleExit(h.deps, exitOf(T0 + 1_000, { pod, backoffPolicy }))).key;
  }

  it('reads nothing and publishes nothing while every restart is still in its back-off', async () => {
    await crashLoop('web-0');
    await crashLoop('web-1');
    h.clock.set(T0 + 5_000);
    const records = h.records.length;
    h.resetAwsCalls();
    h.dynamoCalls.reset();
    const report = await sync(h.deps);
    expect(report).toEqual({ overdue: 0, recovered: 0, backOffRepeats: 0, collected: 0, itemsRead: 0, failures: 0, failedShards: [], stoppedEarly: false });
    expect(h.records.slice(records)).toEqual([]);
    expect(h.awsCalls()).toEqual([]);
    // Three range queries per shard (overdue, BackOff repeats, expired), nothing else.
    expect(h.dynamoCalls.calls).toEqual(Array(3 * h.store.shards).fill('Query'));
  });

  it('recovers a restart whose timer could not be armed, once, as RestartRecovered', async () => {
    h.scheduler.on(CreateScheduleCommand).rejects(new ThrottlingException({ message: 'slow down', Message: 'slow down', $metadata: {} }));
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: slowPolicy }));
    await fireRestart(h.deps, { key: 'web-0_default_uid-1_app_', restartCount: 1 });
    h.clock.set(T0 + 1_000);
    const decision = await handleExit(h.deps, exitOf(T0 + 1_000, { backoffPolicy: slowPolicy }));
    expect(decision).toMatchObject({ decision: 'RestartScheduled', restartAt: T0 + 301_000 });
    expect(h.metrics).toContainEqual({ name: 'TimerFailures', value: 1 });

    // Before its instant plus the grace period, the restart is not even read.
    h.clock.set(T0 + 301_000 + h.deps.config.recoveryGraceMs - 1);
    expect(await sync(h.deps)).toMatchObject({ overdue: 0, recovered: 0, itemsRead: 0 });
    const second = () => h.restartRequests().filter((r) => r.restartCount === 2);
    expect(second()).toHaveLength(0);

    h.clock.set(T0 + 301_000 + h.deps.config.recoveryGraceMs);
    expect(await sync(h.deps)).toMatchObject({ overdue: 1, recovered: 1, itemsRead: 1 });
    expect(second()).toEqual([expect.objectContaining({ restartCount: 2, recovered: true })]);
    expect(h.records.at(-1)).toMatchObject({ type: 'RestartRecovered', restartCount: 2, latenessMs: h.deps.config.recoveryGraceMs });

    h.clock.advance(60_000);
    expect(await sync(h.deps)).toMatchObject({ overdue: 0, recovered: 0, itemsRead: 0 });
    expect(second()).toHaveLength(1);
  });

  it('recovers an immediate restart whose publish failed and whose hand-over to the fine stage failed too', async () => {
    h.eventBridge.on(PutEventsCommand).rejectsOnce(new Error('EventBridge unavailable')).resolves({ FailedEntryCount: 0, Entries: [] });
    h.sqs.on(SendMessageCommand).rejects(new Error('SQS unavailable'));
    const decision = await handleExit(h.deps, exitOf(T0));
    expect(decision.decision).toBe('RestartNow');
    expect((await h.store.get(decision.key))?.value.restart).toEqual({ restartCount: 1, restartAt: T0, status: 'waiting' });
    h.clock.set(T0 + h.deps.config.recoveryGraceMs);
    expect(await sync(h.deps)).toMatchObject({ recovered: 1 });
    expect(h.restartRequests()).toEqual([expect.objectContaining({ restartCount: 1, recovered: true })]);
  });

  it('takes over a claim whose claimer died, once the claim and the grace period have both run out', async () => {
    const claimedAt = T0 + 10_000;
    await h.store.put(pending(h, 'claimed', T0, { restart: { restartCount: 3, restartAt: T0, status: 'dispatching', claimedAt } }), undefined);
    h.clock.set(Math.max(T0 + h.deps.config.recoveryGraceMs, claimedAt + h.deps.config.dispatchLeaseMs) - 1);
    expect(await sync(h.deps)).toMatchObject({ recovered: 0 });
    h.clock.advance(1);
    expect(await sync(h.deps)).toMatchObject({ overdue: 1, recovered: 1 });
    expect(h.restartRequests()).toEqual([expect.objectContaining({ key: 'claimed_default__app_', restartCount: 3, recovered: true })]);
  });

  it('does not touch a restart its timer already dispatched', async () => {
    const key = await crashLoop('web-0');
    h.clock.set(T0 + 11_000);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    h.clock.set(T0 + 11_000 + h.deps.config.recoveryGraceMs * 2);
    expect(await sync(h.deps)).toMatchObject({ overdue: 0, recovered: 0, itemsRead: 0 });
    expect(h.restartRequests().filter((r) => r.restartCount === 2)).toHaveLength(1);
  });

  it('deletes expired entries and keeps live ones', async () => {
    await crashLoop('web-0');
    h.clock.set(T0 + 11_000);
    await fireRestart(h.deps, { key: 'web-0_default_uid-1_app_', restartCount: 2 });
    h.clock.set(T0 + 20_000);
    await handleExit(h.deps, exitOf(T0 + 20_000, { pod: 'web-1', restartPolicy: 'Never' }));
    const expiry = (key: string) => h.store.get(key).then((found) => h.store.expiresAtMs(found!.value));
    const expiresAt = await expiry('web-0_default_uid-1_app_');
    h.clock.set(expiresAt + 1_000);
    expect(await h.store.get('web-0_default_uid-1_app_')).toBeUndefined();
    const report = await sync(h.deps);
    expect(report).toMatchObject({ collected: 1, itemsRead: 1 });
    expect(await h.rawItem('web-0_default_uid-1_app_')).toBeUndefined();
    expect(await h.rawItem('web-1_default_uid-1_app_')).toBeDefined();
  });

  it('starts no page once told to stop, and leaves the rest for the next run', async () => {
    await putAll(h, [pending(h, 'late-0', T0), pending(h, 'late-1', T0)]);
    h.clock.set(T0 + h.deps.config.recoveryGraceMs);
    expect(await sync(h.deps, { shouldStop: () => true })).toMatchObject({ stoppedEarly: true, itemsRead: 0, recovered: 0 });
    expect(await sync(h.deps)).toMatchObject({ stoppedEarly: false, recovered: 2 });
  });
});

describe('sync at scale: what it reads follows what is overdue, not what waits', () => {
  it.each([0, 400])('reads the 6 overdue restarts and nothing of %i waiting ones', async (waiting) => {
    const h = await createHarness({ shards: 4 });
    try {
      const grace = h.deps.config.recoveryGraceMs;
      await putAll(h, [
        ...Array.from({ length: waiting }, (_, index) => pending(h, `waiting-${index}`, T0 + grace + 60_000 + index)),
        ...Array.from({ length: 6 }, (_, index) => pending(h, `overdue-${index}`, T0 - index)),
      ]);
      h.clock.set(T0 + grace);
      h.dynamoCalls.reset();
      const report = await sync(h.deps);
      expect(report).toMatchObject({ overdue: 6, recovered: 6, itemsRead: 6, failures: 0, failedShards: [] });
      expect(h.restartRequests().map((request) => request.pod).sort()).toEqual(Array.from({ length: 6 }, (_, index) => `overdue-${index}`));
      // Per overdue restart: one consistent read (the sync judges on it and the dispatch decides on it), the claim, the mark. The rest are the range queries.
      const calls = h.dynamoCalls.calls;
      expect(calls.filter((call) => call === 'Query')).toHaveLength(3 * h.store.shards);
      expect(calls.filter((call) => call !== 'Query').sort()).toEqual([...Array(6).fill('GetItem'), ...Array(12).fill('PutItem')]);
    } finally {
      await h.close();
    }
  });

  it('holds at most a page per shard at once: each page is handled before the next is read', async () => {
    const pageSize = 5;
    const h = await createHarness({ shards: 2, pageSize });
    try {
      const overdue = Array.from({ length: 40 }, (_, index) => pending(h, `overdue-${index}`, T0 - index));
      await putAll(h, overdue);
      // Items the store has handed out whose restart is not yet marked dispatched.
      const held = new Set<string>();
      let mostHeld = 0;
      const handedBefore = new Map<number, string[]>();
      const unhandledAtNextPage: string[] = [];
      const store = storeWith(h.store, {
        listWaiting: async (shard, options) => {
          unhandledAtNextPage.push(...(handedBefore.get(shard) ?? []).filter((key) => held.has(key)));
          const page: IndexPage<string> = await h.store.listWaiting(shard, options);
          for (const key of page.items) held.add(key);
          handedBefore.set(shard, [...page.items]);
          mostHeld = Math.max(mostHeld, held.size);
          return page;
        },
        put: async (state, version) => {
          const result = await h.store.put(state, version);
          if (result.written && state.restart?.status === 'dispatched') held.delete(state.key);
          return result;
        },
      });
      h.clock.set(T0 + h.deps.config.recoveryGraceMs);
      const report = await sync({ ...h.deps, store });
      expect(report).toMatchObject({ overdue: 40, recovered: 40, failures: 0 });
      expect(unhandledAtNextPage).toEqual([]);
      expect(mostHeld).toBeGreaterThan(0);
      expect(mostHeld).toBeLessThanOrEqual(h.store.shards * pageSize);
    } finally {
      await h.close();
    }
  });

  it('retries a failing shard, reports it when it keeps failing, and recovers every other shard’s restarts', async () => {
    const h = await createHarness({ shards: 4 });
    try {
      const overdue = Array.from({ length: 20 }, (_, index) => pending(h, `overdue-${index}`, T0 - index));
      await putAll(h, overdue);
      const broken = h.store.shardOf(overdue[0]!.key);
      let attempts = 0;
      const store = storeWith(h.store, {
        listWaiting: async (shard, options) => {
          if (shard !== broken) return h.store.listWaiting(shard, options);
          attempts++;
          throw Object.assign(new Error('Throughput exceeds the current capacity of your table or index'), { name: 'ProvisionedThroughputExceededException' });
        },
      });
      h.clock.set(T0 + h.deps.config.recoveryGraceMs);
      const report = await sync({ ...h.deps, store });
      const elsewhere = overdue.filter((state) => h.store.shardOf(state.key) !== broken);
      expect(attempts).toBe(SHARD_READ_ATTEMPTS);
      expect(report.failedShards).toEqual([{ shard: broken, pass: 'overdue', error: 'ProvisionedThroughputExceededException: Throughput exceeds the current capacity of your table or index' }]);
      expect(report).toMatchObject({ recovered: elsewhere.length, overdue: elsewhere.length });
      expect(elsewhere.length).toBeGreaterThan(0);
      expect(h.restartRequests().map((request) => request.pod).sort()).toEqual(elsewhere.map((state) => state.pod).sort());
      expect(h.errors.map((error) => error.message)).toContain('a sync shard failed after retries; the next sync retries it');

      // The next run, with the shard back, recovers the rest.
      const next = await sync(h.deps);
      expect(next).toMatchObject({ recovered: overdue.length - elsewhere.length, failedShards: [] });
    } finally {
      await h.close();
    }
  });

  it('gets through a shard that fails once: the page read is retried in the same run', async () => {
    const h = await createHarness({ shards: 2 });
    try {
      await putAll(h, Array.from({ length: 6 }, (_, index) => pending(h, `overdue-${index}`, T0 - index)));
      let failed = 0;
      const store = storeWith(h.store, {
        listWaiting: async (shard, options) => {
          if (shard === 0 && failed++ === 0) throw new Error('connection reset');
          return h.store.listWaiting(shard, options);
        },
      });
      h.clock.set(T0 + h.deps.config.recoveryGraceMs);
      expect(await sync({ ...h.deps, store })).toMatchObject({ recovered: 6, failedShards: [] });
    } finally {
      await h.close();
    }
  });

  it('collects expired entries a page at a time, at most gcBatchSize per shard per run', async () => {
    const h = await createHarness({ shards: 1, pageSize: 4, config: { gcBatchSize: 10 } });
    try {
      await putAll(h, Array.from({ length: 25 }, (_, index) => ({ ...pending(h, `old-${index}`, T0), state: 'Running' as const, restart: { restartCount: 3, restartAt: T0, status: 'dispatched' as const } })));
      h.clock.set(h.store.expiresAtMs(pending(h, 'old-0', T0)) + 1_000);
      expect(await sync(h.deps)).toMatchObject({ collected: 10, itemsRead: 10 });
      expect(await sync(h.deps)).toMatchObject({ collected: 10 });
      expect(await sync(h.deps)).toMatchObject({ collected: 5 });
      expect(await h.dump()).toEqual([]);
    } finally {
      await h.close();
    }
  });
});

describe('sync: BackOff repeats (Kubernetes event correlation)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness({ config: { backOffEventIntervalMs: 300_000 } });
  });
  afterEach(async () => {
    await h.close();
  });

  const backOffs = () => h.records.filter((record) => record.type === 'BackOff');
  const crashLoopMessages = () =>
    h.eventBridge
      .commandCalls(PutEventsCommand)
      .flatMap((call) => call.args[0].input.Entries ?? [])
      .filter((entry) => entry.DetailType === 'Container CrashLoopBackOff')
      .map((entry) => JSON.parse(entry.Detail!) as Record<string, unknown>);

  it('records a wait once when it starts and repeats it at most once per interval, with count, firstTimestamp and lastTimestamp', async () => {
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: hourly }));
    await fireRestart(h.deps, { key: 'web-0_default_uid-1_app_', restartCount: 1 });
    const enteredAt = T0 + 1_000;
    h.clock.set(enteredAt);
    const decision = await handleExit(h.deps, exitOf(enteredAt, { backoffPolicy: hourly }));
    expect(decision).toMatchObject({ decision: 'RestartScheduled', restartAt: enteredAt + 3_600_000 });
    expect(backOffs().map((record) => record.count)).toEqual([1]);
    expect(crashLoopMessages().map((message) => message.count)).toEqual([1]);

    // Syncs every minute: a repeat at +5 min and +10 min, none in between, none twice.
    const reports = [];
    for (let minute = 1; minute <= 11; minute++) {
      h.clock.set(enteredAt + minute * 60_000);
      reports.push(await sync(h.deps));
    }
    expect(reports.map((report) => report.backOffRepeats)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    // Each repeat read one index entry; the other runs read nothing.
    expect(reports.map((report) => report.itemsRead)).toEqual([0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0]);
    expect(backOffs().map((record) => [record.count, record.firstTimestamp, record.lastTimestamp])).toEqual([
      [1, new Date(enteredAt).toISOString(), new Date(enteredAt).toISOString()],
      [2, new Date(enteredAt).toISOString(), new Date(enteredAt + 300_000).toISOString()],
      [3, new Date(enteredAt).toISOString(), new Date(enteredAt + 600_000).toISOString()],
    ]);
    expect(backOffs().every((record) => record.message === 'Back-off 1h0m0s restarting failed container=app pod=web-0_default(uid-1)')).toBe(true);
    expect(crashLoopMessages().map((message) => [message.count, message.lastTimestamp])).toEqual([
      [1, new Date(enteredAt).toISOString()],
      [2, new Date(enteredAt + 300_000).toISOString()],
      [3, new Date(enteredAt + 600_000).toISOString()],
    ]);
  });

  it('spaces the next repeat from a late one, and stops repeating once the restart is dispatched', async () => {
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: hourly }));
    await fireRestart(h.deps, { key: 'web-0_default_uid-1_app_', restartCount: 1 });
    h.clock.set(T0 + 1_000);
    const { key, restartAt } = await handleExit(h.deps, exitOf(T0 + 1_000, { backoffPolicy: hourly }));
    // The sync was down for 12 minutes: one repeat, not two.
    h.clock.set(T0 + 1_000 + 12 * 60_000);
    expect(await sync(h.deps)).toMatchObject({ backOffRepeats: 1 });
    h.clock.advance(299_999);
    expect(await sync(h.deps)).toMatchObject({ backOffRepeats: 0 });
    h.clock.advance(1);
    expect(await sync(h.deps)).toMatchObject({ backOffRepeats: 1 });
    expect(backOffs().map((record) => record.count)).toEqual([1, 2, 3]);

    h.clock.set(restartAt!);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    h.clock.advance(3_600_000);
    expect(await sync(h.deps)).toMatchObject({ backOffRepeats: 0, itemsRead: 0 });
    expect(backOffs()).toHaveLength(3);
  });

  it('makes no repeat at all with kubelet’s policy: no wait outlasts the 5-minute interval', async () => {
    await crashLoopTo(h, 8);
    for (let minute = 1; minute <= 10; minute++) {
      h.clock.advance(60_000);
      expect(await sync(h.deps)).toMatchObject({ backOffRepeats: 0 });
    }
  });

  it('records a repeat once when two syncs run at the same time', async () => {
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: hourly }));
    await fireRestart(h.deps, { key: 'web-0_default_uid-1_app_', restartCount: 1 });
    h.clock.set(T0 + 1_000);
    await handleExit(h.deps, exitOf(T0 + 1_000, { backoffPolicy: hourly }));
    h.clock.advance(300_000);
    const reports = await Promise.all([sync(h.deps), sync(h.deps)]);
    expect(reports.map((report) => report.backOffRepeats).sort()).toEqual([0, 1]);
    expect(backOffs().map((record) => record.count)).toEqual([1, 2]);
  });
});

/** Drives web-0 through `exits` crashes under kubelet's policy, each right after its restart. */
async function crashLoopTo(h: Harness, exits: number): Promise<void> {
  let now = T0;
  for (let index = 0; index < exits; index++) {
    h.clock.set(now);
    const decision = await handleExit(h.deps, exitOf(now, { exitId: `exit-${index}` }));
    if (index === exits - 1) return;
    h.clock.set(decision.restartAt!);
    await fireRestart(h.deps, { key: decision.key, restartCount: decision.restartCount });
    now = decision.restartAt! + 1;
  }
}
