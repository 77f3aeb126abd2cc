import { CreateScheduleCommand, ServiceQuotaExceededException } from '@aws-sdk/client-scheduler';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { containerKey, resolveBackoffPolicy } from '../../lib/core/index.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { createHarness, exitOf, SCHEDULER_SETTINGS, T0, type Harness } from '../support/pipeline.ts';

/** Five minutes from the first crash: every restart after the first is a schedule. */
const slowPolicy = resolveBackoffPolicy({ initial: '5m', max: '5m' });

describe('handleExit', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it('restarts a first exit now in the same handling: the decision is written claimed, then published and marked, with no timer', async () => {
    const decision = await handleExit(h.deps, exitOf(T0));
    expect(decision).toMatchObject({ decision: 'RestartNow', restartAt: T0, delayMs: 0, restartCount: 1, backoffMs: 10_000, state: 'Running' });
    expect(h.restartRequests()).toEqual([
      { restartId: decision.restartId, key: decision.key, namespace: 'default', pod: 'web-0', podUid: 'uid-1', container: 'app', containerHash: null, restartCount: 1, restartAt: new Date(T0).toISOString(), firedAt: new Date(T0).toISOString(), recovered: false, target: 'bus' },
    ]);
    expect(h.sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(h.scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
    expect((await h.store.get(decision.key))?.value).toMatchObject({ state: 'Running', restart: { restartCount: 1, status: 'dispatched', claimedAt: T0, dispatchedAt: T0 } });
    expect(h.records.map((record) => record.type)).toEqual(['Exited', 'Restarted']);
  });

  it('hands an immediate restart to the fine stage when publishing it fails, with its claim released', async () => {
    h.eventBridge.on(PutEventsCommand).rejectsOnce(new Error('EventBridge unavailable')).resolves({ FailedEntryCount: 0, Entries: [] });
    const decision = await handleExit(h.deps, exitOf(T0));
    expect(decision.decision).toBe('RestartNow');
    expect((await h.store.get(decision.key))?.value.restart).toEqual({ restartCount: 1, restartAt: T0, status: 'waiting' });
    expect(h.sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toEqual([
      { QueueUrl: SCHEDULER_SETTINGS.queueUrl, MessageBody: JSON.stringify({ key: decision.key, restartCount: 1, restartAt: T0 }), DelaySeconds: 0 },
    ]);
    expect(h.errors[0]?.message).toMatch(/publishing an immediate restart failed; handing it to the timer/);
  });

  it('sends a restart due within two minutes to the fine stage, delay rounded up to whole seconds', async () => {
    await handleExit(h.deps, exitOf(T0));
    h.clock.set(T0 + 1_500);
    const decision = await handleExit(h.deps, exitOf(T0 + 1_500));
    expect(decision).toMatchObject({ decision: 'RestartScheduled', restartAt: T0 + 11_500, delayMs: 10_000, restartCount: 2, backoffMs: 20_000, state: 'CrashLoopBackOff' });
    expect(decision.message).toBe('back-off 10s restarting failed container=app pod=web-0_default(uid-1)');
    expect(h.sqs.commandCalls(SendMessageCommand)[0]?.args[0].input).toEqual({
      QueueUrl: SCHEDULER_SETTINGS.queueUrl,
      MessageBody: JSON.stringify({ key: decision.key, restartCount: 2, restartAt: T0 + 11_500 }),
      DelaySeconds: 10,
    });
  });

  it('arms a one-time at() schedule a minute ahead for a restart due later', async () => {
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: slowPolicy }));
    h.clock.set(T0 + 30_000);
    const decision = await handleExit(h.deps, exitOf(T0 + 30_000, { backoffPolicy: slowPolicy }));
    expect(decision).toMatchObject({ decision: 'RestartScheduled', restartAt: T0 + 330_000, delayMs: 300_000 });
    const calls = h.scheduler.commandCalls(CreateScheduleCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]!.args[0].input;
    expect(input).toEqual({
      Name: expect.stringMatching(/^restart-[0-9a-f]{40}-2$/),
      GroupName: SCHEDULER_SETTINGS.groupName,
      // 12:05:30 due; the schedule fires in the minute starting at least 60 s before: 12:04.
      ScheduleExpression: 'at(2026-01-01T12:04:00)',
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      ClientToken: input.Name,
      Description: `restart 2 of ${decision.key}`,
      Target: {
        Arn: SCHEDULER_SETTINGS.targetArn,
        RoleArn: SCHEDULER_SETTINGS.roleArn,
        Input: JSON.stringify({ key: decision.key, restartCount: 2, restartAt: T0 + 330_000 }),
        RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: SCHEDULER_SETTINGS.deadLetterArn },
      },
    });
    expect(input.Name!.length).toBeLessThanOrEqual(64);
  });

  it('rounds the at() instant up to the minute with minute precision, so it is never early', async () => {
    const minute = await createHarness({ config: { precision: 'minute' } });
    try {
      await handleExit(minute.deps, exitOf(T0, { backoffPolicy: slowPolicy }));
      minute.clock.set(T0 + 1_500);
      await handleExit(minute.deps, exitOf(T0 + 1_500, { backoffPolicy: slowPolicy }));
      // Due 12:05:01.5 → at(12:06:00), which Scheduler fires between 12:06:00 and 12:06:59.
      expect(minute.scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input.ScheduleExpression).toBe('at(2026-01-01T12:06:00)');
    } finally {
      await minute.close();
    }
  });

  it('sends a restart due within two minutes to the fine stage with minute precision too', async () => {
    const minute = await createHarness({ config: { precision: 'minute' } });
    try {
      await handleExit(minute.deps, exitOf(T0));
      minute.clock.set(T0 + 1_500);
      minute.resetAwsCalls();
      await handleExit(minute.deps, exitOf(T0 + 1_500));
      // Due 12:00:11.5: 10 s from now, rounded up to whole seconds (and the wait's BackOff on the bus).
      expect(minute.awsCalls().sort()).toEqual(['PutEvents', 'SendMessage']);
      expect(minute.sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.DelaySeconds).toBe(10);
    } finally {
      await minute.close();
    }
  });

  it('counts an existing schedule (ConflictException) as already armed', async () => {
    h.scheduler.on(CreateScheduleCommand).rejects(new (await import('@aws-sdk/client-scheduler')).ConflictException({ message: 'exists', Message: 'exists', $metadata: {} }));
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: slowPolicy }));
    h.clock.set(T0 + 1_000);
    await handleExit(h.deps, exitOf(T0 + 1_000, { backoffPolicy: slowPolicy }));
    expect(h.metrics.filter((m) => m.name === 'TimerFailures')).toHaveLength(0);
    expect(h.errors).toEqual([]);
  });

  it.each([
    // One read, the decision written already claimed, the publish, then the mark.
    ['a restart now', exitOf(T0), ['GetItem', 'PutItem', 'PutItem'], ['PutEvents']],
    ['no restart (restartPolicy Never)', exitOf(T0, { restartPolicy: 'Never' }), ['GetItem', 'PutItem'], ['PutEvents']],
  ])('makes exactly the hot-path calls of DESIGN §3 for %s', async (_label, exit, dynamoCalls, awsCalls) => {
    h.dynamoCalls.reset();
    await handleExit(h.deps, exit);
    expect(h.dynamoCalls.calls).toEqual(dynamoCalls);
    expect(h.awsCalls()).toEqual(awsCalls);
  });

  it('makes exactly one GetItem, one PutItem, one CreateSchedule and, beside it, the wait’s one Container CrashLoopBackOff for a restart due later', async () => {
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: slowPolicy }));
    h.clock.set(T0 + 1_000);
    h.dynamoCalls.reset();
    h.resetAwsCalls();
    await handleExit(h.deps, exitOf(T0 + 1_000, { backoffPolicy: slowPolicy }));
    expect(h.dynamoCalls.calls).toEqual(['GetItem', 'PutItem']);
    expect(h.awsCalls().sort()).toEqual(['CreateSchedule', 'PutEvents']);
    const entries = h.eventBridge.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
    expect(entries.map((entry) => entry.DetailType)).toEqual(['Container CrashLoopBackOff']);
    expect(JSON.parse(entries[0]!.Detail!)).toEqual({
      key: 'web-0_default_uid-1_app_',
      namespace: 'default',
      pod: 'web-0',
      podUid: 'uid-1',
      container: 'app',
      restartCount: 2,
      restartAt: new Date(T0 + 301_000).toISOString(),
      count: 1,
      firstTimestamp: new Date(T0 + 1_000).toISOString(),
      lastTimestamp: new Date(T0 + 1_000).toISOString(),
      message: 'Back-off 5m0s restarting failed container=app pod=web-0_default(uid-1)',
    });
  });

  it('arms the timer even when the wait’s BackOff cannot be published, and says so', async () => {
    await handleExit(h.deps, exitOf(T0, { backoffPolicy: slowPolicy }));
    h.clock.set(T0 + 1_000);
    h.resetAwsCalls();
    h.eventBridge.on(PutEventsCommand).rejects(new Error('EventBridge unavailable'));
    const decision = await handleExit(h.deps, exitOf(T0 + 1_000, { backoffPolicy: slowPolicy }));
    expect(decision.decision).toBe('RestartScheduled');
    expect(h.scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(1);
    expect(h.errors.map((error) => error.message)).toEqual(['publishing Container CrashLoopBackOff failed']);
    expect(h.records.filter((record) => record.type === 'BackOff')).toHaveLength(1);
  });

  it('makes one GetItem and nothing else for a duplicate', async () => {
    await handleExit(h.deps, exitOf(T0));
    h.dynamoCalls.reset();
    h.resetAwsCalls();
    const decision = await handleExit(h.deps, exitOf(T0));
    expect(decision.decision).toBe('Duplicate');
    expect(h.dynamoCalls.calls).toEqual(['GetItem']);
    expect(h.awsCalls()).toEqual([]);
  });

  it('announces a container that will not restart on the bus as Container Terminated', async () => {
    const decision = await handleExit(h.deps, exitOf(T0, { exitCode: 0, restartPolicy: 'OnFailure' }));
    expect(decision).toMatchObject({ decision: 'NoRestart', state: 'Terminated', reason: 'Completed', restartAt: null });
    expect(h.eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input)).toEqual([
      {
        Entries: [
          {
            EventBusName: SCHEDULER_SETTINGS.eventBusName,
            Source: 'restart-scheduler',
            DetailType: 'Container Terminated',
            Detail: JSON.stringify({
              key: decision.key,
              namespace: 'default',
              pod: 'web-0',
              podUid: 'uid-1',
              container: 'app',
              exitCode: 0,
              reason: 'Completed',
              restartCount: 0,
              message: decision.message,
            }),
          },
        ],
      },
    ]);
  });

  it('answers Stale for an exit older than the stored one and leaves the item unchanged', async () => {
    await handleExit(h.deps, exitOf(T0));
    h.clock.set(T0 + 5_000);
    await handleExit(h.deps, exitOf(T0 + 5_000));
    const key = containerKey(exitOf(T0));
    const before = await h.rawItem(key);
    h.dynamoCalls.reset();
    h.resetAwsCalls();
    const decision = await handleExit(h.deps, exitOf(T0 + 2_000, { exitId: 'late-report' }));
    expect(decision).toMatchObject({ decision: 'Stale', restartCount: 2, restartAt: T0 + 15_000 });
    expect(h.dynamoCalls.calls).toEqual(['GetItem']);
    expect(h.awsCalls()).toEqual([]);
    expect(await h.rawItem(key)).toEqual(before);
  });

  it('takes exactly one decision from 50 concurrent identical exits; the other 49 answer Duplicate', async () => {
    const decisions = await Promise.all(Array.from({ length: 50 }, () => handleExit(h.deps, exitOf(T0, { exitId: 'exit-1' }))));
    const advancing = decisions.filter((d) => d.decision !== 'Duplicate');
    expect(advancing).toHaveLength(1);
    expect(advancing[0]).toMatchObject({ decision: 'RestartNow', restartCount: 1 });
    expect(decisions.filter((d) => d.decision === 'Duplicate')).toHaveLength(49);
    expect(decisions.every((d) => d.restartCount === 1)).toBe(true);
    expect(h.restartRequests()).toHaveLength(1);
    expect(h.sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    expect(h.scheduler.commandCalls(CreateScheduleCommand)).toHaveLength(0);
    expect((await h.store.get(advancing[0]!.key))?.value.restartCount).toBe(1);
    expect(h.metrics.filter((m) => m.name === 'WriteConflicts').length).toBeGreaterThan(0);
  });

  it('stores every one of 200 concurrent exits of 200 containers', async () => {
    const exits = Array.from({ length: 200 }, (_, index) => exitOf(T0, { pod: `pod-${index}` }));
    const decisions = await Promise.all(exits.map((exit) => handleExit(h.deps, exit)));
    expect(decisions.every((d) => d.decision === 'RestartNow')).toBe(true);
    const page = await h.store.list({ limit: 1_000 });
    expect(page.items).toHaveLength(200);
    expect(new Set(page.items.map((item) => item.key))).toEqual(new Set(exits.map(containerKey)));
    expect(new Set(h.restartRequests().map((request) => request.key))).toEqual(new Set(exits.map(containerKey)));
    expect(h.restartRequests()).toHaveLength(200);
  });

  it('keeps the decision when arming the timer fails, and reports the failure', async () => {
    await handleExit(h.deps, exitOf(T0));
    h.sqs.on(SendMessageCommand).rejects(new ServiceQuotaExceededException({ message: 'quota', Message: 'quota', $metadata: {} }));
    h.clock.set(T0 + 1_000);
    const decision = await handleExit(h.deps, exitOf(T0 + 1_000));
    expect(decision.decision).toBe('RestartScheduled');
    expect((await h.store.get(decision.key))?.value.restart).toEqual({ restartCount: 2, restartAt: T0 + 11_000, status: 'waiting' });
    expect(h.metrics).toContainEqual({ name: 'TimerFailures', value: 1 });
    expect(h.errors[0]?.message).toMatch(/sync will recover/);
  });

  it('logs one event record per state change with the record schema', async () => {
    await handleExit(h.deps, exitOf(T0));
    h.clock.set(T0 + 1_000);
    await handleExit(h.deps, exitOf(T0 + 1_000));
    expect(h.records.map((r) => r.type)).toEqual(['Exited', 'Restarted', 'Exited', 'RestartScheduled', 'BackOff']);
    expect(h.records[4]).toMatchObject({ schema: 'restart-scheduler.event/v1', type: 'BackOff', count: 1, restartCount: 2 });
    expect(h.records[3]).toMatchObject({
      schema: 'restart-scheduler.event/v1',
      key: 'web-0_default_uid-1_app_',
      restartCount: 2,
      delayMs: 10_000,
      backoffMs: 20_000,
      restartAt: new Date(T0 + 11_000).toISOString(),
      message: 'Back-off 10s restarting failed container=app pod=web-0_default(uid-1)',
    });
    expect(h.metrics.filter((m) => m.name === 'ExitsReceived')).toHaveLength(2);
    expect(h.metrics.filter((m) => m.name === 'RestartsScheduled')).toHaveLength(1);
  });
});
