import { describe, expect, it } from 'vitest';
import {
  BACKOFF_PRESET_NAMES,
  BACKOFF_PRESETS,
  decideRestart,
  describeBackoffPolicy,
  PolicyError,
  resolveBackoffPolicy,
  type BackoffPolicyInput,
  type RestartPolicyRule,
  type RestartSpec,
} from '../../lib/core/index.ts';

function policyError(input: BackoffPolicyInput): PolicyError {
  try {
    resolveBackoffPolicy(input);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyError);
    return error as PolicyError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

describe('BACKOFF_PRESETS', () => {
  it('holds kubelet (10s/5m) and reduced (1s/60s), both resetting after kubelet’s 10m', () => {
    expect(BACKOFF_PRESETS).toEqual({
      kubelet: { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000 },
      reduced: { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 600_000 },
    });
    expect(BACKOFF_PRESET_NAMES).toEqual(['kubelet', 'reduced']);
  });
});

describe('resolveBackoffPolicy', () => {
  it.each<[string, BackoffPolicyInput | undefined, { initialMs: number; maxMs: number; resetAfterMs: number; jitterFactor: number }]>([
    ['no input: kubelet', undefined, { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['kubelet preset', { preset: 'kubelet' }, { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['reduced preset', { preset: 'reduced' }, { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['durations as strings', { initial: '2s', max: '1m30s', resetAfter: '10m' }, { initialMs: 2_000, maxMs: 90_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['durations as ms', { initial: 500, max: 4_000 }, { initialMs: 500, maxMs: 4_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['resetAfter stays kubelet’s 10m for a custom max (not client-go’s 2 × max)', { max: '1m' }, { initialMs: 10_000, maxMs: 60_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['resetAfter stays 10m for a max above it', { max: '20m' }, { initialMs: 10_000, maxMs: 1_200_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['explicit initial over the preset', { preset: 'reduced', initial: '5s' }, { initialMs: 5_000, maxMs: 60_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['initial equal to max', { initial: '1m', max: '1m' }, { initialMs: 60_000, maxMs: 60_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['the smallest policy: 1 ms', { initial: 1, max: 1, resetAfter: 1 }, { initialMs: 1, maxMs: 1, resetAfterMs: 1, jitterFactor: 0 }],
    ['KEP-5593: max below the preset initial lowers initial', { max: '5s' }, { initialMs: 5_000, maxMs: 5_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['KEP-5593: max below an explicit initial lowers initial', { initial: '30s', max: '20s' }, { initialMs: 20_000, maxMs: 20_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['KEP-5593 with reduced', { preset: 'reduced', max: '200ms' }, { initialMs: 200, maxMs: 200, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['client-go’s own 2 × max, configured', { max: '1m', resetAfter: '2m' }, { initialMs: 10_000, maxMs: 60_000, resetAfterMs: 120_000, jitterFactor: 0 }],
    ['KEP-5593 flat 10 minute reset', { max: '1s', resetAfter: '10m' }, { initialMs: 1_000, maxMs: 1_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['resetAfter below max is allowed', { resetAfter: '1m' }, { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 60_000, jitterFactor: 0 }],
    ['jitter factor', { jitterFactor: 0.25 }, { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000, jitterFactor: 0.25 }],
    ['jitter factor 1', { jitterFactor: 1 }, { initialMs: 10_000, maxMs: 300_000, resetAfterMs: 600_000, jitterFactor: 1 }],
  ])('%s', (_name, input, expected) => {
    expect(resolveBackoffPolicy(input)).toEqual(expected);
  });

  it.each<[string, BackoffPolicyInput, string, RegExp]>([
    ['an unknown preset', { preset: 'fast' as never }, 'preset', /unknown preset "fast"; use one of kubelet, reduced/],
    ['a bad initial duration', { initial: 'ten seconds' }, 'initial', /invalid duration "ten seconds"/],
    ['a bad max duration', { max: '5x' }, 'max', /invalid duration "5x"/],
    ['a bad resetAfter duration', { resetAfter: '' }, 'resetAfter', /invalid duration ""/],
    ['a fractional ms', { initial: 1.5 }, 'initial', /whole number of milliseconds, got 1.5/],
    ['NaN', { max: Number.NaN }, 'max', /whole number of milliseconds, got NaN/],
    ['initial 0', { initial: 0 }, 'initial', /at least 1ms/],
    ['a negative initial', { initial: -5 }, 'initial', /at least 1ms/],
    ['max 0', { max: 0 }, 'max', /at least 1ms/],
    ['max "0"', { max: '0' }, 'max', /at least 1ms/],
    ['resetAfter 0', { resetAfter: '0s' }, 'resetAfter', /at least 1ms/],
    ['a negative jitter factor', { jitterFactor: -0.1 }, 'jitterFactor', /between 0 and 1, got -0.1/],
    ['a jitter factor above 1', { jitterFactor: 1.5 }, 'jitterFactor', /between 0 and 1, got 1.5/],
    ['a NaN jitter factor', { jitterFactor: Number.NaN }, 'jitterFactor', /between 0 and 1, got NaN/],
  ])('rejects %s, naming the field', (_name, input, field, message) => {
    const error = policyError(input);
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
    expect(error.message).toMatch(message);
  });
});

describe('describeBackoffPolicy', () => {
  it.each<[BackoffPolicyInput, string]>([
    [{}, 'initial 10s, max 5m, reset after 10m'],
    [{ preset: 'reduced' }, 'initial 1s, max 1m, reset after 10m'],
    [{ initial: '200ms', max: '1m30s', jitterFactor: 0.1 }, 'initial 200ms, max 1m30s, reset after 10m, jitter 0.1'],
  ])('describes %j as %j', (input, text) => {
    expect(describeBackoffPolicy(resolveBackoffPolicy(input))).toBe(text);
  });
});

describe('decideRestart', () => {
  describe('restartPolicy', () => {
    it.each<[RestartSpec, number, boolean, string]>([
      [{}, 0, true, 'restartPolicy Always'],
      [{}, 1, true, 'restartPolicy Always'],
      [{ restartPolicy: 'Always' }, 0, true, 'restartPolicy Always'],
      [{ restartPolicy: 'Always' }, 137, true, 'restartPolicy Always'],
      [{ restartPolicy: 'OnFailure' }, 0, false, 'restartPolicy OnFailure'],
      [{ restartPolicy: 'OnFailure' }, 1, true, 'restartPolicy OnFailure'],
      [{ restartPolicy: 'OnFailure' }, -1, true, 'restartPolicy OnFailure'],
      [{ restartPolicy: 'Never' }, 0, false, 'restartPolicy Never'],
      [{ restartPolicy: 'Never' }, 1, false, 'restartPolicy Never'],
      // The container's own policy overrides the default; the default applies when it has none.
      [{ defaultRestartPolicy: 'Never' }, 1, false, 'restartPolicy Never'],
      [{ defaultRestartPolicy: 'OnFailure' }, 0, false, 'restartPolicy OnFailure'],
      [{ restartPolicy: 'Always', defaultRestartPolicy: 'Never' }, 1, true, 'restartPolicy Always'],
      [{ restartPolicy: 'Never', defaultRestartPolicy: 'Always' }, 1, false, 'restartPolicy Never'],
      [{ restartPolicy: 'OnFailure', defaultRestartPolicy: 'Always' }, 0, false, 'restartPolicy OnFailure'],
    ])('%j, exit %i → restart %s', (spec, exitCode, restart, because) => {
      expect(decideRestart(spec, exitCode)).toEqual({ restart, because });
    });
  });

  describe('restartPolicyRules', () => {
    const restartOn42: RestartPolicyRule = { action: 'Restart', exitCodes: { operator: 'In', values: [42] } };
    const stopOn42: RestartPolicyRule = { action: 'DoNotRestart', exitCodes: { operator: 'In', values: [42] } };
    const stopUnlessRetryable: RestartPolicyRule = { action: 'DoNotRestart', exitCodes: { operator: 'NotIn', values: [1, 2] } };
    const restartAnything: RestartPolicyRule = { action: 'Restart', exitCodes: { operator: 'NotIn', values: [] } };
    const matchesNothing: RestartPolicyRule = { action: 'DoNotRestart', exitCodes: { operator: 'In', values: [] } };

    it.each<[string, RestartSpec, number, boolean, string]>([
      ['In matches a listed code', { restartPolicy: 'Never', restartPolicyRules: [restartOn42] }, 42, true, 'restartPolicyRules[0] Restart'],
      ['In does not match others: the policy decides', { restartPolicy: 'Never', restartPolicyRules: [restartOn42] }, 1, false, 'restartPolicy Never'],
      ['DoNotRestart In overrides Always', { restartPolicy: 'Always', restartPolicyRules: [stopOn42] }, 42, false, 'restartPolicyRules[0] DoNotRestart'],
      ['NotIn matches an unlisted code', { restartPolicyRules: [stopUnlessRetryable] }, 3, false, 'restartPolicyRules[0] DoNotRestart'],
      ['NotIn does not match a listed code', { restartPolicyRules: [stopUnlessRetryable] }, 2, true, 'restartPolicy Always'],
      ['NotIn [] matches every code', { restartPolicy: 'Never', restartPolicyRules: [restartAnything] }, 0, true, 'restartPolicyRules[0] Restart'],
      ['In [] matches no code', { restartPolicyRules: [matchesNothing] }, 0, true, 'restartPolicy Always'],
      ['first match wins (Restart before DoNotRestart)', { restartPolicy: 'Never', restartPolicyRules: [restartOn42, stopOn42] }, 42, true, 'restartPolicyRules[0] Restart'],
      ['first match wins (DoNotRestart before Restart)', { restartPolicy: 'Always', restartPolicyRules: [stopOn42, restartOn42] }, 42, false, 'restartPolicyRules[0] DoNotRestart'],
      ['a later rule matches when earlier ones do not', { restartPolicy: 'Never', restartPolicyRules: [matchesNothing, stopOn42, restartAnything] }, 7, true, 'restartPolicyRules[2] Restart'],
      ['rules win over the default policy too', { defaultRestartPolicy: 'Never', restartPolicyRules: [restartOn42] }, 42, true, 'restartPolicyRules[0] Restart'],
      ['an empty rule list leaves it to the policy', { restartPolicy: 'OnFailure', restartPolicyRules: [] }, 0, false, 'restartPolicy OnFailure'],
    ])('%s', (_name, spec, exitCode, restart, because) => {
      expect(decideRestart(spec, exitCode)).toEqual({ restart, because });
    });
  });
});
