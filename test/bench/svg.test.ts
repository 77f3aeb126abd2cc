import { describe, expect, it } from 'vitest';
import { escapeXml, formatTick, lineChart, logTicks, niceTicks } from '../../scripts/bench/svg.ts';

/** The points of every polyline, as numbers. */
function polylines(svg: string): [number, number][][] {
  return [...svg.matchAll(/<polyline [^>]*points="([^"]*)"/g)].map((match) => match[1]!.split(' ').map((pair) => pair.split(',').map(Number) as [number, number]));
}

describe('niceTicks', () => {
  it.each([
    [0, 10, 5, [0, 2, 4, 6, 8, 10]],
    [0, 300, 5, [0, 100, 200, 300]],
    [0, 1, 4, [0, 0.5, 1]],
    [3, 97, 5, [20, 40, 60, 80]],
  ])('covers [%d, %d] with round steps', (min, max, count, expected) => {
    expect(niceTicks(min, max, count)).toEqual(expected);
  });

  it('uses steps of 1, 2 or 5 times a power of ten', () => {
    for (const [min, max] of [[0, 7], [0, 123], [5, 5_000], [0, 0.03]] as const) {
      const ticks = niceTicks(min, max, 5);
      const step = ticks[1]! - ticks[0]!;
      const mantissa = Number((step / 10 ** Math.floor(Math.log10(step))).toPrecision(6));
      expect([1, 2, 5]).toContain(mantissa);
    }
  });

  it('gives one tick for an empty range and none for non-finite bounds', () => {
    expect(niceTicks(4, 4)).toEqual([4]);
    expect(niceTicks(0, Number.NaN)).toEqual([]);
  });
});

describe('logTicks', () => {
  it('gives the powers of ten around the range', () => {
    expect(logTicks(3, 250)).toEqual([1, 10, 100, 1_000]);
  });
});

describe('formatTick', () => {
  it.each([
    [0, '0'],
    [2.5, '2.5'],
    [1_500, '1500'],
    [15_000, '15k'],
    [2_000_000, '2M'],
  ])('%d → %s', (value, expected) => {
    expect(formatTick(value)).toBe(expected);
  });
});

describe('escapeXml', () => {
  it('escapes the characters that would break the markup', () => {
    expect(escapeXml('a < b & "c" > d')).toBe('a &lt; b &amp; &quot;c&quot; &gt; d');
  });
});

describe('lineChart', () => {
  const chart = (overrides: Partial<Parameters<typeof lineChart>[0]> = {}) =>
    lineChart({
      title: 'Delay <by> restart',
      xLabel: 'restart',
      yLabel: 'seconds',
      series: [
        { name: 'kubelet', points: [{ x: 1, y: 0 }, { x: 2, y: 10 }, { x: 3, y: 20 }] },
        { name: 'reduced & co', points: [{ x: 1, y: 0 }, { x: 2, y: 1 }, { x: 3, y: 2 }], dashed: true },
      ],
      ...overrides,
    });

  it('is one SVG document with a title, axes labels and one legend entry per series', () => {
    const svg = chart();
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('<title>Delay &lt;by&gt; restart</title>');
    expect(svg).toContain('>restart</text>');
    expect(svg).toContain('>seconds</text>');
    expect(svg).toContain('>kubelet</text>');
    expect(svg).toContain('>reduced &amp; co</text>');
  });

  it('draws one polyline per series with every point, and dashes the dashed one', () => {
    const svg = chart();
    const lines = polylines(svg);
    expect(lines).toHaveLength(2);
    expect(lines.map((line) => line.length)).toEqual([3, 3]);
    expect(svg.match(/<polyline [^>]*stroke-dasharray/g)).toHaveLength(1);
    expect(svg.match(/<circle /g)).toHaveLength(6);
  });

  it('maps larger values higher up and further right, inside the canvas', () => {
    const [kubelet] = polylines(chart({ width: 640, height: 360 }));
    const xs = kubelet!.map(([x]) => x);
    const ys = kubelet!.map(([, y]) => y);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(ys).toEqual([...ys].sort((a, b) => b - a));
    for (const [x, y] of kubelet!) {
      expect(x).toBeGreaterThan(0);
      expect(x).toBeLessThan(640);
      expect(y).toBeGreaterThan(0);
      expect(y).toBeLessThan(360);
    }
  });

  it('puts the same value at the same height in every series', () => {
    const [first, second] = polylines(chart());
    expect(first![0]![1]).toBe(second![0]![1]);
  });

  it('skips points it cannot place: NaN, and non-positive ones on a log axis', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'x',
      yLabel: 'y',
      logX: true,
      series: [{ name: 's', points: [{ x: 0, y: 1 }, { x: 1, y: Number.NaN }, { x: 8, y: 2 }, { x: 32, y: 3 }] }],
    });
    expect(polylines(svg)[0]).toHaveLength(2);
  });

  it('places x by its logarithm on a log axis', () => {
    const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', logX: true, xTicks: [1, 8, 32], series: [{ name: 's', points: [{ x: 1, y: 1 }, { x: 8, y: 1 }, { x: 32, y: 1 }] }] });
    const [[a, b, c]] = polylines(svg).map((line) => line.map(([x]) => x)) as [[number, number, number]];
    // log10(8) / log10(32) of the way along: 0.6, not 7/31 ≈ 0.23 as on a linear axis.
    expect((b - a) / (c - a)).toBeCloseTo(Math.log10(8) / Math.log10(32), 2);
  });
});
