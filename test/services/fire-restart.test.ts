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
              containerHash: null,
              restartCount: 2,
              restartAt: new Date(dueAt).toISOString(),
              firedAt: new Date(dueAt).toISOString(),
              recovered: false,
              target: 'bus',
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

  /** Puts restart 2 in the state a claimer that died leaves behind: claimed at `claimedAt`, never published. */
  async function abandonClaim(claimedAt: number): Promise<void> {
    const stored = (await h.store.get(key))!;
    const written = await h.store.put({ ...stored.value, restart: { ...stored.value.restart!, status: 'dispatching', claimedAt } }, stored.version);
    expect(written.written).toBe(true);
  }

  /** The fine-stage messages sent since the last reset: when each becomes visible (SQS rounds DelaySeconds up). */
  function deferrals(sentAt: number): { visibleAt: number; restartAt: number }[] {
    return h.sqs.commandCalls(SendMessageCommand).map((call) => ({
      visibleAt: sentAt + (call.args[0].input.DelaySeconds ?? 0) * 1_000,
      restartAt: JSON.parse(call.args[0].input.MessageBody!).restartAt as number,
    }));
  }

  it('hands a callback that finds a live claim to the fine stage for the instant the claim expires', async () => {
    const claimedAt = dueAt;
    const expiresAt = claimedAt + h.deps.config.dispatchLeaseMs;
    await abandonClaim(claimedAt);
    h.clock.set(expiresAt - 1);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('InFlight');
    expect(h.restartRequests()).toEqual([]);
    expect(h.sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input)).toEqual([
      { QueueUrl: SCHEDULER_SETTINGS.queueUrl, MessageBody: JSON.stringify({ key, restartCount: 2, restartAt: expiresAt }), DelaySeconds: 1 },
    ]);
    // The claimer died: the deferred callback takes the restart over.
    h.clock.set(expiresAt - 1 + 1_000);
    expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
    expect(h.restartRequests()).toEqual([expect.objectContaining({ restartCount: 2, recovered: false })]);
  });

  it('lets the sync take over an expired claim', async () => {
    await abandonClaim(dueAt);
    h.clock.set(dueAt + h.deps.config.dispatchLeaseMs);
    expect(await fireRestart(h.deps, { key, restartCount: 2 }, { recovered: true })).toBe('Recovered');
    expect(h.restartRequests()).toEqual([expect.objectContaining({ restartCount: 2, recovered: true })]);
    expect(h.records.at(-1)).toMatchObject({ type: 'RestartRecovered', latenessMs: h.deps.config.dispatchLeaseMs });
  });

  it('takes over a dead claimer within one lease of its claim, wherever in the lease the redelivery lands', async () => {
    const lease = h.deps.config.dispatchLeaseMs;
    let worstMs = 0;
    // Every 0.997 s of the lease, and its first and last millisecond.
    const offsets = [0, 1, ...Array.from({ length: Math.ceil(lease / 997) }, (_, index) => index * 997 + 2), lease - 1].filter((offset) => offset < lease);
    for (const [round, offset] of offsets.entries()) {
      // Each round a new claim of restart 2 that its claimer abandoned.
      const claimedAt = dueAt + round * 2 * lease;
      await abandonClaim(claimedAt);
      h.resetAwsCalls();
      const redeliveredAt = claimedAt + offset;
      h.clock.set(redeliveredAt);
      expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('InFlight');
      const [deferral, ...more] = deferrals(redeliveredAt);
      expect(more).toEqual([]);
      expect(deferral!.restartAt).toBe(claimedAt + lease);
      h.clock.set(deferral!.visibleAt);
      expect(await fireRestart(h.deps, { key, restartCount: 2 })).toBe('Dispatched');
      const takeoverMs = deferral!.visibleAt - claimedAt;
      // Never before the claim expired, and at most SQS's whole-second rounding after.
      expect(takeoverMs).toBeGreaterThanOrEqual(lease);
      expect(takeoverMs).toBeLessThan(lease + 1_000);
      worstMs = Math.max(worstMs, takeoverMs);
    }
    console.log(`takeover of a dead claimer over ${offsets.length} redelivery offsets: at worst ${worstMs} ms after the claim (lease ${lease} ms + ${worstMs - lease} ms of DelaySeconds rounding)`);
    expect(worstMs).toBe(lease + 999);
  });

  it.each([
    ['the claimer finishes', true],
    ['the claimer died', false],
  ])('defers each of ten callbacks during a live claim once, and no more once %s', async (_label, claimerFinishes) => {
    const claimedAt = dueAt;
    const expiresAt = claimedAt + h.deps.config.dispatchLeaseMs;
    await abandonClaim(claimedAt);
    h.clock.set(claimedAt + 1_000);
    const during = await Promise.all(Array.from({ length: 10 }, () => fireRestart(h.deps, { key, restartCount: 2 })));
    expect(during).toEqual(Array.from({ length: 10 }, () => 'InFlight'));
    expect(h.sqs.commandCalls(SendMessageCommand)).toHaveLength(10);
    if (claimerFinishes) {
      // The holder publishes and marks it: what a live claimer does.
      const stored = (await h.store.get(key))!;
      await h.store.put({ ...stored.value, restart: { ...stored.value.restart!, status: 'dispatched', dispatchedAt: claimedAt + 50 } }, stored.version);
    }
    // Round after round, every deferral comes back at once: each round sends at most one deferral per callback still undecided.
    let callbacks = 10;
    const outcomes: string[] = [];
    for (let round = 1; callbacks > 0; round++) {
      expect(round, 'rounds of deferrals').toBeLessThanOrEqual(3);
      h.sqs.resetHistory();
      h.clock.set(expiresAt + round * h.deps.config.dispatchLeaseMs);
      const results = await Promise.all(Array.from({ length: callbacks }, () => fireRestart(h.deps, { key, restartCount: 2 })));
      outcomes.push(...results);
      const sent = h.sqs.commandCalls(SendMessageCommand).length;
      expect(sent).toBe(results.filter((outcome) => outcome === 'InFlight').length);
      expect(sent).toBeLessThan(callbacks);
      callbacks = sent;
    }
    expect(outcomes.filter((outcome) => outcome === 'Dispatched')).toHaveLength(claimerFinishes ? 0 : 1);
    expect(h.restartRequests()).toHaveLength(claimerFinishes ? 0 : 1);
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

  describe('with an inline wait (the local runtime: the fine stage calls back a little early)', () => {
    const inlineWaitMs = 100;
    /** The deps with the inline wait, on a sleep that moves the manual clock (by less than asked, as a timer may). */
    function waiting(advance: (ms: number) => number): { deps: typeof h.deps; sleeps: number[] } {
      const sleeps: number[] = [];
      const deps = {
        ...h.deps,
        config: { ...h.deps.config, inlineWaitMs },
        sleep: async (ms: number) => {
          sleeps.push(ms);
          h.clock.advance(advance(ms));
        },
      };
      return { deps, sleeps };
    }

    it.each([
      ['a sleep that wakes on time', (ms: number) => ms],
      ['a sleep that wakes a millisecond early', (ms: number) => Math.max(1, ms - 1)],
      ['a sleep that wakes halfway', (ms: number) => Math.ceil(ms / 2)],
    ])('waits out a callback that comes within the wait, and claims at the instant, never before, on %s', async (_case, advance) => {
      const { deps, sleeps } = waiting(advance);
      h.clock.set(dueAt - 40);
      h.dynamoCalls.reset();
      expect(await fireRestart(deps, { key, restartCount: 2 })).toBe('Dispatched');
      expect(sleeps.length).toBeGreaterThan(0);
      expect(h.restartRequests()).toEqual([expect.objectContaining({ restartAt: new Date(dueAt).toISOString(), firedAt: new Date(dueAt).toISOString() })]);
      expect(h.records.at(-1)).toMatchObject({ type: 'Restarted', latenessMs: 0 });
      // One read, before the instant: the claim and the mark follow it.
      expect(h.dynamoCalls.calls).toEqual(['GetItem', 'PutItem', 'PutItem']);
      expect(h.sqs.commandCalls(SendMessageCommand)).toHaveLength(0);
    });

    it('hands a callback earlier than the wait back to the fine stage', async () => {
      const { deps, sleeps } = waiting((ms) => ms);
      h.clock.set(dueAt - inlineWaitMs - 1);
      expect(await fireRestart(deps, { key, restartCount: 2 })).toBe('Deferred');
      expect(sleeps).toEqual([]);
      expect(h.restartRequests()).toHaveLength(0);
      expect(h.sqs.commandCalls(SendMessageCommand)).toHaveLength(1);
    });

    it('publishes nothing for a restart a newer exit superseded while it waited', async () => {
      const { deps } = waiting((ms) => ms);
      const newer = { ...deps, sleep: async (ms: number) => {
        // The container crashes again (a newer exit) during the wait.
        await handleExit(h.deps, exitOf(h.clock.now()));
        h.clock.advance(ms);
      } };
      h.clock.set(dueAt - 40);
      expect(await fireRestart(newer, { key, restartCount: 2 })).toBe('Stale');
      expect(h.restartRequests().filter((request) => request.restartCount === 2)).toHaveLength(0);
    });

    it('waits for a live claim to expire and then takes it over', async () => {
      const { deps } = waiting((ms) => ms);
      await abandonClaim(dueAt);
      const expiresAt = dueAt + h.deps.config.dispatchLeaseMs;
      h.clock.set(expiresAt - 30);
      expect(await fireRestart(deps, { key, restartCount: 2 })).toBe('Dispatched');
      expect(h.restartRequests()).toEqual([expect.objectContaining({ restartCount: 2, firedAt: new Date(expiresAt).toISOString() })]);
    });
  });
});
