/**
 * (3) AWS calls per exit event, per restart and per sync, counted by an SDK
 * middleware while the Lambda handlers (lambdas/exit.ts, restart.ts, sync.ts)
 * run in this process on the production adapters: DynamoDB on a real dynalite,
 * Scheduler, SQS and EventBridge answered at the HTTP layer (aws-meter.ts).
 * Time is a manual clock, so each scenario is exactly the one it names. For
 * the cost model, each invocation's request units, wall time and log bytes
 * (what the Powertools logger and metrics write to stdout and stderr) are measured too.
 */
import type { APIGatewayProxyEventV2, SQSEvent } from 'aws-lambda';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { randomUUID } from 'node:crypto';
import { DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { AwsEventSink } from '../../lib/adapters/events/sink.ts';
import { SchedulerRestartTimer, SqsFineStage } from '../../lib/adapters/scheduler/timer.ts';
import { DEFAULT_SERVICE_CONFIG, type Precision } from '../../lib/config.ts';
import { LOCAL_AWS_CONFIG, startDynalite, type LocalDynamo } from '../../lib/local/dynalite.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/ports.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { createHandler as createExitHandler } from '../../lambdas/exit.ts';
import { createHandler as createRestartHandler } from '../../lambdas/restart.ts';
import { createHandler as createSyncHandler } from '../../lambdas/sync.ts';
import { operationalLog, type LambdaDeps } from '../../lambdas/wiring.ts';
import { CallCounter, DynamoMeter, StandInServices } from './aws-meter.ts';
import { round, summarize, type Summary } from './stats.ts';
import { ManualClock, SCHEDULER_SETTINGS, T0 } from '../../test/support/pipeline.ts';

/** The calls the issue names, always reported (zeros included). */
export const COUNTED_CALLS = ['GetItem', 'PutItem', 'CreateSchedule', 'SendMessage', 'PutEvents'] as const;
export type CallCounts = Record<(typeof COUNTED_CALLS)[number], number> & Record<string, number>;

export interface OperationMeasure {
  readonly handler: 'exit' | 'restart' | 'sync';
  readonly invocations: number;
  /** Per invocation. */
  readonly calls: CallCounts;
  readonly rru: number;
  readonly wru: number;
  readonly wruByIndex: Record<string, number>;
  /** Handler wall time in this process (dynalite in process, no network), ms. */
  readonly durationMs: Summary;
  /** Bytes the handler logged (event records, EMF metrics) per invocation. */
  readonly logBytes: number;
  /** Bus entries published per invocation (each billed as one custom event). */
  readonly busEntries: number;
  /** Size of the items written, bytes (mean). */
  readonly itemBytes: number;
}

export interface CallsResult {
  /** By decision kind of the exit. */
  readonly callsPerExit: Record<'restartNow' | 'shortBackoff' | 'longBackoff' | 'duplicate' | 'noRestart', CallCounts>;
  readonly callsPerRestart: Record<'dispatch' | 'earlyCallback', CallCounts>;
  readonly callsPerSync: { readonly waiting: number; readonly total: CallCounts; readonly perWaiting: CallCounts };
  /** Everything measured, per precision. */
  readonly operations: Record<Precision, Record<string, OperationMeasure>>;
}

// The same fixed instant, clock and resource names as the pipeline tests.
const SETTINGS = SCHEDULER_SETTINGS;

/**
 * Counts what the handler writes to stdout and stderr while it runs (the
 * Powertools logger and metrics write there; in Lambda both go to CloudWatch
 * Logs), and keeps it off the benchmark's console.
 */
async function capturingOutput<T>(work: () => Promise<T>): Promise<{ result: T; bytes: number }> {
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write.bind(stream));
  let bytes = 0;
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      bytes += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof stream.write;
  }
  try {
    return { result: await work(), bytes };
  } finally {
    streams.forEach((stream, index) => (stream.write = originals[index]!));
  }
}

function httpEvent(body: string): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /v1/exits',
    rawPath: '/v1/exits',
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: { method: 'POST', path: '/v1/exits', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'bench' },
      requestId: randomUUID(),
      routeKey: 'POST /v1/exits',
      stage: '$default',
      time: '01/Jan/2026:12:00:00 +0000',
      timeEpoch: 0,
    },
    body,
    isBase64Encoded: false,
  };
}

function sqsEvent(callback: { key: string; restartCount: number; restartAt: number }): SQSEvent {
  return {
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: 'handle',
        body: JSON.stringify(callback),
        attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'bench', ApproximateFirstReceiveTimestamp: '0' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:fine-stage',
        awsRegion: 'us-east-1',
      },
    ],
  };
}

interface Pipeline {
  readonly precision: Precision;
  readonly clock: ManualClock;
  readonly timer: SchedulerRestartTimer;
  readonly exit: (body: string) => Promise<unknown>;
  readonly restartFromQueue: (callback: { key: string; restartCount: number; restartAt: number }) => Promise<unknown>;
  readonly restartFromSchedule: (callback: { key: string; restartCount: number; restartAt: number }) => Promise<unknown>;
  readonly sync: () => Promise<unknown>;
  readonly counter: CallCounter;
  readonly meter: DynamoMeter;
  readonly standIn: StandInServices;
  readonly store: DynamoBackoffStore;
  close(): void;
}

async function createPipeline(dynamo: LocalDynamo, precision: Precision): Promise<Pipeline> {
  const tableName = `bench-${precision}-${randomUUID()}`;
  await ensureTable(dynamo.client, tableName);
  const clock = new ManualClock();
  const counter = new CallCounter();
  const meter = new DynamoMeter();
  // A client of its own, so that the meters see this pipeline's calls only.
  const dynamoClient = dynamo.createClient();
  counter.attach(dynamoClient);
  meter.attach(dynamoClient);
  const standIn = new StandInServices();
  const awsConfig = { ...LOCAL_AWS_CONFIG, requestHandler: standIn.requestHandler };
  const scheduler = new SchedulerClient(awsConfig);
  const sqs = new SQSClient(awsConfig);
  const eventBridge = new EventBridgeClient(awsConfig);
  for (const client of [scheduler, sqs, eventBridge]) counter.attach(client);

  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  const store = new DynamoBackoffStore({ client: dynamoClient, tableName, clock });
  const timer = new SchedulerRestartTimer({
    scheduler,
    fineStage: new SqsFineStage({ client: sqs, queueUrl: SETTINGS.queueUrl }),
    groupName: SETTINGS.groupName,
    targetArn: SETTINGS.targetArn,
    roleArn: SETTINGS.roleArn,
    deadLetterArn: SETTINGS.deadLetterArn,
    precision,
  });
  const service: ServiceDeps = {
    store,
    timer,
    sink: new AwsEventSink({ logger, metrics, eventBridge, eventBusName: SETTINGS.eventBusName }),
    clock,
    random: Math.random,
    config: { ...DEFAULT_SERVICE_CONFIG, precision },
    log: operationalLog(logger),
  };
  const deps: LambdaDeps = { service, logger, metrics };
  const exitHandler = createExitHandler(() => deps);
  const restartHandler = createRestartHandler(() => deps);
  const syncHandler = createSyncHandler(() => deps);
  return {
    precision,
    clock,
    timer,
    exit: (body) => exitHandler(httpEvent(body)),
    restartFromQueue: (callback) => restartHandler(sqsEvent(callback)),
    restartFromSchedule: (callback) => restartHandler({ ...callback }),
    sync: () => syncHandler(),
    counter,
    meter,
    standIn,
    store,
    close: () => {
      dynamoClient.destroy();
      for (const client of [scheduler, sqs, eventBridge]) client.destroy();
    },
  };
}

/** Accumulates the measurements of one kind of invocation. */
class Recorder {
  private readonly totals = new Map<string, { handler: OperationMeasure['handler']; n: number; calls: Record<string, number>; rru: number; wru: number; wruByIndex: Record<string, number>; durations: number[]; logBytes: number; busEntries: number; itemBytes: number[] }>();

  constructor(private readonly pipeline: Pipeline) {}

  async measure<T>(name: string, handler: OperationMeasure['handler'], work: () => Promise<T>): Promise<T> {
    const { counter, meter, standIn } = this.pipeline;
    counter.reset();
    meter.resetUnits();
    standIn.reset();
    const started = performance.now();
    const { result, bytes } = await capturingOutput(work);
    const elapsed = performance.now() - started;
    const entry = this.totals.get(name) ?? { handler, n: 0, calls: {}, rru: 0, wru: 0, wruByIndex: {}, durations: [], logBytes: 0, busEntries: 0, itemBytes: [] };
    entry.n++;
    for (const [call, count] of Object.entries(counter.snapshot())) entry.calls[call] = (entry.calls[call] ?? 0) + count;
    entry.rru += meter.rru;
    entry.wru += meter.wru;
    for (const [index, units] of Object.entries(meter.wruByIndex)) entry.wruByIndex[index] = (entry.wruByIndex[index] ?? 0) + units;
    entry.durations.push(elapsed);
    entry.logBytes += bytes;
    entry.busEntries += standIn.received.filter((request) => request.command === 'PutEvents').length;
    entry.itemBytes.push(...meter.writtenItemBytes);
    this.totals.set(name, entry);
    return result;
  }

  results(): Record<string, OperationMeasure> {
    const results: Record<string, OperationMeasure> = {};
    for (const [name, entry] of this.totals) {
      const calls = Object.fromEntries(COUNTED_CALLS.map((call) => [call, 0])) as CallCounts;
      for (const [call, count] of Object.entries(entry.calls)) calls[call] = round(count / entry.n, 3);
      const mean = (value: number) => round(value / entry.n, 3);
      const summary = summarize(entry.durations);
      results[name] = {
        handler: entry.handler,
        invocations: entry.n,
        calls,
        rru: mean(entry.rru),
        wru: mean(entry.wru),
        wruByIndex: Object.fromEntries(Object.entries(entry.wruByIndex).map(([index, units]) => [index, mean(units)])),
        durationMs: { count: summary.count, min: round(summary.min, 3), p50: round(summary.p50, 3), p90: round(summary.p90, 3), p99: round(summary.p99, 3), max: round(summary.max, 3), mean: round(summary.mean, 3) },
        logBytes: Math.round(entry.logBytes / entry.n),
        busEntries: mean(entry.busEntries),
        itemBytes: entry.itemBytes.length > 0 ? Math.round(entry.itemBytes.reduce((a, b) => a + b, 0) / entry.itemBytes.length) : 0,
      };
    }
    return results;
  }
}

interface DecisionBody {
  readonly decision: string;
  readonly key: string;
  readonly restartAt: string | null;
  readonly restartCount: number;
  readonly delayMs: number;
}

function decisionOf(response: unknown, expected: string): DecisionBody {
  const { statusCode, body } = response as { statusCode: number; body: string };
  const decision = JSON.parse(body) as DecisionBody;
  if (statusCode !== 200 || decision.decision !== expected) throw new Error(`expected ${expected}, got ${statusCode} ${body.slice(0, 300)}`);
  return decision;
}

function expectOutcome(response: unknown, expected: string): void {
  const outcome = (response as { outcome?: string }).outcome;
  const failures = (response as { batchItemFailures?: unknown[] }).batchItemFailures;
  if (outcome !== undefined ? outcome !== expected : (failures?.length ?? 0) > 0) throw new Error(`expected ${expected}, got ${JSON.stringify(response)}`);
}

/**
 * One container's crash loop under the kubelet policy, each exit one second
 * after its restart: restart now, then back-offs of 10, 20, 40 and 80 s (the
 * fine stage, at either precision: due within two minutes), then 160 s (a
 * schedule, with second precision firing a minute early and handing over to
 * the fine stage).
 */
async function crashLoop(pipeline: Pipeline, recorder: Recorder, container: number): Promise<void> {
  const { clock } = pipeline;
  const pod = `loop-${container}`;
  const exitBody = (index: number) => JSON.stringify({ namespace: 'bench', pod, podUid: 'uid-0', container: 'app', exitCode: 1, finishedAt: clock.now(), exitId: `exit-${index}` });

  clock.time = T0 + container * 3_600_000;
  const first = decisionOf(await recorder.measure('exit: restart now', 'exit', () => pipeline.exit(exitBody(0))), 'RestartNow');
  expectOutcome(await recorder.measure('restart: dispatch', 'restart', () => pipeline.restartFromQueue(callbackOf(first))), 'Dispatched');

  for (let index = 1; index <= 5; index++) {
    clock.time += 1_000;
    const longBackoff = index === 5;
    const decision = decisionOf(
      await recorder.measure(longBackoff ? 'exit: long back-off' : 'exit: short back-off', 'exit', () => pipeline.exit(exitBody(index))),
      'RestartScheduled',
    );
    if (index === 5) {
      // The same exit reported again: a duplicate.
      decisionOf(await recorder.measure('exit: duplicate', 'exit', () => pipeline.exit(exitBody(index))), 'Duplicate');
    }
    const callback = callbackOf(decision);
    // When the timer was armed: the exit was handled at this instant.
    const armedAt = clock.now();
    if (longBackoff) {
      // The schedule's callback. Second precision: it fires in the minute that
      // starts at least a minute before the restart, so early; minute precision:
      // at a whole minute, never early.
      clock.time = pipeline.timer.scheduleInstant(callback.restartAt, armedAt);
      if (clock.time < callback.restartAt) {
        expectOutcome(await recorder.measure('restart: early callback', 'restart', () => pipeline.restartFromSchedule(callback)), 'Deferred');
        clock.time = callback.restartAt;
        expectOutcome(await recorder.measure('restart: dispatch', 'restart', () => pipeline.restartFromQueue(callback)), 'Dispatched');
      } else {
        expectOutcome(await recorder.measure('restart: dispatch (schedule)', 'restart', () => pipeline.restartFromSchedule(callback)), 'Dispatched');
      }
    } else {
      // A short back-off waits on the fine stage with either precision.
      clock.time = Math.max(clock.time, callback.restartAt);
      expectOutcome(await recorder.measure('restart: dispatch', 'restart', () => pipeline.restartFromQueue(callback)), 'Dispatched');
    }
  }
  // A container whose workload says it must not restart.
  const never = JSON.stringify({ namespace: 'bench', pod: `never-${container}`, podUid: 'uid-0', container: 'app', exitCode: 1, finishedAt: clock.now(), restartPolicy: 'Never' });
  decisionOf(await recorder.measure('exit: no restart', 'exit', () => pipeline.exit(never)), 'NoRestart');
}

function callbackOf(decision: DecisionBody): { key: string; restartCount: number; restartAt: number } {
  return { key: decision.key, restartCount: decision.restartCount, restartAt: Date.parse(decision.restartAt!) };
}

/** `waiting` containers in back-off, none overdue: one sync reads them and publishes their BackOff events. */
async function syncScenario(pipeline: Pipeline, recorder: Recorder, waiting: number): Promise<void> {
  const { clock } = pipeline;
  await capturingOutput(async () => {
    for (let index = 0; index < waiting; index++) {
      const body = (exit: number, finishedAt: number) => JSON.stringify({ namespace: 'bench', pod: `waiting-${index}`, podUid: 'uid-0', container: 'app', exitCode: 1, finishedAt, exitId: `exit-${exit}` });
      decisionOf(await pipeline.exit(body(0, clock.now())), 'RestartNow');
      decisionOf(await pipeline.exit(body(1, clock.now() + 1)), 'RestartScheduled');
    }
  });
  clock.time += 2;
  await recorder.measure('sync', 'sync', () => pipeline.sync());
}

export interface CallsPlan {
  /** Crash-looping containers per precision. */
  readonly containers: number;
  /** Waiting containers for the sync scenario. */
  readonly syncWaiting: number;
}

export async function benchCalls(plan: CallsPlan, progress: (line: string) => void): Promise<CallsResult> {
  const dynamo = await startDynalite();
  const operations = {} as Record<Precision, Record<string, OperationMeasure>>;
  try {
    for (const precision of ['second', 'minute'] as const) {
      const pipeline = await createPipeline(dynamo, precision);
      const recorder = new Recorder(pipeline);
      try {
        // Warm-up: load and JIT the handlers' code paths, unrecorded.
        await crashLoop(pipeline, new Recorder(pipeline), 10_000);
        for (let container = 0; container < plan.containers; container++) await crashLoop(pipeline, recorder, container);
        operations[precision] = recorder.results();
      } finally {
        pipeline.close();
      }
      if (precision !== 'second') continue;
      // A table of its own: the crash loops' entries must not be collected by it.
      // (The sync does the same at either precision; it is measured once.)
      const syncPipeline = await createPipeline(dynamo, precision);
      const syncRecorder = new Recorder(syncPipeline);
      try {
        await syncScenario(syncPipeline, syncRecorder, plan.syncWaiting);
        Object.assign(operations[precision], syncRecorder.results());
      } finally {
        syncPipeline.close();
      }
    }
    for (const precision of ['second', 'minute'] as const) progress(`calls        precision=${precision}: ${Object.keys(operations[precision]).length} kinds of invocation measured`);
  } finally {
    await dynamo.close();
  }
  const second = operations.second;
  const get = (name: string) => {
    const measure = second[name];
    if (!measure) throw new Error(`no measurement for ${name}`);
    return measure.calls;
  };
  const syncCalls = get('sync');
  return {
    callsPerExit: {
      restartNow: get('exit: restart now'),
      shortBackoff: get('exit: short back-off'),
      longBackoff: get('exit: long back-off'),
      duplicate: get('exit: duplicate'),
      noRestart: get('exit: no restart'),
    },
    callsPerRestart: { dispatch: get('restart: dispatch'), earlyCallback: get('restart: early callback') },
    callsPerSync: {
      waiting: plan.syncWaiting,
      total: syncCalls,
      perWaiting: Object.fromEntries(Object.entries(syncCalls).map(([call, count]) => [call, round(count / plan.syncWaiting, 3)])) as CallCounts,
    },
    operations,
  };
}
