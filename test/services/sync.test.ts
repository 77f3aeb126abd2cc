import { CreateScheduleCommand, ThrottlingException } from '@aws-sdk/client-scheduler';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveBackoffPolicy, type ContainerState } from '../../lib/core/index.ts';
import { fireRestart } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { sync } from '../../lib/services/sync.ts';
import { createHarness, exitOf, T0, type Harness } from '../support/pipeline.ts';

const slowPolicy = resolveBackoffPolicy({ initial: '5m', max: '5m' });

describe('sync', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  /** Crashes `pod` twice so it waits in CrashLoopBackOff until T0 + 11 s. */
  async function crashLoop(pod: string): Promise<string> {
    h.clock.set(T0);
    await handleExit(h.deps, exitOf(T0, { pod }));
    await fireRestart(h.deps, { key: `${pod}_default_uid-1_app_`, restartCount: 1 });
    h.clock.set(T0 + 1_000);
    return (await handleExit(h.deps, exitOf(T0 + 1_000, { pod }))).key;
  }

  it('emits one BackOff event per waiting container per run, in kubelet wording', async () => {
    await crashLoop('web-0');
    await crashLoop('web-1');
    h.clock.set(T0 + 5_000);
    const before = h.records.length;
    const report = await sync(h.deps);
    expect(report).toMatchObject({ waiting: 2, inBackOff: 2, recovered: 0, collected: 0, failures: 0 });
    const backOff = h.records.slice(before);
    expect(backOff.map((r) => [r.type, r.pod])).toEqual(expect.arrayContaining([['BackOff', 'web-0'], ['BackOff', 'web-1']]));
    expect(backOff).toHaveLength(2);
    expect(backOff[0]).toMatchObject({ reason: 'CrashLoopBackOff', delayMs: 10_000, restartCount: 2, restartAt: new Date(T0 + 11_000).toISOString() });
    expect(backOff.map((r) => r.message).sort()).toEqual([
      'Back-off 10s restarting failed container=app pod=web-0_default(uid-1)',
      'Back-off 10s restarting failed container=app pod=web-1_default(uid-1)',
    ]);
    const entries = h.eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
    expect(entries.filter((entry) => entry.DetailType === 'Container CrashLoopBackOff')).toHaveLength(2);
    expect(h.metrics).toContainEqual({ name: 'ContainersInCrashLoopBackOff', value: 2 });
  });

  it('recovers a restart whose timer could not be armed, once, as RestartRecovered', async () => {
    h.scheduler.on(CreateScheduleCommand).rejects(new ThrottlingException({ message: 'slow down', Message: 'slow down', $metadata: {} }));
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: slowPolicy }));
    await fireRestart(h.deps, { key: 'web-0_default_uid-1_app_', restartCount: 1 });
    h.clock.set(T0 + 1_000);
    const decision = await handleExit(h.deps, exitOf(T0 + 1_000, { backoffPolicy: slowPolicy }));
    expect(decision).toMatchObject({ decision: 'RestartScheduled', restartAt: T0 + 301_000 });
    expect(h.metrics).toContainEqual({ name: 'TimerFailures', value: 1 });

    // Before its instant plus the grace period, the restart is only in back-off.
    h.clock.set(T0 + 301_000 + h.deps.config.recoveryGraceMs - 1);
    expect(await sync(h.deps)).toMatchObject({ recovered: 0, inBackOff: 1 });
    const second = () => h.restartRequests().filter((r) => r.restartCount === 2);
    expect(second()).toHaveLength(0);

    h.clock.set(T0 + 301_000 + h.deps.config.recoveryGraceMs);
    expect(await sync(h.deps)).toMatchObject({ recovered: 1, inBackOff: 0 });
    expect(second()).toEqual([expect.objectContaining({ restartCount: 2, recovered: true })]);
    expect(h.records.at(-1)).toMatchObject({ type: 'RestartRecovered', restartCount: 2, latenessMs: h.deps.config.recoveryGraceMs });

    h.clock.advance(60_000);
    expect(await sync(h.deps)).toMatchObject({ waiting: 0, recovered: 0 });
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

  it('does not touch a restart its timer already dispatched', async () => {
    const key = await crashLoop('web-0');
    h.clock.set(T0 + 11_000);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    h.clock.set(T0 + 11_000 + h.deps.config.recoveryGraceMs * 2);
    expect(await sync(h.deps)).toMatchObject({ waiting: 0, recovered: 0 });
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
    expect(report.collected).toBe(1);
    expect(await h.rawItem('web-0_default_uid-1_app_')).toBeUndefined();
    expect(await h.rawItem('web-1_default_uid-1_app_')).toBeDefined();
  });

  it('reads at most waiting + shards items with 10,000 idle entries and 10 waiting', async () => {
    const idle = (index: number): ContainerState => ({
      key: `idle-${index}_default__app_`,
      namespace: 'default',
      pod: `idle-${index}`,
      container: 'app',
      restartCount: 3,
      state: 'Running',
      recentExitIds: [],
      backoff: { backoffMs: 40_000, lastUpdate: T0 },
      restart: { restartCount: 3, restartAt: T0, status: 'dispatched', dispatchedAt: T0 },
      policy: h.deps.config.policy,
      createdAt: T0,
      updatedAt: T0,
    });
    for (let start = 0; start < 10_000; start += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, offset) => h.store.put(idle(start + offset), undefined)));
    }
    for (let index = 0; index < 10; index++) await crashLoop(`waiting-${index}`);
    h.clock.set(T0 + 5_000);
    h.dynamoCalls.reset();
    const report = await sync(h.deps);
    expect(report).toMatchObject({ waiting: 10, inBackOff: 10, recovered: 0, collected: 0 });
    expect(report.itemsRead).toBeLessThanOrEqual(10 + h.store.shards);
    expect(h.dynamoCalls.calls.every((name) => name === 'Query')).toBe(true);
    console.log(`sync over 10,010 entries (10 waiting): ${report.itemsRead} items read in ${h.dynamoCalls.calls.length} Query calls`);
    // Writing the 10,000 entries took about a minute on a loaded machine; the deadline only guards against a hang.
  }, 300_000);
});
