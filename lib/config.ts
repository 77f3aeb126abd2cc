/**
 * Service settings, their defaults, and the environment variable names the
 * Lambda wiring reads them from (the CDK stack sets the same names).
 */
import {
  BACKOFF_PRESET_NAMES,
  DEFAULT_BACKOFF_EVENT_INTERVAL_MS,
  parseDuration,
  resolveBackoffPolicy,
  RESTART_POLICIES,
  type BackoffPresetName,
  type BackoffPolicy,
  type BackoffPolicyInput,
  type ExitEvent,
  type RestartBudgetSetting,
  type RestartPolicy,
  type RestartTargetSpec,
} from './core/index.ts';
import { restartTargetSchema, type WebhookRules } from './api/targets.ts';
import type * as z from './zod.ts';

export const PRECISIONS = ['second', 'minute'] as const;
/**
 * `second`: two-stage timers (schedule, then the fine stage). `minute`: a
 * restart due within the fine stage's direct window takes the fine stage, a
 * later one the schedule alone (cheapest), at most `MINUTE_PRECISION_MAX_LATENESS_MS` late.
 */
export type Precision = (typeof PRECISIONS)[number];

/**
 * EventBridge Scheduler invokes a target with 60-second precision: set to run
 * at 1:00, it invokes between 1:00:00 and 1:00:59 (flexible window off).
 */
export const SCHEDULER_WINDOW_MS = 60_000;
/** With `minute` precision a schedule's `at()` is rounded up to the whole minute, so the minute it fires in never starts early. */
export const MINUTE_ROUNDING_MS = 60_000;
/**
 * How late a `minute`-precision restart can be dispatched, at most (an
 * exclusive bound): under a minute of rounding up to the schedule's minute,
 * then under a minute before Scheduler fires within it. Restarts due sooner
 * take the fine stage and are late only by its whole-second rounding.
 */
export const MINUTE_PRECISION_MAX_LATENESS_MS = MINUTE_ROUNDING_MS + SCHEDULER_WINDOW_MS;
/**
 * The recovery grace on AWS: past the latest a timer of either precision
 * fires (`MINUTE_PRECISION_MAX_LATENESS_MS`), with half a minute for its
 * invocation and handler. A restart later than that was lost, not slow.
 */
const DEFAULT_RECOVERY_GRACE_MS = MINUTE_PRECISION_MAX_LATENESS_MS + 30_000;

/** Defaults for the containers of one namespace. */
export interface NamespaceDefaults {
  readonly policy?: BackoffPolicy;
  readonly restartPolicy?: RestartPolicy;
  /** Storm control: at most this many restarts start per second, fleet-wide (off when absent). */
  readonly restartBudget?: RestartBudgetSetting;
  /** Where its restarts go besides the bus (an exit event may name its own). */
  readonly restartTarget?: RestartTargetSpec;
}

export interface ServiceConfig {
  /** The back-off policy for exits that name none and whose namespace has no default. */
  readonly policy: BackoffPolicy;
  /** Per-namespace defaults (kubernetes#57291: policy per workload, not per node). */
  readonly namespaces: Readonly<Record<string, NamespaceDefaults>>;
  readonly precision: Precision;
  /**
   * How long past its instant a restart may stay undispatched before the sync
   * re-dispatches it as `RestartRecovered`. It must exceed the timer's normal
   * lateness (`MINUTE_PRECISION_MAX_LATENESS_MS` at worst), or the sync races
   * schedules that are about to fire.
   */
  readonly recoveryGraceMs: number;
  /** How long a dispatch claim holds before another callback or the sync may take it over (the claimer is presumed dead). */
  readonly dispatchLeaseMs: number;
  /**
   * A restart callback that comes at most this long before the restart's
   * instant waits for the instant itself, with the container already read, and
   * claims the restart the moment it comes; an earlier one hands the rest of
   * the wait back to the timer. 0 hands back every early callback: on AWS a
   * wait is billed Lambda time, and the fine stage is never early. The local
   * runtime's in-process fine stage calls back a little early on purpose, so
   * the store's read is off the restart's critical path.
   */
  readonly inlineWaitMs: number;
  /** Attempts of the read → plan → conditional write loop before giving up. */
  readonly maxWriteAttempts: number;
  /** Most expired entries the sync deletes per shard per run. */
  readonly gcBatchSize: number;
  /**
   * The least time between two BackOff records (and `Container CrashLoopBackOff`
   * messages) of one wait: a container gets one when it enters a wait, then a
   * repeat at most this often while it still waits (Kubernetes' event correlator).
   */
  readonly backOffEventIntervalMs: number;
}

export const DEFAULT_SERVICE_CONFIG: ServiceConfig = {
  policy: resolveBackoffPolicy(),
  namespaces: {},
  precision: 'second',
  recoveryGraceMs: DEFAULT_RECOVERY_GRACE_MS,
  dispatchLeaseMs: 60_000,
  inlineWaitMs: 0,
  maxWriteAttempts: 8,
  gcBatchSize: 100,
  backOffEventIntervalMs: DEFAULT_BACKOFF_EVENT_INTERVAL_MS,
};

/** The environment variables the Lambda wiring reads; the CDK stack sets them. */
export const ENV = {
  tableName: 'TABLE_NAME',
  shards: 'INDEX_SHARDS',
  retention: 'ENTRY_RETENTION',
  scheduleGroup: 'SCHEDULE_GROUP_NAME',
  schedulerRoleArn: 'SCHEDULER_ROLE_ARN',
  restartFunctionArn: 'RESTART_FUNCTION_ARN',
  scheduleDeadLetterArn: 'SCHEDULE_DEAD_LETTER_ARN',
  fineStageQueueUrl: 'FINE_STAGE_QUEUE_URL',
  /** The exit handler only: where invalid `Container Exited` events go. */
  exitDeadLetterQueueUrl: 'EXIT_DEAD_LETTER_QUEUE_URL',
  eventBusName: 'EVENT_BUS_NAME',
  initialBackoff: 'POLICY_INITIAL_BACKOFF',
  maxBackoff: 'POLICY_MAX_BACKOFF',
  resetAfter: 'POLICY_RESET_AFTER',
  jitter: 'POLICY_JITTER',
  namespaceDefaults: 'NAMESPACE_DEFAULTS',
  precision: 'TIMER_PRECISION',
  recoveryGrace: 'RECOVERY_GRACE',
  dispatchLease: 'DISPATCH_LEASE',
  /** Set when ECS workloads are enabled: the table of their registrations. */
  workloadTableName: 'WORKLOAD_TABLE_NAME',
  backOffEventInterval: 'BACKOFF_EVENT_INTERVAL',
} as const;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The first of a setting's zod issues as a `ConfigError` naming the field
 * under `where` (`where.webhook.url`); an unknown key is named and worded `unknownKey`.
 */
export function issueConfigError(where: string, issues: readonly z.core.$ZodIssue[], unknownKey: string): ConfigError {
  const issue = issues[0]!;
  const path = issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]] : issue.path;
  return new ConfigError(`${[where, ...path.map(String)].join('.')}: ${issue.code === 'unrecognized_keys' ? unknownKey : issue.message}`);
}

/** Reads a duration setting, naming the setting in the error. */
export function durationSetting(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  try {
    return parseDuration(value);
  } catch (error) {
    throw new ConfigError(`${name}: ${(error as Error).message}`);
  }
}

export function precisionSetting(name: string, value: string | undefined, fallback: Precision): Precision {
  if (value === undefined || value === '') return fallback;
  if (!(PRECISIONS as readonly string[]).includes(value)) {
    throw new ConfigError(`${name}: expected one of ${PRECISIONS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as Precision;
}

/** Resolves a policy from settings, turning a policy error into a config error that names the setting. */
export function policySetting(name: string, input: BackoffPolicyInput): BackoffPolicy {
  try {
    return resolveBackoffPolicy(input);
  } catch (error) {
    throw new ConfigError(`${name}: ${(error as Error).message}`);
  }
}

/** The back-off policy for an exit: its own, else its namespace's, else the default. */
export function policyFor(exit: ExitEvent, config: ServiceConfig): BackoffPolicy {
  return exit.backoffPolicy ?? config.namespaces[exit.namespace]?.policy ?? config.policy;
}

/**
 * Per-namespace defaults, as JSON (or its parsed value) such as
 * `{"batch": {"initialBackoff": "1s", "maxBackoff": "1m", "restartPolicy": "OnFailure"}}`.
 * `setting` names where the value came from, for errors. The Lambda wiring and
 * the CDK stack (at synth time) both validate with this; `webhooks` says who
 * delivers a `restartTarget` webhook (AWS by default, so https only).
 */
export function parseNamespaceDefaults(setting: string, value: unknown, webhooks: WebhookRules = 'aws'): Record<string, NamespaceDefaults> {
  if (value === undefined || value === null || value === '') return {};
  let parsed: unknown = value;
  if (typeof value === 'string') {
    try {
      parsed = JSON.parse(value);
    } catch (error) {
      throw new ConfigError(`${setting}: not valid JSON (${(error as Error).message})`);
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ConfigError(`${setting}: expected an object keyed by namespace`);
  const result: Record<string, NamespaceDefaults> = {};
  for (const [namespace, entry] of Object.entries(parsed as Record<string, unknown>)) {
    const where = `${setting}.${namespace}`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new ConfigError(`${where}: expected an object`);
    const fields = entry as Record<string, unknown>;
    const unknownField = Object.keys(fields).find((field) => !NAMESPACE_DEFAULT_FIELDS.includes(field));
    if (unknownField) throw new ConfigError(`${where}.${unknownField}: unknown setting; use ${NAMESPACE_DEFAULT_FIELDS.join(', ')}`);
    const restartPolicy = fields.restartPolicy;
    if (restartPolicy !== undefined && !(RESTART_POLICIES as readonly unknown[]).includes(restartPolicy)) {
      throw new ConfigError(`${where}.restartPolicy: expected one of ${RESTART_POLICIES.join(', ')}`);
    }
    const durationOf = (field: string) => {
      const raw = fields[field];
      if (raw === undefined) return undefined;
      if (typeof raw !== 'string' && typeof raw !== 'number') throw new ConfigError(`${where}.${field}: expected a duration such as "10s"`);
      return raw;
    };
    const initial = durationOf('initialBackoff');
    const max = durationOf('maxBackoff');
    const resetAfter = durationOf('resetAfter');
    const preset = fields.preset;
    if (preset !== undefined && !(BACKOFF_PRESET_NAMES as readonly unknown[]).includes(preset)) {
      throw new ConfigError(`${where}.preset: expected one of ${BACKOFF_PRESET_NAMES.join(', ')}`);
    }
    const hasPolicy = [preset, initial, max, resetAfter, fields.jitter].some((field) => field !== undefined);
    const restartBudget = fields.restartBudget === undefined ? undefined : parseRestartBudget(`${where}.restartBudget`, fields.restartBudget);
    const restartTarget = fields.restartTarget === undefined ? undefined : restartTargetSetting(`${where}.restartTarget`, fields.restartTarget, webhooks);
    result[namespace] = {
      ...(restartPolicy ? { restartPolicy: restartPolicy as RestartPolicy } : {}),
      ...(restartBudget ? { restartBudget } : {}),
      ...(restartTarget ? { restartTarget } : {}),
      ...(hasPolicy
        ? {
            policy: policySetting(where, {
              ...(preset !== undefined ? { preset: preset as BackoffPresetName } : {}),
              ...(initial !== undefined ? { initial } : {}),
              ...(max !== undefined ? { max } : {}),
              ...(resetAfter !== undefined ? { resetAfter } : {}),
              ...(fields.jitter !== undefined ? { jitterFactor: Number(fields.jitter) } : {}),
            }),
          }
        : {}),
    };
  }
  return result;
}

const NAMESPACE_DEFAULT_FIELDS = ['preset', 'initialBackoff', 'maxBackoff', 'resetAfter', 'jitter', 'restartPolicy', 'restartBudget', 'restartTarget'];

/** Bounds of a restart budget's numbers: a typo should fail, not stall a namespace for a day. */
const BUDGET_LIMITS = { minPerSecond: 0.001, maxPerSecond: 1_000_000, maxBurst: 1_000_000 };

/**
 * `{"perSecond": 50, "burst": 100}`: `perSecond` a number above 0 (0.5 is one
 * restart every two seconds); `burst` a positive integer, one second's worth
 * (`perSecond` rounded up) when omitted.
 */
function parseRestartBudget(where: string, value: unknown): RestartBudgetSetting {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${where}: expected {"perSecond": N, "burst": N}`);
  const fields = value as Record<string, unknown>;
  const unknownField = Object.keys(fields).find((field) => field !== 'perSecond' && field !== 'burst');
  if (unknownField) throw new ConfigError(`${where}.${unknownField}: unknown setting; use perSecond, burst`);
  const { perSecond, burst } = fields;
  if (typeof perSecond !== 'number' || !Number.isFinite(perSecond) || perSecond < BUDGET_LIMITS.minPerSecond || perSecond > BUDGET_LIMITS.maxPerSecond) {
    throw new ConfigError(`${where}.perSecond: expected a number from ${BUDGET_LIMITS.minPerSecond} to ${BUDGET_LIMITS.maxPerSecond}, got ${JSON.stringify(perSecond)}`);
  }
  if (burst !== undefined && (typeof burst !== 'number' || !Number.isInteger(burst) || burst < 1 || burst > BUDGET_LIMITS.maxBurst)) {
    throw new ConfigError(`${where}.burst: expected an integer from 1 to ${BUDGET_LIMITS.maxBurst}, got ${JSON.stringify(burst)}`);
  }
  return { perSecond, burst: burst ?? Math.ceil(perSecond) };
}

/** The restart budget of `namespace`, if it has one. */
export function budgetFor(namespace: string, config: ServiceConfig): RestartBudgetSetting | undefined {
  return config.namespaces[namespace]?.restartBudget;
}

/** A namespace's restart target; the error names the field, never a header's value. */
function restartTargetSetting(where: string, value: unknown, webhooks: WebhookRules): RestartTargetSpec {
  const parsed = restartTargetSchema(webhooks).safeParse(value);
  if (parsed.success) return parsed.data;
  throw issueConfigError(where, parsed.error.issues, 'unknown setting');
}
