/**
 * One sync run in a process of its own, as the sync Lambda runs it: bundled as
 * the stack bundles a handler, started with the heap of a 512 MB Lambda
 * (sync-scale.ts passes --max-old-space-size), on the production store, sink
 * and services, against a dynalite in another process. It runs what the sync
 * handler runs (lambdas/sync.ts: the sync, then the count of containers in
 * CrashLoopBackOff), timing each, and reports over IPC. DynamoDB and
 * EventBridge can be given a latency per call; EventBridge is answered by the
 * stand-in services at the HTTP layer, so the SDK still serialises every call.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { operationalLog } from '../../lambdas/wiring.ts';
import { DynamoBackoffStore } from '../../lib/adapters/dynamodb/store.ts';
import { AwsEventSink } from '../../lib/adapters/events/sink.ts';
import { sleep } from '../../lib/concurrency.ts';
import { DEFAULT_SERVICE_CONFIG } from '../../lib/config.ts';
import { LOCAL_AWS_CONFIG } from '../../lib/local/dynalite.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/ports.ts';
import { countCrashLoopBackOff } from '../../lib/services/census.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { sync } from '../../lib/services/sync.ts';
import { StandInServices } from './aws-meter.ts';
import { NO_TIMER } from './sync-cost.ts';

/** What the parent asks for (argv[2], JSON). */
export interface SyncScaleChildInput {
  readonly endpoint: string;
  readonly tableName: string;
  /** The instant the sync runs at (epoch ms). */
  readonly now: number;
  readonly latencyMs: { readonly dynamo: number; readonly eventBridge: number };
}

export interface SyncScaleChildOutput {
  readonly itemsRead: number;
  readonly overdue: number;
  readonly recovered: number;
  readonly failures: number;
  readonly busEntries: number;
  readonly wallMs: number;
  readonly censusItemsRead: number;
  readonly censusMs: number;
  readonly crashLoopBackOff: number | null;
  /** RSS before the run: the runtime, the bundle and the clients, MiB. */
  readonly baselineRssMb: number;
  readonly heapUsedMbAfter: number;
  /** The process's own high-water mark of resident memory (getrusage), MiB. */
  readonly maxRssMb: number;
  /** DynamoDB calls the sync made, and how long dynalite took to answer one on average (the added latency left out). */
  readonly dynamoCalls: number;
  readonly dynamoAnswerMs: number;
}

/** Adds `ms` before every call of a client: a round trip to the service in its region. */
function withLatency<T extends { middlewareStack: { add: (...args: never[]) => unknown } }>(client: T, ms: number): T {
  if (ms > 0) {
    (client.middlewareStack as unknown as { add: (middleware: unknown, options: unknown) => void }).add(
      (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
        await sleep(ms);
        return next(args);
      },
      { step: 'finalizeRequest', name: 'bench-latency' },
    );
  }
  return client;
}

/** Counts a client's calls and the time their answers took (after any added latency). */
function timed<T extends { middlewareStack: { add: (...args: never[]) => unknown } }>(client: T): { client: T; calls: () => number; meanMs: () => number } {
  let calls = 0;
  let totalMs = 0;
  (client.middlewareStack as unknown as { add: (middleware: unknown, options: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        calls++;
        totalMs += performance.now() - started;
      }
    },
    { step: 'deserialize', name: 'bench-answer-time' },
  );
  return { client, calls: () => calls, meanMs: () => (calls > 0 ? totalMs / calls : 0) };
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as SyncScaleChildInput;
  const clock = { now: () => input.now };
  const answers = timed(new DynamoDBClient({ ...LOCAL_AWS_CONFIG, endpoint: input.endpoint, maxAttempts: 3 }));
  const dynamo = withLatency(answers.client, input.latencyMs.dynamo);
  const standIn = new StandInServices();
  const eventBridge = withLatency(new EventBridgeClient({ ...LOCAL_AWS_CONFIG, requestHandler: standIn.requestHandler }), input.latencyMs.eventBridge);
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  const service: ServiceDeps = {
    store: new DynamoBackoffStore({ client: dynamo, tableName: input.tableName, clock }),
    timer: NO_TIMER,
    sink: new AwsEventSink({ logger, metrics, eventBridge, eventBusName: 'bench' }),
    clock,
    random: Math.random,
    config: DEFAULT_SERVICE_CONFIG,
    log: operationalLog(logger),
  };
  const baselineRssMb = process.memoryUsage().rss / 1_048_576;

  let started = performance.now();
  const report = await sync(service);
  const wallMs = performance.now() - started;
  const dynamoCalls = answers.calls();
  const dynamoAnswerMs = answers.meanMs();
  started = performance.now();
  const census = await countCrashLoopBackOff(service);
  const censusMs = performance.now() - started;
  metrics.publishStoredMetrics();

  if (report.failedShards.length > 0 || report.failures > 0) throw new Error(`the sync failed: ${JSON.stringify(report)}`);
  const output: SyncScaleChildOutput = {
    itemsRead: report.itemsRead,
    overdue: report.overdue,
    recovered: report.recovered,
    failures: report.failures,
    busEntries: standIn.received.filter((request) => request.command === 'PutEvents').length,
    wallMs,
    censusItemsRead: census.itemsRead,
    censusMs,
    crashLoopBackOff: census.crashLoopBackOff,
    baselineRssMb,
    heapUsedMbAfter: process.memoryUsage().heapUsed / 1_048_576,
    maxRssMb: process.resourceUsage().maxRSS / 1_024,
    dynamoCalls,
    dynamoAnswerMs,
  };
  process.send!(output);
  dynamo.destroy();
  eventBridge.destroy();
}

main().catch((error: unknown) => {
  process.send?.({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
});
