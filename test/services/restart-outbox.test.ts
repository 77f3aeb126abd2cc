import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalEventLog } from '../../lib/local/event-log.ts';
import { startLocalRuntime } from '../../lib/local/runtime.ts';
import type { BackoffStore, RestartNotice, WriteResult } from '../../lib/ports.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { fireRestart, settleRestartOutbox } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { createHarness, exitOf, restartRequestOf, storeWith, T0, type Harness } from '../support/pipeline.ts';

/** The lines of restarts.jsonl, parsed. */
function restartLines(dir: string): Record<string, unknown>[] {
  return readFileSync(join(dir, 'restarts.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** What each line of restarts.jsonl is: `pending`, `dropped`, or the published restart's number. */
function lineKinds(dir: string): (string | number)[] {
  return restartLines(dir).map((line) => ('pending' in line ? 'pending' : 'dropped' in line ? 'dropped' : (line['seq'] as number)));
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'restart-outbox-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

let h: Harness;
beforeEach(async () => {
  h = await createHarness();
});
afterEach(async () => {
  await h.close();
});

/** The harness's services with a restart log on disk as their sink and outbox, as the local runtime wires them. */
function withRestartLog(h: Harness, log: LocalEventLog, store: Harness['deps']['store'] = h.deps.store): ServiceDeps {
  return { ...h.deps, store, sink: log, restartOutbox: log };
}

describe('handleExit with a restart outbox', () => {
  it('restarts a first exit in one write: one GetItem and one PutItem, the item stored dispatched and outside the waiting index', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    h.dynamoCalls.reset();
    const decision = await handleExit(withRestartLog(h, log), exitOf(T0));
    expect(decision).toMatchObject({ decision: 'RestartNow', restartAt: T0, restartCount: 1 });
    expect(h.dynamoCalls.calls).toEqual(['GetItem', 'PutItem']);
    expect((await h.store.get(decision.key))?.value).toMatchObject({
      state: 'Running',
      message: 'Restarted container=app pod=web-0_default(uid-1) (restart 1)',
      restart: { restartCount: 1, restartAt: T0, status: 'dispatched', claimedAt: T0, dispatchedAt: T0 },
    });
    expect(await h.rawItem(decision.key)).not.toHaveProperty('waitAt');
    expect(log.restarts.all()).toEqual([{ seq: 1, restartId: decision.restartId, key: decision.key, restartCount: 1, restartAt: new Date(T0).toISOString(), firedAt: new Date(T0).toISOString(), recovered: false, target: 'bus' }]);
    expect(log.events.all().map(({ record }) => record.type)).toEqual(['Exited', 'Restarted']);
    await log.close();
    expect(lineKinds(dir)).toEqual(['pending', 1]);
    expect(h.awsCalls()).toEqual([]);
  });

  it('keeps the restart in the file ahead of the write, and lets nobody hear of it before the write has landed', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    const heard: RestartNotice[] = [];
    log.restarts.subscribe((restart) => heard.push(restart));
    const seenAtWrite: { lines: (string | number)[]; heard: number }[] = [];
    const store = storeWith(h.store, {
      put: async (state, version) => {
        seenAtWrite.push({ lines: lineKinds(dir), heard: heard.length });
        return h.store.put(state, version);
      },
    });
    await handleExit(withRestartLog(h, log, store), exitOf(T0));
    expect(seenAtWrite).toEqual([{ lines: ['pending'], heard: 0 }]);
    expect(heard.map((restart) => restart.seq)).toEqual([1]);
    await log.close();
  });

  it('drops the restart of a write that lost a race, and publishes the retry’s once', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    let puts = 0;
    const store = storeWith(h.store, {
      put: async (state, version): Promise<WriteResult> => (++puts === 1 ? { written: false } : h.store.put(state, version)),
    });
    const decision = await handleExit(withRestartLog(h, log, store), exitOf(T0));
    expect(decision.decision).toBe('RestartNow');
    expect(log.restarts.all().map((restart) => [restart.seq, restart.restartId])).toEqual([[1, decision.restartId]]);
    await log.close();
    expect(lineKinds(dir)).toEqual(['pending', 'dropped', 'pending', 1]);
    expect(new LocalEventLog({ dir }).unsettled()).toEqual([]);
  });

  it('writes a repeated restart id without keeping it again, and publishes nothing twice', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    const request = restartRequestOf({ restartId: 'k#1.1' });
    await log.publishWith(request, async () => ({ written: true, version: 1 }));
    let wrote = false;
    await log.publishWith(request, async () => {
      wrote = true;
      return { written: true, version: 2 };
    });
    expect(wrote).toBe(true);
    expect(log.restarts.all()).toHaveLength(1);
    await log.close();
    expect(lineKinds(dir)).toEqual(['pending', 1]);
  });
});

describe('fireRestart with a restart outbox', () => {
  /** A first exit restarted at once, a second one a second later scheduled for T0 + 11 s, and the clock at that instant. */
  async function secondRestartDue(deps: ServiceDeps) {
    await handleExit(deps, exitOf(T0, { exitId: 'first' }));
    h.clock.advance(1_000);
    const scheduled = await handleExit(deps, exitOf(T0 + 1_000, { exitId: 'second' }));
    expect(scheduled).toMatchObject({ decision: 'RestartScheduled', restartCount: 2, restartAt: T0 + 11_000 });
    h.clock.set(T0 + 11_000);
    return scheduled;
  }

  it('dispatches a scheduled restart with one read and one write when its callback fires', async () => {
    const log = new LocalEventLog();
    const deps = withRestartLog(h, log);
    const scheduled = await secondRestartDue(deps);
    h.dynamoCalls.reset();
    expect(await fireRestart(deps, { key: scheduled.key, restartCount: 2 })).toBe('Dispatched');
    expect(h.dynamoCalls.calls).toEqual(['GetItem', 'PutItem']);
    expect((await h.store.get(scheduled.key))?.value.restart).toEqual({ restartCount: 2, restartAt: T0 + 11_000, status: 'dispatched', claimedAt: T0 + 11_000, dispatchedAt: T0 + 11_000 });
    expect(log.restarts.all().map((restart) => restart.restartCount)).toEqual([1, 2]);
  });

  it('dispatches a restart once when ten callbacks race, and not again when the sync then recovers it', async () => {
    const log = new LocalEventLog();
    const deps = withRestartLog(h, log);
    const scheduled = await secondRestartDue(deps);
    const outcomes = await Promise.all(Array.from({ length: 10 }, () => fireRestart(deps, { key: scheduled.key, restartCount: 2 })));
    expect(outcomes.filter((outcome) => outcome === 'Dispatched')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome !== 'Dispatched').every((outcome) => outcome === 'AlreadyDispatched')).toBe(true);
    expect(await fireRestart(deps, { key: scheduled.key, restartCount: 2 }, { recovered: true })).toBe('AlreadyDispatched');
    expect(log.restarts.all().map((restart) => restart.restartCount)).toEqual([1, 2]);
    expect(log.events.all().filter(({ record }) => record.type === 'Restarted')).toHaveLength(2);
  });
});

describe('settleRestartOutbox', () => {
  it('drops a restart whose write never landed (the process died, or the write failed, before it)', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    const failing = storeWith(h.store, { put: async () => Promise.reject(new Error('store unavailable')) });
    await expect(handleExit(withRestartLog(h, log, failing), exitOf(T0))).rejects.toThrow('store unavailable');
    expect(log.unsettled().map((restart) => restart.restartCount)).toEqual([1]);
    await log.close();

    // The next process finds it unsettled, and the store without it.
    const next = new LocalEventLog({ dir });
    expect(next.unsettled()).toHaveLength(1);
    expect(await settleRestartOutbox(withRestartLog(h, next))).toEqual({ published: 0, dropped: 1 });
    expect(next.restarts.all()).toEqual([]);
    expect(next.events.all()).toEqual([]);
    await next.close();
    expect(lineKinds(dir)).toEqual(['pending', 'dropped']);
    expect(new LocalEventLog({ dir }).unsettled()).toEqual([]);
  });

  it('publishes, once, a restart whose write landed although the process never learnt it, with its Restarted record', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    // The write lands, and the answer is lost: the caller cannot tell it from a failure.
    const lostAnswer = storeWith(h.store, {
      put: async (state, version) => {
        await h.store.put(state, version);
        throw new Error('connection reset');
      },
    });
    await expect(handleExit(withRestartLog(h, log, lostAnswer), exitOf(T0))).rejects.toThrow('connection reset');
    expect(log.restarts.all()).toEqual([]);
    await log.close();

    const next = new LocalEventLog({ dir });
    const deps = withRestartLog(h, next);
    expect(await settleRestartOutbox(deps)).toEqual({ published: 1, dropped: 0 });
    expect(await settleRestartOutbox(deps)).toEqual({ published: 0, dropped: 0 });
    expect(next.restarts.all().map((restart) => [restart.seq, restart.restartCount])).toEqual([[1, 1]]);
    expect(next.events.all().map(({ record }) => [record.type, record.restartCount])).toEqual([['Restarted', 1]]);
    await next.close();
    expect(lineKinds(dir)).toEqual(['pending', 1]);
  });

  it('drops a restart the item does not hold dispatched: superseded, or written by another handling that has not published it', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    // Kept for restart 1 of a container whose item holds a waiting restart 1 of the same incarnation.
    const first = await handleExit(h.deps, exitOf(T0, { exitId: 'first' }));
    h.clock.advance(5_000);
    await handleExit(h.deps, exitOf(T0 + 5_000, { exitId: 'second' }));
    const state = (await h.store.get(first.key))!.value;
    expect(state.restart?.status).toBe('waiting');
    await expect(
      log.publishWith(restartRequestOf({ key: state.key, restartCount: state.restart!.restartCount, restartId: `${state.key}#${state.createdAt}.${state.restart!.restartCount}` }), async () => {
        throw new Error('store unavailable');
      }),
    ).rejects.toThrow();
    expect(await settleRestartOutbox(withRestartLog(h, log))).toEqual({ published: 0, dropped: 1 });
    expect(log.restarts.all()).toEqual([]);
    await log.close();
  });
});

describe('the local runtime', () => {
  it('settles at its next sync a restart whose write landed but answered with an error', async () => {
    const quiet = { warn: () => undefined, error: () => undefined };
    const runtime = await startLocalRuntime({ port: 0, inMemory: true, log: quiet });
    try {
      const store = runtime.deps.store as { put: BackoffStore['put'] };
      const put = store.put.bind(store);
      store.put = async (state, version) => {
        store.put = put;
        await put(state, version);
        throw new Error('connection reset');
      };
      await expect(handleExit(runtime.deps, exitOf(Date.now()))).rejects.toThrow('connection reset');
      expect(runtime.eventLog.restarts.all()).toEqual([]);
      await runtime.syncNow();
      expect(runtime.eventLog.restarts.all().map((restart) => restart.restartCount)).toEqual([1]);
      expect(runtime.eventLog.unsettled()).toEqual([]);
    } finally {
      await runtime.close();
    }
  });

  it('settles, when it starts, a restart the previous process kept and wrote but never published', async () => {
    const dir = tempDir();
    const quiet = { warn: () => undefined, error: () => undefined };
    const first = await startLocalRuntime({ port: 0, dataDir: dir, log: quiet });
    // The previous process's last steps: the restart kept, the exit's write landed, then it died.
    const decision = await handleExit({ ...first.deps, restartOutbox: undefined }, exitOf(Date.now()));
    const kept = first.eventLog.restarts.all()[0]!;
    await first.close();
    const { seq: _seq, ...pending } = kept;
    expect(kept.restartId).toBe(decision.restartId);
    // The log as the dead process left it: the restart kept, not published.
    writeFileSync(join(dir, 'restarts.jsonl'), `${JSON.stringify({ pending })}\n`);

    const warnings: unknown[] = [];
    const second = await startLocalRuntime({ port: 0, dataDir: dir, log: { warn: (message, details) => void warnings.push({ message, details }), error: () => undefined } });
    try {
      expect(second.eventLog.restarts.all().map((restart) => [restart.seq, restart.restartId])).toEqual([[1, decision.restartId]]);
      expect(warnings).toEqual([{ message: 'settled the restarts the previous process left unconfirmed', details: { published: 1, dropped: 0 } }]);
    } finally {
      await second.close();
    }
  });
});
