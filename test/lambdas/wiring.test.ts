import { describe, expect, it } from 'vitest';
import { serviceConfig, wire } from '../../lambdas/wiring.ts';
import { createHandler as createSyncHandler } from '../../lambdas/sync.ts';
import { DynamoRestartBudget } from '../../lib/adapters/dynamodb/budget.ts';
import { SqsExitDeadLetters } from '../../lib/adapters/events/exit-dead-letters.ts';
import { ConfigError, ENV } from '../../lib/config.ts';
import { createHarness, T0 } from '../support/pipeline.ts';
import { lambdaDeps } from '../support/lambda.ts';

describe('serviceConfig', () => {
  it('reads the policy, precision and namespace defaults from the environment', () => {
    const config = serviceConfig({
      [ENV.initialBackoff]: '1s',
      [ENV.maxBackoff]: '1m',
      [ENV.precision]: 'minute',
      [ENV.namespaceDefaults]: JSON.stringify({ batch: { restartPolicy: 'OnFailure', maxBackoff: '30s' } }),
    });
    expect(config.policy).toEqual({ initialMs: 1_000, maxMs: 60_000, resetAfterMs: 600_000, jitterFactor: 0 });
    expect(config.precision).toBe('minute');
    expect(config.namespaces.batch).toEqual({ restartPolicy: 'OnFailure', policy: { initialMs: 10_000, maxMs: 30_000, resetAfterMs: 600_000, jitterFactor: 0 } });
  });

  it("reads a namespace's restart budget", () => {
    const config = serviceConfig({ [ENV.namespaceDefaults]: JSON.stringify({ batch: { restartBudget: { perSecond: 50, burst: 100 } } }) });
    expect(config.namespaces.batch).toEqual({ restartBudget: { perSecond: 50, burst: 100 } });
  });

  it('defaults to the kubelet policy with second precision and BackOff repeats at most every 5 minutes', () => {
    expect(serviceConfig({})).toMatchObject({ policy: { initialMs: 10_000, maxMs: 300_000 }, precision: 'second', backOffEventIntervalMs: 300_000 });
  });

  it('reads the BackOff event interval', () => {
    expect(serviceConfig({ [ENV.backOffEventInterval]: '15m' }).backOffEventIntervalMs).toBe(900_000);
  });

  it.each([
    [{ [ENV.maxBackoff]: '5x' }, /policy: max: invalid duration "5x"/],
    [{ [ENV.precision]: 'hour' }, /TIMER_PRECISION: expected one of second, minute/],
    [{ [ENV.recoveryGrace]: 'soon' }, /RECOVERY_GRACE: invalid duration "soon"/],
    [{ [ENV.backOffEventInterval]: 'often' }, /BACKOFF_EVENT_INTERVAL: invalid duration "often"/],
    [{ [ENV.namespaceDefaults]: '{' }, /NAMESPACE_DEFAULTS: not valid JSON/],
    [{ [ENV.namespaceDefaults]: '{"ns": {"maxBackof": "1m"}}' }, /NAMESPACE_DEFAULTS.ns.maxBackof: unknown setting/],
    [{ [ENV.namespaceDefaults]: '{"ns": {"restartPolicy": "Sometimes"}}' }, /NAMESPACE_DEFAULTS.ns.restartPolicy/],
  ])('rejects %j with an error naming the variable', (env, message) => {
    expect(() => serviceConfig(env)).toThrow(ConfigError);
    expect(() => serviceConfig(env)).toThrow(message);
  });
});

describe('wire', () => {
  it('names the missing variable', () => {
    expect(() => wire({ [ENV.fineStageQueueUrl]: 'https://q', [ENV.eventBusName]: 'bus' })).toThrow('TABLE_NAME is not set');
  });

  it('gives the exit dead-letter queue only to a function whose environment names it (the exit handler)', () => {
    const base = { [ENV.tableName]: 'table', [ENV.fineStageQueueUrl]: 'https://q', [ENV.eventBusName]: 'bus' };
    expect(wire(base).exitDeadLetters).toBeUndefined();
    expect(wire({ ...base, [ENV.exitDeadLetterQueueUrl]: 'https://dlq' }).exitDeadLetters).toBeInstanceOf(SqsExitDeadLetters);
  });

  it('wires the restart budget on the same table for every handler', () => {
    expect(wire({ [ENV.tableName]: 'table', [ENV.fineStageQueueUrl]: 'https://q', [ENV.eventBusName]: 'bus' }).service.budget).toBeInstanceOf(DynamoRestartBudget);
  });

  it('wires ECS workloads and the ecs restart target only where the workload table is named', () => {
    const base = { [ENV.tableName]: 'table', [ENV.fineStageQueueUrl]: 'https://q', [ENV.eventBusName]: 'bus' };
    const without = wire(base);
    expect(without.ecs).toBeUndefined();
    expect(without.delivery?.targets).toEqual({});
    const withEcs = wire({ ...base, [ENV.workloadTableName]: 'workloads' });
    expect(withEcs.ecs).toBeDefined();
    expect(Object.keys(withEcs.delivery!.targets)).toEqual(['ecs']);
  });

  it('reads a namespace whose webhook the deployment delivers as "webhook" alone', () => {
    expect(serviceConfig({ [ENV.namespaceDefaults]: '{"hooks": {"restartTarget": "webhook"}}' }).namespaces.hooks).toEqual({ restartTarget: 'webhook' });
  });
});

describe('sync handler', () => {
  it('runs one sync and flushes metrics', async () => {
    const h = await createHarness();
    try {
      const { deps, flushes } = lambdaDeps(h);
      h.clock.set(T0);
      expect(await createSyncHandler(deps)()).toMatchObject({ overdue: 0, recovered: 0, collected: 0, failedShards: [], census: { crashLoopBackOff: 0 } });
      expect(flushes()).toBe(1);
      expect(h.metrics).toContainEqual({ name: 'ContainersInCrashLoopBackOff', value: 0 });
    } finally {
      await h.close();
    }
  });

  it('gives the logger the invocation’s context, and starts no page once the invocation’s time is nearly up', async () => {
    const h = await createHarness();
    try {
      const { deps } = lambdaDeps(h);
      const contexts: unknown[] = [];
      const withContext = () => ({ ...deps(), logger: { ...deps().logger, addContext: (context: unknown) => void contexts.push(context) } });
      const context = { functionName: 'sync', getRemainingTimeInMillis: () => 1_000 } as unknown as import('aws-lambda').Context;
      h.dynamoCalls.reset();
      const report = await createSyncHandler(withContext)(undefined, context);
      expect(contexts).toEqual([context]);
      expect(report).toMatchObject({ stoppedEarly: true, itemsRead: 0 });
      // The sync read nothing; only the count of CrashLoopBackOff ran.
      expect(h.dynamoCalls.calls).toEqual(Array(h.store.shards).fill('Query'));
    } finally {
      await h.close();
    }
  });
});
