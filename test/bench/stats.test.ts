import { describe, expect, it } from 'vitest';
import { median, percentile, round, summarize } from '../../scripts/bench/stats.ts';

describe('percentile', () => {
  it.each([
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50, 5],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90, 9],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99, 10],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 100, 10],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0, 1],
    [[42], 99, 42],
  ])('takes the nearest rank of %j at p%d: %d', (values, p, expected) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('does not depend on the order of the samples and leaves them unsorted', () => {
    const values = [9, 1, 7, 3, 5];
    expect(percentile(values, 50)).toBe(5);
    expect(values).toEqual([9, 1, 7, 3, 5]);
  });

  it('always returns one of the samples (no interpolation)', () => {
    const values = [10, 20, 30, 40];
    for (const p of [1, 25, 37.5, 50, 62.5, 75, 99]) expect(values).toContain(percentile(values, p));
  });

  it('is NaN for no samples', () => {
    expect(percentile([], 50)).toBeNaN();
  });

  it.each([-1, 101, Number.NaN])('refuses p = %d', (p) => {
    expect(() => percentile([1], p)).toThrow(RangeError);
  });
});

describe('median', () => {
  it.each([
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[7], 7],
  ])('of %j is %d', (values, expected) => {
    expect(median(values)).toBe(expected);
  });

  it('is NaN for no samples', () => {
    expect(median([])).toBeNaN();
  });
});

describe('summarize', () => {
  it('gives count, extremes, mean and the nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    expect(summarize(values)).toEqual({ count: 100, min: 1, p50: 50, p90: 90, p99: 99, max: 100, mean: 50.5 });
  });

  it('agrees with percentile()', () => {
    const values = [5, 3, 8, 13, 1, 1, 2, 21];
    const summary = summarize(values);
    expect([summary.p50, summary.p90, summary.p99]).toEqual([percentile(values, 50), percentile(values, 90), percentile(values, 99)]);
  });

  it('is all NaN (count 0) for no samples', () => {
    expect(summarize([])).toMatchObject({ count: 0, p50: Number.NaN, max: Number.NaN });
  });
});

describe('round', () => {
  it.each([
    [1.23456, 2, 1.23],
    [1.235, 1, 1.2],
    [1234.5678, 0, 1235],
  ])('rounds %d to %d digits: %d', (value, digits, expected) => {
    expect(round(value, digits)).toBe(expected);
  });

  it('leaves non-finite values alone', () => {
    expect(round(Number.POSITIVE_INFINITY)).toBe(Number.POSITIVE_INFINITY);
    expect(round(Number.NaN)).toBeNaN();
  });
});
