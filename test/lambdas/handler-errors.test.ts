/**
 * The "Handler errors" saved query against what the handlers really log: each
 * handler runs with a real Powertools Logger (given a Lambda context, as in
 * Lambda) while a dependency fails, and the JSON line it prints must carry
 * every field the query shows.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler as createExitHandler } from '../../lambdas/exit.ts';
import { createHandler as createRestartHandler } from '../../lambdas/restart.ts';
import { createHandler as createSyncHandler } from '../../lambdas/sync.ts';
import { operationalLog, type LambdaDeps } from '../../lambdas/wiring.ts';
import { eventQueries, HANDLER_ERROR_FIELDS } from '../../lib/infra/event-queries.ts';
import { SERVICE_NAME } from '../../lib/ports.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { createHarness, exitOf, T0, type Harness } from '../support/pipeline.ts';
import { httpEvent } from '../support/lambda.ts';

/** What Lambda passes a handler; only the fields Powertools reads matter. */
function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: `RestartScheduler-${name}`,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:RestartScheduler-${name}`,
    memoryLimitInMB: '512',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/RestartScheduler',
    logStreamName: '2026/01/01/[$LATEST]abc',
    getRemainingTimeInMillis: () => 60_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** The JSON lines written to stdout and stderr while `work` runs (kept off the test output). */
async function printedLines(work: () => Promise<unknown>): Promise<Record<string, unknown>[]> {
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  let text = '';
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      text += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
      (rest.find((arg) => typeof arg === 'function') as (() => void) | undefined)?.();
      return true;
    }) as typeof stream.write;
  }
  try {
    await work().catch(() => undefined);
  } finally {
    streams.forEach((stream, index) => (stream.write = originals[index]!));
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('the Handler errors query', () => {
  let h: Harness;
  let deps: LambdaDeps;
  beforeEach(async () => {
    h = await createHarness();
    const logger = new Logger({ serviceName: SERVICE_NAME });
    deps = { service: { ...h.deps, log: operationalLog(logger) }, logger, metrics: { publishStoredMetrics: () => undefined } };
  });
  afterEach(async () => {
    await h.close();
  });

  const query = eventQueries({ lateRestartMs: 10_000 }).find((candidate) => candidate.title === 'Handler errors')!;

  it('shows the fields it selects and filters on the level Powertools prints', () => {
    expect(query.queryString.split('\n')[0]).toBe(`fields @timestamp, ${HANDLER_ERROR_FIELDS.join(', ')}`);
    expect(query.queryString).toContain('| filter level = "ERROR"');
  });

  const cases: [string, () => Promise<unknown>][] = [
    [
      'exit',
      async () => {
        // A read fails in a way no retry fixes: the API answers 500 and logs it.
        const failing = { ...deps, service: { ...deps.service, store: Object.assign(Object.create(h.store) as typeof h.store, { get: () => Promise.reject(new TypeError('unexpected item shape')) }) } };
        return createExitHandler(() => failing)(httpEvent('GET', '/v1/containers/web-0_default_uid-1_app_'), lambdaContext('exit'));
      },
    ],
    [
      'restart',
      async () => {
        await handleExit(h.deps, exitOf(T0));
        h.clock.set(T0 + 1_000);
        const decision = await handleExit(h.deps, exitOf(T0 + 1_000));
        h.clock.set(decision.restartAt!);
        h.eventBridge.on(PutEventsCommand).rejects(new Error('EventBridge unavailable'));
        return createRestartHandler(() => deps)({ key: decision.key, restartCount: decision.restartCount, restartAt: decision.restartAt }, lambdaContext('restart'));
      },
    ],
    [
      'sync',
      async () => {
        const failing = { ...deps, service: { ...deps.service, store: Object.assign(Object.create(h.store) as typeof h.store, { listWaiting: () => Promise.reject(new Error('throttled')) }) } };
        return createSyncHandler(() => failing)(undefined, lambdaContext('sync'));
      },
    ],
  ];

  it.each(cases)('finds every field it shows in the %s handler’s error line', async (name, run) => {
    const errors = (await printedLines(run)).filter((line) => line.level === 'ERROR');
    expect(errors.length).toBeGreaterThan(0);
    for (const line of errors) {
      for (const field of HANDLER_ERROR_FIELDS) expect(line, `${field} in ${JSON.stringify(line)}`).toHaveProperty(field);
      expect(line.function_name).toBe(`RestartScheduler-${name}`);
      expect(line.service).toBe(SERVICE_NAME);
    }
  });
});
