/**
 * (9) The plots: restart delay against restart number for the kubelet,
 * reduced and a custom policy (the core's own simulation), the delays the
 * runtime served in (4), throughput against concurrency from (1), and the
 * sync's reads against table size from (5).
 */
import { resolveBackoffPolicy, simulateTimeline, type BackoffPolicyInput } from '../../lib/core/index.ts';
import type { IngestResult } from './ingest.ts';
import type { RestartsResult } from './restarts.ts';
import type { SyncResult } from './sync-cost.ts';
import { lineChart } from './svg.ts';

export interface Plot {
  /** File name under docs/img/. */
  readonly file: string;
  readonly title: string;
  readonly svg: string;
}

/** The policies of the delay plot: presets and one custom policy, each crash one second after its start. */
export const PLOTTED_POLICIES: readonly { readonly name: string; readonly input: BackoffPolicyInput }[] = [
  { name: 'kubelet (10s doubling to 5m)', input: { preset: 'kubelet' } },
  { name: 'reduced, KEP-4603 (1s doubling to 60s)', input: { preset: 'reduced' } },
  { name: 'custom: --initial-backoff 5s --max-backoff 2m', input: { initial: '5s', max: '2m' } },
];
export const PLOTTED_RESTARTS = 12;

export function policyDelayPlot(): Plot {
  const series = PLOTTED_POLICIES.map(({ name, input }) => {
    const steps = simulateTimeline(resolveBackoffPolicy(input), Array.from({ length: PLOTTED_RESTARTS }, () => 1_000));
    return { name, points: steps.map((step) => ({ x: step.restart, y: step.delayMs / 1_000 })) };
  });
  return {
    file: 'restart-delay-policies.svg',
    title: 'Restart delay by restart number (each run crashes after 1 s)',
    svg: lineChart({
      title: 'Restart delay by restart number (each run crashes after 1 s)',
      xLabel: 'restart number',
      yLabel: 'delay before the restart (s)',
      series,
      xTicks: Array.from({ length: PLOTTED_RESTARTS }, (_, index) => index + 1),
    }),
  };
}

export function measuredDelayPlot(restarts: RestartsResult): Plot {
  const title = `Delay served by restart number (${restarts.policy.initialBackoff} doubling to ${restarts.policy.maxBackoff})`;
  return {
    file: 'restart-delay-measured.svg',
    title,
    svg: lineChart({
      title,
      xLabel: 'restart number',
      yLabel: 'exit → restart fired (ms)',
      series: [
        { name: 'the policy (kubelet semantics)', points: restarts.byRestart.map((row) => ({ x: row.restart, y: row.delayMs })), dashed: true },
        { name: 'served, median', points: restarts.byRestart.map((row) => ({ x: row.restart, y: row.servedP50Ms })) },
        { name: 'served, slowest', points: restarts.byRestart.map((row) => ({ x: row.restart, y: row.servedMaxMs })) },
      ],
      xTicks: restarts.byRestart.map((row) => row.restart),
    }),
  };
}

export function throughputPlot(ingest: IngestResult): Plot {
  const batches = [...new Set(ingest.configs.map((config) => config.batch))];
  const series = batches.map((batch) => ({
    name: `end to end, ${batch === 1 ? 'one event' : `${batch} events`} per request (restarts dispatched)`,
    points: ingest.configs.filter((config) => config.batch === batch).map((config) => ({ x: config.concurrency, y: config.eventsPerSecWithDispatch })),
  }));
  series.push({ name: 'raw store: consistent read + conditional write pairs', points: ingest.raw.map((raw) => ({ x: raw.concurrency, y: raw.pairsPerSec })) });
  return {
    file: 'throughput-concurrency.svg',
    title: 'Exit events per second against concurrency (local runtime)',
    svg: lineChart({
      title: 'Exit events per second against concurrency (local runtime)',
      xLabel: 'concurrent callers',
      yLabel: 'per second',
      series,
      logX: true,
      xTicks: ingest.raw.map((raw) => raw.concurrency),
    }),
  };
}

export function syncPlot(sync: SyncResult): Plot {
  return {
    file: 'sync-items-read.svg',
    title: `Items read per sync, ${sync.waiting} containers waiting`,
    svg: lineChart({
      title: `Items read per sync, ${sync.waiting} containers waiting`,
      xLabel: 'idle entries in the table',
      yLabel: 'items read per sync',
      series: [
        { name: 'sync (sparse waiting index)', points: sync.sizes.map((size) => ({ x: size.idle, y: size.itemsRead })) },
        { name: 'a table scan would read', points: sync.sizes.map((size) => ({ x: size.idle, y: size.tableItems })), dashed: true },
      ],
      xTicks: sync.sizes.map((size) => size.idle),
      // Logarithmic, so that the flat line is not lost at the foot of the scan's.
      logY: true,
      yMin: 10,
    }),
  };
}
