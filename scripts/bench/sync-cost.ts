/**
 * (5) Sync cost against table size: the production sync service and store on
 * a dynalite table holding a fixed number of waiting containers (in back-off,
 * not yet due) and a growing number of idle ones (restarted, running). The
 * sync should read the same items whatever the number of idle entries — none,
 * since nothing is overdue (sync-scale.ts measures it with overdue restarts).
 */
import { BatchWriteItemCommand, DeleteTableCommand, DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import { DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { DEFAULT_SERVICE_CONFIG } from '../../lib/config.ts';
import { planExit, resolveBackoffPolicy, type ContainerState, type EventRecord } from '../../lib/core/index.ts';
import { LOCAL_AWS_CONFIG, startDynalite, type LocalDynamo } from '../../lib/local/dynalite.ts';
import type { BusMessage, EventSink, RestartTimer } from '../../lib/ports.ts';
import { sync } from '../../lib/services/sync.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { median, round } from './stats.ts';

export interface SyncPlan {
  readonly idleSizes: readonly number[];
  readonly waiting: number;
  /** Syncs timed per size (the median is reported). */
  readonly repetitions: number;
}

export interface SyncSizeResult {
  readonly idle: number;
  readonly waiting: number;
  readonly itemsRead: number;
  /** Items in the table: what a scan would read. */
  readonly tableItems: number;
  readonly syncMs: number;
  readonly backOffEvents: number;
  readonly fillMs: number;
}

export interface SyncResult {
  /** Items read per sync, by number of idle entries. */
  readonly itemsRead: Record<string, number>;
  readonly waiting: number;
  readonly sizes: readonly SyncSizeResult[];
}

const POLICY = resolveBackoffPolicy();
const BATCH = 25;

/**
 * The exact items the store writes for given states, without writing them:
 * the store runs against a client whose PutItem stops at the first middleware
 * and hands the item over. Bulk loads then go through BatchWriteItem.
 */
export function itemCapture(tableName: string, now: () => number): { store: DynamoBackoffStore; take(): Record<string, AttributeValue>[] } {
  const captured: Record<string, AttributeValue>[] = [];
  const client = new DynamoDBClient({ ...LOCAL_AWS_CONFIG, endpoint: 'http://127.0.0.1:9' });
  client.middlewareStack.add(
    (_next, context) => async (args) => {
      if (context.commandName !== 'PutItemCommand') throw new Error(`the capture client only takes PutItem, got ${context.commandName}`);
      captured.push((args.input as { Item: Record<string, AttributeValue> }).Item);
      return { output: { $metadata: {} }, response: {} };
    },
    { step: 'initialize', name: `bench-capture-${randomUUID()}` },
  );
  return { store: new DynamoBackoffStore({ client, tableName, clock: { now } }), take: () => captured.splice(0) };
}

/** A container that crashed once and was restarted at `now`: running, nothing pending. */
function idleState(index: number, now: number): ContainerState {
  const exit = { namespace: 'idle', pod: `idle-${index}`, podUid: 'uid-0', container: 'app', exitCode: 1, finishedAt: now, exitId: 'exit-0' };
  const next = planExit(undefined, exit, { policy: POLICY, now }).next!;
  return { ...next, state: 'Running', restart: { ...next.restart!, status: 'dispatched', claimedAt: now, dispatchedAt: now } };
}

/** A container in CrashLoopBackOff: it crashed again right after its first restart (10 s back-off). */
function waitingState(index: number, now: number): ContainerState {
  const exit = (n: number, finishedAt: number) => ({ namespace: 'waiting', pod: `waiting-${index}`, podUid: 'uid-0', container: 'app', exitCode: 1, finishedAt, exitId: `exit-${n}` });
  const first = planExit(undefined, exit(0, now), { policy: POLICY, now }).next!;
  return planExit(first, exit(1, now + 1), { policy: POLICY, now: now + 1 }).next!;
}

/** Loads `count` items shaped as the store writes `states(index)`, a BatchWriteItem of 25 at a time from 4 workers. */
export async function fill(dynamo: Pick<LocalDynamo, 'client'>, tableName: string, states: (index: number) => ContainerState, count: number, now: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    // A capture per worker: the workers interleave at every await.
    const capture = itemCapture(tableName, () => now);
    while (next < count) {
      const start = next;
      const end = Math.min(count, start + BATCH);
      next = end;
      for (let index = start; index < end; index++) await capture.store.put(states(index), undefined);
      let requests: { PutRequest: { Item: Record<string, AttributeValue> } }[] | undefined = capture.take().map((Item) => ({ PutRequest: { Item } }));
      while (requests && requests.length > 0) {
        const { UnprocessedItems } = await dynamo.client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
        requests = UnprocessedItems?.[tableName] as typeof requests;
      }
    }
  };
  // One batch in flight per worker; a few workers keep dynalite busy.
  await Promise.all(Array.from({ length: 4 }, worker));
}

/** Counts what the sync publishes. */
class CountingSink implements EventSink {
  records = 0;
  messages = 0;
  record(events: readonly EventRecord[]): void {
    this.records += events.length;
  }
  async publish(messages: readonly BusMessage[]): Promise<void> {
    this.messages += messages.length;
  }
  metric(): void {}
}

/** The sync must need no timer: nothing it recovers is early, and nothing waiting is taken for overdue. */
export const NO_TIMER: RestartTimer = {
  arm: async () => {
    throw new Error('the sync armed a timer: a waiting restart was taken for overdue');
  },
  defer: async () => {
    throw new Error('the sync deferred a restart: a waiting restart was taken for overdue');
  },
};

export async function benchSync(plan: SyncPlan, progress: (line: string) => void): Promise<SyncResult> {
  const dynamo = await startDynalite();
  const sizes: SyncSizeResult[] = [];
  try {
    for (const idle of plan.idleSizes) {
      const tableName = `sync-${idle}-${randomUUID()}`;
      await ensureTable(dynamo.client, tableName);
      const now = Date.now();
      const filled = performance.now();
      await fill(dynamo, tableName, (index) => idleState(index, now), idle, now);
      await fill(dynamo, tableName, (index) => waitingState(index, now), plan.waiting, now);
      const fillMs = performance.now() - filled;
      const sink = new CountingSink();
      // The sync runs two seconds after the exits, whatever the fill took: every
      // waiting restart is still in its back-off, none is overdue or expired.
      const clock = { now: () => now + 2_000 };
      const deps: ServiceDeps = {
        store: new DynamoBackoffStore({ client: dynamo.client, tableName, clock }),
        timer: NO_TIMER,
        sink,
        clock,
        random: Math.random,
        config: DEFAULT_SERVICE_CONFIG,
        log: {
          warn: (message) => {
            throw new Error(message);
          },
          error: (message) => {
            throw new Error(message);
          },
        },
      };
      const times: number[] = [];
      let itemsRead = 0;
      let backOffEvents = 0;
      for (let run = 0; run <= plan.repetitions; run++) {
        sink.records = 0;
        const started = performance.now();
        const report = await sync(deps);
        const elapsed = performance.now() - started;
        if (report.overdue !== 0 || report.failures > 0 || report.failedShards.length > 0 || report.recovered > 0) {
          throw new Error(`sync over ${idle} idle entries and ${plan.waiting} waiting: expected nothing overdue, got ${JSON.stringify(report)}`);
        }
        // The first run warms up (JIT, dynalite caches); the rest are timed.
        if (run > 0) times.push(elapsed);
        itemsRead = report.itemsRead;
        backOffEvents = sink.records;
      }
      const result: SyncSizeResult = {
        idle,
        waiting: plan.waiting,
        itemsRead,
        tableItems: idle + plan.waiting,
        syncMs: round(median(times), 2),
        backOffEvents,
        fillMs: round(fillMs, 0),
      };
      sizes.push(result);
      progress(`sync         ${String(idle).padStart(6)} idle + ${plan.waiting} waiting: ${itemsRead} items read, ${result.syncMs} ms (table filled in ${result.fillMs} ms)`);
      // Frees the table's memory before the next size.
      await dynamo.client.send(new DeleteTableCommand({ TableName: tableName }));
    }
  } finally {
    await dynamo.close();
  }
  return { itemsRead: Object.fromEntries(sizes.map((size) => [String(size.idle), size.itemsRead])), waiting: plan.waiting, sizes };
}
