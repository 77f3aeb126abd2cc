/**
 * `npm run bench [-- --quick] [--only SECTION] [--json] [--out FILE] [--docs | --no-docs] [--from FILE]`
 *
 * Measures the local runtime and the Lambda handlers, each figure against its
 * baseline in the same run, prints a summary, writes the JSON (--out) and, for
 * a full run, docs/BENCHMARKS.md, docs/COST.md and docs/img/*.svg.
 *   --quick    the whole run in about 100 s (the same JSON fields as a full run)
 *   --only S   measure one section only (ingest, calls, restarts, sync, sync-scale, bundles, storm) and write no docs
 *   --json     print the result as JSON on stdout (progress and the summary go to stderr)
 *   --out F    write the result as JSON to F
 *   --docs     write the docs even for a quick run; --no-docs: not even for a full run
 *   --from F   measure nothing: print and write the docs from a result saved with --out
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

// The lockfile pins an SDK release that supports Node 20; its notice about
// later releases is noise here (child processes inherit this).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Loaded after the line above, so that the SDK sees it.
const { benchIngest } = await import('./ingest.ts');
const { benchCalls } = await import('./calls.ts');
const { benchRestarts } = await import('./restarts.ts');
const { benchSync } = await import('./sync-cost.ts');
const { benchSyncScale } = await import('./sync-scale.ts');
const { benchBundles } = await import('./bundles.ts');
const { benchStorm } = await import('./storm.ts');
const { buildCostModel } = await import('./cost.ts');
const { measuredDelayPlot, policyDelayPlot, syncPlot, throughputPlot } = await import('./plots.ts');
const { benchmarksMarkdown, costMarkdown, formatNumber, syncScaleSeries, table, usd } = await import('./report.ts');
const { missingFields } = await import('./result.ts');
const { PROJECT_ROOT } = await import('./child.ts');
type BenchResult = import('./result.ts').BenchResult;

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    docs: { type: 'boolean' },
    'no-docs': { type: 'boolean', default: false },
    from: { type: 'string' },
    only: { type: 'string' },
    json: { type: 'boolean', default: false },
  },
  strict: true,
});
// With --json, stdout carries the JSON alone: progress and the summary go to stderr.
const printJson = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);
if (flags.json) console.log = (...args: unknown[]) => console.error(...args);
/** Progress lines: on stderr with --json (console.log is redirected above). */
const log = (line: string) => console.log(line);

const SECTIONS = ['ingest', 'calls', 'restarts', 'sync', 'sync-scale', 'bundles', 'storm'] as const;
type Section = (typeof SECTIONS)[number];
if (flags.only !== undefined && !(SECTIONS as readonly string[]).includes(flags.only)) {
  console.error(`--only: expected one of ${SECTIONS.join(', ')}, got ${JSON.stringify(flags.only)}`);
  process.exit(2);
}
const only = flags.only as Section | undefined;

/** The round trips the issue's replay gave DynamoDB and EventBridge calls. */
const SYNC_SCALE_LATENCY = { dynamo: 30, eventBridge: 25 };
/** The V8 heap a 512 MB Lambda function gets (old space; the rest is code, buffers and the runtime). */
const LAMBDA_512_HEAP_MB = 448;

/** What each mode measures. Quick: every field, smaller samples, each ingest configuration warmed up before it is measured (about 100 s on 2 cores). */
function planFor(quick: boolean) {
  const fastPolicy = { initialBackoff: '100ms', maxBackoff: '800ms' };
  return quick
    ? {
        ingest: { concurrencies: [1, 8, 32], batches: [1, 100], durationMs: 700, warmupMs: 300, exitPathOnly: false, globalWarmupMs: 1_000, profileMs: 0 },
        restarts: { ...fastPolicy, containers: 90, restartsPerContainer: 12, staggerMs: 1_600, warmup: { containers: 10, restarts: 4 } },
        synchronized: undefined,
        sync: { idleSizes: [0, 10_000], waiting: 100, repetitions: 3 },
        syncScale: { sizes: [0, 10_000], overdue: 1_000, latencyMs: SYNC_SCALE_LATENCY, maxOldSpaceMb: LAMBDA_512_HEAP_MB },
        calls: { containers: 5, syncWaiting: 100 },
        bundleRuns: 2,
        storm: { containers: 2_000, perSecond: 500, burst: 500, callers: 16, batch: 100, concurrency: 4 },
      }
    : {
        ingest: { concurrencies: [1, 8, 32], batches: [1, 100], durationMs: 5_000, warmupMs: 1_000, exitPathOnly: true, globalWarmupMs: 4_000, profileMs: 4_000 },
        restarts: { ...fastPolicy, containers: 100, restartsPerContainer: 30, staggerMs: 2_000, warmup: { containers: 40, restarts: 6 } },
        synchronized: { ...fastPolicy, containers: 100, restartsPerContainer: 10, staggerMs: 0, warmup: { containers: 40, restarts: 6 } },
        sync: { idleSizes: [0, 10_000, 100_000], waiting: 100, repetitions: 10 },
        syncScale: { sizes: [0, 10_000, 100_000], overdue: 1_000, latencyMs: SYNC_SCALE_LATENCY, maxOldSpaceMb: LAMBDA_512_HEAP_MB },
        calls: { containers: 30, syncWaiting: 100 },
        bundleRuns: 7,
        storm: { containers: 10_000, perSecond: 500, burst: 500, callers: 16, batch: 100, concurrency: 4 },
      };
}

function gitCommit(): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain').length > 0 ? `${commit} (with uncommitted changes)` : commit;
  } catch {
    return undefined;
  }
}

/** Runs one section alone (--only): its result under the key the full result gives it (sync-scale: its rows under `syncScale`, and the run's settings beside them). */
async function measureOne(quick: boolean, name: Section): Promise<Record<string, unknown>> {
  const plan = planFor(quick);
  switch (name) {
    case 'ingest':
      return { ingest: await benchIngest(plan.ingest, log) };
    case 'calls':
      return { calls: await benchCalls(plan.calls, log) };
    case 'restarts':
      return { restarts: await benchRestarts(plan.restarts, log) };
    case 'sync':
      return { sync: await benchSync(plan.sync, log) };
    case 'sync-scale': {
      const scale = await benchSyncScale(plan.syncScale, log);
      return { syncScale: scale.rows, syncScaleRun: { latencyMs: scale.latencyMs, maxOldSpaceMb: scale.maxOldSpaceMb, itemBytes: scale.itemBytes } };
    }
    case 'bundles':
      return { bundles: await benchBundles(plan.bundleRuns, log) };
    case 'storm':
      return { storm: await benchStorm(plan.storm, log) };
  }
}

async function measure(quick: boolean): Promise<BenchResult> {
  const plan = planFor(quick);
  const sections: Record<string, number> = {};
  const section = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    log(`— ${name}`);
    try {
      return await work();
    } finally {
      sections[name] = Math.round((performance.now() - started) / 100) / 10;
    }
  };

  const startedAt = new Date();
  const started = performance.now();
  const loadBefore = loadavg()[0]!;
  log(`restart-scheduler benchmarks (${quick ? 'quick' : 'full'} run); load average ${loadBefore.toFixed(2)} on ${cpus().length} cores`);
  if (loadBefore > cpus().length) log('note: the machine is busy (load above the core count); figures will be lower and noisier than on an idle machine');

  const ingest = await section('1, 2, 6: ingest throughput, latency, memory', () => benchIngest(plan.ingest, log));
  const calls = await section('3: calls per exit event (and the cost inputs)', () => benchCalls(plan.calls, log));
  const restarts = await section('4: restart timing', () => benchRestarts(plan.restarts, log));
  const synchronized = plan.synchronized ? await section('4: restart timing, synchronised wave', () => benchRestarts(plan.synchronized!, log)) : undefined;
  const sync = await section('5: sync cost against table size', () => benchSync(plan.sync, log));
  const syncScale = await section('5b: sync at scale: overdue against waiting', () => benchSyncScale(plan.syncScale, log));
  const bundles = await section('7: Lambda bundles', () => benchBundles(plan.bundleRuns, log));
  const storm = await section('10: restart storm', () => benchStorm(plan.storm, log));
  const model = buildCostModel(calls.operations);
  const commit = gitCommit();

  return {
    meta: {
      mode: quick ? 'quick' : 'full',
      startedAt: startedAt.toISOString(),
      durationSec: Math.round((performance.now() - started) / 100) / 10,
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 1_073_741_824),
      loadAverage: { before: Number(loadBefore.toFixed(2)), after: Number(loadavg()[0]!.toFixed(2)) },
      ...(commit ? { commit } : {}),
      sections,
    },
    ingest,
    callsPerExit: calls.callsPerExit,
    callsPerRestart: calls.callsPerRestart,
    callsPerSync: calls.callsPerSync,
    calls: { operations: calls.operations },
    restarts: { ...restarts, ...(synchronized ? { synchronized } : {}) },
    sync,
    syncScale,
    memory: {
      peakRssMb: ingest.runtimePeakRssMb,
      source: ingest.memorySource,
      heapUsedMbAfter: ingest.runtimeHeapUsedMb,
      live: ingest.liveMemory,
      peakRssOnDiskMb: ingest.runtimePeakRssOnDiskMb,
      liveOnDisk: ingest.onDisk.liveMemory,
    },
    bundles,
    storm,
    cost: {
      usdPerMillionExitEvents: {
        second: { batch1: model.exitEvent.second.batch1.usdPerMillion, batch100: model.exitEvent.second.batch100.usdPerMillion },
        minute: { batch1: model.exitEvent.minute.batch1.usdPerMillion, batch100: model.exitEvent.minute.batch100.usdPerMillion },
      },
      usdPerMillionRestarts: { second: model.restart.second.usdPerMillion, minute: model.restart.minute.usdPerMillion },
      model,
    },
    plots: [],
  };
}

function plotsOf(result: BenchResult) {
  return [policyDelayPlot(), measuredDelayPlot(result.restarts), throughputPlot(result.ingest), syncPlot(result.sync)];
}

function printSummary(result: BenchResult): void {
  const { ingest, restarts, sync, bundles, cost } = result;
  console.log('');
  console.log(
    table(
      ['measure', 'figure'],
      [
        ['ingest, end to end (best batched)', `${formatNumber(ingest.eventsPerSec)} events/s (${ingest.best.concurrency} callers × ${ingest.best.batch})`],
        ['raw store pairs, same dynalite', `${formatNumber(ingest.rawPairsPerSec)} pairs/s`],
        ['ratio (goal ≥ 0.8); in runtime CPU time', `${formatNumber(ingest.ratio, 3)}; ${formatNumber(ingest.cpuRatio, 3)}`],
        ['POST /v1/exits p50 / p99', `${formatNumber(ingest.p50Ms)} / ${formatNumber(ingest.p99Ms)} ms`],
        ['calls per exit, restart now', Object.entries(result.callsPerExit.restartNow).filter(([, n]) => n > 0).map(([call, n]) => `${n} ${call}`).join(', ')],
        ['restarts / early', `${restarts.count} / ${restarts.early}`],
        ['lateness p50 / p99 / max', `${restarts.latenessP50Ms} / ${restarts.latenessP99Ms} / ${restarts.latenessMaxMs} ms`],
        ['sync items read by idle entries', Object.entries(sync.itemsRead).map(([idle, read]) => `${idle}: ${read}`).join(', ')],
        [
          `sync at scale (${syncScaleSeries(result.syncScale).overdue} overdue): items read / bus entries / peak RSS by waiting`,
          result.syncScale.rows.map((row) => `${row.waiting}: ${row.itemsRead} / ${row.busEntries} / ${formatNumber(row.peakRssMb)} MB`).join(', '),
        ],
        ['peak RSS of the runtime, in memory / on disk', `${formatNumber(result.memory.peakRssMb)} / ${formatNumber(result.memory.peakRssOnDiskMb)} MB`],
        ['on disk: end to end / raw pairs, ratio', `${formatNumber(ingest.onDisk.eventsPerSec)} events/s / ${formatNumber(ingest.onDisk.rawPairsPerSec)} pairs/s, ${formatNumber(ingest.onDisk.ratio, 3)}`],
        ['storm (fleet): busiest second / early / last restart', `${result.storm.fleet.busiestSecond} fired (bound ${result.storm.bound}) / ${result.storm.fleet.early} / ${formatNumber(result.storm.fleet.lastRestartMs / 1_000, 1)} s`],
        ['storm (local runtime): busiest second / early / last restart', `${result.storm.local.busiestSecond} fired / ${result.storm.local.early} / ${formatNumber(result.storm.local.lastRestartMs / 1_000, 1)} s`],
        ['bundles (SDK bundled)', bundles.handlers.map((bundle) => `${bundle.handler} ${formatNumber(bundle.sdkBundled.kib)} KiB`).join(', ')],
        ['$ per million exit events / restarts (second precision)', `${usd(cost.usdPerMillionExitEvents.second.batch1)} / ${usd(cost.usdPerMillionRestarts.second)}`],
        ['run time', `${result.meta.durationSec} s`],
      ],
    ),
  );
}

/** --out: the result as JSON, in a file. */
function writeOut(value: unknown): void {
  if (!flags.out) return;
  const out = resolve(flags.out);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(value, null, 2)}\n`);
  log(`wrote ${out}`);
}

if (only) {
  const partial = await measureOne(flags.quick === true, only);
  writeOut(partial);
  if (flags.json) printJson(partial);
  else console.log(JSON.stringify(partial, null, 2));
  process.exit(process.exitCode ?? 0);
}

const fromFile = flags.from ? (JSON.parse(readFileSync(resolve(flags.from), 'utf8')) as BenchResult) : undefined;
const quick = fromFile ? fromFile.meta.mode === 'quick' : flags.quick === true;
const writeDocs = flags['no-docs'] ? false : (flags.docs ?? (fromFile ? true : !quick));
const measured = fromFile ?? (await measure(quick));
const plots = plotsOf(measured);
const result: BenchResult = { ...measured, plots: plots.map((plot) => `docs/img/${plot.file}`) };

const missing = missingFields(result);
if (missing.length > 0) {
  console.error(`missing fields in the result: ${missing.join(', ')}`);
  process.exitCode = 1;
}
writeOut(result);
if (writeDocs) {
  const docs = join(PROJECT_ROOT, 'docs');
  mkdirSync(join(docs, 'img'), { recursive: true });
  for (const plot of plots) writeFileSync(join(docs, 'img', plot.file), plot.svg);
  writeFileSync(join(docs, 'BENCHMARKS.md'), benchmarksMarkdown(result));
  writeFileSync(join(docs, 'COST.md'), costMarkdown(result));
  log(`wrote docs/BENCHMARKS.md, docs/COST.md and ${plots.length} plots under docs/img/`);
}
printSummary(result);
if (flags.json) printJson(result);
