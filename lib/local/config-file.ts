/**
 * `restart-scheduler local --config FILE`: a JSON file with the same keys as
 * the CDK context, without the `restart-scheduler:` prefix, so a namespace's
 * defaults (its restart target included) are set the same way locally and on
 * AWS. Keys that only shape AWS resources are accepted and have no effect
 * here; an unknown key, or a bad value, is an error that names it.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, durationSetting, parseNamespaceDefaults, precisionSetting, type NamespaceDefaults, type Precision } from '../config.ts';

/** The keys that shape the local runtime. */
export const LOCAL_CONFIG_KEYS = ['namespaceDefaults', 'initialBackoff', 'maxBackoff', 'resetAfter', 'jitter', 'precision'] as const;
/** CDK context keys about AWS resources only (shards, retention, alarms, the ECS grants): accepted, and ignored locally. */
export const AWS_ONLY_CONFIG_KEYS = [
  'shards',
  'entryRetention',
  'recoveryGrace',
  'dispatchLease',
  'logRetentionDays',
  'removalPolicy',
  'archiveRetentionDays',
  'latenessAlarmThreshold',
  'ecs',
] as const;

export interface LocalConfig {
  readonly namespaces: Record<string, NamespaceDefaults>;
  readonly initialBackoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly resetAfterMs?: number;
  readonly jitter?: number;
  readonly precision?: Precision;
}

export function readLocalConfig(path: string): LocalConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`--config: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`--config: ${path} is not JSON: ${(error as Error).message}`);
  }
  return parseLocalConfig(path, json);
}

export function parseLocalConfig(name: string, json: unknown): LocalConfig {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(`${name}: expected an object of settings`);
  const settings = json as Record<string, unknown>;
  for (const key of Object.keys(settings)) {
    const bare = key.replace(/^restart-scheduler:/, '');
    if (bare !== key) throw new ConfigError(`${name}: ${key}: leave out the restart-scheduler: prefix here`);
    if (!([...LOCAL_CONFIG_KEYS, ...AWS_ONLY_CONFIG_KEYS] as readonly string[]).includes(key)) {
      throw new ConfigError(`${name}: ${key}: unknown setting; use ${LOCAL_CONFIG_KEYS.join(', ')} (or a CDK context key)`);
    }
  }
  const duration = (key: string): number | undefined => {
    const value = settings[key];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new ConfigError(`${name}: ${key}: expected a duration such as "10s"`);
    return durationSetting(`${name}: ${key}`, value, 0);
  };
  const jitter = settings.jitter;
  if (jitter !== undefined && (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1))) throw new ConfigError(`${name}: jitter: expected a number from 0 to 1`);
  const precision = settings.precision;
  if (precision !== undefined && typeof precision !== 'string') throw new ConfigError(`${name}: precision: expected a string`);
  const initialBackoffMs = duration('initialBackoff');
  const maxBackoffMs = duration('maxBackoff');
  const resetAfterMs = duration('resetAfter');
  return {
    // The local runtime posts webhooks itself: plain HTTP is allowed to loopback receivers.
    namespaces: parseNamespaceDefaults(`${name}: namespaceDefaults`, settings.namespaceDefaults, 'local'),
    ...(initialBackoffMs !== undefined ? { initialBackoffMs } : {}),
    ...(maxBackoffMs !== undefined ? { maxBackoffMs } : {}),
    ...(resetAfterMs !== undefined ? { resetAfterMs } : {}),
    ...(jitter !== undefined ? { jitter } : {}),
    ...(precision !== undefined ? { precision: precisionSetting(`${name}: precision`, precision, 'second') } : {}),
  };
}
