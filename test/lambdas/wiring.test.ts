import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { serviceConfig, wireDeliver, wireExit, wireServices } from '../../lambdas/wiring.ts';
import { createHandler as createSyncHandler } from '../../lambdas/sync.ts';
import { DynamoRestartBudget } from '../../lib/adapters/dynamodb/budget.ts';
import { SqsExitDeadLetters } from '../../lib/adapters/events/exit-dead-letters.ts';
import { FineStageTimer, SchedulerRestartTimer } from '../../lib/adapters/scheduler/timer.ts';
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

describe('handler wiring', () => {
  const base = { [ENV.tableName]: 'table', [ENV.fineStageQueueUrl]: 'https://q', [ENV.eventBusName]: 'bus' };

  it.each([
    ['wireExit', wireExit],
    ['wireServices', wireServices],
  ])('%s names the missing variable', (_name, wiring) => {
    expect(() => wiring({ [ENV.fineStageQueueUrl]: 'https://q', [ENV.eventBusName]: 'bus' })).toThrow('TABLE_NAME is not set');
  });

  it('gives the exit dead-letter queue only to a function whose environment names it (the exit handler)', () => {
    expect(wireExit(base).exitDeadLetters).toBeUndefined();
    expect(wireExit({ ...base, [ENV.exitDeadLetterQueueUrl]: 'https://dlq' }).exitDeadLetters).toBeInstanceOf(SqsExitDeadLetters);
  });

  it('wires the restart budget on the same table for every handler that dispatches', () => {
    expect(wireExit(base).service.budget).toBeInstanceOf(DynamoRestartBudget);
    expect(wireServices(base).service.budget).toBeInstanceOf(DynamoRestartBudget);
  });

  it('gives the exit handler the scheduler timer, and the restart callback and the sync the fine stage alone', () => {
    expect(wireExit(base).service.timer).toBeInstanceOf(SchedulerRestartTimer);
    expect(wireServices(base).service.timer).toBeInstanceOf(FineStageTimer);
  });

  it('wires ECS workloads and the ecs restart target only where the workload table is named', () => {
    expect(wireExit(base).ecs).toBeUndefined();
    expect(wireDeliver(base).delivery?.targets).toEqual({});
    const withEcs = { ...base, [ENV.workloadTableName]: 'workloads' };
    expect(wireExit(withEcs).ecs).toBeDefined();
    expect(Object.keys(wireDeliver(withEcs).delivery!.targets)).toEqual(['ecs']);
    // The restart callback and the sync call no ECS, whatever the environment says.
    expect(wireServices(withEcs)).not.toHaveProperty('ecs');
  });

  it('signs with the credentials Lambda puts in the environment, even where the default chain would look elsewhere', async () => {
    const authorizations: string[] = [];
    const server = createServer((request, response) => {
      authorizations.push(`${request.headers.authorization} ${request.headers['x-amz-security-token']}`);
      request.resume();
      request.on('end', () => response.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}'));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      vi.stubEnv('AWS_REGION', 'us-east-1');
      vi.stubEnv('AWS_ENDPOINT_URL', `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDLAMBDAROLE');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
      vi.stubEnv('AWS_SESSION_TOKEN', 'session-token');
      // The default chain skips the environment when a profile is named; Lambda's credentials are in the environment.
      vi.stubEnv('AWS_PROFILE', 'no-such-profile');
      expect(await wireServices(base).service.store.get('web-0_default__app_')).toBeUndefined();
      expect(authorizations).toEqual([expect.stringMatching(/^AWS4-HMAC-SHA256 Credential=AKIDLAMBDAROLE\/\d{8}\/us-east-1\/dynamodb\/aws4_request, .* session-token$/)]);
    } finally {
      vi.unstubAllEnvs();
      server.close();
    }
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
