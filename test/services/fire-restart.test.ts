import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fireRestart } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { createHarness, exitOf, SCHEDULER_SETTINGS, T0, type Harness } from '../support/pipeline.ts';

describe('fireRestart', () => {
  let h: Harness;
  /** Two crashes: restart 2 of web-0/app is due at T0 + 11 s. */
  let key: string;
  const dueAt = T0 + 11_000;

  beforeEach(async () => {
    h = await createHarness();
    await handleExit(h.deps, exitOf(T0));
    h.clock.set(T0 + 1_000);
    key = (await handleExit(h.deps, exitOf(T0 + 1_000))).key;
    h.resetAwsCalls();
  });
  afterEach(async () => {
    await h.close();
  });

  it('dispatches at the instant and publishes Container Restart Requested', async () => {
    h.clock.set(dueAt);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(h.eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input)).toEqual([
      {
        Entries: [
          {
            EventBusName: SCHEDULER_SETTINGS.eventBusName,
            Source: 'restart-scheduler',
            DetailType: 'Container Restart Requested',
            Detail: JSON.stringify({
              restartId: `${key}#${T0}.2`,
              key,
              namespace: 'default',
              pod: 'web-0',
              podUid: 'uid-1',
              container: 'app',
              restartCount: 2,
              restartAt: new Date(dueAt).toISOString(),
              firedAt: new Date(dueAt).toISOString(),
              recovered: false,
            }),
          },
        ],
      },
    ]);
    const stored = (await h.store.get(key))!.value;
    expect(stored).toMatchObject({ state: 'Running', restart: { restartCount: 2, status: 'dispatched', dispatchedAt: dueAt } });
    expect(stored.reason).toBeUndefined();
    expect(h.records.at(-1)).toMatchObject({ type: 'Restarted', restartCount: 2, latenessMs: 0 });
  });

  it('dispatches each restart once when the callback arrives twice', async () => {
    h.clock.set(dueAt + 100);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('AlreadyDispatched');
    expect(h.restartRequests()).toHaveLength(1);
  });

  it('dispatches once when ten callbacks race', async () => {
    h.clock.set(dueAt);
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => fireRestart(h.deps, { key, restartCount: 2 })));
    expect(outcomes.filter((o) => o === 'Dispatched')).toHaveLength(1);
    expect(outcomes.every((o) => ['Dispatched', 'AlreadyDispatched', 'InFlight'].includes(o))).toBe(true);
    expect(h.restartRequests()).toHaveLength(1);
  });

  it('hands an early callback to the fine stage and does not dispatch before restartAt', async () => {
    h.clock.set(dueAt - 2_300);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Deferred');
    expect(h.restartRequests()).toHaveLength(0);
    expect(h.sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toEqual([
      { QueueUrl: SCHEDULER_SETTINGS.queueUrl, MessageBody: JSON.stringify({ key, restartCount: 2, restartAt: dueAt }), DelaySeconds: 3 },
    ]);
    h.clock.set(dueAt - 1);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Deferred');
    expect(h.restartRequests()).toHaveLength(0);
    h.clock.set(dueAt);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
  });

  it.each([
    ['a restart count already superseded', 1],
    ['a restart count never decided', 3],
  ])('ignores a callback for %s', async (_label, restartCount) => {
    h.clock.set(dueAt);
    expect(await fireRestart(h.deps, { key, restartCount })).toBe('Stale');
    expect(h.restartRequests()).toHaveLength(0);
  });

  it('ignores the callback of a restart superseded by a newer exit', async () => {
    h.clock.set(T0 + 5_000);
    await handleExit(h.deps, exitOf(T0 + 5_000));
    h.clock.set(dueAt);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Stale');
  });

  it('ignores the callback of a container whose entry was reset', async () => {
    await h.store.delete(key);
    h.clock.set(dueAt);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Stale');
  });

  it('releases its claim when publishing fails, so a retried callback dispatches once', async () => {
    h.eventBridge.on(PutEventsCommand).rejectsOnce(new Error('EventBridge unavailable')).resolves({ FailedEntryCount: 0, Entries: [] });
    h.clock.set(dueAt);
    await expect(fireRestart(h.deps, { key, restartCount: 2 })).rejects.toThrow('EventBridge unavailable');
    expect((await h.store.get(key))?.value.restart?.status).toBe('waiting');
    h.clock.set(dueAt + 1_000);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(h.restartRequests()).toHaveLength(1);
  });

  it('retries entries PutEvents reports as failed before giving up', async () => {
    h.eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e' }] });
    h.clock.set(dueAt);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(h.eventBridge.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  it('leaves a live claim alone and lets the sync take over an expired one', async () => {
    const stored = (await h.store.get(key))!;
    const claimedAt = dueAt;
    await h.store.put({ ...stored.value, restart: { ...stored.value.restart!, status: 'dispatching', claimedAt } }, stored.version);
    h.clock.set(claimedAt + h.deps.config.dispatchLeaseMs - 1);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('InFlight');
    h.clock.set(claimedAt + h.deps.config.dispatchLeaseMs);
    expect(await fireRestart(h.deps, { key, restartCount: 2 }, { recovered: true })).toBe('Recovered');
    expect(h.restartRequests()).toEqual([expect.objectContaining({ restartCount: 2, recovered: true })]);
    expect(h.records.at(-1)).toMatchObject({ type: 'RestartRecovered', latenessMs: h.deps.config.dispatchLeaseMs });
  });

  it('gives a restart after a reset its own id, so consumers deduplicating on it still see it', async () => {
    h.clock.set(dueAt);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(await h.store.delete(key)).toBe(true);
    // A new life of the same container: its restart counts start at 1 again.
    h.clock.set(dueAt + 1_000);
    const first = await handleExit(h.deps, exitOf(dueAt + 1_000));
    expect(first).toMatchObject({ decision: 'RestartNow', restartCount: 1 });
    // Due at once, it went out with the exit's own handling.
    expect(await fireRestart(h.deps, { key, restartCount: 1 })).toBe('AlreadyDispatched');
    const ids = h.restartRequests().map((request) => request.restartId);
    expect(ids).toEqual([`${key}#${T0}.2`, `${key}#${dueAt + 1_000}.1`]);
    expect(first.restartId).toBe(ids[1]);
  });
});
