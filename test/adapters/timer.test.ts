import { describe, expect, it } from 'vitest';
import { atExpression, parseRestartCallback, scheduleName, SchedulerRestartTimer, type FineStage } from '../../lib/adapters/scheduler/timer.ts';
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

  it('with minute precision schedules even a near restart, at least 30 s ahead and on a whole minute', async () => {
    const { timer, scheduled } = armed('minute');
    expect(await timer.arm({ ...ref, restartAt: now + 5_000 }, now)).toBe('schedule');
    // 12:00:55 due, 12:01:20 is the earliest instant to create: the minute after is 12:02.
    expect(scheduled).toEqual(['at(2026-01-01T12:02:00)']);
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
