import { describe, expect, it } from 'vitest';
import { formatNumber, table, usd } from '../../scripts/bench/report.ts';

describe('table', () => {
  it('writes a markdown table and escapes pipes in cells', () => {
    expect(table(['a', 'b'], [[1, 'x|y']])).toBe('| a | b |\n|---|---|\n| 1 | x\\|y |');
  });
});

describe('formatNumber', () => {
  it.each([
    [12_345.6, '12,346'],
    [123.4, '123'],
    [4.567, '4.57'],
    [0.1234, '0.12'],
    [Number.NaN, 'n/a'],
  ])('%d → %s', (value, expected) => {
    expect(formatNumber(value)).toBe(expected);
  });
});

describe('usd', () => {
  it.each([
    [0, '$0'],
    [1_234.5, '$1,235'],
    [4.891, '$4.89'],
    [0.00123, '$0.0012'],
  ])('%d → %s', (value, expected) => {
    expect(usd(value)).toBe(expected);
  });
});
