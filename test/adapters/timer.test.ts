import { describe, expect, it } from 'vitest';
import { atExpression, FineStageTimer, parseRestartCallback, scheduleName, SchedulerRestartTimer, SqsFineStage, type FineStage } from '../../lib/adapters/scheduler/timer.ts';
import { MINUTE_PRECISION_MAX_LATENESS_MS, SCHEDULER_WINDOW_MS } from '../../lib/config.ts';
import { parseAtExpression } from '../support/faults.ts';
import type { RestartRef } from '../../lib/ports.ts';

const ref: RestartRef = { key: 'web-0_default_uid-1_app_', restartCount: 7, restartAt: Date.UTC(2026, 0, 1, 12, 5, 30) };

describe('scheduleName', () => {
  it('is deterministic, at most 64 characters of the allowed alphabet', () => {
    const name = scheduleName(ref);
    expect(name).toBe(scheduleName({ ...ref }));
    expect(name).toMatch(/^restart-[0-9a-f]{40}-7$/);
    expect(name.length).toBeLessThanOrEqual(64);
  });

  it.each([
    ['another key', { ...ref, key: 'web-1_default_uid-1_app_' }],
    ['another restart count', { ...ref, restartCount: 8 }],
    // A reset entry counts restarts from 1 again: its schedules must not collide with the old ones.
    ['the same count at another instant', { ...ref, restartAt: ref.restartAt + 1 }],
  ])('differs for %s', (_label, other) => {
    expect(scheduleName(other)).not.toBe(scheduleName(ref));
  });

  it('keeps the name short and safe whatever the key holds', () => {
    const name = scheduleName({ ...ref, key: `${'x'.repeat(500)}"; DROP TABLE --`, restartCount: 123_456_789_012 });
    expect(name).toMatch(/^[0-9a-zA-Z-_.]{1,64}$/);
  });
});

describe('atExpression', () => {
  it.each([
    [Date.UTC(2026, 0, 1, 12, 0, 0), 'at(2026-01-01T12:00:00)'],
    [Date.UTC(2026, 0, 1, 12, 0, 0) + 1, 'at(2026-01-01T12:00:01)'],
    [Date.UTC(2026, 0, 1, 23, 59, 59) + 500, 'at(2026-01-02T00:00:00)'],
  ])('writes %i as %s, rounding up to the second', (instant, expression) => {
    expect(atExpression(instant)).toBe(expression);
  });
});

describe('SchedulerRestartTimer.scheduleInstant', () => {
  const fineStage: FineStage = { maxDelayMs: 900_000, send: async () => undefined };
  const timer = (precision: 'second' | 'minute') =>
    new SchedulerRestartTimer({ scheduler: {} as never, fineStage, groupName: 'g', targetArn: 'arn:t', roleArn: 'arn:r', precision });

  it.each([
    ['second', Date.UTC(2026, 0, 1, 12, 5, 30), Date.UTC(2026, 0, 1, 12, 4, 0)],
    ['second', Date.UTC(2026, 0, 1, 12, 5, 0), Date.UTC(2026, 0, 1, 12, 4, 0)],
    ['minute', Date.UTC(2026, 0, 1, 12, 5, 30), Date.UTC(2026, 0, 1, 12, 6, 0)],
    ['minute', Date.UTC(2026, 0, 1, 12, 5, 0), Date.UTC(2026, 0, 1, 12, 5, 0)],
    ['minute', Date.UTC(2026, 0, 1, 12, 5, 0) + 1, Date.UTC(2026, 0, 1, 12, 6, 0)],
  ] as const)('with %s precision fires the schedule for %i in the minute starting %i', (precision, restartAt, instant) => {
    expect(timer(precision).scheduleInstant(restartAt, restartAt - 600_000)).toBe(instant);
  });

  it('never schedules a minute-precision restart before its instant (Scheduler fires within the minute)', () => {
    for (let offset = 0; offset < 120_000; offset += 997) {
      const restartAt = Date.UTC(2026, 0, 1, 12, 0, 0) + offset;
      expect(timer('minute').scheduleInstant(restartAt, restartAt - 200)).toBeGreaterThanOrEqual(restartAt);
    }
  });

  it('fires a second-precision schedule at least the lead time ahead, so the fine stage takes the rest', () => {
    for (let offset = 0; offset < 120_000; offset += 997) {
      const restartAt = Date.UTC(2026, 0, 1, 12, 10, 0) + offset;
      const instant = timer('second').scheduleInstant(restartAt, restartAt - 600_000);
      // Scheduler may fire any time in [instant, instant + 60 s): still never after restartAt.
      expect(instant + 60_000).toBeLessThanOrEqual(restartAt);
      expect(restartAt - instant).toBeLessThan(120_000);
    }
  });
});

describe('SchedulerRestartTimer.arm', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 50);
  function armed(precision: 'second' | 'minute') {
    const queued: number[] = [];
    const scheduled: string[] = [];
    const fineStage: FineStage = { maxDelayMs: 900_000, send: async (_ref, delayMs) => void queued.push(delayMs) };
    const scheduler = { send: async (command: { input: { ScheduleExpression: string } }) => void scheduled.push(command.input.ScheduleExpression) };
    const timer = new SchedulerRestartTimer({ scheduler: scheduler as never, fineStage, groupName: 'g', targetArn: 'arn:t', roleArn: 'arn:r', precision });
    return { timer, queued, scheduled };
  }

  it.each([
    ['due now', 0, 'queue'],
    ['due in 10 s', 10_000, 'queue'],
    ['due within the direct window (2 min)', 120_000, 'queue'],
    // 12:02:55.001 due: the schedule's minute (12:01) would start 10 s from now, too close to create.
    ['due just past the window, but its minute starts within 30 s', 125_001, 'queue'],
    ['due in 5 minutes', 300_000, 'schedule'],
  ] as const)('with second precision sends a restart %s to the %s', async (_label, delayMs, stage) => {
    const { timer, queued, scheduled } = armed('second');
    expect(await timer.arm({ ...ref, restartAt: now + delayMs }, now)).toBe(stage);
    if (stage === 'queue') expect(queued).toEqual([delayMs]);
    else expect(scheduled).toHaveLength(1);
  });

  it.each([
    ['due in 5 s', 5_000, 'queue', undefined],
    ['due within the direct window (2 min)', 120_000, 'queue', undefined],
    // 12:02:50.001 due: rounded up to the minute 12:03, fired by Scheduler between 12:03:00 and 12:03:59.
    ['due just past the window', 120_001, 'schedule', 'at(2026-01-01T12:03:00)'],
  ] as const)('with minute precision sends a restart %s to the %s', async (_label, delayMs, stage, expression) => {
    const { timer, queued, scheduled } = armed('minute');
    expect(await timer.arm({ ...ref, restartAt: now + delayMs }, now)).toBe(stage);
    if (stage === 'queue') expect(queued).toEqual([delayMs]);
    else expect(scheduled).toEqual([expression]);
  });
});

describe('FineStageTimer', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 50);
  function timer() {
    const queued: number[] = [];
    const fineStage: FineStage = { maxDelayMs: 900_000, send: async (_ref, delayMs) => void queued.push(delayMs) };
    return { timer: new FineStageTimer(fineStage), queued };
  }

  it.each([
    ['due now', 0, 0],
    ['overdue', -5_000, 0],
    ['due in 10 s', 10_000, 10_000],
    // Past the stage's longest delay: the first hop is the longest, the callback hands the rest over.
    ['due in an hour', 3_600_000, 900_000],
  ])('arms a restart %s on the fine stage alone', async (_label, delayMs, sentMs) => {
    const { timer: fine, queued } = timer();
    expect(await fine.arm({ ...ref, restartAt: now + delayMs }, now)).toBe('queue');
    expect(queued).toEqual([sentMs]);
  });

  it('defers an early callback by what remains, as the scheduler timer does', async () => {
    const { timer: fine, queued } = timer();
    const fineStage: FineStage = { maxDelayMs: 900_000, send: async (_ref, delayMs) => void queued.push(delayMs) };
    const scheduler = new SchedulerRestartTimer({ scheduler: {} as never, fineStage, groupName: 'g', targetArn: 'arn:t', roleArn: 'arn:r' });
    for (const remainingMs of [0, 1, 59_999, 900_001]) {
      await fine.defer({ ...ref, restartAt: now + remainingMs }, now);
      await scheduler.defer({ ...ref, restartAt: now + remainingMs }, now);
    }
    expect(queued).toEqual([0, 0, 1, 1, 59_999, 59_999, 900_000, 900_000]);
  });
});

describe('SchedulerRestartTimer lateness', () => {
  const minuteStart = Date.UTC(2026, 0, 1, 12, 0, 0);
  /** Instants within a minute, its edges included; delays from 0 to past SQS's 15-minute cap, every whole minute and its neighbours included. */
  const nowOffsets = [0, 1, 999, 1_000, 29_999, 30_000, 30_001, 59_999, ...Array.from({ length: 8 }, (_, index) => 3_541 + index * 7_001)];
  const delays = [
    ...[0, 1, 999, 1_000, 1_001, 10_000, 29_999, 30_000, 30_001, 89_999, 90_000, 90_001, 119_999, 120_000, 120_001, 150_000, 899_999, 900_000, 900_001, 3_600_000],
    ...Array.from({ length: 16 }, (_, index) => (index + 2) * 60_000).flatMap((whole) => [whole - 1, whole, whole + 1]),
    ...Array.from({ length: 40 }, (_, index) => 2_003 + index * 23_017),
  ];

  /**
   * Arms a restart the way the exit handler does and plays the cloud: a fine-stage
   * message is delivered when SQS makes it visible (`DelaySeconds`, whole
   * seconds), a schedule fires at `firesAt` within its minute, and the restart
   * handler hands an early callback back to the fine stage as `fireRestart` does.
   * Returns when the callback that dispatches arrives.
   */
  async function dispatchedAt(precision: 'second' | 'minute', now: number, restartAt: number, firesAt: (instant: number) => number): Promise<{ at: number; via: string }> {
    const sent: { delaySeconds: number }[] = [];
    const fineStage = new SqsFineStage({ client: { send: async (command: { input: { DelaySeconds: number } }) => void sent.push({ delaySeconds: command.input.DelaySeconds }) } as never, queueUrl: 'q' });
    const expressions: string[] = [];
    const scheduler = { send: async (command: { input: { ScheduleExpression: string } }) => void expressions.push(command.input.ScheduleExpression) };
    const timer = new SchedulerRestartTimer({ scheduler: scheduler as never, fineStage, groupName: 'g', targetArn: 'arn:t', roleArn: 'arn:r', precision });
    const restart = { ...ref, restartAt };
    let at = now;
    let via: string = await timer.arm(restart, now);
    if (via === 'schedule') {
      const instant = parseAtExpression(expressions[0]!);
      expect(instant - now, 'a schedule is created at least 30 s ahead').toBeGreaterThanOrEqual(30_000);
      at = firesAt(instant);
      if (at >= restartAt) return { at, via };
      await timer.defer(restart, at);
      via = 'schedule, then queue';
    }
    for (;;) {
      const message = sent.shift();
      if (!message) return { at, via };
      at += message.delaySeconds * 1_000;
      // An early delivery (a delay beyond SQS's cap) goes round again.
      if (at < restartAt) await timer.defer(restart, at);
    }
  }

  it.each([
    // The fine stage: at most its whole-second rounding.
    ['second', 1_000],
    ['minute', MINUTE_PRECISION_MAX_LATENESS_MS],
  ] as const)('with %s precision is never early and always under %i ms late, wherever in its minute Scheduler fires', async (precision, boundMs) => {
    let worst = { latenessMs: -1, now: 0, restartAt: 0, via: '' };
    const stages = new Set<string>();
    for (const nowOffset of nowOffsets) {
      const now = minuteStart + nowOffset;
      for (const delayMs of delays) {
        const restartAt = now + delayMs;
        // Scheduler fires anywhere in [instant, instant + 60 s): try its first and its last instant.
        for (const firesAt of [(instant: number) => instant, (instant: number) => instant + SCHEDULER_WINDOW_MS - 1]) {
          const { at, via } = await dispatchedAt(precision, now, restartAt, firesAt);
          stages.add(via);
          const latenessMs = at - restartAt;
          expect(latenessMs, `restart due ${delayMs} ms after ${new Date(now).toISOString()}, via ${via}`).toBeGreaterThanOrEqual(0);
          expect(latenessMs, `restart due ${delayMs} ms after ${new Date(now).toISOString()}, via ${via}`).toBeLessThan(boundMs);
          if (latenessMs > worst.latenessMs) worst = { latenessMs, now, restartAt, via };
        }
      }
    }
    console.log(
      `${precision} precision over ${nowOffsets.length * delays.length} (now, restartAt) pairs: at worst ${worst.latenessMs} ms late (bound ${boundMs} ms), ` +
        `due ${worst.restartAt - worst.now} ms after ${new Date(worst.now).toISOString()}, via ${worst.via}`,
    );
    // The grid reaches the bound's last second: the bound is the worst case, not a margin.
    expect(worst.latenessMs).toBeGreaterThanOrEqual(boundMs - 1_000);
    expect([...stages].sort()).toEqual(precision === 'second' ? ['queue', 'schedule, then queue'] : ['queue', 'schedule']);
  });
});

describe('parseRestartCallback', () => {
  it('reads a schedule input or a queue message body', () => {
    const payload = { key: ref.key, restartCount: 7, restartAt: ref.restartAt };
    expect(parseRestartCallback(JSON.stringify(payload))).toEqual(payload);
    expect(parseRestartCallback(payload)).toEqual(payload);
  });

  it.each([
    ['a missing restart count', { key: 'k', restartAt: 1 }, /restartCount/],
    ['a fractional restart count', { key: 'k', restartCount: 1.5, restartAt: 1 }, /restartCount/],
    ['an empty key', { key: '', restartCount: 1, restartAt: 1 }, /key/],
  ])('rejects %s', (_label, payload, message) => {
    expect(() => parseRestartCallback(payload)).toThrow(message);
  });

  it('rejects a body that is not JSON', () => {
    expect(() => parseRestartCallback('{')).toThrow();
  });
});
