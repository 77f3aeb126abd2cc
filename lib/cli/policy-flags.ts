import { Option } from 'commander';
import {
  BACKOFF_PRESET_NAMES,
  parseDuration,
  PolicyError,
  resolveBackoffPolicy,
  type BackoffPolicy,
  type BackoffPresetName,
} from '../core/index.ts';
import { flagParser, UsageError } from './errors.ts';

/** The flags that describe a back-off policy, shared by `simulate` and `local`. */
export interface PolicyFlags {
  readonly policy: BackoffPresetName;
  readonly initialBackoff?: number;
  readonly maxBackoff?: number;
  readonly resetAfter?: number;
  readonly jitter?: number;
}

/** The flag that sets each policy field, for error messages. */
const FIELD_FLAGS: Record<string, string> = {
  preset: '--policy',
  initial: '--initial-backoff',
  max: '--max-backoff',
  resetAfter: '--reset-after',
  jitterFactor: '--jitter',
};

/**
 * The policy options; with `envPrefix`, each can also be set by an environment
 * variable (`--max-backoff` ← `${envPrefix}MAX_BACKOFF`).
 */
export function policyOptions(envPrefix?: string): Option[] {
  const option = (flags: string, description: string, envName: string) => {
    const created = new Option(flags, description);
    return envPrefix ? created.env(`${envPrefix}${envName}`) : created;
  };
  return [
    option('--policy <preset>', `back-off preset: ${BACKOFF_PRESET_NAMES.join(' | ')}`, 'POLICY').default('kubelet').argParser(flagParser('--policy', parsePreset)),
    option('--initial-backoff <duration>', 'first back-off, e.g. 10s', 'INITIAL_BACKOFF').argParser(flagParser('--initial-backoff', parseDuration)),
    option('--max-backoff <duration>', 'back-off cap, e.g. 5m', 'MAX_BACKOFF').argParser(flagParser('--max-backoff', parseDuration)),
    option('--reset-after <duration>', 'a run longer than this resets the back-off (default 10m, as kubelet ≥ 1.32)', 'RESET_AFTER').argParser(flagParser('--reset-after', parseDuration)),
    option('--jitter <factor>', 'jitter factor in [0, 1] (default 0, as kubelet)', 'JITTER').argParser(flagParser('--jitter', parseFactor)),
  ];
}

/** The policy the flags describe; a bad combination is a usage error naming the flag. */
export function resolvePolicyFlags(flags: PolicyFlags): BackoffPolicy {
  try {
    return resolveBackoffPolicy({
      preset: flags.policy,
      ...(flags.initialBackoff !== undefined ? { initial: flags.initialBackoff } : {}),
      ...(flags.maxBackoff !== undefined ? { max: flags.maxBackoff } : {}),
      ...(flags.resetAfter !== undefined ? { resetAfter: flags.resetAfter } : {}),
      ...(flags.jitter !== undefined ? { jitterFactor: flags.jitter } : {}),
    });
  } catch (error) {
    if (error instanceof PolicyError) {
      const flag = FIELD_FLAGS[error.field] ?? error.field;
      throw new UsageError(`${flag}: ${error.message.replace(`${error.field}: `, '')}`);
    }
    throw error;
  }
}

function parsePreset(value: string): BackoffPresetName {
  if (!(BACKOFF_PRESET_NAMES as string[]).includes(value)) {
    throw new Error(`unknown preset ${JSON.stringify(value)}; use one of ${BACKOFF_PRESET_NAMES.join(', ')}`);
  }
  return value as BackoffPresetName;
}

function parseFactor(value: string): number {
  const factor = Number(value);
  if (value.trim() === '' || !Number.isFinite(factor) || factor < 0 || factor > 1) {
    throw new Error(`expected a number between 0 and 1, got ${JSON.stringify(value)}`);
  }
  return factor;
}
