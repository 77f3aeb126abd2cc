/**
 * Starts `restart-scheduler local` as a child process, as a user would, and
 * waits for its "listening on" line.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RestartSchedulerClient, RestartNotice } from '../../lib/client/client.ts';

export const CLI = fileURLToPath(new URL('../../bin/restart-scheduler.js', import.meta.url));

/**
 * initial 100ms, max 800ms, sync every 100ms: the fast policy of the runtime tests.
 * The back-off resets after a minute, not the default 2 × max (1.6 s): on a
 * loaded machine a crash "at once" after a restart can take longer than that,
 * and a reset would rightly start the back-off over. A minute is still shorter
 * than the workload clock skews the tests use (minutes), so a skewed timestamp
 * that wrongly reset the back-off would still show.
 */
export const FAST_POLICY_ARGS = ['--initial-backoff', '100ms', '--max-backoff', '800ms', '--reset-after', '1m', '--sync-period', '100ms'];

export interface RuntimeProcess {
  readonly url: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** Everything printed so far, stdout and stderr. */
  output(): string;
  /** SIGTERM (or another signal), resolving with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** kill -9: no clean-up at all. */
  kill9(): Promise<void>;
}

export async function startRuntimeProcess(args: readonly string[], options: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<RuntimeProcess> {
  const child = spawn(process.execPath, [CLI, 'local', '--port', '0', '--quiet', ...args], {
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`runtime did not start in time:\n${output}`)), options.timeoutMs ?? 60_000);
    const check = () => {
      const match = /restart-scheduler listening on (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`runtime exited with ${code} before listening:\n${output}`));
    });
  });
  return {
    url,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
    kill9: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Collects the restart stream into a list and lets a test wait for the n-th restart. */
export function follow(client: RestartSchedulerClient, options: { key?: string; after?: number } = {}) {
  const restarts: (RestartNotice & { receivedAt: number })[] = [];
  const waiters: (() => void)[] = [];
  const abort = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  void client.streamRestarts(
    (restart) => {
      restarts.push({ ...restart, receivedAt: Date.now() });
      waiters.splice(0).forEach((wake) => wake());
    },
    { ...options, signal: abort.signal, onConnect: () => connected() },
  );
  const waitFor = async (count: number, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    while (restarts.length < count) {
      if (Date.now() > deadline) throw new Error(`waited for ${count} restarts, got ${restarts.length}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return restarts;
  };
  return { restarts, ready, waitFor, stop: () => abort.abort() };
}
