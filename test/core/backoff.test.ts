import { describe, expect, it, vi } from 'vitest';
import {
  Backoff,
  hasExpired,
  isEntryInBackOffSince,
  jitterMs,
  nextEntry,
  type BackoffParameters,
  type Random,
} from '../../lib/core/index.ts';

const T0 = 1_767_225_600_000;

/** kubelet's numbers with client-go's default reset threshold. */
const KUBELET: BackoffParameters = { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000, jitterFactor: 0 };

function params(overrides: Partial<BackoffParameters> = {}): BackoffParameters {
  return { ...KUBELET, ...overrides };
}

/** A Backoff with a clock the test moves by hand. */
function manualBackoff(p: BackoffParameters = KUBELET, random?: Random) {
  const clock = { now: T0 };
  const backoff = new Backoff(p, { now: () => clock.now }, random);
  return { backoff, clock };
}

/** Returns the given values in turn, then fails: a test must know every draw. */
function randomSequence(...values: number[]): Random {
  let index = 0;
  return () => {
    const value = values[index++];
    if (value === undefined) throw new Error('random() called more often than the test expects');
    return value;
  };
}

describe('hasExpired', () => {
  it.each([
    [0, false],
    [599_999, false],
    [600_000, false],
    [600_001, true],
    [-1, false],
  ])('after %i ms with reset threshold 600000 → %s', (elapsed, expired) => {
    expect(hasExpired(T0 + elapsed, T0, 600_000)).toBe(expired);
  });
});

describe('jitterMs', () => {
  it.each([
    // [delay, factor, random, expected] — Go's time.Duration(float) truncates towards zero.
    [10_000, 0.5, 0, 0],
    [10_000, 0.5, 0.5, 2_500],
    [10_000, 0.5, 0.99999, 4_999],
    [3, 0.5, 0.9, 1],
    [3, 0.5, 0.6, 0],
    [1, 1, 0.99999, 0],
    [7, 1, 0.5, 3],
  ])('delay %i, factor %d, random %d → %i ms', (delay, factor, random, expected) => {
    expect(jitterMs(delay, params({ jitterFactor: factor }), () => random)).toBe(expected);
  });

  it('adds nothing and draws nothing when the factor is 0', () => {
    const random = vi.fn(() => 0.5);
    expect(jitterMs(10_000, params({ jitterFactor: 0 }), random)).toBe(0);
    expect(random).not.toHaveBeenCalled();
  });

  it('adds nothing without a source of randomness, whatever the factor', () => {
    expect(jitterMs(10_000, params({ jitterFactor: 1 }), undefined)).toBe(0);
  });
});

describe('nextEntry', () => {
  it.each([
    ['no entry → initial', undefined, T0, { backoffMs: 10_000, lastUpdate: T0 + 5 }],
    ['doubles', { backoffMs: 10_000, lastUpdate: T0 }, T0 + 1_000, { backoffMs: 20_000, lastUpdate: T0 + 5 }],
    ['caps at max', { backoffMs: 160_000, lastUpdate: T0 }, T0 + 1_000, { backoffMs: 300_000, lastUpdate: T0 + 5 }],
    ['stays at max', { backoffMs: 300_000, lastUpdate: T0 }, T0 + 1_000, { backoffMs: 300_000, lastUpdate: T0 + 5 }],
    ['event exactly resetAfter after the update: still doubles', { backoffMs: 40_000, lastUpdate: T0 }, T0 + 600_000, { backoffMs: 80_000, lastUpdate: T0 + 5 }],
    ['event 1 ms later: starts over', { backoffMs: 40_000, lastUpdate: T0 }, T0 + 600_001, { backoffMs: 10_000, lastUpdate: T0 + 5 }],
  ] as const)('%s', (_name, entry, eventTime, expected) => {
    // lastUpdate is `now`, not the event time.
    expect(nextEntry(entry, eventTime, T0 + 5, KUBELET)).toEqual(expected);
  });

  it('does not cap the jittered initial back-off (client-go adds jitter after initEntry)', () => {
    const p = params({ initialMs: 1_000, maxMs: 1_000, resetAfterMs: 2_000, jitterFactor: 1 });
    expect(nextEntry(undefined, T0, T0, p, () => 0.5)).toEqual({ backoffMs: 1_500, lastUpdate: T0 });
  });

  it('jitters the doubled back-off by a share of the previous one, then caps it', () => {
    const p = params({ jitterFactor: 0.5 });
    // 2 × 10000 + trunc(0.5 × 0.5 × 10000)
    expect(nextEntry({ backoffMs: 10_000, lastUpdate: T0 }, T0, T0, p, () => 0.5).backoffMs).toBe(22_500);
    // 2 × 160000 + jitter exceeds max: capped.
    expect(nextEntry({ backoffMs: 160_000, lastUpdate: T0 }, T0, T0, p, () => 0).backoffMs).toBe(300_000);
  });
});

describe('isEntryInBackOffSince', () => {
  const entry = { backoffMs: 20_000, lastUpdate: T0 };
  it.each([
    ['no entry', false, undefined, T0, T0 + 1],
    ['just after the event', true, entry, T0 + 1_000, T0 + 1_000],
    ['one ms before the back-off elapses', true, entry, T0 + 1_000, T0 + 20_999],
    ['exactly when the back-off elapses (strictly less)', false, entry, T0 + 1_000, T0 + 21_000],
    ['after the back-off', false, entry, T0 + 1_000, T0 + 30_000],
    ['event exactly resetAfter after the update', true, entry, T0 + 600_000, T0 + 600_000],
    ['event past resetAfter: the entry has expired', false, entry, T0 + 600_001, T0 + 600_001],
  ] as const)('%s → %s', (_name, expected, e, eventTime, now) => {
    expect(isEntryInBackOffSince(e, eventTime, now, KUBELET)).toBe(expected);
  });
});

describe('Backoff', () => {
  describe('get', () => {
    it('is 0 for an unknown id', () => {
      const { backoff } = manualBackoff();
      expect(backoff.get('missing')).toBe(0);
    });
  });

  describe('next', () => {
    it('walks 10s, 20s, 40s, … up to the 5m cap', () => {
      const { backoff, clock } = manualBackoff();
      const seen: number[] = [];
      for (let i = 0; i < 9; i++) {
        clock.now = T0 + i * 1_000;
        backoff.next('c', clock.now);
        seen.push(backoff.get('c'));
      }
      expect(seen).toEqual([10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000, 300_000]);
    });

    it('keeps ids independent', () => {
      const { backoff } = manualBackoff();
      backoff.next('a', T0);
      backoff.next('a', T0);
      backoff.next('b', T0);
      expect([backoff.get('a'), backoff.get('b')]).toEqual([20_000, 10_000]);
    });

    it.each([
      ['exactly resetAfter', 600_000, 80_000],
      ['resetAfter + 1 ms', 600_001, 10_000],
    ])('with an event %s (%i ms) after the last update → %i ms', (_name, elapsed, expected) => {
      const { backoff, clock } = manualBackoff();
      backoff.next('c', T0);
      backoff.next('c', T0);
      backoff.next('c', T0);
      expect(backoff.get('c')).toBe(40_000);
      clock.now = T0 + elapsed;
      backoff.next('c', clock.now);
      expect(backoff.get('c')).toBe(expected);
    });

    it('stamps lastUpdate with the clock, not the event time', () => {
      const { backoff, clock } = manualBackoff();
      clock.now = T0 + 7_000;
      backoff.next('c', T0);
      expect(backoff.entry('c')).toEqual({ backoffMs: 10_000, lastUpdate: T0 + 7_000 });
    });

    it('uses a configured reset threshold instead of 2 × max', () => {
      const { backoff, clock } = manualBackoff(params({ resetAfterMs: 60_000 }));
      backoff.next('c', T0);
      backoff.next('c', T0);
      clock.now = T0 + 60_000;
      backoff.next('c', clock.now);
      expect(backoff.get('c')).toBe(40_000);
      clock.now += 60_001;
      backoff.next('c', clock.now);
      expect(backoff.get('c')).toBe(10_000);
    });

    it('adds truncated jitter to every step, the initial one included', () => {
      const random = randomSequence(0.25, 0.99999, 0.5);
      const { backoff } = manualBackoff(params({ initialMs: 1_000, maxMs: 5_000, resetAfterMs: 10_000, jitterFactor: 0.5 }), random);
      backoff.next('c', T0);
      expect(backoff.get('c')).toBe(1_125); // 1000 + trunc(0.25 × 0.5 × 1000)
      backoff.next('c', T0);
      expect(backoff.get('c')).toBe(2_812); // 2 × 1125 + trunc(0.99999 × 0.5 × 1125) = 2250 + 562
      backoff.next('c', T0);
      expect(backoff.get('c')).toBe(5_000); // 2 × 2812 + 703 = 6327, capped
    });
  });

  describe('isInBackOffSince', () => {
    it.each([
      [0, true],
      [19_999, true],
      [20_000, false],
      [20_001, false],
    ])('%i ms after the event with a 20s back-off → %s', (elapsed, expected) => {
      const { backoff, clock } = manualBackoff();
      backoff.next('c', T0);
      backoff.next('c', T0);
      clock.now = T0 + elapsed;
      expect(backoff.isInBackOffSince('c', T0)).toBe(expected);
    });

    it('is false for an unknown id', () => {
      const { backoff } = manualBackoff();
      expect(backoff.isInBackOffSince('missing', T0)).toBe(false);
    });

    it('is false once the event is past the reset threshold', () => {
      const { backoff, clock } = manualBackoff();
      backoff.next('c', T0);
      clock.now = T0 + 600_001;
      expect(backoff.isInBackOffSince('c', T0 + 600_000)).toBe(true);
      expect(backoff.isInBackOffSince('c', T0 + 600_001)).toBe(false);
    });
  });

  describe('isInBackOffSinceUpdate', () => {
    it.each([
      [0, true],
      [9_999, true],
      [10_000, false],
      [600_001, false],
    ])('an event %i ms after the update with a 10s back-off → %s', (offset, expected) => {
      const { backoff, clock } = manualBackoff();
      backoff.next('c', T0);
      // The clock plays no part: only eventTime − lastUpdate does.
      clock.now = T0 + 10 * 600_000;
      expect(backoff.isInBackOffSinceUpdate('c', T0 + offset)).toBe(expected);
    });

    it('is false for an unknown id', () => {
      const { backoff } = manualBackoff();
      expect(backoff.isInBackOffSinceUpdate('missing', T0)).toBe(false);
    });
  });

  describe('reset', () => {
    it('forgets the id so the next step starts over', () => {
      const { backoff } = manualBackoff();
      backoff.next('c', T0);
      backoff.next('c', T0);
      backoff.reset('c');
      expect(backoff.get('c')).toBe(0);
      expect(backoff.entry('c')).toBeUndefined();
      backoff.next('c', T0);
      expect(backoff.get('c')).toBe(10_000);
    });

    it('leaves other ids alone, and ignores unknown ones', () => {
      const { backoff } = manualBackoff();
      backoff.next('a', T0);
      backoff.reset('b');
      expect(backoff.ids()).toEqual(['a']);
    });
  });

  describe('gc', () => {
    it.each([
      [600_000, ['fresh', 'old']],
      [600_001, ['fresh']],
    ])('%i ms after the old entry’s update keeps %j (strictly greater drops)', (elapsed, kept) => {
      const { backoff, clock } = manualBackoff();
      backoff.next('old', T0);
      clock.now = T0 + 100_000;
      backoff.next('fresh', clock.now);
      clock.now = T0 + elapsed;
      backoff.gc();
      expect(backoff.ids()).toEqual(kept);
    });

    it('lists the remaining ids sorted', () => {
      const { backoff } = manualBackoff();
      for (const id of ['c', 'a', 'b']) backoff.next(id, T0);
      backoff.gc();
      expect(backoff.ids()).toEqual(['a', 'b', 'c']);
    });
  });
});
