import { readFileSync } from 'node:fs';
import { RemovalPolicy } from 'aws-cdk-lib';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../lib/adapters/dynamodb/schema.ts';
import { ConfigError, DEFAULT_SERVICE_CONFIG, MINUTE_PRECISION_MAX_LATENESS_MS, parseNamespaceDefaults } from '../../lib/config.ts';
import { parseDuration } from '../../lib/core/index.ts';
import { policyEnvironment } from '../../lib/infra/handler-settings.ts';
import { CONTEXT_KEYS, DEFAULT_LATENESS_THRESHOLD_MS, readDeploySettings, type DeploySettings } from '../../lib/infra/settings.ts';
import { LOG_RETENTION_DAYS } from '../../lib/settings.ts';

const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
  app: string;
  output: string;
  context: Record<string, unknown>;
};

function fromContext(values: Record<string, unknown>): DeploySettings {
  return readDeploySettings((key) => values[key]);
}

describe('readDeploySettings', () => {
  it('gives the service defaults when no context is set', () => {
    const settings = fromContext({});
    expect(settings.policy).toEqual(DEFAULT_SERVICE_CONFIG.policy);
    expect(settings.precision).toBe('second');
    expect(settings.shards).toBe(TABLE_SCHEMA.defaultShards);
    expect(settings.entryRetentionMs).toBe(24 * 3_600_000);
    expect(settings.recoveryGraceMs).toBe(DEFAULT_SERVICE_CONFIG.recoveryGraceMs);
    expect(settings.dispatchLeaseMs).toBe(DEFAULT_SERVICE_CONFIG.dispatchLeaseMs);
    expect(settings.backOffEventIntervalMs).toBe(300_000);
    expect(settings.logRetention).toBe(RetentionDays.ONE_MONTH);
    expect(settings.removalPolicy).toBe(RemovalPolicy.RETAIN);
    expect(settings.archiveRetentionDays).toBe(30);
    expect(settings.latenessAlarmThresholdMs).toBe(DEFAULT_LATENESS_THRESHOLD_MS.second);
    expect(settings.namespaceDefaultsJson).toBeUndefined();
  });

  it.each(['second', 'minute'] as const)(
    'with %s precision, alarms past the worst lateness the timer allows, and recovers only past the alarm',
    (precision) => {
      const settings = fromContext({ [CONTEXT_KEYS.precision]: precision });
      const worstMs = precision === 'minute' ? MINUTE_PRECISION_MAX_LATENESS_MS : 1_000;
      expect(settings.latenessAlarmThresholdMs).toBeGreaterThan(worstMs);
      // The sync must not race a timer that is merely slow, and a lost restart must raise the alarm.
      expect(settings.recoveryGraceMs).toBeGreaterThan(settings.latenessAlarmThresholdMs);
      expect(settings.recoveryGraceMs).toBeGreaterThan(MINUTE_PRECISION_MAX_LATENESS_MS);
    },
  );

  it("matches cdk.json's context defaults to the built-in defaults, so the file documents them truthfully", () => {
    expect(fromContext(cdkJson.context)).toEqual(fromContext({}));
    // Every key in cdk.json is one the stack reads.
    const known = new Set<string>(Object.values(CONTEXT_KEYS));
    expect(Object.keys(cdkJson.context).filter((key) => key.startsWith('restart-scheduler:') && !known.has(key))).toEqual([]);
  });

  it('runs the app with tsx and writes to cdk.out', () => {
    expect(cdkJson.app).toBe('npx tsx bin/app.ts');
    expect(cdkJson.output).toBe('cdk.out');
  });

  it('reads command-line (string) and cdk.json (number) forms alike', () => {
    const fromStrings = fromContext({
      [CONTEXT_KEYS.initialBackoff]: '1s',
      [CONTEXT_KEYS.maxBackoff]: '1m',
      [CONTEXT_KEYS.resetAfter]: '3m',
      [CONTEXT_KEYS.jitter]: '0.25',
      [CONTEXT_KEYS.precision]: 'minute',
      [CONTEXT_KEYS.shards]: '4',
      [CONTEXT_KEYS.logRetentionDays]: '7',
      [CONTEXT_KEYS.removalPolicy]: 'destroy',
      [CONTEXT_KEYS.archiveRetentionDays]: '90',
      [CONTEXT_KEYS.entryRetention]: '30m',
      [CONTEXT_KEYS.recoveryGrace]: '3m',
      [CONTEXT_KEYS.dispatchLease]: '45s',
      [CONTEXT_KEYS.backOffEventInterval]: '10m',
    });
    const fromNumbers = fromContext({
      [CONTEXT_KEYS.initialBackoff]: '1s',
      [CONTEXT_KEYS.maxBackoff]: '1m',
      [CONTEXT_KEYS.resetAfter]: '3m',
      [CONTEXT_KEYS.jitter]: 0.25,
      [CONTEXT_KEYS.precision]: 'minute',
      [CONTEXT_KEYS.shards]: 4,
      [CONTEXT_KEYS.logRetentionDays]: 7,
      [CONTEXT_KEYS.removalPolicy]: 'destroy',
      [CONTEXT_KEYS.archiveRetentionDays]: 90,
      [CONTEXT_KEYS.entryRetention]: '30m',
      [CONTEXT_KEYS.recoveryGrace]: '3m',
      [CONTEXT_KEYS.dispatchLease]: '45s',
      [CONTEXT_KEYS.backOffEventInterval]: '10m',
    });
    expect(fromStrings).toEqual(fromNumbers);
    expect(fromStrings).toMatchObject({
      policy: { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 180_000, jitterFactor: 0.25 },
      precision: 'minute',
      shards: 4,
      logRetention: RetentionDays.ONE_WEEK,
      removalPolicy: RemovalPolicy.DESTROY,
      archiveRetentionDays: 90,
      entryRetentionMs: 1_800_000,
      recoveryGraceMs: 180_000,
      dispatchLeaseMs: 45_000,
      backOffEventIntervalMs: 600_000,
      // Minute precision: Scheduler alone may fire anywhere in its minute.
      latenessAlarmThresholdMs: DEFAULT_LATENESS_THRESHOLD_MS.minute,
    });
  });

  it('applies the KEP-5593 rule: a max below the initial back-off lowers the initial back-off', () => {
    expect(fromContext({ [CONTEXT_KEYS.maxBackoff]: '5s' }).policy).toMatchObject({ initialMs: 5_000, maxMs: 5_000 });
  });

  it('passes a namespace restart budget through to the handlers, its burst a second of its rate when not given', () => {
    const defaults = { batch: { restartBudget: { perSecond: 20 } } };
    expect(fromContext({ [CONTEXT_KEYS.namespaceDefaults]: defaults }).namespaceDefaultsJson).toBe(JSON.stringify(defaults));
    expect(parseNamespaceDefaults('x', defaults)).toEqual({ batch: { restartBudget: { perSecond: 20, burst: 20 } } });
    expect(parseNamespaceDefaults('x', { batch: { restartBudget: { perSecond: 0.5 } } }).batch?.restartBudget).toEqual({ perSecond: 0.5, burst: 1 });
  });

  it('passes namespace defaults through as JSON, from an object or a JSON string', () => {
    const defaults = { batch: { initialBackoff: '1s', maxBackoff: '1m', restartPolicy: 'OnFailure' } };
    expect(fromContext({ [CONTEXT_KEYS.namespaceDefaults]: defaults }).namespaceDefaultsJson).toBe(JSON.stringify(defaults));
    expect(fromContext({ [CONTEXT_KEYS.namespaceDefaults]: JSON.stringify(defaults) }).namespaceDefaultsJson).toBe(
      JSON.stringify(defaults),
    );
    expect(fromContext({ [CONTEXT_KEYS.namespaceDefaults]: {} }).namespaceDefaultsJson).toBeUndefined();
  });

  it.each([
    [CONTEXT_KEYS.initialBackoff, 'ten seconds', /invalid duration/],
    [CONTEXT_KEYS.initialBackoff, 10, /expected a string/],
    [CONTEXT_KEYS.initialBackoff, '0', /initial: must be at least 1ms/],
    [CONTEXT_KEYS.maxBackoff, '5 minutes', /invalid duration/],
    [CONTEXT_KEYS.resetAfter, '1.5ms', /finer than a millisecond/],
    [CONTEXT_KEYS.jitter, 1.5, /expected a number from 0 to 1/],
    [CONTEXT_KEYS.jitter, 'lots', /expected a number from 0 to 1/],
    [CONTEXT_KEYS.precision, 'millisecond', /expected one of second, minute/],
    [CONTEXT_KEYS.shards, 0, /expected an integer from 1 to 256/],
    [CONTEXT_KEYS.shards, '2.5', /expected an integer/],
    [CONTEXT_KEYS.shards, 1000, /expected an integer from 1 to 256/],
    [CONTEXT_KEYS.logRetentionDays, 10, /accepts only 1, 3, 5, 7, 14, 30/],
    [CONTEXT_KEYS.logRetentionDays, 'forever', /expected an integer/],
    [CONTEXT_KEYS.removalPolicy, 'snapshot', /expected one of retain, destroy/],
    [CONTEXT_KEYS.entryRetention, '1d', /invalid duration/],
    [CONTEXT_KEYS.recoveryGrace, '0', /must be at least 1ms/],
    [CONTEXT_KEYS.dispatchLease, 'soon', /invalid duration/],
    [CONTEXT_KEYS.backOffEventInterval, 'hourly', /invalid duration/],
    [CONTEXT_KEYS.backOffEventInterval, '0', /must be at least 1ms/],
    [CONTEXT_KEYS.archiveRetentionDays, -1, /expected an integer from 1/],
    [CONTEXT_KEYS.latenessAlarmThreshold, '0', /must be at least 1ms/],
    [CONTEXT_KEYS.namespaceDefaults, '{not json', /not valid JSON/],
    [CONTEXT_KEYS.namespaceDefaults, '[1]', /expected an object keyed by namespace/],
    [CONTEXT_KEYS.namespaceDefaults, { batch: { maxBackoff: '5x' } }, /batch: max: invalid duration "5x"/],
    [CONTEXT_KEYS.namespaceDefaults, { batch: { restartPolicy: 'Sometimes' } }, /batch.restartPolicy: expected one of Always, OnFailure, Never/],
    [CONTEXT_KEYS.namespaceDefaults, { batch: { restartBudget: { perSecond: 0 } } }, /batch.restartBudget.perSecond: expected a number from 0.001/],
    [CONTEXT_KEYS.namespaceDefaults, { batch: { restartBudget: { perSecond: 5, burst: 1.5 } } }, /batch.restartBudget.burst: expected an integer from 1/],
    [CONTEXT_KEYS.namespaceDefaults, { batch: { restartBudget: { perSecond: 5, rate: 1 } } }, /batch.restartBudget.rate: unknown setting; use perSecond, burst/],
    [CONTEXT_KEYS.namespaceDefaults, { batch: { restartBudget: 50 } }, /batch.restartBudget: expected \{"perSecond": N, "burst": N\}/],
  ])('rejects %s = %j with a ConfigError naming the key', (key, value, message) => {
    const attempt = () => fromContext({ [key]: value });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(message);
    // The message names the context key (for the policy cross-check, among the policy keys).
    expect(attempt).toThrow(key);
  });
});

describe('LOG_RETENTION_DAYS', () => {
  it("is exactly CloudWatch Logs' retention periods as aws-cdk-lib knows them (INFINITE, 9999, is not a period)", () => {
    const days = Object.values(RetentionDays).filter((value): value is number => typeof value === 'number' && value > 0 && value !== RetentionDays.INFINITE);
    expect([...LOG_RETENTION_DAYS]).toEqual(days.sort((a, b) => a - b));
  });
});

describe('policyEnvironment', () => {
  it('writes durations the handlers read back to the same policy', () => {
    const { policy } = fromContext({ [CONTEXT_KEYS.initialBackoff]: '1.5s', [CONTEXT_KEYS.maxBackoff]: '1m30s', [CONTEXT_KEYS.jitter]: 0.1 });
    const env = policyEnvironment(policy);
    expect(parseDuration(env.initial)).toBe(policy.initialMs);
    expect(parseDuration(env.max)).toBe(policy.maxMs);
    expect(parseDuration(env.resetAfter)).toBe(policy.resetAfterMs);
    expect(Number(env.jitter)).toBe(policy.jitterFactor);
  });
});
