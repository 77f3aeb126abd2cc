/**
 * (4) Restart timing: `restart-scheduler local` (the real CLI, in its own
 * process) with a fast policy, many containers crash-looping at once, each
 * crashing again the moment its restart arrives on the SSE stream. Every
 * restart is checked for earliness against the instant the exit's decision
 * promised, as the server stamped it (`firedAt`) and as this client received it.
 */
import { RestartSchedulerClient, type RestartNotice } from '../../lib/client/client.ts';
import { readCpuMs, startCliRuntime } from './child.ts';
import { round, summarize, type Summary } from './stats.ts';

export interface RestartsPlan {
  readonly containers: number;
  /**
   * Spread the containers' first exits evenly over this long (0: all at once,
   * a synchronised restart wave). Identical policies keep the offsets, so the
   * load stays spread.
   */
  readonly staggerMs: number;
  readonly restartsPerContainer: number;
  readonly initialBackoff: string;
  readonly maxBackoff: string;
  /** Unmeasured crash loops first (containers × restarts): the runtime's code compiled before anything counts. */
  readonly warmup?: { readonly containers: number; readonly restarts: number };
}

export interface RestartSample {
  readonly restart: number;
  /** Back-off the decision applied, ms. */
  readonly delayMs: number;
  /** firedAt − finishedAt: the delay as served. */
  readonly servedDelayMs: number;
  readonly serverLatenessMs: number;
  readonly clientLatenessMs: number;
  /** firedAt − (finishedAt + delay): behind kubelet's ideal instant, the exit's own trip to the server included. */
  readonly behindIdealMs: number;
}

export interface RestartsResult {
  readonly count: number;
  /** Restarts fired or received before their instant (must be 0). */
  readonly early: number;
  /** Server lateness: firedAt − restartAt. */
  readonly latenessP50Ms: number;
  readonly latenessP99Ms: number;
  readonly latenessMaxMs: number;
  /** As the client saw it: receivedAt − restartAt. */
  readonly observed: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  /**
   * firedAt − (finishedAt + delay): how far behind kubelet's ideal instant,
   * counting the exit event's own way to the server (restartAt is taken when
   * the exit is handled, so an exit that waited in a queue is not in lateness).
   */
  readonly behindIdeal: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  /**
   * Lateness of the restarts after the back-off reached its cap: the steady
   * crash loop, past the first restarts' rapid cycles (0, 100, 200, 400 ms),
   * when every container exits at once-per-cap intervals.
   */
  readonly atCap: { readonly count: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  readonly containers: number;
  readonly restartsPerContainer: number;
  readonly staggerMs: number;
  readonly policy: { readonly initialBackoff: string; readonly maxBackoff: string };
  readonly elapsedMs: number;
  readonly recovered: number;
  readonly lateness: Summary;
  /** Per restart number: the delay the policy gives and the delay served (median, max). */
  readonly byRestart: readonly { restart: number; delayMs: number; servedP50Ms: number; servedMaxMs: number }[];
}

/** Restart notices by `${key}#${restartCount}`, with waiters for those not yet arrived. */
class NoticeBoard {
  private readonly arrived = new Map<string, RestartNotice & { receivedAt: number }>();
  private readonly waiting = new Map<string, (notice: RestartNotice & { receivedAt: number }) => void>();

  deliver(notice: RestartNotice): void {
    const received = { ...notice, receivedAt: Date.now() };
    const id = `${notice.key}#${notice.restartCount}`;
    const waiter = this.waiting.get(id);
    if (waiter) {
      this.waiting.delete(id);
      waiter(received);
    } else {
      this.arrived.set(id, received);
    }
  }

  next(key: string, restartCount: number, timeoutMs: number): Promise<RestartNotice & { receivedAt: number }> {
    const id = `${key}#${restartCount}`;
    const already = this.arrived.get(id);
    if (already) {
      this.arrived.delete(id);
      return Promise.resolve(already);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`restart ${id} did not arrive within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (notice) => {
        clearTimeout(timer);
        resolve(notice);
      });
    });
  }
}

export async function benchRestarts(plan: RestartsPlan, progress: (line: string) => void): Promise<RestartsResult> {
  const runtime = await startCliRuntime(['--initial-backoff', plan.initialBackoff, '--max-backoff', plan.maxBackoff]);
  const client = new RestartSchedulerClient({ endpoint: runtime.url });
  const board = new NoticeBoard();
  const abort = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  let recovered = 0;
  const streaming = client.streamRestarts(
    (notice) => {
      if (notice.recovered) recovered++;
      board.deliver(notice);
    },
    { signal: abort.signal, onConnect: () => connected() },
  );
  const samples: RestartSample[] = [];
  let early = 0;
  try {
    await ready;
    const crashLoop = async (container: number, restarts: number, record: boolean, prefix: string) => {
      if (plan.staggerMs > 0) await new Promise((resolve) => setTimeout(resolve, (container * plan.staggerMs) / plan.containers));
      const identity = { namespace: 'bench', pod: `${prefix}-${container}`, podUid: 'uid-0', container: 'app' };
      for (let index = 0; index < restarts; index++) {
        // The container crashes the moment it is (re)started.
        const finishedAt = Date.now();
        const decision = await client.postExit({ ...identity, exitCode: 1, finishedAt, exitId: `exit-${index}` });
        if (decision.restartAt === null) throw new Error(`no restart decided for ${decision.key}: ${decision.message}`);
        const restartAt = Date.parse(decision.restartAt);
        const notice = await board.next(decision.key, decision.restartCount, 60_000);
        const firedAt = Date.parse(notice.firedAt);
        // The instant promised: finishedAt + delay, or (restart now) when the exit was handled.
        if (!record) continue;
        const due = Math.max(restartAt, finishedAt + decision.delayMs);
        if (firedAt < due || notice.receivedAt < due || Date.parse(notice.restartAt) !== restartAt) early++;
        samples.push({
          restart: index + 1,
          delayMs: decision.delayMs,
          servedDelayMs: firedAt - finishedAt,
          serverLatenessMs: firedAt - restartAt,
          clientLatenessMs: notice.receivedAt - restartAt,
          behindIdealMs: firedAt - (finishedAt + decision.delayMs),
        });
      }
    };
    if (plan.warmup) await Promise.all(Array.from({ length: plan.warmup.containers }, (_, container) => crashLoop(container, plan.warmup!.restarts, false, 'warmup')));
    const started = performance.now();
    const runtimeCpuBefore = readCpuMs(runtime.pid) ?? 0;
    const ownCpuBefore = process.cpuUsage();
    await Promise.all(Array.from({ length: plan.containers }, (_, container) => crashLoop(container, plan.restartsPerContainer, true, 'crasher')));
    const elapsedMs = performance.now() - started;
    const runtimeCpuShare = ((readCpuMs(runtime.pid) ?? 0) - runtimeCpuBefore) / elapsedMs;
    const ownCpu = process.cpuUsage(ownCpuBefore);
    const clientCpuShare = (ownCpu.user + ownCpu.system) / 1_000 / elapsedMs;
    progress(`restarts     runtime CPU ${round(runtimeCpuShare, 2)} of a core, load generator ${round(clientCpuShare, 2)}`);
    const server = summarize(samples.map((sample) => sample.serverLatenessMs));
    const observed = summarize(samples.map((sample) => sample.clientLatenessMs));
    const behind = summarize(samples.map((sample) => sample.behindIdealMs));
    const capMs = Math.max(...samples.map((sample) => sample.delayMs));
    const firstAtCap = Math.min(...samples.filter((sample) => sample.delayMs === capMs).map((sample) => sample.restart));
    const atCap = summarize(samples.filter((sample) => sample.restart > firstAtCap).map((sample) => sample.serverLatenessMs));
    const byRestart = [...new Set(samples.map((sample) => sample.restart))].sort((a, b) => a - b).map((restart) => {
      const rows = samples.filter((sample) => sample.restart === restart);
      const served = summarize(rows.map((row) => row.servedDelayMs));
      return { restart, delayMs: rows[0]!.delayMs, servedP50Ms: served.p50, servedMaxMs: served.max };
    });
    progress(`restarts     ${samples.length} restarts, ${early} early, lateness p50 ${server.p50} ms p99 ${server.p99} ms max ${server.max} ms`);
    return {
      count: samples.length,
      early,
      latenessP50Ms: server.p50,
      latenessP99Ms: server.p99,
      latenessMaxMs: server.max,
      observed: { p50Ms: observed.p50, p99Ms: observed.p99, maxMs: observed.max },
      behindIdeal: { p50Ms: behind.p50, p99Ms: behind.p99, maxMs: behind.max },
      atCap: { count: atCap.count, p50Ms: atCap.p50, p99Ms: atCap.p99, maxMs: atCap.max },
      containers: plan.containers,
      restartsPerContainer: plan.restartsPerContainer,
      staggerMs: plan.staggerMs,
      policy: { initialBackoff: plan.initialBackoff, maxBackoff: plan.maxBackoff },
      elapsedMs: round(elapsedMs, 0),
      recovered,
      lateness: { ...server, mean: round(server.mean, 2) },
      byRestart,
    };
  } finally {
    abort.abort();
    await streaming.catch(() => undefined);
    await runtime.stop();
  }
}
