/**
 * Deployment settings, read from CDK context (cdk.json, or `-c key=value` on
 * the command line) and checked at synth time: a bad value throws a
 * `ConfigError` naming the context key before any resource is created. The
 * keys and their checks are lib/settings.ts (shared with `local --config`);
 * this module adds the prefix, the AWS defaults and the CDK types.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { TABLE_SCHEMA } from '../adapters/dynamodb/schema.ts';
import { DEFAULT_SERVICE_CONFIG, MINUTE_PRECISION_MAX_LATENESS_MS, type Precision } from '../config.ts';
import { webhookOf, type WebhookSpec } from '../core/index.ts';
import { readSettings, SETTING_KEYS, type EcsSettings, type SettingKey, type Settings } from '../settings.ts';
import type { HandlerSettings } from './handler-settings.ts';

export { MAX_SHARDS, REMOVAL_POLICIES, type EcsSettings, type RemovalPolicyName } from '../settings.ts';

/** The prefix of the context keys the stack reads, so they never collide with CDK's own flags. */
export const CONTEXT_PREFIX = 'restart-scheduler:';

/** The context keys the stack reads: every setting key (lib/settings.ts), prefixed. */
export const CONTEXT_KEYS = Object.fromEntries(SETTING_KEYS.map((key) => [key, `${CONTEXT_PREFIX}${key}`])) as {
  readonly [Key in SettingKey]: `${typeof CONTEXT_PREFIX}${Key}`;
};

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
  /** ECS workloads: set by `restart-scheduler:ecs`; absent when they are off. */
  readonly ecs?: EcsSettings;
  /** The webhook of each namespace whose `restartTarget` is one: an API destination each. */
  readonly webhooks: Readonly<Record<string, WebhookSpec>>;
}

/** Reads one context value; `undefined` when the key is not set. */
export type ContextReader = (key: string) => unknown;

/**
 * Reads and checks every setting (lib/settings.ts, the parser `local --config`
 * uses too) and fills in the AWS defaults.
 */
export function readDeploySettings(context: ContextReader): DeploySettings {
  const settings = readSettings({ read: (key) => context(CONTEXT_KEYS[key]), label: 'CDK context', spell: (key) => CONTEXT_KEYS[key] });
  const precision = settings.precision ?? DEFAULT_SERVICE_CONFIG.precision;
  const logRetentionDays = settings.logRetentionDays ?? RetentionDays.ONE_MONTH;
  return {
    policy: settings.policy,
    precision,
    ...handlerNamespaceDefaults(settings.namespaceDefaults),
    ...(settings.ecs ? { ecs: settings.ecs } : {}),
    shards: settings.shards ?? TABLE_SCHEMA.defaultShards,
    entryRetentionMs: settings.entryRetentionMs ?? DEFAULT_ENTRY_RETENTION_MS,
    recoveryGraceMs: settings.recoveryGraceMs ?? DEFAULT_SERVICE_CONFIG.recoveryGraceMs,
    dispatchLeaseMs: settings.dispatchLeaseMs ?? DEFAULT_SERVICE_CONFIG.dispatchLeaseMs,
    backOffEventIntervalMs: settings.backOffEventIntervalMs ?? DEFAULT_SERVICE_CONFIG.backOffEventIntervalMs,
    logRetention: logRetentionDays as RetentionDays,
    removalPolicy: settings.removalPolicy === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    archiveRetentionDays: settings.archiveRetentionDays ?? 30,
    latenessAlarmThresholdMs: settings.latenessAlarmThresholdMs ?? DEFAULT_LATENESS_THRESHOLD_MS[precision],
  };
}

/**
 * Namespace defaults pass through to the handlers as JSON, validated in full at
 * synth. A webhook target reaches the handlers as `"webhook"` alone: its URL
 * and headers (secrets, perhaps) go into the EventBridge connection the stack
 * creates, never into a function's environment.
 */
function handlerNamespaceDefaults(defaults: Settings['namespaceDefaults']): { namespaceDefaultsJson?: string; webhooks: Record<string, WebhookSpec> } {
  if (!defaults) return { webhooks: {} };
  const json = JSON.parse(defaults.json) as Record<string, Record<string, unknown>>;
  const webhooks: Record<string, WebhookSpec> = {};
  const forHandlers: Record<string, Record<string, unknown>> = {};
  for (const [namespace, entry] of Object.entries(json)) {
    const webhook = webhookOf(defaults.parsed[namespace]?.restartTarget);
    if (webhook) webhooks[namespace] = webhook;
    forHandlers[namespace] = webhook ? { ...entry, restartTarget: 'webhook' } : entry;
  }
  return { namespaceDefaultsJson: JSON.stringify(forHandlers), webhooks };
}
