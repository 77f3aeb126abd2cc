/**
 * The deployment's settings, one set of keys read by one parser: the CDK
 * context (`cdk.json`, `-c restart-scheduler:KEY=VALUE`) and
 * `restart-scheduler local --config FILE` (the same keys without the prefix).
 * Pure and free of aws-cdk-lib, so the local runtime never loads the CDK; the
 * stack's settings (lib/infra/settings.ts) wrap it with the AWS defaults and
 * types.
 *
 * Values arrive as strings from the command line and as JSON values from a
 * file, so both forms are accepted where they make sense. A bad value throws a
 * `ConfigError` that names where it came from and the key.
 */
import {
  ConfigError,
  durationSetting,
  issueConfigError,
  parseNamespaceDefaults,
  policySetting,
  precisionSetting,
  type NamespaceDefaults,
  type Precision,
} from './config.ts';
import type { WebhookRules } from './api/targets.ts';
import type { BackoffPolicy, BackoffPolicyInput } from './core/index.ts';
import * as z from './zod.ts';

export const SETTING_KEYS = [
  'initialBackoff',
  'maxBackoff',
  'resetAfter',
  'jitter',
  'precision',
  'namespaceDefaults',
  'shards',
  'entryRetention',
  'recoveryGrace',
  'dispatchLease',
  'backOffEventInterval',
  'logRetentionDays',
  'removalPolicy',
  'archiveRetentionDays',
  'latenessAlarmThreshold',
  'ecs',
] as const;
export type SettingKey = (typeof SETTING_KEYS)[number];

/**
 * Keys that configure AWS resources (log groups, the table's removal, the bus
 * archive, an alarm) and nothing a local runtime has: `local --config`
 * checks them like the CDK does, so one file serves both, then ignores them.
 */
export const AWS_ONLY_SETTING_KEYS: readonly SettingKey[] = ['logRetentionDays', 'removalPolicy', 'archiveRetentionDays', 'latenessAlarmThreshold', 'ecs'];

/**
 * What the stack may touch in ECS (`ecs`): the clusters its tasks run in, the
 * task definition families it may run, and the roles those tasks use (passed
 * to ECS on every RunTask). IAM grants nothing beyond these.
 */
export interface EcsSettings {
  /** Cluster names. */
  readonly clusters: readonly string[];
  readonly taskDefinitionFamilies: readonly string[];
  /** Role ARNs: the task roles and execution roles of those task definitions. */
  readonly passRoles: readonly string[];
}

const ECS_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const ecsSettingsSchema = z.strictObject({
  clusters: z
    .array(z.string().check(z.regex(ECS_NAME, { error: 'must be a cluster name (letters, digits, - and _)' })))
    .check(z.minLength(1, { error: 'must name at least one cluster' })),
  taskDefinitionFamilies: z
    .array(z.string().check(z.regex(ECS_NAME, { error: 'must be a task definition family (letters, digits, - and _)' })))
    .check(z.minLength(1, { error: 'must name at least one task definition family' })),
  passRoles: z._default(z.array(z.string().check(z.regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, { error: 'must be an IAM role ARN' }))), []),
});

export const REMOVAL_POLICIES = ['retain', 'destroy'] as const;
export type RemovalPolicyName = (typeof REMOVAL_POLICIES)[number];

/** Most shards the sync may read per run: each shard is one Query per index per minute. */
export const MAX_SHARDS = 256;

/** The retention periods CloudWatch Logs accepts, in days (aws-cdk-lib's `RetentionDays`, checked by a test). */
export const LOG_RETENTION_DAYS: readonly number[] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

/** Where settings come from, and how errors name them. */
export interface SettingsSource {
  /** The raw value of a key; `undefined` (or null) when it is not set. */
  read(key: SettingKey): unknown;
  /** Leads every error: `CDK context`, or `./local.json:`. */
  readonly label: string;
  /** The key as its source spells it: `restart-scheduler:maxBackoff`, or `maxBackoff`. */
  spell(key: SettingKey): string;
  /** Who delivers webhooks, which decides the URLs allowed (see `WebhookRules`). @default 'aws' */
  readonly webhooks?: WebhookRules;
}

/** Every setting as given; `undefined` where the source does not set it (each consumer has its own defaults). */
export interface Settings {
  /** The policy the four policy keys describe, over kubelet's defaults. */
  readonly policy: BackoffPolicy;
  /** Just the policy fields the source sets, for a caller that lays its own flags over them. */
  readonly policyInput: Pick<BackoffPolicyInput, 'initial' | 'max' | 'resetAfter' | 'jitterFactor'>;
  readonly precision?: Precision;
  /** Parsed per-namespace defaults, and the JSON the handlers read them from; absent when none. */
  readonly namespaceDefaults?: { readonly parsed: Readonly<Record<string, NamespaceDefaults>>; readonly json: string };
  readonly shards?: number;
  readonly entryRetentionMs?: number;
  readonly recoveryGraceMs?: number;
  readonly dispatchLeaseMs?: number;
  /** How often a long wait's BackOff record repeats (Kubernetes' event correlator). */
  readonly backOffEventIntervalMs?: number;
  readonly logRetentionDays?: number;
  readonly removalPolicy?: RemovalPolicyName;
  readonly archiveRetentionDays?: number;
  readonly latenessAlarmThresholdMs?: number;
  readonly ecs?: EcsSettings;
}

/** Reads and checks every key `source` sets. */
export function readSettings(source: SettingsSource): Settings {
  const reader = new SettingReader(source);
  const initial = reader.duration('initialBackoff');
  const max = reader.duration('maxBackoff');
  const resetAfter = reader.duration('resetAfter');
  const jitterFactor = reader.number('jitter', { min: 0, max: 1, integer: false });
  const policyInput = {
    ...(initial !== undefined ? { initial } : {}),
    ...(max !== undefined ? { max } : {}),
    ...(resetAfter !== undefined ? { resetAfter } : {}),
    ...(jitterFactor !== undefined ? { jitterFactor } : {}),
  };
  const policy = policySetting(reader.names(['initialBackoff', 'maxBackoff', 'resetAfter']), policyInput);
  const precisionText = reader.string('precision');
  const precision = precisionText === undefined || precisionText === '' ? undefined : precisionSetting(reader.name('precision'), precisionText, 'second');

  const latenessAlarmThresholdMs = reader.positiveDuration('latenessAlarmThreshold');
  const logRetentionDays = reader.number('logRetentionDays', { min: 1, max: 3653, integer: true });
  if (logRetentionDays !== undefined && !LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new ConfigError(`${reader.name('logRetentionDays')}: CloudWatch Logs accepts only ${LOG_RETENTION_DAYS.join(', ')} days, got ${logRetentionDays}`);
  }
  const removalPolicy = reader.string('removalPolicy');
  if (removalPolicy !== undefined && removalPolicy !== '' && !(REMOVAL_POLICIES as readonly string[]).includes(removalPolicy)) {
    throw new ConfigError(`${reader.name('removalPolicy')}: expected one of ${REMOVAL_POLICIES.join(', ')}, got ${JSON.stringify(removalPolicy)}`);
  }
  const namespaceDefaults = reader.namespaceDefaults();

  return {
    policy,
    policyInput,
    ...defined('precision', precision),
    ...defined('namespaceDefaults', namespaceDefaults),
    ...defined('shards', reader.number('shards', { min: 1, max: MAX_SHARDS, integer: true })),
    ...defined('entryRetentionMs', reader.duration('entryRetention')),
    ...defined('recoveryGraceMs', reader.positiveDuration('recoveryGrace')),
    ...defined('dispatchLeaseMs', reader.positiveDuration('dispatchLease')),
    ...defined('backOffEventIntervalMs', reader.positiveDuration('backOffEventInterval')),
    ...defined('logRetentionDays', logRetentionDays),
    ...defined('removalPolicy', removalPolicy === undefined || removalPolicy === '' ? undefined : (removalPolicy as RemovalPolicyName)),
    // EventBridge archives keep events for 1..∞ days; the cap keeps a typo from keeping them for centuries.
    ...defined('archiveRetentionDays', reader.number('archiveRetentionDays', { min: 1, max: 3650, integer: true })),
    ...defined('latenessAlarmThresholdMs', latenessAlarmThresholdMs),
    ...defined('ecs', reader.ecs()),
  };
}

function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

class SettingReader {
  constructor(private readonly source: SettingsSource) {}

  name(key: SettingKey): string {
    return `${this.source.label} ${this.source.spell(key)}`;
  }

  names(keys: readonly SettingKey[]): string {
    return `${this.source.label} ${keys.map((key) => this.source.spell(key)).join(' / ')}`;
  }

  private raw(key: SettingKey): unknown {
    const value = this.source.read(key);
    return value === null ? undefined : value;
  }

  string(key: SettingKey): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new ConfigError(`${this.name(key)}: expected a string, got ${JSON.stringify(value)}`);
    return value;
  }

  duration(key: SettingKey): number | undefined {
    const value = this.string(key);
    if (value === undefined || value === '') return undefined;
    return durationSetting(this.name(key), value, 0);
  }

  positiveDuration(key: SettingKey): number | undefined {
    const ms = this.duration(key);
    if (ms !== undefined && ms < 1) throw new ConfigError(`${this.name(key)}: must be at least 1ms`);
    return ms;
  }

  number(key: SettingKey, range: { min: number; max: number; integer: boolean }): number | undefined {
    const raw = this.raw(key);
    if (raw === undefined || raw === '') return undefined;
    // `-c key=0.1` arrives as a string; JSON gives a number. Number('') and
    // Number(' ') are 0, so the text must look like a number before converting.
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
    const kind = range.integer ? 'an integer' : 'a number';
    if (!Number.isFinite(value) || (range.integer && !Number.isInteger(value)) || value < range.min || value > range.max) {
      throw new ConfigError(`${this.name(key)}: expected ${kind} from ${range.min} to ${range.max}, got ${JSON.stringify(raw)}`);
    }
    return value;
  }

  /** `{"clusters": [...], "taskDefinitionFamilies": [...], "passRoles": [...]}`, as JSON text or a value. */
  ecs(): EcsSettings | undefined {
    const raw = this.raw('ecs');
    if (raw === undefined || raw === '') return undefined;
    let value: unknown = raw;
    if (typeof raw === 'string') {
      try {
        value = JSON.parse(raw);
      } catch (error) {
        throw new ConfigError(`${this.name('ecs')}: not valid JSON (${(error as Error).message})`);
      }
    }
    const parsed = ecsSettingsSchema.safeParse(value);
    if (!parsed.success) throw issueConfigError(this.name('ecs'), parsed.error.issues, 'unknown setting; use clusters, taskDefinitionFamilies, passRoles');
    return parsed.data;
  }

  /** Validated in full (the same parser the handlers use), and kept as the JSON the handlers read. */
  namespaceDefaults(): Settings['namespaceDefaults'] {
    const raw = this.raw('namespaceDefaults');
    const parsed = parseNamespaceDefaults(this.name('namespaceDefaults'), raw, this.source.webhooks ?? 'aws');
    if (Object.keys(parsed).length === 0) return undefined;
    return { parsed, json: typeof raw === 'string' ? JSON.stringify(JSON.parse(raw)) : JSON.stringify(raw) };
  }
}
