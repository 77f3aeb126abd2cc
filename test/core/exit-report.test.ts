import { describe, expect, it } from 'vitest';
import {
  classifyExit,
  placeExit,
  planExit,
  reportGranularityMs,
  resolveBackoffPolicy,
  runRestartCount,
  type ContainerState,
  type ExitEvent,
  type ReportKind,
} from '../../lib/core/index.ts';

const T0 = 1_767_225_600_123;
const KUBELET = resolveBackoffPolicy();

function exitAt(finishedAt: number, overrides: Partial<ExitEvent> = {}): ExitEvent {
  return { namespace: 'default', pod: 'web-0', podUid: 'uid', container: 'app', exitCode: 1, finishedAt, ...overrides };
}

/** The state after one exit at T0 (restart 1 decided now), with that restart dispatched at `dispatchedAt`. */
function afterFirstRestart(first: Partial<ExitEvent> = {}, dispatchedAt: number | null = T0 + 50): ContainerState {
  const plan = planExit(undefined, exitAt(T0, first), { policy: KUBELET, now: T0 });
  const next = plan.next!;
  if (dispatchedAt === null) return next;
  return { ...next, restart: { ...next.restart!, status: 'dispatched', claimedAt: dispatchedAt, dispatchedAt } };
}

describe('placeExit', () => {
  const stored = afterFirstRestart();
  const dispatchedAt = T0 + 50;
  const runMs = 2_000;
  /** The real instant the second run ended, on the service's clock: dispatched, started at once, ran 2 s. */
  const realEnd = dispatchedAt + runMs;

  it.each<[string, number, number, Partial<ExitEvent>, { finishedAt: number; earliestFinishedAt: number; clock: string }]>([
    ['a correct clock, reported at once', 0, 0, {}, { finishedAt: realEnd, earliestFinishedAt: realEnd, clock: 'consistent' }],
    ['a correct clock, reported 5 s late (kubelet counts from the exit)', 0, 5_000, {}, { finishedAt: realEnd, earliestFinishedAt: realEnd, clock: 'consistent' }],
    ['a clock 4 minutes ahead', 240_000, 10, {}, { finishedAt: realEnd + 10, earliestFinishedAt: realEnd, clock: 'ahead' }],
    ['a clock 10 minutes behind', -600_000, 10, {}, { finishedAt: realEnd + 10, earliestFinishedAt: realEnd, clock: 'behind' }],
    // A wrong clock and no run length: nothing says the run was long, so no reset while the clock is wrong.
    ['a clock 1 hour behind, without startedAt', -3_600_000, 10, { startedAt: undefined }, { finishedAt: realEnd + 10, earliestFinishedAt: dispatchedAt, clock: 'behind' }],
    // Nothing bounds a finishedAt without the run's length closer than the whole run: the arrival is the safe instant.
    ['a correct clock without startedAt, reported 5 s late', 0, 5_000, { startedAt: undefined }, { finishedAt: realEnd + 5_000, earliestFinishedAt: realEnd, clock: 'unchecked' }],
    ['a clock 1 s behind without startedAt', -1_000, 10, { startedAt: undefined }, { finishedAt: realEnd + 10, earliestFinishedAt: realEnd - 1_000, clock: 'unchecked' }],
  ])('%s', (_name, skewMs, lagMs, overrides, expected) => {
    const exit = exitAt(realEnd + skewMs, { startedAt: dispatchedAt + skewMs, ...overrides });
    expect(placeExit(stored, exit, realEnd + lagMs)).toMatchObject(expected);
  });

  it('places the run’s start by its reported length', () => {
    const placed = placeExit(stored, exitAt(realEnd - 600_000, { startedAt: dispatchedAt - 600_000 }), realEnd + 10);
    expect(placed.startedAt).toBe(realEnd + 10 - runMs);
  });

  it('reads a whole-second instant as late as the second it names, but never after the arrival', () => {
    const wholeSecond = Math.floor(realEnd / 1_000) * 1_000;
    const exit = exitAt(wholeSecond, { startedAt: Math.floor(dispatchedAt / 1_000) * 1_000, timestampResolutionMs: 1_000 });
    expect(placeExit(stored, exit, wholeSecond + 5_000).finishedAt).toBe(wholeSecond + 999);
    expect(placeExit(stored, exit, wholeSecond + 300).finishedAt).toBe(wholeSecond + 300);
    // …and as early as it names for the reset.
    expect(placeExit(stored, exit, wholeSecond + 5_000).earliestFinishedAt).toBeLessThanOrEqual(wholeSecond + 999);
  });

  it('has no lower bound for a run the service did not start', () => {
    const pending = afterFirstRestart({}, null);
    expect(placeExit(pending, exitAt(T0 - 3_600_000), T0 + 1_000)).toMatchObject({ finishedAt: T0 - 3_600_000, clock: 'consistent' });
  });

  it('ignores the dispatch a report’s restartCount does not follow', () => {
    const exit = exitAt(T0 - 3_600_000, { restartCount: 7 });
    expect(placeExit(stored, exit, T0 + 1_000).clock).toBe('consistent');
    expect(placeExit(stored, { ...exit, restartCount: 1 }, T0 + 1_000).clock).toBe('behind');
  });
});

describe('reportGranularityMs', () => {
  it.each([
    [undefined, 0],
    [1, 0],
    [10, 9],
    [1_000, 999],
  ])('resolution %j → %i ms', (timestampResolutionMs, expected) => {
    expect(reportGranularityMs(timestampResolutionMs === undefined ? {} : { timestampResolutionMs })).toBe(expected);
  });
});

describe('runRestartCount', () => {
  it('takes the reported count, else infers the restarts dispatched before the run', () => {
    expect(runRestartCount(undefined, {})).toBe(0);
    expect(runRestartCount(afterFirstRestart(), {})).toBe(1);
    expect(runRestartCount(afterFirstRestart({}, null), {})).toBe(0);
    expect(runRestartCount(afterFirstRestart(), { restartCount: 9 })).toBe(9);
  });
});

describe('classifyExit', () => {
  // The first exit ran from T0 - 1 s to T0 (run 0); restart 1 was dispatched at T0 + 50.
  const first = { startedAt: T0 - 1_000, restartCount: 0 };

  describe('by exit id', () => {
    it('answers a remembered exit id as a Duplicate whatever else the report says', () => {
      const stored = afterFirstRestart({ exitId: 'a' });
      expect(classifyExit(stored, exitAt(T0 + 99_000, { exitId: 'a', restartCount: 5 }), T0 + 99_000)).toBe('Duplicate');
    });
  });

  describe('by restart count (whole-second timestamps that cannot tell two exits apart)', () => {
    const stored = afterFirstRestart({ ...first, timestampResolutionMs: 1_000 });
    it.each<[number, ReportKind]>([
      [1, 'New'],
      [4, 'New'],
      [0, 'Duplicate'],
    ])('restartCount %i after run 0 → %s, even with the very same timestamps', (restartCount, kind) => {
      expect(classifyExit(stored, exitAt(T0, { ...first, restartCount, timestampResolutionMs: 1_000 }), T0 + 100)).toBe(kind);
    });

    it('answers a report from an older run as Stale, even with a later timestamp', () => {
      const later = planExit(stored, exitAt(T0 + 5_000, { restartCount: 1 }), { policy: KUBELET, now: T0 + 5_000 }).next!;
      expect(classifyExit(later, exitAt(T0 + 60_000, { restartCount: 0 }), T0 + 60_000)).toBe('Stale');
    });
  });

  describe('by timestamps', () => {
    const stored = afterFirstRestart(first);

    it.each<[string, Partial<ExitEvent>, ReportKind]>([
      ['the same report again', { startedAt: T0 - 1_000 }, 'Duplicate'],
      ['the same finishedAt without startedAt', { startedAt: undefined }, 'Duplicate'],
      ['the same finishedAt from a run that started later', { startedAt: T0 }, 'New'],
      ['the same finishedAt with another exit id', { exitId: 'other' }, 'Duplicate'],
    ])('%s → %s', (_name, overrides, kind) => {
      expect(classifyExit(stored, exitAt(T0, { ...first, restartCount: undefined, ...overrides }), T0 + 100)).toBe(kind);
    });

    it('tells equal finishedAt apart when both reports carry distinct exit ids', () => {
      const withId = afterFirstRestart({ exitId: 'a' });
      expect(classifyExit(withId, exitAt(T0, { exitId: 'b' }), T0 + 100)).toBe('New');
    });

    it('takes a later finishedAt as a new exit', () => {
      expect(classifyExit(stored, exitAt(T0 + 1), T0 + 100)).toBe('New');
    });

    it('takes an earlier finishedAt as new when the container was restarted since and the run fits after that restart (the clock was set back)', () => {
      const now = T0 + 3_000;
      expect(classifyExit(stored, exitAt(T0 - 240_000, { startedAt: T0 - 242_000 }), now)).toBe('New');
      expect(classifyExit(stored, exitAt(T0 - 240_000), now)).toBe('New');
    });

    it('answers an earlier finishedAt as Stale when the run is longer than the time since the restart', () => {
      expect(classifyExit(stored, exitAt(T0 - 240_000, { startedAt: T0 - 250_000 }), T0 + 3_000)).toBe('Stale');
    });

    it('answers an earlier finishedAt as Stale while the restart is still pending: no new run has begun', () => {
      const pending = afterFirstRestart(first, null);
      expect(classifyExit(pending, exitAt(T0 - 240_000), T0 + 3_000)).toBe('Stale');
    });

    it('reads entries stored before reported times were kept', () => {
      const legacy: ContainerState = { ...stored, lastExit: { exitCode: 1, finishedAt: T0, startedAt: T0 - 1_000 } };
      expect(classifyExit(legacy, exitAt(T0, { startedAt: T0 - 1_000 }), T0 + 100)).toBe('Duplicate');
      expect(classifyExit(legacy, exitAt(T0, { startedAt: T0 - 1_000, restartCount: 1 }), T0 + 100)).toBe('Duplicate');
      expect(classifyExit(legacy, exitAt(T0 + 1, { restartCount: 1 }), T0 + 100)).toBe('New');
    });
  });
});
