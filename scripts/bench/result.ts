/** The benchmark's JSON result, and the check that every field the issue names is in it. Pure. */
import type { BundlesResult } from './bundles.ts';
import type { CallsResult } from './calls.ts';
import type { CostModel } from './cost.ts';
import type { IngestResult } from './ingest.ts';
import type { RestartsResult } from './restarts.ts';
import type { StormResult } from './storm.ts';
import type { SyncResult } from './sync-cost.ts';
import type { SyncScaleResult } from './sync-scale.ts';

export interface RunMeta {
  readonly mode: 'quick' | 'full';
  readonly startedAt: string;
  readonly durationSec: number;
  readonly node: string;
  readonly platform: string;
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  /** 1-minute load average of the machine before and after the run: other work on the machine skews figures. */
  readonly loadAverage: { readonly before: number; readonly after: number };
  readonly commit?: string;
  /** Seconds each section took. */
  readonly sections: Record<string, number>;
}

export interface BenchResult {
  readonly meta: RunMeta;
  readonly ingest: IngestResult;
  readonly callsPerExit: CallsResult['callsPerExit'];
  readonly callsPerRestart: CallsResult['callsPerRestart'];
  readonly callsPerSync: CallsResult['callsPerSync'];
  readonly calls: { readonly operations: CallsResult['operations'] };
  readonly restarts: RestartsResult & { readonly synchronized?: RestartsResult };
  readonly sync: SyncResult;
  readonly syncScale: SyncScaleResult;
  readonly memory: {
    readonly peakRssMb: number;
    readonly source: string;
    readonly heapUsedMbAfter: number;
    readonly live: IngestResult['liveMemory'];
    /** The same load on a runtime in its default mode, on disk. */
    readonly peakRssOnDiskMb: number;
    readonly liveOnDisk: IngestResult['liveMemory'];
  };
  readonly bundles: BundlesResult;
  readonly storm: StormResult;
  readonly cost: {
    readonly usdPerMillionExitEvents: Record<'second' | 'minute', { readonly batch1: number; readonly batch100: number }>;
    readonly usdPerMillionRestarts: Record<'second' | 'minute', number>;
    readonly model: CostModel;
  };
  readonly plots: readonly string[];
}

/** Dotted paths of the fields the issue names, each a number (or an object for the tables). */
export const REQUIRED_NUMBERS = [
  'ingest.eventsPerSec',
  'ingest.rawPairsPerSec',
  'ingest.ratio',
  'ingest.p50Ms',
  'ingest.p99Ms',
  'restarts.count',
  'restarts.early',
  'restarts.latenessP50Ms',
  'restarts.latenessP99Ms',
  'restarts.latenessMaxMs',
  'memory.peakRssMb',
  'storm.fleet.busiestSecond',
  'storm.fleet.early',
  'storm.fleet.lastRestartMs',
  'storm.local.busiestSecond',
  'storm.local.early',
  'storm.local.lastRestartMs',
  'ingest.runtimePeakRssMb',
  'ingest.runtimePeakRssOnDiskMb',
] as const;

export const REQUIRED_OBJECTS = ['callsPerExit', 'sync.itemsRead', 'syncScale.rows', 'bundles'] as const;

/** The fields the issue names for each size of the sync-scale benchmark. */
const SYNC_SCALE_FIELDS = ['waiting', 'overdue', 'itemsRead', 'busEntries', 'peakRssMb', 'wallMs'] as const;

function at(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((current, key) => (current && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined), value);
}

/** The named fields that are missing or not what they should be; empty when all are there. */
export function missingFields(result: unknown): string[] {
  const missing: string[] = [];
  for (const path of REQUIRED_NUMBERS) {
    const value = at(result, path);
    if (typeof value !== 'number' || !Number.isFinite(value)) missing.push(path);
  }
  for (const path of REQUIRED_OBJECTS) {
    const value = at(result, path);
    if (!value || typeof value !== 'object' || Object.keys(value).length === 0) missing.push(path);
  }
  const rows = at(result, 'syncScale.rows');
  if (Array.isArray(rows)) {
    rows.forEach((row: Record<string, unknown>, index) => {
      for (const field of SYNC_SCALE_FIELDS) if (typeof row?.[field] !== 'number') missing.push(`syncScale.rows.${index}.${field}`);
    });
  }
  const calls = at(result, 'callsPerExit') as Record<string, Record<string, unknown>> | undefined;
  for (const kind of ['restartNow', 'shortBackoff', 'longBackoff', 'duplicate', 'noRestart']) {
    for (const call of ['GetItem', 'PutItem', 'CreateSchedule', 'SendMessage', 'PutEvents']) {
      if (typeof calls?.[kind]?.[call] !== 'number') missing.push(`callsPerExit.${kind}.${call}`);
    }
  }
  return missing;
}
