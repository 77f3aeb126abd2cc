/**
 * The local runtime under test, in its own process: `startLocalRuntime` with
 * the options `restart-scheduler local --in-memory --quiet` passes (or
 * `--data-dir DIR --quiet` with `--data-dir DIR`), plus a control channel (IPC)
 * for the benchmark.
 *
 * The control channel runs the raw-store baseline *inside this process*, on
 * the runtime's own store (`runtime.deps.store`: the same DynamoDB client, the
 * same dynalite instance, the same table), so the end-to-end figure and its
 * baseline share one dynalite and one event loop; the only difference is
 * everything the runtime does besides the store calls.
 */
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { planExit, resolveBackoffPolicy, type ContainerState } from '../../lib/core/index.ts';
import type { LocalEventLog } from '../../lib/local/event-log.ts';
import { limitHeapGrowth } from '../../lib/local/heap.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import type { ChildRequest, ChildResponse, RawRunResult } from './child-protocol.ts';
import { summarizeProfile, type CpuProfile } from './profile.ts';

/** Items the raw pairs have written (warm-ups included). */
let rawItems = 0;
/** The store's calls by method: each is one DynamoDB request. */
const storeCalls: Record<string, number> = {};

function send(message: ChildResponse): void {
  process.send?.(message);
}

/**
 * A container item as the store holds it once a first exit's restart has been
 * dispatched (the planner's own output, marked as fireRestart marks it),
 * renamed per key: the raw pairs write items of the shape and size the
 * end-to-end run leaves behind. Not a waiting restart, so the runtime's sync
 * loop leaves them alone, as it leaves the dispatched end-to-end ones.
 */
function dispatchedState(now: number): (key: string, pod: string) => ContainerState {
  const exit = { namespace: 'bench', pod: 'raw-000000', podUid: 'uid-0', container: 'app', exitCode: 1, finishedAt: now, exitId: 'exit-0' };
  const planned = planExit(undefined, exit, { policy: resolveBackoffPolicy(), now }).next!;
  const template: ContainerState = { ...planned, state: 'Running', restart: { ...planned.restart!, status: 'dispatched', claimedAt: now, dispatchedAt: now } };
  return (key, pod) => ({ ...template, key, pod });
}

/** Consistent read + conditional write, through the runtime's store, for `durationMs` at `concurrency`. */
async function rawPairs(runtime: LocalRuntime, request: Extract<ChildRequest, { type: 'raw' }>): Promise<RawRunResult> {
  const store = runtime.deps.store;
  const stateFor = dispatchedState(Date.now());
  let next = 0;
  let pairs = 0;
  let conflicts = 0;
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + request.durationMs;
  const cpuBefore = process.cpuUsage();
  const worker = async () => {
    while (performance.now() < deadline) {
      const n = next++;
      const pod = `${request.prefix}-${n}`;
      const key = `${pod}_bench_uid-0_app_`;
      const begin = performance.now();
      const current = await store.get(key);
      const written = await store.put(stateFor(key, pod), current?.version);
      latenciesMs.push(performance.now() - begin);
      if (written.written) {
        pairs++;
        rawItems++;
      } else conflicts++;
    }
  };
  await Promise.all(Array.from({ length: request.concurrency }, worker));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { pairs, conflicts, elapsedMs, latenciesMs, cpuMs: (cpu.user + cpu.system) / 1_000 };
}

function counters(eventLog: LocalEventLog) {
  const memory = process.memoryUsage();
  return {
    exitsReceived: eventLog.counter('ExitsReceived'),
    restartsDispatched: eventLog.counter('RestartsDispatched'),
    restartsRecovered: eventLog.counter('RestartsRecovered'),
    writeConflicts: eventLog.counter('WriteConflicts'),
    rawItems,
    storeCalls: { ...storeCalls },
    heapUsedMb: memory.heapUsed / 1_048_576,
    rssMb: memory.rss / 1_048_576,
  };
}

/**
 * Counts the store's calls by wrapping the methods of this runtime's store
 * instance: the benchmark's instrumentation, not a change of behaviour.
 */
function countStoreCalls(store: object): void {
  for (const method of ['get', 'getMany', 'put', 'delete', 'collect', 'listWaiting', 'listExpired', 'list'] as const) {
    const target = store as Record<string, unknown>;
    const original = target[method];
    if (typeof original !== 'function') continue;
    target[method] = (...args: unknown[]) => {
      storeCalls[method] = (storeCalls[method] ?? 0) + 1;
      return (original as (...a: unknown[]) => unknown).apply(store, args);
    };
  }
}

let profiler: Session | undefined;
async function startProfile(): Promise<void> {
  profiler = new Session();
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.start');
}
async function stopProfile() {
  if (!profiler) throw new Error('no profile running');
  const { profile } = await profiler.post('Profiler.stop');
  profiler.disconnect();
  profiler = undefined;
  return summarizeProfile(profile as unknown as CpuProfile, 25);
}

// What `restart-scheduler local --port 0 --in-memory --quiet` starts (or, with
// --data-dir DIR, `--data-dir DIR --quiet`): loopback, the kubelet policy,
// second precision, a sync every 10 s, no console echo, and its heap policy.
limitHeapGrowth();
const { values: flags } = parseArgs({ options: { 'data-dir': { type: 'string' } } });
const dataDir = flags['data-dir'];
const runtime = await startLocalRuntime({ port: 0, ...(dataDir ? { dataDir } : { inMemory: true }) });
countStoreCalls(runtime.deps.store);
console.log(`restart-scheduler listening on ${runtime.url}`);

process.on('message', (message: ChildRequest) => {
  void (async () => {
    try {
      switch (message.type) {
        case 'raw':
          send({ type: 'raw', id: message.id, result: await rawPairs(runtime, message) });
          break;
        case 'counters':
          send({ type: 'counters', id: message.id, counters: counters(runtime.eventLog), cpuMs: cpuMs() });
          break;
        case 'memory': {
          // Live memory only: collect garbage first (the child runs with --expose-gc).
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          gc?.();
          const memory = process.memoryUsage();
          send({ type: 'memory', id: message.id, memory: { heapUsedMb: memory.heapUsed / 1_048_576, arrayBuffersMb: memory.arrayBuffers / 1_048_576, rssMb: memory.rss / 1_048_576 } });
          break;
        }
        case 'profile-start':
          await startProfile();
          send({ type: 'counters', id: message.id, counters: counters(runtime.eventLog), cpuMs: cpuMs() });
          break;
        case 'profile-stop':
          send({ type: 'profile', id: message.id, summary: await stopProfile() });
          break;
        case 'stop':
          await runtime.close();
          send({ type: 'stopped', id: message.id });
          // Exit on its own (not by a signal), so that a --cpu-prof among the node flags can write its profile.
          setTimeout(() => process.exit(0), 50);
          break;
      }
    } catch (error) {
      send({ type: 'error', id: message.id, message: error instanceof Error ? error.stack ?? error.message : String(error) });
    }
  })();
});

function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1_000;
}
