import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventRecord, type EventRecord } from '../../lib/core/index.ts';
import { consoleLine, LocalEventLog } from '../../lib/local/event-log.ts';
import type { BusMessage, RestartNotice } from '../../lib/ports.ts';

const ref = { namespace: 'default', pod: 'web-0', podUid: 'uid-1', container: 'app' };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function restartMessage(restartCount: number): BusMessage {
  return {
    detailType: 'Container Restart Requested',
    detail: {
      restartId: `web-0_default_uid-1_app_#${restartCount}`,
      key: 'web-0_default_uid-1_app_',
      ...ref,
      restartCount,
      restartAt: new Date(T0).toISOString(),
      firedAt: new Date(T0).toISOString(),
      recovered: false,
    },
  };
}

describe('LocalEventLog', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'event-log-'));
    dirs.push(dir);
    return dir;
  };
  afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

  it('appends each restart once, even when it is published again', async () => {
    const log = new LocalEventLog();
    const heard: RestartNotice[] = [];
    log.restarts.subscribe((restart) => heard.push(restart));
    await log.publish([restartMessage(1)]);
    await log.publish([restartMessage(1), restartMessage(2)]);
    expect(heard.map((r) => [r.seq, r.restartCount])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(log.restarts.after(1).map((r) => r.restartCount)).toEqual([2]);
  });

  it('remembers restarts and events across a restart of the process, and still deduplicates', async () => {
    const dir = tempDir();
    const first = new LocalEventLog({ dir });
    await first.publish([restartMessage(1)]);
    first.record([eventRecord('Restarted', ref, T0, { restartCount: 1, message: 'Restarted' })]);
    await first.close();
    const second = new LocalEventLog({ dir });
    expect(second.restarts.lastSeq).toBe(1);
    await second.publish([restartMessage(1), restartMessage(2)]);
    expect(second.restarts.after(0).map((r) => [r.seq, r.restartCount])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(second.query({ limit: 10 }).map((e) => e.type)).toEqual(['Restarted']);
  });

  it('keeps every intact line of a file torn by a crash mid-write', async () => {
    const dir = tempDir();
    const first = new LocalEventLog({ dir });
    await first.publish([restartMessage(1)]);
    appendFileSync(join(dir, 'restarts.jsonl'), '{"seq":2,"restartId":"torn');
    const second = new LocalEventLog({ dir });
    await second.publish([restartMessage(2)]);
    const third = new LocalEventLog({ dir });
    expect(third.restarts.after(0).map((r) => [r.seq, r.restartCount])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(readFileSync(join(dir, 'restarts.jsonl'), 'utf8').split('\n').filter(Boolean)).toHaveLength(3);
  });

  it('records a restart re-dispatched after a crash once, across processes', async () => {
    const dir = tempDir();
    const restarted = (type: 'Restarted' | 'RestartRecovered') => eventRecord(type, ref, T0, { restartCount: 3, message: type });
    const before = new LocalEventLog({ dir });
    before.record([restarted('Restarted')]);
    await before.flushed();
    const after = new LocalEventLog({ dir });
    after.record([restarted('RestartRecovered'), eventRecord('Exited', ref, T0 + 1, { restartCount: 3, message: 'Exited' })]);
    expect(after.query({ limit: 10 }).map((e) => e.type)).toEqual(['Restarted', 'Exited']);
    await after.flushed();
    expect(new LocalEventLog({ dir }).query({ limit: 10 }).map((e) => e.type)).toEqual(['Restarted', 'Exited']);
  });

  it('numbers event records by their line in the file, across processes and torn lines, and tells subscribers', async () => {
    const dir = tempDir();
    const record = (i: number) => eventRecord('Exited', ref, T0 + i, { message: `event ${i}` });
    const first = new LocalEventLog({ dir });
    first.record([record(1), record(2)]);
    await first.close();
    appendFileSync(join(dir, 'events.jsonl'), '{"type":"Exi');
    const second = new LocalEventLog({ dir });
    const heard: [number, string][] = [];
    second.events.subscribe((event) => heard.push([event.seq, event.record.message]));
    second.record([record(3)]);
    expect(heard).toEqual([[3, 'event 3']]);
    await second.close();
    expect(new LocalEventLog({ dir }).events.after(1).map((event) => [event.seq, event.record.message])).toEqual([
      [2, 'event 2'],
      [3, 'event 3'],
    ]);
  });

  it('keeps sequence numbers growing when old records leave memory', () => {
    const log = new LocalEventLog({ memoryLimit: 2 });
    log.record([0, 1, 2, 3].map((i) => eventRecord('Exited', ref, T0 + i, { message: `event ${i}` })));
    expect(log.events.lastSeq).toBe(4);
    expect(log.events.after(0).map((event) => event.seq)).toEqual([3, 4]);
    expect(log.events.after(3).map((event) => event.seq)).toEqual([4]);
    expect(log.events.after(4)).toEqual([]);
  });

  it('writes a restart to its file before any subscriber hears of it, and each batch of records in order', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    const onDisk = () => readFileSync(join(dir, 'restarts.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line).restartCount as number);
    const heardWhenWritten: [number, number[]][] = [];
    log.restarts.subscribe((restart) => heardWhenWritten.push([restart.restartCount, onDisk()]));
    // Published together and one after another, without waiting: one ordered log either way.
    const first = log.publish([restartMessage(1), restartMessage(2)]);
    const second = log.publish([restartMessage(3)]);
    for (let n = 0; n < 5; n++) log.record([eventRecord('Exited', ref, T0 + n, { restartCount: n, message: `exit ${n}` })]);
    await Promise.all([first, second]);
    expect(heardWhenWritten.map(([restartCount, written]) => [restartCount, written.includes(restartCount)])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
    expect(log.restarts.after(0).map((restart) => [restart.seq, restart.restartCount])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    await log.flushed();
    const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line).message as string);
    expect(events).toEqual(['exit 0', 'exit 1', 'exit 2', 'exit 3', 'exit 4']);
    await log.close();
  });

  it('fails a publish whose restart cannot be written, tells no one, and takes it again later', async () => {
    const dir = tempDir();
    const log = new LocalEventLog({ dir });
    // A directory where the restart log should be: every write fails.
    mkdirSync(join(dir, 'restarts.jsonl'));
    const heard: number[] = [];
    log.restarts.subscribe((restart) => heard.push(restart.restartCount));
    await expect(log.publish([restartMessage(1)])).rejects.toThrow();
    expect(heard).toEqual([]);
    expect(log.restarts.after(0)).toEqual([]);
    rmSync(join(dir, 'restarts.jsonl'), { recursive: true });
    await log.publish([restartMessage(1)]);
    expect(heard).toEqual([1]);
    await log.close();
  });

  it('keeps the latest records within its memory limit', () => {
    const log = new LocalEventLog({ memoryLimit: 32 });
    for (let n = 0; n < 500; n++) log.record([eventRecord('Exited', ref, T0 + n, { restartCount: n, message: `exit ${n}` })]);
    const kept = log.query({ limit: 1_000 });
    expect(kept.length).toBeGreaterThanOrEqual(32);
    expect(kept.length).toBeLessThanOrEqual(34);
    expect(kept.at(-1)?.message).toBe('exit 499');
    expect(log.query({ limit: 3 }).map((event) => event.message)).toEqual(['exit 497', 'exit 498', 'exit 499']);
  });

  it('answers event queries by type, key and time, newest limit last', () => {
    const log = new LocalEventLog();
    const events: EventRecord[] = [0, 1, 2, 3].map((i) =>
      eventRecord(i % 2 ? 'Exited' : 'Restarted', { ...ref, pod: `web-${i % 2}` }, T0 + i * 1_000, { message: `event ${i}` }),
    );
    log.record(events);
    expect(log.query({ type: 'Exited', limit: 10 }).map((e) => e.message)).toEqual(['event 1', 'event 3']);
    expect(log.query({ key: 'web-0_default_uid-1_app_', limit: 10 }).map((e) => e.message)).toEqual(['event 0', 'event 2']);
    expect(log.query({ since: T0 + 2_000, limit: 10 }).map((e) => e.message)).toEqual(['event 2', 'event 3']);
    expect(log.query({ limit: 2 }).map((e) => e.message)).toEqual(['event 2', 'event 3']);
  });
});

describe('consoleLine', () => {
  it('writes one readable line per event', () => {
    const line = consoleLine(eventRecord('BackOff', ref, T0 + 11_000, { message: 'Back-off 10s restarting failed container=app pod=web-0_default(uid-1)' }));
    expect(line).toBe('12:00:11.000  BackOff           default/web-0/app  Back-off 10s restarting failed container=app pod=web-0_default(uid-1)');
  });

  it('escapes control and bidirectional characters a workload put in its exit reason', () => {
    const line = consoleLine(eventRecord('Exited', ref, T0, { message: 'exited (\u001b[2J\u202egnp.exe\n)' }));
    expect(line).toContain('\\u001b[2J\\u202egnp.exe\\u000a');
    expect(line).not.toMatch(/[\u0000-\u001f\u202e]/);
  });
});
