/**
 * The one place that reads the environment: builds the production adapters
 * and services for the Lambda handlers from the variables the CDK stack sets
 * (names in lib/config.ts `ENV`).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { DynamoRestartBudget } from '../lib/adapters/dynamodb/budget.ts';
import { TABLE_SCHEMA } from '../lib/adapters/dynamodb/schema.ts';
import { DynamoBackoffStore } from '../lib/adapters/dynamodb/store.ts';
import { SdkEcsTasks } from '../lib/adapters/ecs/tasks.ts';
import { DynamoWorkloadStore } from '../lib/adapters/ecs/workload-store.ts';
import { SqsExitDeadLetters } from '../lib/adapters/events/exit-dead-letters.ts';
import { AwsEventSink } from '../lib/adapters/events/sink.ts';
import { SchedulerRestartTimer, SqsFineStage } from '../lib/adapters/scheduler/timer.ts';
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
import { METRICS_NAMESPACE, SERVICE_NAME, type ExitDeadLetters } from '../lib/ports.ts';
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

type Env = Readonly<Record<string, string | undefined>>;

/** Builds the Lambda dependencies from `env`. */
export function wire(env: Env): LambdaDeps {
  const logger = new Logger({ serviceName: SERVICE_NAME });
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  const clock = { now: () => Date.now() };
  const config = serviceConfig(env);
  const dynamo = new DynamoDBClient({});
  const tableName = required(env, ENV.tableName);
  const store = new DynamoBackoffStore({
    client: dynamo,
    tableName,
    clock,
    shards: integerSetting(env, ENV.shards, 16),
    retentionMs: durationSetting(ENV.retention, env[ENV.retention], TABLE_SCHEMA.defaultEntryRetentionMs),
  });
  const sqs = new SQSClient({});
  const fineStage = new SqsFineStage({ client: sqs, queueUrl: required(env, ENV.fineStageQueueUrl) });
  // The restart and sync functions never create schedules: they are given no
  // schedule settings (and no permission), only the fine stage.
  const timer = new SchedulerRestartTimer({
    scheduler: new SchedulerClient({}),
    fineStage,
    groupName: env[ENV.scheduleGroup] ?? '',
    targetArn: env[ENV.restartFunctionArn] ?? '',
    roleArn: env[ENV.schedulerRoleArn] ?? '',
    ...(env[ENV.scheduleDeadLetterArn] ? { deadLetterArn: env[ENV.scheduleDeadLetterArn] } : {}),
    precision: config.precision,
  });
  const exitDeadLetterQueueUrl = env[ENV.exitDeadLetterQueueUrl];
  const sink = new AwsEventSink({
    logger,
    metrics,
    eventBridge: new EventBridgeClient({}),
    eventBusName: required(env, ENV.eventBusName),
  });
  const log = operationalLog(logger);
  const workloadTable = env[ENV.workloadTableName];
  const ecs: EcsDeps | undefined = workloadTable
    ? { workloads: new DynamoWorkloadStore({ client: dynamo, tableName: workloadTable }), tasks: new SdkEcsTasks(new ECSClient({})), clock, random: Math.random, log }
    : undefined;
  return {
    service: {
      store,
      timer,
      sink,
      // Called only for namespaces with a restartBudget; the others make no call.
      budget: new DynamoRestartBudget({ client: dynamo, tableName }),
      clock,
      random: Math.random,
      config,
      log,
    },
    logger,
    metrics,
    ...(ecs ? { ecs } : {}),
    delivery: { targets: ecs ? { ecs: { deliver: (request) => restartWorkloadTask(ecs, request) } } : {}, sink, clock, log },
    ...(exitDeadLetterQueueUrl ? { exitDeadLetters: new SqsExitDeadLetters({ client: sqs, queueUrl: exitDeadLetterQueueUrl }) } : {}),
  };
}

/** The services' operational log on the Powertools logger: one JSON line each, `details` as top-level fields. */
export function operationalLog(logger: Pick<Logger, 'warn' | 'error'>): OperationalLog {
  return { warn: (message, details) => logger.warn(message, details ?? {}), error: (message, details) => logger.error(message, details ?? {}) };
}

/**
 * The dependencies of a handler module, built on first use: importing a
 * handler (as the tests do) reads no environment and opens no client.
 */
export function defaults(): () => LambdaDeps {
  let deps: LambdaDeps | undefined;
  return () => (deps ??= wire(process.env));
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
