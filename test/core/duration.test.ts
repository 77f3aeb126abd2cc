import { describe, expect, it } from 'vitest';
import { DurationError, formatDuration, goDurationString, parseDuration } from '../../lib/core/index.ts';

describe('parseDuration', () => {
  it.each([
    ['200ms', 200],
    ['1ms', 1],
    ['10s', 10_000],
    ['0.5s', 500],
    ['1.5s', 1_500],
    ['0.1s', 100],
    ['1m30s', 90_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['1h0m0s', 3_600_000],
    ['1h2m3s4ms', 3_723_004],
    ['2m500ms', 120_500],
    ['0', 0],
    ['0s', 0],
    ['0ms', 0],
    [' 10s ', 10_000],
  ])('reads %j as %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['10', /<number><unit>/],
    ['abc', /<number><unit>/],
    ['10S', /<number><unit>/],
    ['10sec', /<number><unit>/],
    ['1m30', /<number><unit>/],
    ['-5s', /<number><unit>/],
    ['.5s', /<number><unit>/],
    ['1.s', /<number><unit>/],
    ['10 s', /<number><unit>/],
    ['5d', /<number><unit>/],
    ['1.5ms', /finer than a millisecond/],
    ['0.0001s', /finer than a millisecond/],
    ['9999999999999h', /too large/],
  ])('rejects %j with an error that quotes it', (input, reason) => {
    let caught: unknown;
    try {
      parseDuration(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DurationError);
    const error = caught as DurationError;
    expect(error.input).toBe(input);
    expect(error.message).toContain(`invalid duration ${JSON.stringify(input)}`);
    expect(error.message).toMatch(reason);
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [200, '200ms'],
    [999, '999ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [1_001, '1.001s'],
    [10_000, '10s'],
    [40_000, '40s'],
    [60_000, '1m'],
    [60_500, '1m0.5s'],
    [80_000, '1m20s'],
    [90_000, '1m30s'],
    [160_000, '2m40s'],
    [300_000, '5m'],
    [600_000, '10m'],
    [3_600_000, '1h'],
    [3_601_000, '1h1s'],
    [3_723_004, '1h2m3.004s'],
    [-90_000, '-1m30s'],
  ])('formats %i ms as %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it.each([0, 1, 200, 999, 1_000, 1_001, 1_500, 59_999, 60_000, 60_001, 90_000, 300_000, 3_599_999, 3_600_000, 3_723_004, 86_400_000])(
    'formats %i ms so that parseDuration reads it back',
    (ms) => {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    },
  );

  it.each([Number.NaN, Number.POSITIVE_INFINITY])('refuses %d', (ms) => {
    expect(() => formatDuration(ms)).toThrow(RangeError);
  });
});

describe('goDurationString', () => {
  // Expected strings are what Go's time.Duration.String() prints for the same value.
  it.each([
    [0, '0s'],
    [1, '1ms'],
    [200, '200ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [1_001, '1.001s'],
    [10_000, '10s'],
    [40_000, '40s'],
    [60_000, '1m0s'],
    [80_000, '1m20s'],
    [90_500, '1m30.5s'],
    [160_000, '2m40s'],
    [300_000, '5m0s'],
    [3_600_000, '1h0m0s'],
    [3_661_000, '1h1m1s'],
    [3_723_004, '1h2m3.004s'],
    [-300_000, '-5m0s'],
  ])('formats %i ms as %j', (ms, text) => {
    expect(goDurationString(ms)).toBe(text);
  });
});
