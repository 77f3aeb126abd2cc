/**
 * The soak: many simulated containers crash-loop against the local runtime
 * the way `supervise` drives a real process — post an exit, wait on the
 * restart stream for the decided restart, run a moment, crash again — while
 * the runtime is optionally `kill -9`ed and started again on the same data.
 * Every decision and every restart notice goes through the ledger, which says
 * at the end what was duplicated, early or lost.
 */
import { setMaxListeners } from 'node:events';
import { createReadStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { RestartSchedulerClient, type RestartNotice } from '../../lib/client/client.ts';
import { containerKey } from '../../lib/core/index.ts';
import { ExitPoster, type ExitPosterStats } from './exit-poster.ts';
import { SoakLedger, type LateRestart, type LatencySummary, type Problem } from './ledger.ts';
import type { SoakOptions } from './options.ts';
import { RuntimeChild, type RuntimeChildStats } from './runtime-child.ts';

/** A request that gets no answer in this long is abandoned and retried. */
const REQUEST_TIMEOUT_MS = 60_000;
/** The runtime's claim on a restart being dispatched (`dispatchLeaseMs`): a claim orphaned by a kill waits this long. */
const RUNTIME_DISPATCH_LEASE_MS = 5_000;
const MIN_DRAIN_MS = 20_000;
/** The drain never waits longer than this in all. */
const DRAIN_CAP_MS = 15 * 60_000;

export interface SoakReport {
  readonly passed: boolean;
  readonly containers: number;
  readonly durationMs: number;
  readonly killEveryMs: number | null;
  readonly endpoint: string | null;
  /** The started runtime's policy (null against --endpoint, whose policy the soak does not know). */
  readonly policy: { readonly initialBackoffMs: number | null; readonly maxBackoffMs: number | null; readonly syncPeriodMs: number | null; readonly runMs: number };
  readonly exits: number;
  readonly restarts: number;
  readonly duplicates: number;
  readonly lost: number;
  readonly early: number;
  /** Restarts received that no exit decision announced. */
  readonly unexpected: number;
  readonly latenessP50Ms: number;
  readonly latenessP99Ms: number;
  readonly latenessMaxMs: number;
  readonly observedLateness: LatencySummary;
  /** (exits + restarts) per second of wall time, posting and drain. */
  readonly eventsPerSec: number;
  /** Exits per second while containers were crashing. */
  readonly exitsPerSec: number;
  readonly kills: number;
  readonly downtimeMs: number;
  /** Restarts the runtime's sync dispatched after their timer was lost (a kill). */
  readonly restartsRecovered: number;
  readonly wallMs: number;
  /** How long the drain took; `drainTimedOut` when it stopped waiting with restarts missing. */
  readonly drainMs: number;
  /** How long the drain would wait without progress. */
  readonly drainQuietLimitMs: number;
  readonly drainTimedOut: boolean;
  readonly client: {
    /** CPU the soak itself used over its wall time: well under 100 % means the client is not the bottleneck. */
    readonly cpuPercent: number;
    readonly posting: ExitPosterStats;
    readonly streamConnects: number;
    /** Notices for containers of other workloads on a shared runtime. */
    readonly foreignNotices: number;
    readonly conflictingDecisions: number;
    readonly mismatches: number;
    /** Exit answers other than RestartNow, RestartScheduled and a Duplicate of a retried exit. */
    readonly unexpectedAnswers: Readonly<Record<string, number>>;
  };
  /** What the runtime itself recorded (its data directory, or its event API when soaking --endpoint). */
  readonly runtime: RuntimeView;
  /** Exits and restarts per second over the run. */
  readonly timeline: readonly { readonly atS: number; readonly exitsPerSec: number; readonly restartsPerSec: number }[];
  /** The latest restarts, with whether the sync recovered them. */
  readonly latest: readonly LateRestart[];
  readonly problems: readonly Problem[];
}

export type RuntimeView =
  | ({ readonly source: 'data-dir' } & DataDirView & { readonly process: RuntimeChildStats })
  | { readonly source: 'api'; readonly restartRecoveredEvents: number | null; readonly capped: boolean };

interface DataDirView {
  /** Restarts published in the durable restart log (restarts.jsonl), and how many repeat a restartId or key + count. */
  readonly restartLog: number;
  readonly restartLogDuplicates: number;
  /** Event records (events.jsonl) by type. */
  readonly events: Readonly<Record<string, number>>;
}

export interface SoakProgress {
  (line: string): void;
}

export async function runSoak(options: SoakOptions, progress: SoakProgress = () => undefined): Promise<SoakReport> {
  const ownDataDir = options.endpoint === undefined && options.dataDir === undefined;
  const dataDir = options.endpoint === undefined ? resolve(options.dataDir ?? mkdtempSync(join(tmpdir(), 'restart-scheduler-soak-'))) : undefined;
  const runtime =
    dataDir !== undefined
      ? new RuntimeChild({ dataDir, initialBackoffMs: options.initialBackoffMs, maxBackoffMs: options.maxBackoffMs, syncPeriodMs: options.syncPeriodMs })
      : undefined;
  try {
    const endpoint = runtime ? await runtime.start() : options.endpoint!;
    progress(`runtime at ${endpoint}${dataDir ? ` (data ${dataDir})` : ''}`);
    return await drive(options, endpoint, runtime, progress);
  } finally {
    await runtime?.stop();
    if (ownDataDir && dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

async function drive(options: SoakOptions, endpoint: string, runtime: RuntimeChild | undefined, progress: SoakProgress): Promise<SoakReport> {
  const client = new RestartSchedulerClient({ endpoint, ...(options.token ? { token: options.token } : {}), fetch: fetchWithTimeout });
  const ledger = new SoakLedger();
  const namespace = `soak-${Math.random().toString(36).slice(2, 8)}`;
  const containers = new Map<string, SimContainer>();
  for (let index = 0; index < options.containers; index++) {
    const container = new SimContainer(index, namespace);
    containers.set(container.key, container);
  }

  // One stream for every container: notices are dispatched by key.
  let streamConnects = 0;
  let foreignNotices = 0;
  let lastProgressAt = Date.now();
  const streamAbort = new AbortController();
  let connected!: () => void;
  const firstConnect = new Promise<void>((resolveConnect) => (connected = resolveConnect));
  const stream = client
    .streamRestarts(
      (notice: RestartNotice) => {
        const container = containers.get(notice.key);
        if (!container) {
          foreignNotices++;
          return;
        }
        lastProgressAt = Date.now();
        const fresh = ledger.receive({
          restartId: notice.restartId,
          key: notice.key,
          restartCount: notice.restartCount,
          restartAt: Date.parse(notice.restartAt),
          firedAt: Date.parse(notice.firedAt),
          recovered: notice.recovered,
          receivedAt: lastProgressAt,
        });
        if (fresh) container.deliver(notice.restartCount, lastProgressAt);
      },
      {
        // A runtime the soak started has an empty log: read it from the start,
        // so even a restart fired before the first connection is seen.
        ...(runtime ? { after: 0 } : {}),
        signal: streamAbort.signal,
        retryMs: 100,
        onConnect: () => {
          streamConnects++;
          connected();
        },
      },
    )
    .catch((error: unknown) => progress(`the restart stream stopped: ${(error as Error).message}`));
  await firstConnect;

  const poster = new ExitPoster(client, { concurrency: options.concurrency, batch: options.batch });
  const unexpectedAnswers = new Map<string, number>();
  const countAnswer = (answer: string) => unexpectedAnswers.set(answer, (unexpectedAnswers.get(answer) ?? 0) + 1);

  const startedAt = Date.now();
  const cpuAtStart = process.cpuUsage();
  const stopPostingAt = startedAt + options.durationMs;
  let stopPosting = false;
  const hardStop = new AbortController();
  // Every waiting container listens for the hard stop.
  setMaxListeners(0, hardStop.signal);
  const context: ContainerContext = {
    poster,
    ledger,
    runMs: options.runMs,
    staggerMs: Math.min(1_000, options.durationMs / 10),
    stopPosting: () => stopPosting,
    hardStop: hardStop.signal,
    onDecision: () => (lastProgressAt = Date.now()),
    countAnswer,
  };
  const lives = [...containers.values()].map((container) => container.live(context));

  // Timeline and a progress line every interval.
  const intervalMs = Math.max(1_000, Math.round(options.durationMs / 12 / 1_000) * 1_000);
  const timeline: { atS: number; exitsPerSec: number; restartsPerSec: number }[] = [];
  let previous = { exits: 0, restarts: 0, at: startedAt };
  const sampler = setInterval(() => {
    const now = Date.now();
    const { exits, restarts } = ledger.counts();
    const seconds = (now - previous.at) / 1_000;
    timeline.push({ atS: Math.round((now - startedAt) / 1_000), exitsPerSec: round((exits - previous.exits) / seconds), restartsPerSec: round((restarts - previous.restarts) / seconds) });
    progress(`${Math.round((now - startedAt) / 1_000)} s: ${exits} exits, ${restarts} restarts, ${ledger.outstanding} due, ${poster.pending} exits posting${runtime ? `, ${runtime.stats().kills} kills` : ''}`);
    previous = { exits, restarts, at: now };
  }, intervalMs);

  // kill -9 at random moments within the run, each followed by a start on the same data.
  const killer = runtime && options.killEveryMs !== undefined ? killAtRandom(runtime, options.killEveryMs, stopPostingAt, progress) : Promise.resolve();

  await sleep(options.durationMs);
  stopPosting = true;
  const postingEndedAt = Date.now();
  const exitsWhilePosting = ledger.counts().exits;
  await killer;
  progress(`posting stopped after ${Math.round((postingEndedAt - startedAt) / 1_000)} s; draining ${ledger.outstanding} due restarts and ${poster.pending} exits still posting`);

  // Drain: containers finish once their last restart arrives. Give up only when
  // nothing has happened for longer than the longest back-off, a lost timer,
  // an orphaned dispatch claim and a runtime start could take between them.
  const lastStartupMs = runtime ? Math.max(0, ...runtime.stats().startupMs) : 0;
  const quietLimitMs = options.drainMs ?? defaultDrainMs(options, lastStartupMs);
  lastProgressAt = Math.max(lastProgressAt, postingEndedAt);
  const drained = Promise.all(lives).then(() => true);
  let drainTimedOut = false;
  for (;;) {
    const done = await Promise.race([drained, sleep(250).then(() => false)]);
    if (done) break;
    const now = Date.now();
    if (now - lastProgressAt > quietLimitMs || now - postingEndedAt > DRAIN_CAP_MS) {
      drainTimedOut = true;
      break;
    }
  }
  const drainEndedAt = Date.now();
  const cpu = process.cpuUsage(cpuAtStart);
  clearInterval(sampler);
  hardStop.abort();
  await poster.abort();
  await Promise.all(lives);
  streamAbort.abort();
  await stream;

  const runtimeView = runtime ? undefined : await runtimeViewFromApi(client, namespace, startedAt);
  if (runtime) await runtime.stop();
  const summary = ledger.summary();
  const runtimeStats = runtime?.stats();
  const wallMs = drainEndedAt - startedAt;
  const report: Omit<SoakReport, 'passed'> = {
    containers: options.containers,
    durationMs: options.durationMs,
    killEveryMs: options.killEveryMs ?? null,
    endpoint: options.endpoint ?? null,
    policy: {
      initialBackoffMs: options.endpoint ? null : options.initialBackoffMs,
      maxBackoffMs: options.endpoint ? null : options.maxBackoffMs,
      syncPeriodMs: options.endpoint ? null : options.syncPeriodMs,
      runMs: options.runMs,
    },
    exits: summary.exits,
    restarts: summary.restarts,
    duplicates: summary.duplicates,
    lost: summary.lost,
    early: summary.early,
    unexpected: summary.unexpected,
    latenessP50Ms: summary.lateness.p50,
    latenessP99Ms: summary.lateness.p99,
    latenessMaxMs: summary.lateness.max,
    observedLateness: summary.observedLateness,
    eventsPerSec: round((summary.exits + summary.restarts) / (wallMs / 1_000)),
    exitsPerSec: round(exitsWhilePosting / ((postingEndedAt - startedAt) / 1_000)),
    kills: runtimeStats?.kills ?? 0,
    downtimeMs: runtimeStats?.downtimeMs ?? 0,
    restartsRecovered: summary.recovered,
    wallMs,
    drainMs: drainEndedAt - postingEndedAt,
    drainQuietLimitMs: quietLimitMs,
    drainTimedOut,
    client: {
      cpuPercent: Math.round(((cpu.user + cpu.system) / 1_000 / wallMs) * 100),
      posting: poster.stats(),
      streamConnects,
      foreignNotices,
      conflictingDecisions: summary.conflictingDecisions,
      mismatches: summary.mismatches,
      unexpectedAnswers: Object.fromEntries(unexpectedAnswers),
    },
    runtime: runtime && runtimeStats ? { source: 'data-dir', ...(await runtimeViewFromDataDir(runtime.dataDir)), process: runtimeStats } : runtimeView!,
    timeline,
    latest: summary.latest,
    problems: summary.problems,
  };
  return { passed: soakPassed(report), ...report };
}

/**
 * The verdict: at least one restart, and none duplicated, early, lost or
 * unannounced; no exit refused; the accounting consistent.
 */
export function soakPassed(report: Omit<SoakReport, 'passed'>): boolean {
  return (
    report.restarts > 0 &&
    report.duplicates === 0 &&
    report.lost === 0 &&
    report.early === 0 &&
    report.unexpected === 0 &&
    report.client.conflictingDecisions === 0 &&
    report.client.posting.rejectedExits === 0
  );
}

interface ContainerContext {
  readonly poster: ExitPoster;
  readonly ledger: SoakLedger;
  readonly runMs: number;
  readonly staggerMs: number;
  readonly stopPosting: () => boolean;
  readonly hardStop: AbortSignal;
  readonly onDecision: () => void;
  readonly countAnswer: (answer: string) => void;
}

/** One crash-looping container, driven like `supervise` drives a process. */
class SimContainer {
  readonly key: string;
  private readonly ref: { namespace: string; pod: string; podUid: string; container: string };
  private exitSeq = 0;
  private lastFinishedAt = 0;
  private waiting: { restartCount: number; wake: () => void } | undefined;
  private startedAt: number | undefined;

  constructor(
    readonly index: number,
    namespace: string,
  ) {
    this.ref = { namespace, pod: `crasher-${index}`, podUid: `uid-${index}`, container: 'app' };
    this.key = containerKey(this.ref);
  }

  /** A restart of this container arrived on the stream (first delivery only). */
  deliver(restartCount: number, receivedAt: number): void {
    if (this.waiting?.restartCount === restartCount) {
      this.startedAt = receivedAt;
      const { wake } = this.waiting;
      this.waiting = undefined;
      wake();
    }
  }

  async live(context: ContainerContext): Promise<void> {
    // Containers do not all crash in the same millisecond.
    await sleep(Math.random() * context.staggerMs);
    while (!context.stopPosting() && !context.hardStop.aborted) {
      const finishedAt = Math.max(Date.now(), this.lastFinishedAt + 1);
      this.lastFinishedAt = finishedAt;
      const exitId = `${this.ref.namespace}-${this.index}-${this.exitSeq++}`;
      const outcome = await context.poster.submit({
        ...this.ref,
        exitCode: 1,
        reason: 'Error',
        ...(this.startedAt !== undefined && this.startedAt <= finishedAt ? { startedAt: this.startedAt } : {}),
        finishedAt,
        exitId,
      });
      if (!outcome) return;
      if (!outcome.accepted) return;
      const { decision, attempts } = outcome;
      const expected = decision.decision === 'RestartNow' || decision.decision === 'RestartScheduled' || (decision.decision === 'Duplicate' && attempts > 1);
      if (!expected) context.countAnswer(attempts > 1 ? `${decision.decision} (retried)` : decision.decision);
      if (decision.restartAt === null) return; // NoRestart: nothing will come; counted above.
      if (decision.decision === 'Stale') continue; // the exit changed nothing: crash again with a new one.
      context.ledger.decide({
        key: this.key,
        restartCount: decision.restartCount,
        restartAt: Date.parse(decision.restartAt),
        delayMs: decision.delayMs,
        finishedAt,
        decidedAt: Date.now(),
      });
      context.onDecision();
      if (!(await this.restartArrives(decision.restartCount, context))) return;
      await sleep(Math.random() * context.runMs);
    }
  }

  /** Waits for restart `restartCount` on the stream; `false` when the soak gave up first. */
  private async restartArrives(restartCount: number, context: ContainerContext): Promise<boolean> {
    if (context.ledger.received(this.key, restartCount)) {
      this.startedAt = Date.now();
      return true;
    }
    if (context.hardStop.aborted) return false;
    return new Promise<boolean>((resolveWait) => {
      const onAbort = () => {
        this.waiting = undefined;
        resolveWait(false);
      };
      context.hardStop.addEventListener('abort', onAbort, { once: true });
      this.waiting = {
        restartCount,
        wake: () => {
          context.hardStop.removeEventListener('abort', onAbort);
          resolveWait(true);
        },
      };
    });
  }
}

async function killAtRandom(runtime: RuntimeChild, killEveryMs: number, until: number, progress: SoakProgress): Promise<void> {
  for (;;) {
    const waitMs = (0.5 + Math.random()) * killEveryMs;
    if (Date.now() + waitMs >= until) return;
    await sleep(waitMs);
    const killedAt = Date.now();
    await runtime.killAndRestart();
    progress(`kill -9 #${runtime.stats().kills}: back after ${Date.now() - killedAt} ms`);
  }
}

/** The runtime's own records, read from its data directory once it has stopped. */
async function runtimeViewFromDataDir(dataDir: string): Promise<DataDirView> {
  let restartLog = 0;
  let restartLogDuplicates = 0;
  const restartIds = new Set<string>();
  const slots = new Set<string>();
  await forEachJsonLine(join(dataDir, 'restarts.jsonl'), (entry: { seq?: number; restartId?: string; key?: string; restartCount?: number }) => {
    // Published restarts only: the outbox's `pending` and `dropped` lines are heard by nobody.
    if (entry.seq === undefined) return;
    restartLog++;
    const slot = `${entry.key}#${entry.restartCount}`;
    if ((entry.restartId !== undefined && restartIds.has(entry.restartId)) || slots.has(slot)) restartLogDuplicates++;
    if (entry.restartId !== undefined) restartIds.add(entry.restartId);
    slots.add(slot);
  });
  const events: Record<string, number> = {};
  await forEachJsonLine(join(dataDir, 'events.jsonl'), (event: { type?: string }) => {
    const type = event.type ?? 'unknown';
    events[type] = (events[type] ?? 0) + 1;
  });
  return { restartLog, restartLogDuplicates, events };
}

/** Against a runtime the soak did not start, the event API shows at most 1000 records per query. */
async function runtimeViewFromApi(client: RestartSchedulerClient, namespace: string, since: number): Promise<RuntimeView> {
  const limit = 1_000;
  try {
    const recovered = await client.listEvents({ type: 'RestartRecovered', since: new Date(since).toISOString(), limit });
    return { source: 'api', restartRecoveredEvents: recovered.filter((event) => event.namespace === namespace).length, capped: recovered.length >= limit };
  } catch {
    return { source: 'api', restartRecoveredEvents: null, capped: false };
  }
}

async function forEachJsonLine<T>(file: string, visit: (value: T) => void): Promise<void> {
  if (!existsSync(file)) return;
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    try {
      visit(JSON.parse(line) as T);
    } catch {
      // A line torn by a kill mid-write.
    }
  }
}

/** The default drain: what a restart can wait, at worst, without anything being wrong. */
function defaultDrainMs(options: SoakOptions, startupMs: number): number {
  const worstWaitMs = options.maxBackoffMs + recoveryGraceMs(options.syncPeriodMs) + options.syncPeriodMs + RUNTIME_DISPATCH_LEASE_MS + startupMs;
  return Math.max(MIN_DRAIN_MS, worstWaitMs + 5_000);
}

/** The runtime's default grace before the sync recovers an undispatched restart. */
function recoveryGraceMs(syncPeriodMs: number): number {
  return Math.max(1_000, 2 * syncPeriodMs);
}

/** fetch with a timeout, unless the caller brings its own signal (the stream does). */
const fetchWithTimeout: typeof fetch = (input, init) => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolveSleep) => setTimeout(resolveSleep, ms));
}
