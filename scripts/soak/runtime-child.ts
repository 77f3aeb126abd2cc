/**
 * The local runtime as a child process the soak can `kill -9` and start again
 * on the same data directory and the same port, so clients reconnect to the
 * address they know.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatDuration } from '../../lib/core/index.ts';

const CLI = fileURLToPath(new URL('../../bin/restart-scheduler.js', import.meta.url));
/** Environment variables that would override the flags given to the child. */
const RUNTIME_ENV_PREFIX = 'RESTART_SCHEDULER_';
const START_TIMEOUT_MS = 120_000;
/** A port freed by a killed runtime can be held a moment by a client socket: retry this long. */
const PORT_RETRY_MS = 30_000;
const PORT_RETRY_PAUSE_MS = 200;
/** Distinct operational messages kept with their counts. */
const MESSAGE_KINDS_KEPT = 50;
/** USER_HZ: Linux reports process times in 1/100 s. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface RuntimeChildOptions {
  readonly dataDir: string;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  readonly syncPeriodMs: number;
}

export interface RuntimeChildStats {
  readonly starts: number;
  readonly kills: number;
  /** When each kill -9 happened (ISO-8601). */
  readonly killedAt: readonly string[];
  /** Killed-to-listening-again, summed over kills. */
  readonly downtimeMs: number;
  /** Spawn-to-listening of each start. */
  readonly startupMs: readonly number[];
  /** Exits nobody asked for (a crash of the runtime). */
  readonly unexpectedExits: number;
  /** Starts retried because the port was still taken. */
  readonly portRetries: number;
  /**
   * CPU time the runtime processes used (start-up included), over the time they ran: near 100 %
   * means the runtime (one event loop for the API, the services and dynalite)
   * is what limits throughput. Absent where /proc is not available.
   */
  readonly cpuPercent: number | null;
  /** Operational `error:` / `warning:` lines the runtime printed, by message. */
  readonly errors: number;
  readonly warnings: number;
  readonly messages: Readonly<Record<string, number>>;
}

export class RuntimeChild {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private port = 0;
  private expectingExit = false;
  private stopped = false;
  private starts = 0;
  private kills = 0;
  private readonly killedAt: string[] = [];
  private downtimeMs = 0;
  private readonly startupMs: number[] = [];
  private unexpectedExits = 0;
  private portRetries = 0;
  private errors = 0;
  private warnings = 0;
  private readonly messages = new Map<string, number>();
  /** The last lines of output of the current child, for a failed start. */
  private tail: string[] = [];
  private restarting: Promise<void> | undefined;
  private cpuMs: number | null = 0;
  private upMs = 0;
  /** When the current child was spawned (0: none alive). */
  private spawnedAt = 0;

  constructor(private readonly options: RuntimeChildOptions) {}

  get dataDir(): string {
    return this.options.dataDir;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Starts the runtime (any free port the first time, the same port afterwards). */
  async start(): Promise<string> {
    const deadline = Date.now() + PORT_RETRY_MS;
    for (;;) {
      const outcome = await this.spawnOnce();
      if (outcome === 'listening') return this.url;
      if (outcome === 'port taken' && Date.now() < deadline) {
        this.portRetries++;
        await sleep(PORT_RETRY_PAUSE_MS);
        continue;
      }
      throw new Error(`the runtime did not start (${outcome}):\n${this.tail.join('\n')}`);
    }
  }

  /** `kill -9`, then a new start on the same data and port; resolves when it listens again. */
  async killAndRestart(): Promise<void> {
    const killedAt = Date.now();
    this.kills++;
    this.killedAt.push(new Date(killedAt).toISOString());
    await this.kill9();
    await this.start();
    this.downtimeMs += Date.now() - killedAt;
  }

  /** Stops for good: SIGTERM, then SIGKILL if it lingers. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.restarting;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    this.measureCpu(child);
    child.kill('SIGTERM');
    const lingering = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(lingering);
  }

  stats(): RuntimeChildStats {
    return {
      starts: this.starts,
      kills: this.kills,
      killedAt: [...this.killedAt],
      downtimeMs: this.downtimeMs,
      startupMs: [...this.startupMs],
      unexpectedExits: this.unexpectedExits,
      portRetries: this.portRetries,
      cpuPercent: this.cpuMs !== null && this.upMs > 0 ? Math.round((this.cpuMs / this.upMs) * 100) : null,
      errors: this.errors,
      warnings: this.warnings,
      messages: Object.fromEntries(this.messages),
    };
  }

  private async kill9(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    this.measureCpu(child);
    child.kill('SIGKILL');
    await this.exited;
  }

  /** Adds the CPU time of a runtime about to be stopped (Linux /proc; user + system). */
  private measureCpu(child: ChildProcess): void {
    if (this.cpuMs === null || child.pid === undefined || this.spawnedAt === 0) return;
    try {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      this.cpuMs += (ticks / CLOCK_TICKS_PER_SECOND) * 1_000;
      this.upMs += Date.now() - this.spawnedAt;
    } catch {
      this.cpuMs = null;
    }
  }

  private spawnOnce(): Promise<'listening' | 'port taken' | string> {
    const spawnedAt = Date.now();
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) if (!name.startsWith(RUNTIME_ENV_PREFIX)) env[name] = value;
    const args = [
      CLI,
      'local',
      '--quiet',
      '--port',
      String(this.port),
      '--data-dir',
      this.options.dataDir,
      '--initial-backoff',
      formatDuration(this.options.initialBackoffMs),
      '--max-backoff',
      formatDuration(this.options.maxBackoffMs),
      '--sync-period',
      formatDuration(this.options.syncPeriodMs),
    ];
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    this.spawnedAt = spawnedAt;
    this.expectingExit = false;
    this.tail = [];
    this.starts++;
    let listening = false;

    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(`no "listening" line within ${START_TIMEOUT_MS / 1000} s`);
      }, START_TIMEOUT_MS);
      const onLine = (line: string) => {
        this.tail = [...this.tail.slice(-30), line];
        this.countOperational(line);
        const match = /restart-scheduler listening on (http:\/\/\S+)/.exec(line);
        if (match && !listening) {
          listening = true;
          clearTimeout(timer);
          this.port = Number(new URL(match[1]!).port);
          this.startupMs.push(Date.now() - spawnedAt);
          resolve('listening');
        }
      };
      forEachLine(child.stdout!, onLine);
      forEachLine(child.stderr!, onLine);
      this.exited = new Promise<void>((resolveExit) => {
        child.once('exit', (code, signal) => {
          clearTimeout(timer);
          if (!listening) {
            const output = this.tail.join('\n');
            resolve(/EADDRINUSE/.test(output) ? 'port taken' : `exited with ${signal ?? code} before listening`);
          } else if (!this.expectingExit && !this.stopped) {
            // The runtime died on its own: that is a finding. Start it again so the soak goes on.
            this.unexpectedExits++;
            this.countOperational(`error: the runtime exited on its own with ${signal ?? code}`);
            this.restarting = this.start()
              .then(() => undefined)
              .catch((error: unknown) => this.countOperational(`error: restarting the runtime failed: ${(error as Error).message.split('\n')[0]}`));
          }
          resolveExit();
        });
      });
    });
  }

  private countOperational(line: string): void {
    const match = /^(error|warning): (.*?)(?: \{.*)?$/.exec(line);
    if (!match) return;
    if (match[1] === 'error') this.errors++;
    else this.warnings++;
    const message = `${match[1]}: ${match[2]}`;
    const known = this.messages.get(message);
    if (known !== undefined) this.messages.set(message, known + 1);
    else if (this.messages.size < MESSAGE_KINDS_KEPT) this.messages.set(message, 1);
  }
}

function forEachLine(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let buffer = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
