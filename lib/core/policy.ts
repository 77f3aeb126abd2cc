import type { BackoffParameters } from './backoff.ts';
import { formatDuration, parseDuration } from './duration.ts';

/**
 * kubelet's reset threshold since 1.32: its `HasExpiredFunc` is
 * `eventTime − lastUpdate > 600 s` for every initial and max back-off (the
 * defaults, the `ReduceDefaultCrashLoopBackOffDecay` gate's 1 s / 60 s, and the
 * `KubeletCrashLoopBackOffMax` node setting), replacing client-go's own 2 × max.
 */
export const KUBELET_RESET_AFTER_MS = 600_000;

/** Named back-off presets; both reset after kubelet's 10 minutes. */
export const BACKOFF_PRESETS = {
  /** kubelet's CrashLoopBackOff: 10 s doubling to 5 minutes. */
  kubelet: { initialMs: 10_000, maxMs: 300_000, resetAfterMs: KUBELET_RESET_AFTER_MS },
  /** KEP-4603 reduced decay (`ReduceDefaultCrashLoopBackOffDecay`): 1 s doubling to 60 s. */
  reduced: { initialMs: 1_000, maxMs: 60_000, resetAfterMs: KUBELET_RESET_AFTER_MS },
} as const satisfies Record<string, { initialMs: number; maxMs: number; resetAfterMs: number }>;

export type BackoffPresetName = keyof typeof BACKOFF_PRESETS;

export const BACKOFF_PRESET_NAMES = Object.keys(BACKOFF_PRESETS) as BackoffPresetName[];

/** A back-off policy after defaults and the KEP-5593 rule are applied. */
export type BackoffPolicy = BackoffParameters;

/**
 * What a user may say about a back-off policy. Durations are either ms or
 * strings such as "10s"; anything left out comes from the preset.
 */
export interface BackoffPolicyInput {
  /** @default 'kubelet' */
  readonly preset?: BackoffPresetName;
  readonly initial?: number | string;
  readonly max?: number | string;
  /** @default 10m, kubelet's since 1.32 whatever the initial and max (client-go's own default is 2 × max) */
  readonly resetAfter?: number | string;
  /** @default 0 (kubelet uses no jitter) */
  readonly jitterFactor?: number;
}

export class PolicyError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'PolicyError';
  }
}

/**
 * Resolves a policy. The KEP-5593 rule applies: a max below the initial back-off
 * lowers the initial back-off to max (`maxContainerRestartPeriod`), rather than
 * being an error. The reset threshold defaults to the preset's, 10 minutes for
 * every preset and for a custom initial or max, as kubelet ≥ 1.32 does.
 */
export function resolveBackoffPolicy(input: BackoffPolicyInput = {}): BackoffPolicy {
  const presetName = input.preset ?? 'kubelet';
  const preset = BACKOFF_PRESETS[presetName];
  if (!preset) throw new PolicyError('preset', `unknown preset ${JSON.stringify(presetName)}; use one of ${BACKOFF_PRESET_NAMES.join(', ')}`);
  const maxMs = toMs('max', input.max ?? preset.maxMs);
  // Checked before the KEP-5593 rule derives initial from it, so that a bad max
  // is reported as max rather than as the initial back-off it lowered.
  if (maxMs < 1) throw new PolicyError('max', 'must be at least 1ms');
  // An explicit max with no explicit initial keeps the preset's initial, and the
  // KEP-5593 rule lowers it when max is smaller.
  const initialMs = Math.min(toMs('initial', input.initial ?? preset.initialMs), maxMs);
  const resetAfterMs = toMs('resetAfter', input.resetAfter ?? preset.resetAfterMs);
  const jitterFactor = input.jitterFactor ?? 0;
  if (initialMs < 1) throw new PolicyError('initial', 'must be at least 1ms');
  if (resetAfterMs < 1) throw new PolicyError('resetAfter', 'must be at least 1ms');
  if (!Number.isFinite(jitterFactor) || jitterFactor < 0 || jitterFactor > 1) {
    throw new PolicyError('jitterFactor', `must be between 0 and 1, got ${jitterFactor}`);
  }
  return { initialMs, maxMs, resetAfterMs, jitterFactor };
}

/** A short human description, e.g. "initial 10s, max 5m, reset after 10m". */
export function describeBackoffPolicy(policy: BackoffPolicy): string {
  const jitter = policy.jitterFactor > 0 ? `, jitter ${policy.jitterFactor}` : '';
  return `initial ${formatDuration(policy.initialMs)}, max ${formatDuration(policy.maxMs)}, reset after ${formatDuration(policy.resetAfterMs)}${jitter}`;
}

function toMs(field: string, value: number | string): number {
  let ms: number;
  try {
    ms = typeof value === 'string' ? parseDuration(value) : value;
  } catch (error) {
    throw new PolicyError(field, (error as Error).message);
  }
  if (!Number.isSafeInteger(ms)) throw new PolicyError(field, `must be a whole number of milliseconds, got ${value}`);
  return ms;
}

// ---------------------------------------------------------------------------
// Restart policy (whether to restart at all)

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
export type RestartPolicy = (typeof RESTART_POLICIES)[number];

/** KEP-5307 `restartPolicyRules` entry. */
export interface RestartPolicyRule {
  readonly action: 'Restart' | 'DoNotRestart';
  readonly exitCodes: {
    readonly operator: 'In' | 'NotIn';
    readonly values: readonly number[];
  };
}

/** What decides whether one container restarts after an exit. */
export interface RestartSpec {
  /** The container's own policy, which overrides `defaultRestartPolicy`. */
  readonly restartPolicy?: RestartPolicy;
  /** The pod's (or namespace's) policy, used when the container has none. */
  readonly defaultRestartPolicy?: RestartPolicy;
  readonly restartPolicyRules?: readonly RestartPolicyRule[];
  /** Docker's `on-failure:N`: restarts allowed in total. */
  readonly maxRestarts?: number;
}

export interface RestartVerdict {
  readonly restart: boolean;
  /** Why, in a few words, for messages and events. */
  readonly because: string;
}

/**
 * KEP-5307 order: the first `restartPolicyRules` entry whose exit codes match
 * wins; else the container's `restartPolicy`; else the default; else `Always`.
 */
export function decideRestart(spec: RestartSpec, exitCode: number): RestartVerdict {
  const rules = spec.restartPolicyRules ?? [];
  for (const [index, rule] of rules.entries()) {
    const listed = rule.exitCodes.values.includes(exitCode);
    const matches = rule.exitCodes.operator === 'In' ? listed : !listed;
    if (matches) {
      return { restart: rule.action === 'Restart', because: `restartPolicyRules[${index}] ${rule.action}` };
    }
  }
  const policy = spec.restartPolicy ?? spec.defaultRestartPolicy ?? 'Always';
  switch (policy) {
    case 'Always':
      return { restart: true, because: 'restartPolicy Always' };
    case 'OnFailure':
      return { restart: exitCode !== 0, because: 'restartPolicy OnFailure' };
    case 'Never':
      return { restart: false, because: 'restartPolicy Never' };
  }
}
