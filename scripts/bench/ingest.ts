/**
 * (1) ingest throughput, (2) latency of `POST /v1/exits` and (6) peak memory:
 * one runtime process, driven over HTTP from this process, with its raw-store
 * baseline measured in the same process, on the same dynalite, in the same run;
 * in memory, then again on disk.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sampleMemory, startRuntimeChild, type RuntimeChild } from './child.ts';
import { ExitPoster } from './http-load.ts';
import type { LiveMemory } from './child-protocol.ts';
import type { ProfileSummary } from './profile.ts';
import { round, summarize, type Summary } from './stats.ts';

export interface IngestPlan {
  readonly concurrencies: readonly number[];
  readonly batches: readonly number[];
  /** Measured window per configuration. */
  readonly durationMs: number;
  /** Unmeasured run of the same configuration first (JIT, connection set-up). */
  readonly warmupMs: number;
  /** Measure the exit path alone (NoRestart exits) at the best batched configuration. */
  readonly exitPathOnly: boolean;
  /** Unmeasured load before anything is measured: JIT-compiles both sides. */
  readonly globalWarmupMs: number;
  /** CPU-profile the runtime under the best batched configuration and under the raw pairs. */
  readonly profileMs: number;
}

export interface IngestConfigResult {
  readonly concurrency: number;
  readonly batch: number;
  readonly events: number;
  readonly requests: number;
  /** From the first request to the last response. */
  readonly elapsedMs: number;
  /** Events answered per second. */
  readonly eventsPerSec: number;
  /** How long after the last response the last of these restarts was dispatched. */
  readonly dispatchDrainMs: number;
  /** Events per second counting until every restart they caused was dispatched. */
  readonly eventsPerSecWithDispatch: number;
  /** Per request, ms. */
  readonly latencyMs: Summary;
  /** CPU time of the runtime process per event (user + system), ms. */
  readonly runtimeCpuMsPerEvent: number;
  /** CPU time of the runtime process / elapsed time: 1.0 is one core saturated. */
  readonly runtimeCpuShare: number;
  /** Store calls (DynamoDB requests) per event, the restart dispatch included, by store method. */
  readonly storeCallsPerEvent: Record<string, number>;
  /** Conditional writes retried after losing a race, and restarts the sync recovered, in the window. */
  readonly writeConflicts: number;
  readonly restartsRecovered: number;
}

export interface RawConfigResult {
  readonly concurrency: number;
  readonly pairs: number;
  readonly elapsedMs: number;
  readonly pairsPerSec: number;
  /** Per pair (read + write), ms. */
  readonly latencyMs: Summary;
  readonly runtimeCpuMsPerPair: number;
  readonly runtimeCpuShare: number;
  readonly storeCallsPerPair: Record<string, number>;
}

export interface IngestResult {
  /** Best batched configuration, restarts dispatching as they would (see eventsPerSecWithDispatch). */
  readonly eventsPerSec: number;
  readonly rawPairsPerSec: number;
  readonly ratio: number;
  /**
   * The same comparison in CPU time of the runtime process (raw CPU per pair
   * over end-to-end CPU per event, best configurations): what the ratio would
   * be if the runtime had a core to itself, whatever else the machine runs.
   */
  readonly cpuRatio: number;
  /** Latency of a one-event request at concurrency 1. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly best: { readonly concurrency: number; readonly batch: number };
  readonly configs: readonly IngestConfigResult[];
  readonly raw: readonly RawConfigResult[];
  /** NoRestart exits at the best batched configuration: the exit path without restart dispatch. */
  readonly exitPathOnly?: IngestConfigResult;
  /** The exit path alone against the raw pairs: what the HTTP API and the services add without the dispatch. */
  readonly exitPathRatio?: number;
  readonly runtimePeakRssMb: number;
  readonly memorySource: string;
  /** The sampled peaks of the two parts of RSS: anonymous (heap, native) and file-backed (mapped files), MiB. */
  readonly runtimePeakRssParts: { readonly anonMb: number; readonly fileMb: number };
  /** After the run, in the runtime process. */
  readonly runtimeHeapUsedMb: number;
  /** Live memory at the end, after a full collection, and the containers the runtime then held. */
  readonly liveMemory: LiveMemory & { readonly containers: number };
  readonly profile?: { readonly endToEnd: ProfileSummary; readonly rawPairs: ProfileSummary; readonly durationMs: number };
  /** Peak RSS of the runtime in its default mode (table, schedules and logs on disk) under the same load. */
  readonly runtimePeakRssOnDiskMb: number;
  /** The same load on a runtime in its default mode, on disk. */
  readonly onDisk: OnDiskIngest;
}

/** The figures of the on-disk pass (the same plan, without the exit-path and profile runs). */
export type OnDiskIngest = Pick<IngestResult, 'eventsPerSec' | 'rawPairsPerSec' | 'ratio' | 'cpuRatio' | 'best' | 'configs' | 'raw' | 'runtimePeakRssMb' | 'memorySource' | 'runtimePeakRssParts' | 'liveMemory'>;

type RuntimeIngest = Omit<IngestResult, 'runtimePeakRssOnDiskMb' | 'onDisk'>;

const EVENT = { namespace: 'bench', podUid: 'uid-0', container: 'app', exitCode: 1, exitId: 'exit-0' } as const;

/** A JSON body of `batch` exit events, each for a container never seen before. */
function exitBody(prefix: string, first: number, batch: number, restartPolicy?: 'Never'): string {
  const finishedAt = Date.now();
  const event = (n: number) => ({ ...EVENT, pod: `${prefix}-${n}`, finishedAt, ...(restartPolicy ? { restartPolicy } : {}) });
  return batch === 1 ? JSON.stringify(event(first)) : JSON.stringify({ events: Array.from({ length: batch }, (_, i) => event(first + i)) });
}

interface LoadOutcome {
  readonly events: number;
  readonly requests: number;
  readonly elapsedMs: number;
  readonly latenciesMs: number[];
}

async function load(url: string, concurrency: number, batch: number, durationMs: number, prefix: string, restartPolicy?: 'Never'): Promise<LoadOutcome> {
  const poster = new ExitPoster(url, concurrency);
  let next = 0;
  let events = 0;
  let requests = 0;
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  let lastResponse = started;
  const worker = async () => {
    while (performance.now() < deadline) {
      const first = next;
      next += batch;
      const body = exitBody(prefix, first, batch, restartPolicy);
      const begin = performance.now();
      const response = await poster.post(body);
      const end = performance.now();
      if (response.status !== 200) throw new Error(`POST /v1/exits answered ${response.status}: ${response.body.slice(0, 300)}`);
      latenciesMs.push(end - begin);
      lastResponse = Math.max(lastResponse, end);
      events += batch;
      requests++;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    poster.close();
  }
  return { events, requests, elapsedMs: lastResponse - started, latenciesMs };
}

/** Waits until the runtime has dispatched `target` restarts in all; returns when (performance.now()). */
async function awaitDispatched(runtime: RuntimeChild, target: number, timeoutMs = 120_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const { counters } = await runtime.counters();
    if (counters.restartsDispatched >= target) return performance.now();
    if (performance.now() > deadline) throw new Error(`waited for ${target} dispatched restarts, got ${counters.restartsDispatched}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Waits until the runtime's store has been idle for a moment, so that nothing
 * left over from one configuration (a late timer, a restart the sync took
 * over under overload) runs in the next one's window.
 */
async function awaitQuiet(runtime: RuntimeChild, quietMs = 150, timeoutMs = 60_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const total = (calls: Record<string, number>) => Object.values(calls).reduce((sum, count) => sum + count, 0);
  let last = total((await runtime.counters()).counters.storeCalls);
  let quietSince = performance.now();
  while (performance.now() - quietSince < quietMs && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = total((await runtime.counters()).counters.storeCalls);
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    }
  }
}

async function measureConfig(runtime: RuntimeChild, concurrency: number, batch: number, plan: IngestPlan, label: string, restartPolicy?: 'Never'): Promise<IngestConfigResult> {
  const dispatching = restartPolicy === undefined;
  await awaitQuiet(runtime);
  if (plan.warmupMs > 0) {
    const beforeWarmup = await runtime.counters();
    const warm = await load(runtime.url, concurrency, batch, plan.warmupMs, `w${label}`, restartPolicy);
    if (dispatching) await awaitDispatched(runtime, beforeWarmup.counters.restartsDispatched + warm.events);
    await awaitQuiet(runtime);
  }
  const before = await runtime.counters();
  const started = performance.now();
  const outcome = await load(runtime.url, concurrency, batch, plan.durationMs, `m${label}`, restartPolicy);
  const answered = started + outcome.elapsedMs;
  const drained = dispatching ? await awaitDispatched(runtime, before.counters.restartsDispatched + outcome.events) : answered;
  const after = await runtime.counters();
  const withDispatchMs = Math.max(drained, answered) - started;
  const cpuMs = after.cpuMs - before.cpuMs;
  return {
    concurrency,
    batch,
    events: outcome.events,
    requests: outcome.requests,
    elapsedMs: round(outcome.elapsedMs, 1),
    eventsPerSec: round(outcome.events / (outcome.elapsedMs / 1_000), 0),
    dispatchDrainMs: round(Math.max(0, drained - answered), 1),
    eventsPerSecWithDispatch: round(outcome.events / (withDispatchMs / 1_000), 0),
    latencyMs: roundSummary(summarize(outcome.latenciesMs)),
    runtimeCpuMsPerEvent: round(cpuMs / outcome.events, 3),
    runtimeCpuShare: round(cpuMs / withDispatchMs, 2),
    storeCallsPerEvent: perUnit(before.counters.storeCalls, after.counters.storeCalls, outcome.events),
    writeConflicts: after.counters.writeConflicts - before.counters.writeConflicts,
    restartsRecovered: after.counters.restartsRecovered - before.counters.restartsRecovered,
  };
}

/** Store calls between two snapshots, per unit of work. */
function perUnit(before: Record<string, number>, after: Record<string, number>, units: number): Record<string, number> {
  const result: Record<string, number> = {};
  for (const [method, count] of Object.entries(after)) {
    const delta = count - (before[method] ?? 0);
    if (delta > 0) result[method] = round(delta / units, 2);
  }
  return result;
}

async function measureRaw(runtime: RuntimeChild, concurrency: number, plan: IngestPlan): Promise<RawConfigResult> {
  await awaitQuiet(runtime);
  if (plan.warmupMs > 0) await runtime.rawPairs(concurrency, plan.warmupMs, `rw${concurrency}`);
  const before = await runtime.counters();
  const result = await runtime.rawPairs(concurrency, plan.durationMs, `rm${concurrency}`);
  const after = await runtime.counters();
  return {
    concurrency,
    pairs: result.pairs,
    elapsedMs: round(result.elapsedMs, 1),
    pairsPerSec: round(result.pairs / (result.elapsedMs / 1_000), 0),
    latencyMs: roundSummary(summarize(result.latenciesMs)),
    runtimeCpuMsPerPair: round(result.cpuMs / result.pairs, 3),
    runtimeCpuShare: round(result.cpuMs / result.elapsedMs, 2),
    storeCallsPerPair: perUnit(before.counters.storeCalls, after.counters.storeCalls, result.pairs),
  };
}

function roundSummary(summary: Summary): Summary {
  return {
    count: summary.count,
    min: round(summary.min, 3),
    p50: round(summary.p50, 3),
    p90: round(summary.p90, 3),
    p99: round(summary.p99, 3),
    max: round(summary.max, 3),
    mean: round(summary.mean, 3),
  };
}

/**
 * The plan against a runtime in memory (`--in-memory`, every figure), then
 * against one in its default mode, on disk (throughput and memory).
 */
export async function benchIngest(plan: IngestPlan, progress: (line: string) => void): Promise<IngestResult> {
  const inMemory = await measureRuntime(plan, progress);
  const dataDir = mkdtempSync(join(tmpdir(), 'restart-scheduler-bench-'));
  try {
    progress('on disk      the same load on a runtime with its table and logs on disk (the default mode)');
    const disk = await measureRuntime({ ...plan, exitPathOnly: false, profileMs: 0 }, progress, dataDir);
    const { eventsPerSec, rawPairsPerSec, ratio, cpuRatio, best, configs, raw, runtimePeakRssMb, memorySource, runtimePeakRssParts, liveMemory } = disk;
    return {
      ...inMemory,
      runtimePeakRssOnDiskMb: runtimePeakRssMb,
      onDisk: { eventsPerSec, rawPairsPerSec, ratio, cpuRatio, best, configs, raw, runtimePeakRssMb, memorySource, runtimePeakRssParts, liveMemory },
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function measureRuntime(plan: IngestPlan, progress: (line: string) => void, dataDir?: string): Promise<RuntimeIngest> {
  const runtime = await startRuntimeChild(dataDir ? { dataDir } : {});
  const memory = sampleMemory(runtime.pid);
  try {
    if (plan.globalWarmupMs > 0) {
      // Both sides' code paths compiled before any figure is taken.
      await runtime.rawPairs(8, plan.globalWarmupMs / 2, 'warm-raw');
      const before = await runtime.counters();
      const warm = await load(runtime.url, 8, 10, plan.globalWarmupMs / 2, 'warm-e2e');
      await awaitDispatched(runtime, before.counters.restartsDispatched + warm.events);
    }
    const raw: RawConfigResult[] = [];
    const configs: IngestConfigResult[] = [];
    // Interleaved, so that a drift of the machine over the run hits both sides alike.
    for (const concurrency of plan.concurrencies) {
      const rawResult = await measureRaw(runtime, concurrency, plan);
      raw.push(rawResult);
      progress(`raw pairs    c=${String(concurrency).padStart(2)}            ${rawResult.pairsPerSec} pairs/s`);
      for (const batch of plan.batches) {
        const result = await measureConfig(runtime, concurrency, batch, plan, `${concurrency}x${batch}`);
        configs.push(result);
        progress(
          `end to end   c=${String(concurrency).padStart(2)} batch=${String(batch).padStart(3)}  ${result.eventsPerSecWithDispatch} events/s ` +
            `(${result.eventsPerSec} answered/s, p50 ${result.latencyMs.p50} ms)`,
        );
      }
    }
    const batched = configs.filter((config) => config.batch > 1);
    const best = [...(batched.length > 0 ? batched : configs)].sort((a, b) => b.eventsPerSecWithDispatch - a.eventsPerSecWithDispatch)[0]!;
    const bestRaw = [...raw].sort((a, b) => b.pairsPerSec - a.pairsPerSec)[0]!;
    let exitPathOnly: IngestConfigResult | undefined;
    if (plan.exitPathOnly) {
      await awaitQuiet(runtime);
      exitPathOnly = await measureConfig(runtime, best.concurrency, best.batch, plan, 'never', 'Never');
      progress(`exit path    c=${best.concurrency} batch=${best.batch} (NoRestart)  ${exitPathOnly.eventsPerSec} events/s`);
    }
    let profile: IngestResult['profile'];
    if (plan.profileMs > 0) {
      await awaitQuiet(runtime);
      await runtime.startProfile();
      const before = await runtime.counters();
      const profiled = await load(runtime.url, best.concurrency, best.batch, plan.profileMs, 'profile');
      await awaitDispatched(runtime, before.counters.restartsDispatched + profiled.events);
      const endToEnd = await runtime.stopProfile();
      await awaitQuiet(runtime);
      await runtime.startProfile();
      await runtime.rawPairs(bestRaw.concurrency, plan.profileMs, 'profile-raw');
      const rawPairs = await runtime.stopProfile();
      profile = { endToEnd, rawPairs, durationMs: plan.profileMs };
      progress(`profile      end to end: ${shares(endToEnd)}`);
      progress(`profile      raw pairs:  ${shares(rawPairs)}`);
    }
    const single = configs.find((config) => config.concurrency === 1 && config.batch === 1) ?? configs[0]!;
    const peak = memory.stop();
    const final = await runtime.counters();
    const live = await runtime.liveMemory();
    // Every exit was a new container's, and every raw pair wrote a new item.
    const containers = final.counters.exitsReceived + final.counters.rawItems;
    return {
      eventsPerSec: best.eventsPerSecWithDispatch,
      rawPairsPerSec: bestRaw.pairsPerSec,
      ratio: round(best.eventsPerSecWithDispatch / bestRaw.pairsPerSec, 3),
      cpuRatio: round(bestRaw.runtimeCpuMsPerPair / best.runtimeCpuMsPerEvent, 3),
      p50Ms: single.latencyMs.p50,
      p99Ms: single.latencyMs.p99,
      best: { concurrency: best.concurrency, batch: best.batch },
      configs,
      raw,
      ...(exitPathOnly ? { exitPathOnly, exitPathRatio: round(exitPathOnly.eventsPerSec / bestRaw.pairsPerSec, 3) } : {}),
      runtimePeakRssMb: round(peak.peakRssMb, 1),
      memorySource: peak.source,
      runtimePeakRssParts: { anonMb: round(peak.peakAnonMb, 1), fileMb: round(peak.peakFileMb, 1) },
      runtimeHeapUsedMb: round(final.counters.heapUsedMb, 1),
      liveMemory: { heapUsedMb: round(live.heapUsedMb, 1), arrayBuffersMb: round(live.arrayBuffersMb, 1), rssMb: round(live.rssMb, 1), containers },
      ...(profile ? { profile } : {}),
    };
  } finally {
    memory.stop();
    await runtime.stop();
  }
}

function shares(summary: ProfileSummary): string {
  return summary.components
    .slice(0, 5)
    .map((component) => `${component.name.replace(/ \(.*\)$/, '')} ${Math.round(component.share * 100)}%`)
    .join(', ');
}
