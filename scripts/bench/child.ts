/**
 * Starts a local runtime in a child process (so the load generator does not
 * share its event loop, and its memory can be read from /proc), waits for its
 * "listening on" line, and talks to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ChildRequest, ChildResponse, LiveMemory, RawRunResult, RuntimeCounters } from './child-protocol.ts';
import type { ProfileSummary } from './profile.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../../bin/restart-scheduler.js', import.meta.url));
const RUNTIME_CHILD = fileURLToPath(new URL('./runtime-child.ts', import.meta.url));
export const TSX_LOADER = import.meta.resolve('tsx');

export interface RuntimeChild {
  readonly url: string;
  readonly pid: number;
  output(): string;
  /** The raw-store baseline, run inside the runtime's process on its own store. */
  rawPairs(concurrency: number, durationMs: number, prefix: string): Promise<RawRunResult>;
  counters(): Promise<{ counters: RuntimeCounters; cpuMs: number }>;
  /** Live memory after a full garbage collection. */
  liveMemory(): Promise<LiveMemory>;
  /** A CPU profile of the runtime process between the two calls, summarised. */
  startProfile(): Promise<void>;
  stopProfile(): Promise<ProfileSummary>;
  stop(): Promise<void>;
}

export interface RuntimeChildOptions {
  /** Extra node flags for the runtime process, e.g. --cpu-prof. */
  readonly nodeArgs?: readonly string[];
  /** Keep the table, schedules and logs on disk under this directory (the runtime's default mode); in memory when omitted. */
  readonly dataDir?: string;
}

/** Omit over each member of a union. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export const CHILD_ENV = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** The runtime with the benchmark's control channel (runtime-child.ts). */
export async function startRuntimeChild(options: RuntimeChildOptions = {}): Promise<RuntimeChild> {
  const { nodeArgs = [] } = options;
  // --expose-gc only lets the benchmark ask for a collection before it reads live memory.
  const child = spawn(process.execPath, [...nodeArgs, '--expose-gc', '--import', TSX_LOADER, RUNTIME_CHILD, ...(options.dataDir ? ['--data-dir', options.dataDir] : [])], {
    cwd: PROJECT_ROOT,
    env: CHILD_ENV,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const { url, output, exited } = await awaitListening(child);
  let nextId = 1;
  const pending = new Map<number, (response: ChildResponse) => void>();
  child.on('message', (response: ChildResponse) => {
    pending.get(response.id)?.(response);
    pending.delete(response.id);
  });
  const ask = <T extends ChildResponse['type']>(request: WithoutId<ChildRequest>, expect: T) =>
    new Promise<Extract<ChildResponse, { type: T }>>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (response) => {
        if (response.type === expect) resolve(response as Extract<ChildResponse, { type: T }>);
        else reject(new Error(response.type === 'error' ? response.message : `unexpected answer ${response.type}`));
      });
      child.send({ ...request, id } as ChildRequest);
    });
  return {
    url,
    pid: child.pid!,
    output,
    rawPairs: async (concurrency, durationMs, prefix) => (await ask({ type: 'raw', concurrency, durationMs, prefix }, 'raw')).result,
    counters: async () => {
      const answer = await ask({ type: 'counters' }, 'counters');
      return { counters: answer.counters, cpuMs: answer.cpuMs };
    },
    liveMemory: async () => (await ask({ type: 'memory' }, 'memory')).memory,
    startProfile: async () => {
      await ask({ type: 'profile-start' }, 'counters');
    },
    stopProfile: async () => (await ask({ type: 'profile-stop' }, 'profile')).summary,
    stop: async () => {
      await ask({ type: 'stop' }, 'stopped').catch(() => undefined);
      const timer = setTimeout(() => child.kill('SIGTERM'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** `restart-scheduler local --port 0 --in-memory --quiet ARGS…`, exactly as a user starts it. */
export async function startCliRuntime(args: readonly string[]): Promise<{ url: string; pid: number; output(): string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [CLI, 'local', '--port', '0', '--in-memory', '--quiet', ...args], {
    cwd: PROJECT_ROOT,
    env: CHILD_ENV,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const { url, output, exited } = await awaitListening(child);
  return {
    url,
    pid: child.pid!,
    output,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Waits for a child's "… listening on http://…" line (by default the
 * runtime's) and hands back the URL; the child's output is kept.
 */
export async function awaitListening(
  child: ChildProcess,
  pattern = /restart-scheduler listening on (http:\/\/\S+)/,
): Promise<{ url: string; output: () => string; exited: Promise<number | null> }> {
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child did not start in time:\n${text}`)), 30_000);
    const check = () => {
      const match = pattern.exec(text);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the child exited with ${code} before listening:\n${text}`));
    });
  });
  return { url, output: () => text, exited };
}

/**
 * Memory of a process from /proc (Linux), MiB: resident now, the peak so far
 * (high-water mark), and what is resident now split into anonymous memory
 * (heaps, native allocations) and file-backed pages (mapped files, such as
 * LevelDB's table files, which the kernel can drop and read again).
 */
function readMemory(pid: number): { rssMb: number; hwmMb: number; anonMb: number; fileMb: number } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: kb('VmRSS') / 1_024, hwmMb: kb('VmHWM') / 1_024, anonMb: kb('RssAnon') / 1_024, fileMb: kb('RssFile') / 1_024 };
}

/** What `sampleMemory` saw: the peak RSS (VmHWM when available), and the sampled peaks of its two parts. */
export interface MemoryPeaks {
  readonly peakRssMb: number;
  readonly samples: number;
  readonly source: string;
  /** Highest anonymous resident memory sampled (heaps and native allocations). */
  readonly peakAnonMb: number;
  /** Highest file-backed resident memory sampled (mapped files). */
  readonly peakFileMb: number;
}

/** Samples a process's RSS every `periodMs` until stopped; reports the peak (VmHWM when available). */
export function sampleMemory(pid: number, periodMs = 100): { stop(): MemoryPeaks } {
  let peak = 0;
  let peakAnon = 0;
  let peakFile = 0;
  let samples = 0;
  const take = () => {
    const memory = readMemory(pid);
    // An exited process not yet reaped has a status without memory lines.
    if (!memory || !Number.isFinite(memory.rssMb)) return;
    samples++;
    peak = Math.max(peak, memory.rssMb);
    if (Number.isFinite(memory.anonMb)) peakAnon = Math.max(peakAnon, memory.anonMb);
    if (Number.isFinite(memory.fileMb)) peakFile = Math.max(peakFile, memory.fileMb);
  };
  take();
  const timer = setInterval(take, periodMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      const hwm = readMemory(pid)?.hwmMb;
      const parts = { peakAnonMb: peakAnon, peakFileMb: peakFile };
      return hwm !== undefined && Number.isFinite(hwm)
        ? { peakRssMb: Math.max(hwm, peak), samples, source: 'VmHWM', ...parts }
        : { peakRssMb: peak, samples, source: 'sampled VmRSS', ...parts };
    },
  };
}

/** CPU time (user + system) a process has used so far, ms, from /proc (Linux). */
export function readCpuMs(pid: number): number | undefined {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    // After the command name: state is field 3, utime 14 and stime 15 (1-based), in clock ticks.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1_000) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** sysconf(_SC_CLK_TCK): 100 on Linux everywhere this runs. */
const CLOCK_TICKS_PER_SECOND = 100;
