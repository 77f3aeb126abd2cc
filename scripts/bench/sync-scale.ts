/**
 * (5b) The sync at fleet scale: 0, 10,000 and 100,000 containers waiting in
 * CrashLoopBackOff (restarts 5 minutes away, the kubelet cap) and 1,000
 * restarts overdue past the grace period. What one run reads, publishes and
 * holds must follow the 1,000, not the waiting ones.
 *
 * Three processes: this one fills a dynalite that runs in a process of its own
 * (dynalite-child.ts) with BatchWriteItem of items shaped exactly as the store
 * writes them (sync-cost.ts `fill`), then runs each sync in a fresh process
 * (sync-scale-child.ts, bundled as the stack bundles a handler, its heap
 * capped as a 512 MB Lambda's is) and reads that process's peak RSS from /proc.
 * Each size adds to the previous one: more waiting containers, and 1,000 new
 * overdue restarts (the previous run recovered its own).
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { DEFAULT_SERVICE_CONFIG } from '../../lib/config.ts';
import { planExit, resolveBackoffPolicy, type ContainerState } from '../../lib/core/index.ts';
import { LOCAL_AWS_CONFIG } from '../../lib/local/dynalite.ts';
import { bundleAsDeployed } from './bundles.ts';
import { awaitListening, CHILD_ENV, PROJECT_ROOT, sampleMemory, TSX_LOADER } from './child.ts';
import { round } from './stats.ts';
import { itemSize } from './capacity.ts';
import { fill, itemCapture } from './sync-cost.ts';
import type { SyncScaleChildInput, SyncScaleChildOutput } from './sync-scale-child.ts';

export interface SyncScalePlan {
  /** Containers waiting (not overdue), one run per size, ascending. */
  readonly sizes: readonly number[];
  /** Restarts overdue past the grace period at each run. */
  readonly overdue: number;
  /** Added to every call of the sync process: DynamoDB, EventBridge (the replay used 30 / 25 ms). */
  readonly latencyMs: { readonly dynamo: number; readonly eventBridge: number };
  /** The sync process's V8 heap cap, MB: what Lambda allows a 512 MB function. */
  readonly maxOldSpaceMb: number;
}

/** The fields the issue names, and what else the run measured. */
export interface SyncScaleRow {
  readonly waiting: number;
  readonly overdue: number;
  /** Items the run's index reads returned (`SyncReport.itemsRead`). */
  readonly itemsRead: number;
  /** Entries the run put on the bus. */
  readonly busEntries: number;
  /** Peak resident set of the sync process (VmHWM), MiB. */
  readonly peakRssMb: number;
  /** The sync's wall time in its process. */
  readonly wallMs: number;
  readonly recovered: number;
  /** The same process's RSS before the run (node, the bundle, the clients), MiB. */
  readonly baselineRssMb: number;
  /** The count of containers in CrashLoopBackOff that follows the sync in the handler: keys-only entries counted, and its time. */
  readonly censusItemsRead: number;
  readonly censusMs: number;
  /** The sync's DynamoDB calls, and dynalite's mean time to answer one (the added latency left out): what a larger table costs dynalite itself. */
  readonly dynamoCalls: number;
  readonly dynamoAnswerMs: number;
}

export interface SyncScaleResult {
  readonly rows: readonly SyncScaleRow[];
  readonly latencyMs: SyncScalePlan['latencyMs'];
  readonly maxOldSpaceMb: number;
  /** Size of one container's item, as DynamoDB counts it. */
  readonly itemBytes: number;
}

const POLICY = resolveBackoffPolicy();
const CACHE_DIR = join(PROJECT_ROOT, 'node_modules', '.cache', 'restart-scheduler-bench', 'sync-scale');

/**
 * A container that has crash-looped to the kubelet cap (16 exits remembered,
 * 300 s back-off) and waits for restart 17 at `restartAt`: the planner's own
 * output, each restart marked dispatched as `fireRestart` marks it, renamed per index.
 */
function crashLoopTemplate(now: number): ContainerState {
  let state: ContainerState | undefined;
  let at = now - 3_600_000;
  for (let exit = 0; exit < 17; exit++) {
    const planned = planExit(state, { namespace: 'fleet', pod: 'pod-000000', podUid: 'uid-0', container: 'app', exitCode: 1, reason: 'Error', finishedAt: at, exitId: `exit-${exit}` }, { policy: POLICY, now: at }).next!;
    if (exit === 16) return planned;
    const restartAt = planned.restart!.restartAt;
    state = { ...planned, state: 'Running', restart: { ...planned.restart!, status: 'dispatched', claimedAt: restartAt, dispatchedAt: restartAt } };
    at = restartAt + 1_000;
  }
  throw new Error('unreachable');
}

/** The template moved so that its restart is due at `restartAt`. */
function waitingUntil(template: ContainerState, restartAt: number, index: number, kind: string): ContainerState {
  const shift = restartAt - template.restart!.restartAt;
  const pod = `${kind}-${index}`;
  return {
    ...template,
    key: `${pod}_fleet_uid-0_app_`,
    pod,
    updatedAt: template.updatedAt + shift,
    backoff: { ...template.backoff!, lastUpdate: template.backoff!.lastUpdate + shift },
    restart: { ...template.restart!, restartAt },
  };
}

async function startDynaliteProcess(): Promise<{ endpoint: string; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, join(PROJECT_ROOT, 'scripts', 'bench', 'dynalite-child.ts')], { cwd: PROJECT_ROOT, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  const { url, exited } = await awaitListening(child, /dynalite listening on (http:\/\/\S+)/);
  return {
    endpoint: url,
    pid: child.pid!,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs the bundled sync once in a fresh, heap-capped process; its peak RSS is read from /proc while it runs. */
async function runSyncProcess(bundle: string, input: SyncScaleChildInput, maxOldSpaceMb: number): Promise<SyncScaleChildOutput & { peakRssMb: number }> {
  const child = spawn(process.execPath, [`--max-old-space-size=${maxOldSpaceMb}`, bundle, JSON.stringify(input)], {
    cwd: PROJECT_ROOT,
    env: { ...CHILD_ENV, NODE_OPTIONS: '', POWERTOOLS_SERVICE_NAME: 'restart-scheduler' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const memory = sampleMemory(child.pid!, 20);
  // Its log lines go to the pipe as they go to CloudWatch from Lambda; drained so the child never blocks on them.
  let stderr = '';
  child.stdout!.resume();
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4_000)));
  const answer = new Promise<SyncScaleChildOutput | { error: string }>((resolve) => child.once('message', (message) => resolve(message as SyncScaleChildOutput)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const peak = memory.stop();
  const output = await Promise.race([answer, new Promise<{ error: string }>((resolve) => setTimeout(() => resolve({ error: `exited with ${code} without an answer` }), 100))]);
  if ('error' in output) throw new Error(`the sync process failed: ${output.error}\n${stderr}`);
  if (code !== 0) throw new Error(`the sync process exited with ${code}: ${stderr}`);
  // The process's own high-water mark, and what /proc showed while it ran: whichever is higher.
  return { ...output, peakRssMb: Math.max(output.maxRssMb, peak.peakRssMb) };
}

export async function benchSyncScale(plan: SyncScalePlan, progress: (line: string) => void): Promise<SyncScaleResult> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const bundle = join(CACHE_DIR, 'sync-scale-child.mjs');
  await bundleAsDeployed(join(PROJECT_ROOT, 'scripts', 'bench', 'sync-scale-child.ts'), bundle);
  const dynalite = await startDynaliteProcess();
  const client = new DynamoDBClient({ ...LOCAL_AWS_CONFIG, endpoint: dynalite.endpoint, maxAttempts: 3 });
  const rows: SyncScaleRow[] = [];
  let itemBytes = 0;
  try {
    const tableName = `sync-scale-${randomUUID()}`;
    await ensureTable(client, tableName);
    const template = crashLoopTemplate(Date.now());
    const capture = itemCapture(tableName, Date.now);
    await capture.store.put(template, undefined);
    itemBytes = itemSize(capture.take()[0]!);
    let filled = 0;
    for (const [run, waiting] of plan.sizes.entries()) {
      // Every run happens at its own instant, so that the restarts the
      // previous run recovered are history, and the waiting ones still wait.
      const now = Date.now();
      const started = performance.now();
      const wait = (index: number) => waitingUntil(template, now + 300_000 + (index % 60_000), index, 'waiting');
      await fill({ client }, tableName, (index) => wait(filled + index), waiting - filled, now);
      const overdueAt = now - DEFAULT_SERVICE_CONFIG.recoveryGraceMs - 1_000;
      await fill({ client }, tableName, (index) => waitingUntil(template, overdueAt - index, index, `overdue${run}`), plan.overdue, now);
      filled = waiting;
      const fillMs = performance.now() - started;
      const result = await runSyncProcess(bundle, { endpoint: dynalite.endpoint, tableName, now, latencyMs: plan.latencyMs }, plan.maxOldSpaceMb);
      if (result.recovered !== plan.overdue) throw new Error(`expected ${plan.overdue} recovered with ${waiting} waiting, got ${JSON.stringify(result)}`);
      const row: SyncScaleRow = {
        waiting,
        overdue: plan.overdue,
        itemsRead: result.itemsRead,
        busEntries: result.busEntries,
        peakRssMb: round(result.peakRssMb, 1),
        wallMs: Math.round(result.wallMs),
        recovered: result.recovered,
        baselineRssMb: round(result.baselineRssMb, 1),
        censusItemsRead: result.censusItemsRead,
        censusMs: Math.round(result.censusMs),
        dynamoCalls: result.dynamoCalls,
        dynamoAnswerMs: round(result.dynamoAnswerMs, 2),
      };
      rows.push(row);
      progress(
        `sync-scale   ${String(waiting).padStart(7)} waiting + ${plan.overdue} overdue: ${row.itemsRead} items read, ${row.busEntries} bus entries, ` +
          `peak RSS ${row.peakRssMb} MB (${row.baselineRssMb} MB before the run), ${row.wallMs} ms, ${row.dynamoCalls} DynamoDB calls answered in ${row.dynamoAnswerMs} ms each; count of CrashLoopBackOff ${row.censusItemsRead} keys in ${row.censusMs} ms (table filled in ${Math.round(fillMs)} ms)`,
      );
    }
  } finally {
    client.destroy();
    await dynalite.stop();
  }
  return { rows, latencyMs: plan.latencyMs, maxOldSpaceMb: plan.maxOldSpaceMb, itemBytes };
}
