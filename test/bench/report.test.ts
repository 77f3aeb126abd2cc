import { describe, expect, it } from 'vitest';
import type { BundlesResult } from '../../scripts/bench/bundles.ts';
import { bundleCompositionTable, formatNumber, stormSection, syncScaleSeries, table, usd } from '../../scripts/bench/report.ts';
import type { StormResult } from '../../scripts/bench/storm.ts';
import type { SyncScaleRow } from '../../scripts/bench/sync-scale.ts';

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

describe('stormSection', () => {
  const run = { reportedInMs: 20_000, immediate: 500, delayed: 9_500, dispatched: 10_000, busiestSecond: 995, busiestSecondDue: 995, steadyPerSecond: 500, early: 0, lastRestartMs: 19_010, lateness: { p50Ms: 0, p99Ms: 1, maxMs: 3 } };
  const storm: StormResult = { containers: 10_000, budget: { perSecond: 500, burst: 500 }, bound: 999, expectedLastMs: 19_000, callers: 16, updateItemsPerRestart: 1.04, fleet: run, local: { ...run, immediate: 10_000, delayed: 0, reportedInMs: 40_000 } };

  it('states the bound, the fleet and local figures, and when the local runtime was the tighter limit', () => {
    const text = stormSection(storm).join('\n');
    expect(text).toContain('**999** in any one second');
    expect(text).toContain('| fleet | 20 s | 500 / 9500 | 995 (995 due) | 500 | 0 | 19 s | 0 / 1 ms |');
    expect(text).toContain('handled the crashes at 250 per second, below the budget\'s 500/s');
    expect(stormSection({ ...storm, local: run }).join('\n')).toContain('The local runtime deferred 9500 of the 10,000 restarts');
  });
});

describe('syncScaleSeries', () => {
  const row = (waiting: number, peakRssMb: number): SyncScaleRow => ({
    waiting,
    overdue: 1_000,
    itemsRead: 1_000 + waiting / 10_000,
    busEntries: 1_000,
    peakRssMb,
    wallMs: 9_000,
    recovered: 1_000,
    baselineRssMb: 90,
    censusItemsRead: waiting,
    censusMs: 5,
    dynamoCalls: 3_000,
    dynamoAnswerMs: 1.5,
  });

  it('gives the overdue restarts once and each figure one per run, in the order run', () => {
    expect(syncScaleSeries({ rows: [row(0, 110.4), row(10_000, 112), row(100_000, 131.56)] })).toEqual({
      overdue: 1_000,
      waiting: '0 / 10,000 / 100,000',
      itemsRead: '1000 / 1001 / 1010',
      busEntries: '1000 / 1000 / 1000',
      peakRss: '110 MB / 112 MB / 132 MB',
    });
  });

  it('says no overdue restarts and no figures when nothing ran', () => {
    expect(syncScaleSeries({ rows: [] })).toEqual({ overdue: 0, waiting: '', itemsRead: '', busEntries: '', peakRss: '' });
  });
});

describe('bundleCompositionTable', () => {
  const variant = { bytes: 0, kib: 0, coldImportMs: 0 };
  const bundles: BundlesResult = {
    handlers: [
      { handler: 'exit', sdkBundled: variant, sdkExternal: variant, withinGoal: true, composition: [{ package: '@smithy/core', bytes: 102_400 }, { package: 'zod', bytes: 32_768 }, { package: 'lib/api', bytes: 1_024 }] },
      { handler: 'deliver', sdkBundled: variant, sdkExternal: variant, withinGoal: true, composition: [{ package: '@aws-sdk/client-ecs', bytes: 40_960 }, { package: '@smithy/core', bytes: 92_160 }, { package: 'mnemonist', bytes: 512 }] },
    ],
    nodeBaselineMs: 0,
    runs: 1,
    goalBytes: 524_288,
  };

  it('lists the largest packages of any bundle, KiB per handler, a dash where a bundle has none, and sums the rest', () => {
    expect(bundleCompositionTable(bundles, 3)).toBe(
      [
        '| package (KiB) | exit | deliver |',
        '|---|---|---|',
        '| @smithy/core | 100 | 90 |',
        '| @aws-sdk/client-ecs | – | 40 |',
        '| zod | 32 | – |',
        '| everything else | 1 | 0.5 |',
      ].join('\n'),
    );
  });
});
