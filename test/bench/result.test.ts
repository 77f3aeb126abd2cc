import { describe, expect, it } from 'vitest';
import { missingFields, REQUIRED_NUMBERS } from '../../scripts/bench/result.ts';

const counts = { GetItem: 1, PutItem: 1, CreateSchedule: 0, SendMessage: 1, PutEvents: 0 };
const complete = {
  ingest: { eventsPerSec: 100, rawPairsPerSec: 200, ratio: 0.5, p50Ms: 4, p99Ms: 9, runtimePeakRssMb: 200, runtimePeakRssOnDiskMb: 180 },
  callsPerExit: { restartNow: { ...counts }, shortBackoff: { ...counts }, longBackoff: { ...counts }, duplicate: { ...counts }, noRestart: { ...counts } },
  restarts: { count: 1_000, early: 0, latenessP50Ms: 1, latenessP99Ms: 5, latenessMaxMs: 9 },
  sync: { itemsRead: { '0': 100, '10000': 100 } },
  syncScale: { rows: [{ waiting: 0, overdue: 1_000, itemsRead: 1_000, busEntries: 1_000, peakRssMb: 110, wallMs: 9_000 }] },
  memory: { peakRssMb: 200 },
  bundles: { handlers: [] },
  storm: { fleet: { busiestSecond: 999, early: 0, lastRestartMs: 19_000 }, local: { busiestSecond: 300, early: 0, lastRestartMs: 40_000 } },
};

describe('missingFields', () => {
  it('finds nothing missing in a complete result', () => {
    expect(missingFields(complete)).toEqual([]);
  });

  it.each(REQUIRED_NUMBERS.map((path) => [path]))('names %s when it is absent or not a number', (path) => {
    const copy = structuredClone(complete) as Record<string, unknown>;
    const parts = path.split('.');
    const field = parts.pop()!;
    const parent = parts.reduce((node, part) => (node as Record<string, unknown>)[part], copy as unknown) as Record<string, unknown>;
    parent[field] = 'fast';
    expect(missingFields(copy)).toContain(path);
    delete parent[field];
    expect(missingFields(copy)).toContain(path);
  });

  it('names a sync-scale row without one of the fields the issue names', () => {
    const copy = structuredClone(complete) as unknown as { syncScale: { rows: Record<string, unknown>[] } };
    delete copy.syncScale.rows[0]!.peakRssMb;
    expect(missingFields(copy)).toEqual(['syncScale.rows.0.peakRssMb']);
  });

  it('names an empty sync.itemsRead, a missing bundles and a missing call count', () => {
    const copy = structuredClone(complete) as Record<string, unknown> & { callsPerExit: Record<string, Record<string, number>> };
    (copy.sync as Record<string, unknown>).itemsRead = {};
    delete copy.bundles;
    delete copy.callsPerExit.duplicate!.PutEvents;
    expect(missingFields(copy)).toEqual(['sync.itemsRead', 'bundles', 'callsPerExit.duplicate.PutEvents']);
  });
});
