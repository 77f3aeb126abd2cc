/**
 * A pipeline under test: the production services and adapters, with the store
 * on a real dynalite and the AWS clients we cannot run (Scheduler, SQS,
 * EventBridge) mocked at the SDK boundary. Time is a manual clock.
 */
import { randomUUID } from 'node:crypto';
import { CreateScheduleCommand, SchedulerClient } from '@aws-sdk/client-scheduler';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetItemCommand, ScanCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { DynamoRestartBudget } from '../../lib/adapters/dynamodb/budget.ts';
import { DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { SchedulerRestartTimer, SqsFineStage } from '../../lib/adapters/scheduler/timer.ts';
import { SqsExitDeadLetters } from '../../lib/adapters/events/exit-dead-letters.ts';
import { AwsEventSink } from '../../lib/adapters/events/sink.ts';
import { DEFAULT_SERVICE_CONFIG, type ServiceConfig } from '../../lib/config.ts';
import type { EventRecord, ExitEvent } from '../../lib/core/index.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { startDynalite, type LocalDynamo } from '../../lib/local/dynalite.ts';
import type { BackoffStore, BusMessage, MetricName, RestartRequest } from '../../lib/ports.ts';

export const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

export class ManualClock {
  constructor(public time = T0) {}
  now = (): number => this.time;
  advance(ms: number): void {
    this.time += ms;
  }
  set(time: number): void {
    this.time = time;
  }
}

/** Records the DynamoDB commands a client sends, by name. */
export function countCommands(client: DynamoDBClient): { calls: string[]; reset(): void } {
  const calls: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      calls.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: `count-${randomUUID()}` },
  );
  return { calls, reset: () => calls.splice(0) };
}

let dynamo: LocalDynamo | undefined;
let dynamoUsers = 0;

/** One in-memory dynalite per test file, shared by the harnesses in it. */
export async function acquireDynalite(): Promise<LocalDynamo> {
  dynamoUsers++;
  dynamo ??= await startDynalite();
  return dynamo;
}

export async function releaseDynalite(): Promise<void> {
  dynamoUsers--;
  if (dynamoUsers === 0 && dynamo) {
    await dynamo.close();
    dynamo = undefined;
  }
}

export interface Harness {
  readonly deps: ServiceDeps;
  readonly clock: ManualClock;
  readonly store: DynamoBackoffStore;
  readonly tableName: string;
  readonly dynamoCalls: { calls: string[]; reset(): void };
  readonly scheduler: AwsClientStub<SchedulerClient>;
  readonly sqs: AwsClientStub<SQSClient>;
  readonly eventBridge: AwsClientStub<EventBridgeClient>;
  /** The item exactly as DynamoDB holds it (a consistent read, not through the store). */
  rawItem(key: string): Promise<Record<string, AttributeValue> | undefined>;
  /** Every item of the table, sorted by key: to prove a request wrote nothing. */
  dump(): Promise<Record<string, AttributeValue>[]>;
  /** Every event record logged, in order. */
  readonly records: EventRecord[];
  readonly metrics: { name: MetricName; value: number }[];
  readonly errors: { message: string; details?: Record<string, unknown> }[];
  /** `Container Restart Requested` details the bus accepted, in order. */
  restartRequests(): Record<string, unknown>[];
  /** The exit dead-letter queue's adapter, on the mocked SQS client. */
  readonly exitDeadLetters: SqsExitDeadLetters;
  /** Message bodies sent to the exit dead-letter queue, parsed, in order. */
  exitDeadLetterMessages(): Record<string, unknown>[];
  /** Every mocked AWS call (Scheduler, SQS, EventBridge), by command name. */
  awsCalls(): string[];
  /** Forgets every AWS call so far, and what the bus accepted. */
  resetAwsCalls(): void;
  close(): Promise<void>;
}

export const SCHEDULER_SETTINGS = {
  groupName: 'restart-scheduler',
  targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:restart',
  roleArn: 'arn:aws:iam::123456789012:role/scheduler',
  deadLetterArn: 'arn:aws:sqs:us-east-1:123456789012:schedule-dlq',
  queueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/fine-stage',
  exitDeadLetterQueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/exit-dlq',
  eventBusName: 'restart-scheduler',
};

export async function createHarness(options: { config?: Partial<ServiceConfig>; shards?: number; pageSize?: number } = {}): Promise<Harness> {
  const local = await acquireDynalite();
  const tableName = `backoff-${randomUUID()}`;
  await ensureTable(local.client, tableName);
  const clock = new ManualClock();
  const store = new DynamoBackoffStore({
    client: local.client,
    tableName,
    clock,
    ...(options.shards ? { shards: options.shards } : {}),
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
  });
  const dynamoCalls = countCommands(local.client);

  const schedulerClient = new SchedulerClient({ region: 'us-east-1' });
  const sqsClient = new SQSClient({ region: 'us-east-1' });
  const eventBridgeClient = new EventBridgeClient({ region: 'us-east-1' });
  const scheduler = mockClient(schedulerClient);
  const sqs = mockClient(sqsClient);
  const eventBridge = mockClient(eventBridgeClient);
  scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:us-east-1:123456789012:schedule/g/n' });
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });

  const records: EventRecord[] = [];
  const metrics: { name: MetricName; value: number }[] = [];
  const errors: { message: string; details?: Record<string, unknown> }[] = [];
  const published: BusMessage[] = [];
  /** Remembers what the bus accepted (a rejected PutEvents publishes nothing). */
  class RecordingSink extends AwsEventSink {
    override async publish(messages: readonly BusMessage[]): Promise<void> {
      await super.publish(messages);
      published.push(...messages);
    }
  }
  const sink = new RecordingSink({
    logger: { info: (_message: string, fields: unknown) => void records.push({ ...(fields as object), message: _message } as EventRecord) } as never,
    metrics: { addMetric: (name: string, _unit: unknown, value: number) => void metrics.push({ name: name as MetricName, value }) } as never,
    eventBridge: eventBridgeClient,
    eventBusName: SCHEDULER_SETTINGS.eventBusName,
    // Pauses between PutEvents retries are real but tiny, as the conflict pauses below.
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5))),
  });
  const timer = new SchedulerRestartTimer({
    scheduler: schedulerClient,
    fineStage: new SqsFineStage({ client: sqsClient, queueUrl: SCHEDULER_SETTINGS.queueUrl }),
    groupName: SCHEDULER_SETTINGS.groupName,
    targetArn: SCHEDULER_SETTINGS.targetArn,
    roleArn: SCHEDULER_SETTINGS.roleArn,
    deadLetterArn: SCHEDULER_SETTINGS.deadLetterArn,
    precision: options.config?.precision ?? 'second',
  });
  const deps: ServiceDeps = {
    store,
    timer,
    sink,
    budget: new DynamoRestartBudget({ client: local.client, tableName }),
    clock,
    random: Math.random,
    config: { ...DEFAULT_SERVICE_CONFIG, ...options.config },
    log: {
      warn: (message, details) => void errors.push({ message, ...(details ? { details } : {}) }),
      error: (message, details) => void errors.push({ message, ...(details ? { details } : {}) }),
    },
    // Conflict pauses are real but tiny: concurrency tests need real interleaving, not wall time.
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, 5))),
  };
  const mocks = [scheduler, sqs, eventBridge];
  return {
    deps,
    clock,
    store,
    tableName,
    dynamoCalls,
    scheduler,
    sqs,
    eventBridge,
    records,
    metrics,
    errors,
    rawItem: async (key) =>
      (await local.client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: key } }, ConsistentRead: true }))).Item,
    dump: async () => {
      const items: Record<string, AttributeValue>[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await local.client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }));
        items.push(...(page.Items ?? []));
        start = page.LastEvaluatedKey;
      } while (start);
      return items.sort((a, b) => String(a.pk?.S).localeCompare(String(b.pk?.S)));
    },
    restartRequests: () => published.filter((m) => m.detailType === 'Container Restart Requested').map((m) => m.detail),
    exitDeadLetters: new SqsExitDeadLetters({ client: sqsClient, queueUrl: SCHEDULER_SETTINGS.exitDeadLetterQueueUrl }),
    exitDeadLetterMessages: () =>
      sqs
        .commandCalls(SendMessageCommand)
        .filter((call) => call.args[0].input.QueueUrl === SCHEDULER_SETTINGS.exitDeadLetterQueueUrl)
        .map((call) => JSON.parse(call.args[0].input.MessageBody!) as Record<string, unknown>),
    awsCalls: () => mocks.flatMap((mock) => mock.calls().map((call) => (call.args[0] as object).constructor.name.replace(/Command$/, ''))),
    resetAwsCalls: () => {
      mocks.forEach((mock) => mock.resetHistory());
      published.splice(0);
    },
    close: async () => {
      mocks.forEach((mock) => mock.restore());
      await releaseDynalite();
    },
  };
}

/** An exit event for container `app` of pod `web-0`, finishing at `finishedAt`. */
export function exitOf(finishedAt: number, overrides: Partial<ExitEvent> = {}): ExitEvent {
  return { namespace: 'default', pod: 'web-0', podUid: 'uid-1', container: 'app', exitCode: 1, finishedAt, ...overrides };
}

/** The store with some of its methods replaced (to wrap or fail them), the others its own. */
export function storeWith(store: BackoffStore, overrides: Partial<BackoffStore>): BackoffStore {
  return {
    get shards() {
      return store.shards;
    },
    get: (key) => store.get(key),
    getMany: (keys) => store.getMany(keys),
    put: (state, version) => store.put(state, version),
    delete: (key, version) => store.delete(key, version),
    listWaiting: (shard, options) => store.listWaiting(shard, options),
    listBackOffRepeats: (shard, now, cursor) => store.listBackOffRepeats(shard, now, cursor),
    listExpired: (shard, now, options) => store.listExpired(shard, now, options),
    collect: (key, now) => store.collect(key, now),
    countInState: (state, shard, cursor) => store.countInState(state, shard, cursor),
    list: (filter) => store.list(filter),
    ...overrides,
  };
}

/** A `Container Restart Requested` detail for restart 3 of container `app` of pod `web-0` in `namespace`, due at T0. */
export function restartRequestOf(overrides: Partial<RestartRequest> = {}): RestartRequest {
  const namespace = overrides.namespace ?? 'hooks';
  const key = `web-0_${namespace}__app_`;
  return {
    restartId: `${key}#1.3`,
    key,
    namespace,
    pod: 'web-0',
    podUid: null,
    container: 'app',
    containerHash: null,
    restartCount: 3,
    restartAt: new Date(T0).toISOString(),
    firedAt: new Date(T0).toISOString(),
    recovered: false,
    target: 'webhook',
    ...overrides,
  };
}
