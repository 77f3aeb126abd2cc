/**
 * `restart-scheduler local --config FILE`: a JSON object with the keys of the
 * CDK context, without the `restart-scheduler:` prefix, read by the same
 * parser (lib/settings.ts). Every mistake is a usage error that names the
 * file and the key; nothing starts.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../config.ts';
import { AWS_ONLY_SETTING_KEYS, readSettings, SETTING_KEYS, type SettingKey, type Settings } from '../settings.ts';
import { UsageError } from './errors.ts';

/** The prefix of the same keys in cdk.json, which a file copied from there may still carry. */
const CDK_PREFIX = 'restart-scheduler:';

export interface ConfigFile {
  readonly settings: Settings;
  /** Keys the file sets that only mean something on AWS: checked, then ignored. */
  readonly ignored: readonly SettingKey[];
}

export function readConfigFile(path: string): ConfigFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--config ${path}: cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (error) {
    throw new UsageError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`${path}: expected a JSON object of settings, such as {"maxBackoff": "1m"}`);
  }
  const values = parsed as Record<string, unknown>;
  for (const key of Object.keys(values)) {
    if ((SETTING_KEYS as readonly string[]).includes(key)) continue;
    const bare = key.startsWith(CDK_PREFIX) ? key.slice(CDK_PREFIX.length) : undefined;
    throw new UsageError(
      bare !== undefined && (SETTING_KEYS as readonly string[]).includes(bare)
        ? `${path}: ${key}: write the key without the ${CDK_PREFIX} prefix: ${bare}`
        : `${path}: ${key}: unknown setting; use ${SETTING_KEYS.join(', ')}`,
    );
  }
  try {
    const settings = readSettings({ read: (key) => values[key], label: `${path}:`, spell: (key) => key });
    return { settings, ignored: AWS_ONLY_SETTING_KEYS.filter((key) => values[key] !== undefined && values[key] !== null) };
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
