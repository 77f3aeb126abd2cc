/**
 * `restart-scheduler supervise -- CMD ARGS…`: runs a real process under the
 * scheduler's restart semantics. Each exit is posted as an exit event; the
 * process is started again when its restart is dispatched (the restart stream
 * of the local runtime, or by polling the container's status on AWS), so a
 * crashing command backs off exactly as a kubelet container would.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { DecisionView } from '../api/views.ts';
import { ApiError, type ExitEventInput, type RestartSchedulerClient } from '../client/client.ts';
import { countdown } from '../client/format.ts';
import { containerKey, formatDuration, terminationReason, type ContainerRef } from '../core/index.ts';
import { addConnectionOptions, connect, explainRequestError, type Connection, type ConnectionFlags } from './connection.ts';
import { ExitStatus } from './errors.ts';
import { addRestartOptions, restartFields, type RestartFlags } from './exit.ts';
import type { CliIo } from './io.ts';

// ---------------------------------------------------------------------------
// A line that rewrites itself on a terminal

/** What a live line writes to: a terminal (process.stderr when it is a TTY). */
export interface LiveStream {
  write(text: string): boolean;
  readonly columns?: number;
}

/** One status line updated in place (carriage return + erase to end of line). */
export class LiveLine {
  private shown = false;

  constructor(private readonly stream: LiveStream) {}

  update(text: string): void {
    const width = Math.max(40, (this.stream.columns || 120) - 1);
    this.stream.write(`\r${text.length > width ? `${text.slice(0, width - 1)}…` : text}\x1b[K`);
    this.shown = true;
  }

  /** Leaves the last text on screen and moves to a new line. */
  finish(): void {
    if (this.shown) this.stream.write('\n');
    this.shown = false;
  }

  clear(): void {
    if (this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}

// ---------------------------------------------------------------------------
// The command

interface SuperviseFlags extends ConnectionFlags, RestartFlags {
  readonly name?: string;
  readonly namespace: string;
  readonly container: string;
  readonly podUid?: string;
  readonly containerHash?: string;
  readonly poll?: boolean;
}

export function registerSupervise(program: Command, io: CliIo, live?: LiveStream): void {
  const command = program
    .command('supervise')
    .description('run a command, report each exit, and restart it when the scheduler says so')
    .usage('[options] -- <command> [args...]')
    .argument('<command>', 'the program to run')
    .argument('[args...]', 'its arguments (put -- before the command)')
    .option('--name <name>', 'pod name (default: the command name)')
    .option('--namespace <namespace>', 'namespace of the pod', 'default')
    .option('--container <name>', 'container name', 'main')
    .option('--pod-uid <uid>', 'pod UID (default: derived from namespace and name, stable across runs)')
    .option('--container-hash <hash>', 'container spec hash (part of the container key)');
  addRestartOptions(command);
  command.option('--poll', 'wait for restarts by polling the container status instead of the restart stream (automatic on AWS)');
  addConnectionOptions(command).action(async (file: string, args: string[], flags: SuperviseFlags) => {
    const connection = connect(flags);
    const pod = flags.name ?? podNameFor(file);
    const ref: ContainerRef = {
      namespace: flags.namespace,
      pod,
      podUid: flags.podUid ?? derivedPodUid(flags.namespace, pod),
      container: flags.container,
      ...(flags.containerHash ? { containerHash: flags.containerHash } : {}),
    };
    const code = await supervise({
      connection,
      ref,
      command: file,
      args,
      restart: restartFields(flags),
      waitBy: flags.poll || connection.aws ? 'poll' : 'stream',
      print: io.err,
      ...(live ? { live } : {}),
    });
    if (code !== 0) throw new ExitStatus(code);
  });
}

/** A pod name from a command: its base name, reduced to the characters names allow. */
export function podNameFor(command: string): string {
  const name = basename(command)
    .replace(/[^A-Za-z0-9.-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 128);
  return name || 'process';
}

/** A stable UUID-shaped pod UID for a namespace and pod name, so each run of the same workload is the same container. */
export function derivedPodUid(namespace: string, pod: string): string {
  const hex = createHash('sha256').update(`restart-scheduler/supervise/${namespace}/${pod}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export interface SuperviseOptions {
  readonly connection: Connection;
  readonly ref: ContainerRef;
  readonly command: string;
  readonly args: readonly string[];
  readonly restart: Pick<ExitEventInput, 'restartPolicy' | 'maxRestarts' | 'backoffPolicy'>;
  readonly waitBy: 'stream' | 'poll';
  /** One line per state change. */
  readonly print: (line: string) => void;
  /** A terminal for the live countdown; without it, plain lines only. */
  readonly live?: LiveStream;
}

const TAG = '[supervise]';
/** Signals passed on to the supervised process; after one, it is not restarted. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** How long to wait for the restart stream to connect at start. */
const STREAM_CONNECT_TIMEOUT_MS = 10_000;
const POLL_MS = 250;
const TICK_MS = 100;

/** Runs the supervision loop; resolves with the exit code supervise should end with. */
export async function supervise(options: SuperviseOptions): Promise<number> {
  const { connection, ref, print } = options;
  const key = containerKey(ref);
  const client = connection.client;
  const stop = new AbortController();
  let stopSignal: NodeJS.Signals | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  // The countdown on screen, if any, and the decision line it leaves behind.
  let countdownLine: { line: LiveLine; text: string } | undefined;
  const endCountdown = () => {
    countdownLine?.line.update(countdownLine.text);
    countdownLine?.line.finish();
    countdownLine = undefined;
  };

  const onSignal = (signal: NodeJS.Signals) => {
    stopSignal ??= signal;
    endCountdown();
    if (child && child.exitCode === null && child.signalCode === null) {
      print(`${TAG} ${signal}: passing it on to pid ${child.pid}; no restart after this exit`);
      child.kill(signal);
    } else {
      print(`${TAG} ${signal}: stopping`);
      stop.abort();
    }
  };
  for (const signal of FORWARDED_SIGNALS) process.on(signal, onSignal);

  const restarts = options.waitBy === 'stream' ? new StreamedRestarts(client, key, stop.signal) : undefined;
  try {
    // One call before anything runs: an unreachable API or a bad token fails here, with the hint.
    const known = await client.getContainer(key);
    print(
      `${TAG} ${ref.namespace}/${ref.pod}/${ref.container} (key ${key}) via ${connection.endpoint}` +
        (known ? `: ${known.state}, ${known.restartCount} restarts so far` : ''),
    );
    if (restarts) await restarts.connect(STREAM_CONNECT_TIMEOUT_MS);

    // The restarts before the run about to start, sent with its exit so that
    // whole-second timestamps can never make two runs' exits look alike. A new
    // supervise of a known container carries on from the service's count: past
    // a Terminated run, or in place of the restart it was still waiting for.
    let runRestartCount = known ? known.restartCount + (known.state === 'Terminated' ? 1 : 0) : 0;
    let restartCount: number | undefined;
    for (;;) {
      if (stopSignal) return signalExitCode(stopSignal);
      const startedAt = Date.now();
      const started = startChild(options.command, options.args);
      child = started.child;
      const pid = await started.spawned;
      if (pid === undefined) {
        const problem = await started.exited;
        print(`${TAG} cannot start ${options.command}: ${problem.error?.message ?? 'unknown error'}`);
        return 127;
      }
      print(restartCount === undefined ? `${TAG} started ${describeCommand(options)} (pid ${pid})` : `${TAG} restart #${restartCount}: started pid ${pid}`);
      const ended = await started.exited;
      child = undefined;
      const finishedAt = Date.now();
      const exitCode = ended.code ?? 128 + signalNumber(ended.signal);
      const reason = ended.signal ?? undefined;
      const shownReason = terminationReason({ exitCode, reason });
      const forwarded = stopSignal !== undefined;

      const event: ExitEventInput = {
        ...ref,
        exitCode,
        ...(reason ? { reason } : {}),
        startedAt,
        finishedAt,
        exitId: randomUUID(),
        restartCount: runRestartCount,
        ...options.restart,
        // Stopped on purpose: report the exit, but the container ends Terminated rather than waiting for a restart.
        ...(forwarded ? { restartPolicy: 'Never' as const } : {}),
      };
      const exitPart = `${TAG} exit ${exitCode} (${shownReason})`;
      if (forwarded) {
        // One attempt: the user asked to stop, so no retrying against an unreachable API.
        try {
          const final = await client.postExit(event);
          print(`${exitPart} · stopped by ${stopSignal} · ${final.state}${final.reason ? ` (${final.reason})` : ''}`);
        } catch (error) {
          print(`${exitPart} · stopped by ${stopSignal} · the exit was not recorded: ${explainRequestError(error, connection).message.split('\n')[0]}`);
        }
        return exitCode;
      }
      const decision = await postWithRetry(connection, event, print, stop.signal);
      if (!decision) return signalExitCode(stopSignal ?? 'SIGTERM');
      if (decision.decision === 'Stale') {
        print(`${exitPart} · ${decision.message}`);
        print(`${TAG} the service has a newer exit for ${key}: is another process reporting this container? Give each its own --name or --pod-uid`);
        return 1;
      }
      if (decision.restartAt === null) {
        print(`${exitPart} · no restart: ${decision.message} · ${decision.state}${decision.reason ? ` (${decision.reason})` : ''}`);
        return exitCode;
      }

      const restartAt = Date.parse(decision.restartAt);
      const waitLine = (now: number) => `${exitPart} · ${describeWait(decision, restartAt, now)}`;
      const firstLine = waitLine(Date.now());
      let ticker: NodeJS.Timeout | undefined;
      if (options.live) {
        const line = new LiveLine(options.live);
        countdownLine = { line, text: firstLine };
        line.update(firstLine);
        ticker = setInterval(() => countdownLine?.line.update(waitLine(Date.now())), TICK_MS);
      } else {
        print(firstLine);
      }
      let restarted: boolean;
      try {
        restarted = restarts
          ? await restarts.waitFor(decision.restartId ?? '', stop.signal)
          : await pollForRestart(client, key, decision.restartCount, restartAt, stop.signal);
      } finally {
        clearInterval(ticker);
        // What stays on screen is the decision as it was announced, not the last tick of its countdown.
        endCountdown();
      }
      if (!restarted) return signalExitCode(stopSignal ?? 'SIGTERM');
      restartCount = decision.restartCount;
      runRestartCount = decision.restartCount;
    }
  } catch (error) {
    throw explainRequestError(error, connection);
  } finally {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, onSignal);
    stop.abort();
  }
}

function describeCommand(options: Pick<SuperviseOptions, 'command' | 'args'>): string {
  return [options.command, ...options.args].map((part) => (/^[\w./:=@%+-]+$/.test(part) ? part : JSON.stringify(part))).join(' ');
}

/** `restart #4 in 400ms (back-off 400ms, next 800ms) · CrashLoopBackOff` */
function describeWait(decision: DecisionView, restartAt: number, now: number): string {
  const when = decision.delayMs === 0 ? 'now' : restartAt > now ? countdown(restartAt - now) : 'due, waiting for it';
  const backoff = decision.delayMs > 0 ? `back-off ${formatDuration(decision.delayMs)}, next ${formatDuration(decision.backoffMs)}` : `next back-off ${formatDuration(decision.backoffMs)}`;
  return `restart #${decision.restartCount} ${when} (${backoff}) · ${decision.state}`;
}

/** The conventional exit code of a process ended by `signal`: 128 + its number. */
function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + signalNumber(signal);
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return (signal && (constants.signals as Record<string, number>)[signal]) || 0;
}

interface ChildEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly error?: Error;
}

function startChild(command: string, args: readonly string[]) {
  const child = spawn(command, args, { stdio: 'inherit' });
  const spawned = new Promise<number | undefined>((resolve) => {
    child.once('spawn', () => resolve(child.pid));
    child.once('error', () => resolve(undefined));
  });
  const exited = new Promise<ChildEnd>((resolve) => {
    child.once('error', (error) => resolve({ code: 127, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return { child, spawned, exited };
}

/**
 * Posts the exit. The exit id makes it safe to repeat, so an unreachable API
 * (a runtime being restarted, say) is retried until it answers; an answer
 * that refuses the event is final. Resolves undefined when stopped meanwhile.
 */
async function postWithRetry(connection: Connection, event: ExitEventInput, print: (line: string) => void, signal?: AbortSignal): Promise<DecisionView | undefined> {
  let delayMs = 500;
  for (;;) {
    try {
      return await connection.client.postExit(event);
    } catch (error) {
      if (error instanceof ApiError && error.status < 500) throw error;
      print(`${TAG} could not post the exit (${explainRequestError(error, connection).message.split('\n')[0]}); retrying in ${formatDuration(delayMs)}`);
    }
    if (!(await sleep(delayMs, signal))) return undefined;
    delayMs = Math.min(delayMs * 2, 10_000);
  }
}

/** Sleeps; resolves false when `signal` aborts first. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * The restart stream for one key, followed from before the first exit is
 * posted, so a restart dispatched while the post is still answering is
 * already here when it is awaited.
 */
class StreamedRestarts {
  /** Restart ids seen on the stream: the id, not the count, names a restart (counts start over after a reset). */
  private readonly received = new Set<string>();
  private failure: unknown;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly client: RestartSchedulerClient,
    private readonly key: string,
    private readonly signal: AbortSignal,
  ) {}

  connect(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the restart stream did not connect within ${formatDuration(timeoutMs)}`)), timeoutMs);
      this.client
        .streamRestarts(
          (restart) => {
            this.received.add(restart.restartId);
            this.wake();
          },
          {
            key: this.key,
            signal: this.signal,
            onConnect: () => {
              clearTimeout(timer);
              resolve();
            },
          },
        )
        .catch((error: unknown) => {
          clearTimeout(timer);
          this.failure = error;
          reject(error);
          this.wake();
        });
    });
  }

  /** Resolves true once the restart `restartId` has been dispatched; false when `stop` aborts. */
  async waitFor(restartId: string, stop: AbortSignal): Promise<boolean> {
    for (;;) {
      if (this.received.has(restartId)) return true;
      if (this.failure !== undefined) throw this.failure;
      if (stop.aborted) return false;
      await new Promise<void>((resolve) => {
        const done = () => {
          this.wakers.delete(done);
          stop.removeEventListener('abort', done);
          resolve();
        };
        this.wakers.add(done);
        stop.addEventListener('abort', done, { once: true });
      });
    }
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }
}

/**
 * Without a restart stream (AWS, where restarts are EventBridge events):
 * sleeps until the restart is due, then polls the container until it shows
 * the restart dispatched.
 */
async function pollForRestart(client: RestartSchedulerClient, key: string, restartCount: number, restartAt: number, stop: AbortSignal): Promise<boolean> {
  if (!(await sleep(Math.max(0, restartAt - Date.now()), stop))) return false;
  for (;;) {
    try {
      const view = await client.getContainer(key);
      if (view && (view.restartCount > restartCount || (view.restartCount === restartCount && view.nextRestartAt === null))) return true;
    } catch (error) {
      if (error instanceof ApiError && error.status < 500) throw error;
      // Unreachable for a moment: keep polling.
    }
    if (!(await sleep(POLL_MS, stop))) return false;
  }
}
