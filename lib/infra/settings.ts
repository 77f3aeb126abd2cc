/**
 * Deployment settings, read from CDK context (cdk.json, or `-c key=value` on
 * the command line) and checked at synth time: a bad value throws a
 * `ConfigError` naming the context key before any resource is created.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { TABLE_SCHEMA } from '../adapters/dynamodb/schema.ts';
import {
  parseNamespaceDefaults,
  ConfigError,
  DEFAULT_SERVICE_CONFIG,
  durationSetting,
  MINUTE_PRECISION_MAX_LATENESS_MS,
  policySetting,
  precisionSetting,
  type Precision,
} from '../config.ts';
import type { HandlerSettings } from './handler-settings.ts';

/** The context keys the stack reads; prefixed so they never collide with CDK's own flags. */
export const CONTEXT_KEYS = {
  initialBackoff: 'restart-scheduler:initialBackoff',
  maxBackoff: 'restart-scheduler:maxBackoff',
  resetAfter: 'restart-scheduler:resetAfter',
  jitter: 'restart-scheduler:jitter',
  precision: 'restart-scheduler:precision',
  namespaceDefaults: 'restart-scheduler:namespaceDefaults',
  shards: 'restart-scheduler:shards',
  entryRetention: 'restart-scheduler:entryRetention',
  recoveryGrace: 'restart-scheduler:recoveryGrace',
  dispatchLease: 'restart-scheduler:dispatchLease',
  backOffEventInterval: 'restart-scheduler:backOffEventInterval',
  logRetentionDays: 'restart-scheduler:logRetentionDays',
  removalPolicy: 'restart-scheduler:removalPolicy',
  archiveRetentionDays: 'restart-scheduler:archiveRetentionDays',
  latenessAlarmThreshold: 'restart-scheduler:latenessAlarmThreshold',
} as const;

export const REMOVAL_POLICIES = ['retain', 'destroy'] as const;
export type RemovalPolicyName = (typeof REMOVAL_POLICIES)[number];

/** Most shards the sync may read per run: each shard is one Query per index per minute. */
export const MAX_SHARDS = 256;

/** How long an entry outlives its reset threshold before TTL collects it (the store's default margin). */
export const DEFAULT_ENTRY_RETENTION_MS = TABLE_SCHEMA.defaultEntryRetentionMs;

/**
 * What delivering a callback adds to its timer's own lateness: the invocation
 * (a cold start included) and the handler's calls before it dispatches.
 */
export const DELIVERY_ALLOWANCE_MS = 10_000;

/**
 * Default lateness alarm threshold per precision: the timer's worst case plus
 * the delivery allowance. With `second` precision the fine stage delivers
 * within a second of the instant (whole-second `DelaySeconds`), so 10 s of p99
 * lateness means something is wrong; with `minute` precision a restart can be
 * up to `MINUTE_PRECISION_MAX_LATENESS_MS` (120 s) late by design.
 */
export const DEFAULT_LATENESS_THRESHOLD_MS: Readonly<Record<Precision, number>> = {
  second: DELIVERY_ALLOWANCE_MS,
  minute: MINUTE_PRECISION_MAX_LATENESS_MS + DELIVERY_ALLOWANCE_MS,
};

/** Everything the stack is configured with: what the handlers need, and the resources' own settings. */
export interface DeploySettings extends HandlerSettings {
  readonly logRetention: RetentionDays;
  /** Applies to the table and the log groups (the stores of record). */
  readonly removalPolicy: RemovalPolicy;
  readonly archiveRetentionDays: number;
  /** p99 restart lateness above which the lateness alarm fires. */
  readonly latenessAlarmThresholdMs: number;
}

/** Reads one context value; `undefined` when the key is not set. */
export type ContextReader = (key: string) => unknown;

/**
 * Reads and checks every setting. Context values arrive as strings from the
 * command line and as JSON values from cdk.json, so both forms are accepted
 * where they make sense.
 */
export function readDeploySettings(context: ContextReader): DeploySettings {
  const initialMs = durationContext(context, CONTEXT_KEYS.initialBackoff);
  const maxMs = durationContext(context, CONTEXT_KEYS.maxBackoff);
  const resetAfterMs = durationContext(context, CONTEXT_KEYS.resetAfter);
  const jitterFactor = numberContext(context, CONTEXT_KEYS.jitter, { min: 0, max: 1, integer: false });
  const policy = policySetting(
    `CDK context ${CONTEXT_KEYS.initialBackoff} / ${CONTEXT_KEYS.maxBackoff} / ${CONTEXT_KEYS.resetAfter}`,
    {
      ...(initialMs !== undefined ? { initial: initialMs } : {}),
      ...(maxMs !== undefined ? { max: maxMs } : {}),
      ...(resetAfterMs !== undefined ? { resetAfter: resetAfterMs } : {}),
      ...(jitterFactor !== undefined ? { jitterFactor } : {}),
    },
  );

  const precision = precisionSetting(
    contextName(CONTEXT_KEYS.precision),
    stringContext(context, CONTEXT_KEYS.precision),
    DEFAULT_SERVICE_CONFIG.precision,
  );

  const latenessAlarmThresholdMs =
    durationContext(context, CONTEXT_KEYS.latenessAlarmThreshold) ?? DEFAULT_LATENESS_THRESHOLD_MS[precision];
  if (latenessAlarmThresholdMs < 1) {
    throw new ConfigError(`${contextName(CONTEXT_KEYS.latenessAlarmThreshold)}: must be at least 1ms`);
  }

  const logRetentionDays =
    numberContext(context, CONTEXT_KEYS.logRetentionDays, { min: 1, max: 3653, integer: true }) ?? RetentionDays.ONE_MONTH;
  if (!RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError(
      `${contextName(CONTEXT_KEYS.logRetentionDays)}: CloudWatch Logs accepts only ${RETENTION_DAYS.join(', ')} days, got ${logRetentionDays}`,
    );
  }

  return {
    policy,
    precision,
    ...namespaceDefaults(context),
    shards: numberContext(context, CONTEXT_KEYS.shards, { min: 1, max: MAX_SHARDS, integer: true }) ?? TABLE_SCHEMA.defaultShards,
    entryRetentionMs: durationContext(context, CONTEXT_KEYS.entryRetention) ?? DEFAULT_ENTRY_RETENTION_MS,
    recoveryGraceMs: positiveDuration(context, CONTEXT_KEYS.recoveryGrace) ?? DEFAULT_SERVICE_CONFIG.recoveryGraceMs,
    dispatchLeaseMs: positiveDuration(context, CONTEXT_KEYS.dispatchLease) ?? DEFAULT_SERVICE_CONFIG.dispatchLeaseMs,
    backOffEventIntervalMs: positiveDuration(context, CONTEXT_KEYS.backOffEventInterval) ?? DEFAULT_SERVICE_CONFIG.backOffEventIntervalMs,
    logRetention: logRetentionDays as RetentionDays,
    removalPolicy: removalPolicyContext(context),
    // EventBridge archives keep events for 1..∞ days; the cap keeps a typo from keeping them for centuries.
    archiveRetentionDays: numberContext(context, CONTEXT_KEYS.archiveRetentionDays, { min: 1, max: 3650, integer: true }) ?? 30,
    latenessAlarmThresholdMs,
  };
}

const RETENTION_DAYS: readonly number[] = Object.values(RetentionDays)
  .filter((value): value is number => typeof value === 'number' && value > 0)
  .sort((a, b) => a - b);

function contextName(key: string): string {
  return `CDK context ${key}`;
}

function stringContext(context: ContextReader, key: string): string | undefined {
  const value = context(key);
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') {
    throw new ConfigError(`${contextName(key)}: expected a string, got ${JSON.stringify(value)}`);
  }
  return value;
}

function durationContext(context: ContextReader, key: string): number | undefined {
  const value = stringContext(context, key);
  if (value === undefined || value === '') return undefined;
  return durationSetting(contextName(key), value, 0);
}

function positiveDuration(context: ContextReader, key: string): number | undefined {
  const ms = durationContext(context, key);
  if (ms !== undefined && ms < 1) throw new ConfigError(`${contextName(key)}: must be at least 1ms`);
  return ms;
}

function numberContext(
  context: ContextReader,
  key: string,
  range: { min: number; max: number; integer: boolean },
): number | undefined {
  const raw = context(key);
  if (raw === undefined || raw === null || raw === '') return undefined;
  // `-c key=0.1` arrives as a string; cdk.json gives a number. Number('') and
  // Number(' ') are 0, so the text must look like a number before converting.
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  const kind = range.integer ? 'an integer' : 'a number';
  if (!Number.isFinite(value) || (range.integer && !Number.isInteger(value)) || value < range.min || value > range.max) {
    throw new ConfigError(`${contextName(key)}: expected ${kind} from ${range.min} to ${range.max}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function removalPolicyContext(context: ContextReader): RemovalPolicy {
  const value = stringContext(context, CONTEXT_KEYS.removalPolicy);
  if (value === undefined || value === '' || value === 'retain') return RemovalPolicy.RETAIN;
  if (value === 'destroy') return RemovalPolicy.DESTROY;
  throw new ConfigError(
    `${contextName(CONTEXT_KEYS.removalPolicy)}: expected one of ${REMOVAL_POLICIES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/**
 * Namespace defaults pass through to the handlers as JSON, validated here in
 * full (the same parser the handlers use) so a bad policy fails the synth.
 */
function namespaceDefaults(context: ContextReader): { namespaceDefaultsJson?: string } {
  const raw = context(CONTEXT_KEYS.namespaceDefaults);
  const parsed = parseNamespaceDefaults(contextName(CONTEXT_KEYS.namespaceDefaults), raw);
  if (Object.keys(parsed).length === 0) return {};
  return { namespaceDefaultsJson: typeof raw === 'string' ? JSON.stringify(JSON.parse(raw)) : JSON.stringify(raw) };
}
