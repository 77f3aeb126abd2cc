/**
 * The one place that reads the environment: builds the production adapters
 * and services for the Lambda handlers from the variables the CDK stack sets
 * (names in lib/config.ts `ENV`).
 *
 * Each handler has its own wiring (`wireExit`, `wireServices`,
 * `wireDeliver`), which builds the SDK clients that handler calls and no
 * others: a client that is built stays in the handler's bundle, with every
 * command it could send.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoRestartBudget } from '../lib/adapters/dynamodb/budget.ts';
import { TABLE_SCHEMA } from '../lib/adapters/dynamodb/schema.ts';
import { DynamoBackoffStore } from '../lib/adapters/dynamodb/store.ts';
import { SdkEcsTasks } from '../lib/adapters/ecs/tasks.ts';
import { DynamoWorkloadStore } from '../lib/adapters/ecs/workload-store.ts';
import { SqsExitDeadLetters } from '../lib/adapters/events/exit-dead-letters.ts';
import { AwsEventSink } from '../lib/adapters/events/sink.ts';
import { FineStageTimer, SchedulerRestartTimer, SqsFineStage, type FineStage } from '../lib/adapters/scheduler/timer.ts';
import {
  ConfigError,
  DEFAULT_SERVICE_CONFIG,
  durationSetting,
  ENV,
  parseNamespaceDefaults,
  policySetting,
  precisionSetting,
  type ServiceConfig,
} from '../lib/config.ts';
import { METRICS_NAMESPACE, SERVICE_NAME, type ExitDeadLetters, type RestartTimer } from '../lib/ports.ts';
import type { DeliveryDeps } from '../lib/services/deliver-restart.ts';
import type { OperationalLog, ServiceDeps } from '../lib/services/deps.ts';
import { restartWorkloadTask, type EcsDeps } from '../lib/services/ecs-workloads.ts';

export interface LambdaDeps {
  readonly service: ServiceDeps;
  /** Powertools' logger; each handler gives it the invocation's context (`function_name`, `function_request_id`, `cold_start`). */
  readonly logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error' | 'addContext'>;
  /** Flushed at the end of every invocation (EMF lines). */
  readonly metrics: { publishStoredMetrics(): unknown };
  /** Where the exit handler sends invalid bus events; only its function is given a queue. */
  readonly exitDeadLetters?: ExitDeadLetters;
  /** ECS workloads, when the stack enables them (the workload table is named). */
  readonly ecs?: EcsDeps;
  /** The restart targets the deliver handler calls (ECS; webhooks are API destinations). */
  readonly delivery?: DeliveryDeps;
}

/** What the deliver handler uses: its restart targets, and no service. */
export type DeliverDeps = Pick<LambdaDeps, 'logger' | 'metrics' | 'delivery'>;

type Env = Readonly<Record<string, string | undefined>>;

/** The exit handler: decisions (every port), the API's ECS workloads, and the dead-letter queue of bad bus events. */
export function wireExit(env: Env): LambdaDeps {
  const base = basics();
  const dynamo = new DynamoDBClient(sdkClientConfig());
  const sqs = new SQSClient(sdkClientConfig());
  const config = serviceConfig(env);
  const timer = new SchedulerRestartTimer({
    scheduler: new SchedulerClient(sdkClientConfig()),
    fineStage: fineStageOf(env, sqs),
    groupName: env[ENV.scheduleGroup] ?? '',
    targetArn: env[ENV.restartFunctionArn] ?? '',
    roleArn: env[ENV.schedulerRoleArn] ?? '',
    ...(env[ENV.scheduleDeadLetterArn] ? { deadLetterArn: env[ENV.scheduleDeadLetterArn] } : {}),
    precision: config.precision,
  });
  const ecs = ecsOf(env, base, dynamo);
  const exitDeadLetterQueueUrl = env[ENV.exitDeadLetterQueueUrl];
  return {
    service: servicesOf(env, base, { config, dynamo, timer }),
    logger: base.logger,
    metrics: base.metrics,
    ...(ecs ? { ecs } : {}),
    ...(exitDeadLetterQueueUrl ? { exitDeadLetters: new SqsExitDeadLetters({ client: sqs, queueUrl: exitDeadLetterQueueUrl }) } : {}),
  };
}

/**
 * The restart callback and the sync: the services alone. They never create
 * schedules (they are given no schedule settings, and no permission), so
 * their timer is the fine stage, which takes an early callback's remainder.
 */
export function wireServices(env: Env): LambdaDeps {
  const base = basics();
  const timer = new FineStageTimer(fineStageOf(env, new SQSClient(sdkClientConfig())));
  return {
    service: servicesOf(env, base, { config: serviceConfig(env), dynamo: new DynamoDBClient(sdkClientConfig()), timer }),
    logger: base.logger,
    metrics: base.metrics,
  };
}

/** The deliver handler: the ECS target (when the stack enables ECS workloads) and the sink its outcomes go to. */
export function wireDeliver(env: Env): DeliverDeps {
  const base = basics();
  const ecs = ecsOf(env, base, new DynamoDBClient(sdkClientConfig()));
  return {
    logger: base.logger,
    metrics: base.metrics,
    delivery: { targets: ecs ? { ecs: { deliver: (request) => restartWorkloadTask(ecs, request) } } : {}, sink: sinkOf(env, base), clock: base.clock, log: base.log },
  };
}

/** What every handler has: Powertools' logger and metrics, the clock, the operational log. */
interface Basics {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly clock: { now(): number };
  readonly log: OperationalLog;
}

function basics(): Basics {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  return {
    logger,
    metrics: new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME }),
    clock: { now: () => Date.now() },
    log: operationalLog(logger),
  };
}

/**
 * Every SDK client's options. Lambda gives a function its role's credentials
 * in environment variables, where the default chain would find them first; a
 * client given no credentials still carries the rest of that chain (SSO, STS
 * and the other providers, with their own clients), which the bundles leave
 * out (lib/infra/bundling.ts `UNREACHED_SDK_MODULES`).
 */
function sdkClientConfig() {
  return { credentials: fromEnv() };
}

function fineStageOf(env: Env, sqs: SQSClient): FineStage {
  return new SqsFineStage({ client: sqs, queueUrl: required(env, ENV.fineStageQueueUrl) });
}

function sinkOf(env: Env, base: Basics): AwsEventSink {
  return new AwsEventSink({ logger: base.logger, metrics: base.metrics, eventBridge: new EventBridgeClient(sdkClientConfig()), eventBusName: required(env, ENV.eventBusName) });
}

function servicesOf(env: Env, base: Basics, parts: { readonly config: ServiceConfig; readonly dynamo: DynamoDBClient; readonly timer: RestartTimer }): ServiceDeps {
  const tableName = required(env, ENV.tableName);
  const { config, dynamo, timer } = parts;
  return {
    store: new DynamoBackoffStore({
      client: dynamo,
      tableName,
      clock: base.clock,
      shards: integerSetting(env, ENV.shards, 16),
      retentionMs: durationSetting(ENV.retention, env[ENV.retention], TABLE_SCHEMA.defaultEntryRetentionMs),
    }),
    timer,
    sink: sinkOf(env, base),
    // Called only for namespaces with a restartBudget; the others make no call.
    budget: new DynamoRestartBudget({ client: dynamo, tableName }),
    clock: base.clock,
    random: Math.random,
    config,
    log: base.log,
  };
}

/** ECS workloads, when the stack enables them (the workload table is named). */
function ecsOf(env: Env, base: Basics, dynamo: DynamoDBClient): EcsDeps | undefined {
  const workloadTable = env[ENV.workloadTableName];
  if (!workloadTable) return undefined;
  return {
    workloads: new DynamoWorkloadStore({ client: dynamo, tableName: workloadTable }),
    tasks: new SdkEcsTasks(new ECSClient(sdkClientConfig())),
    clock: base.clock,
    random: Math.random,
    log: base.log,
  };
}

/** The services' operational log on the Powertools logger: one JSON line each, `details` as top-level fields. */
export function operationalLog(logger: Pick<Logger, 'warn' | 'error'>): OperationalLog {
  return { warn: (message, details) => logger.warn(message, details ?? {}), error: (message, details) => logger.error(message, details ?? {}) };
}

/**
 * The dependencies of a handler module, built by `wiring` on first use:
 * importing a handler (as the tests do) reads no environment and opens no client.
 */
export function defaults<D>(wiring: (env: Env) => D): () => D {
  let deps: D | undefined;
  return () => (deps ??= wiring(process.env));
}

export function serviceConfig(env: Env): ServiceConfig {
  const policy = policySetting('policy', {
    initial: env[ENV.initialBackoff] || DEFAULT_SERVICE_CONFIG.policy.initialMs,
    max: env[ENV.maxBackoff] || DEFAULT_SERVICE_CONFIG.policy.maxMs,
    ...(env[ENV.resetAfter] ? { resetAfter: env[ENV.resetAfter] } : {}),
    ...(env[ENV.jitter] ? { jitterFactor: Number(env[ENV.jitter]) } : {}),
  });
  return {
    ...DEFAULT_SERVICE_CONFIG,
    policy,
    namespaces: parseNamespaceDefaults(ENV.namespaceDefaults, env[ENV.namespaceDefaults]),
    precision: precisionSetting(ENV.precision, env[ENV.precision], DEFAULT_SERVICE_CONFIG.precision),
    recoveryGraceMs: durationSetting(ENV.recoveryGrace, env[ENV.recoveryGrace], DEFAULT_SERVICE_CONFIG.recoveryGraceMs),
    dispatchLeaseMs: durationSetting(ENV.dispatchLease, env[ENV.dispatchLease], DEFAULT_SERVICE_CONFIG.dispatchLeaseMs),
    backOffEventIntervalMs: durationSetting(ENV.backOffEventInterval, env[ENV.backOffEventInterval], DEFAULT_SERVICE_CONFIG.backOffEventIntervalMs),
  };
}

function required(env: Env, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`${name} is not set`);
  return value;
}

function integerSetting(env: Env, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  if (!Number.isSafeInteger(parsed) || parsed < 1) throw new ConfigError(`${name}: expected a positive integer, got ${JSON.stringify(value)}`);
  return parsed;
}
