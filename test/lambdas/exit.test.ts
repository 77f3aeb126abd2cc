import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventBridgeEvent } from 'aws-lambda';
import { createHandler } from '../../lambdas/exit.ts';
import { createHarness, T0, type Harness } from '../support/pipeline.ts';
import { httpEvent, lambdaDeps } from '../support/lambda.ts';
import { OPENAPI_DOCUMENT } from '../support/openapi.ts';

const validExit = { namespace: 'default', pod: 'web-0', podUid: 'uid-1', container: 'app', exitCode: 1, finishedAt: new Date(T0).toISOString() };

function busEvent(detail: unknown, detailType = 'Container Exited'): EventBridgeEvent<string, unknown> {
  return { version: '0', id: 'event-1', 'detail-type': detailType, source: 'workload', account: '123456789012', time: new Date(T0).toISOString(), region: 'us-east-1', resources: [], detail };
}

describe('exit handler', () => {
  let h: Harness;
  let handler: ReturnType<typeof createHandler>;
  let logged: ReturnType<typeof lambdaDeps>['logged'];
  let flushes: () => number;

  beforeEach(async () => {
    h = await createHarness();
    const wired = lambdaDeps(h);
    handler = createHandler(wired.deps);
    logged = wired.logged;
    flushes = wired.flushes;
  });
  afterEach(async () => {
    await h.close();
  });

  describe('HTTP API', () => {
    it('answers POST /v1/exits with the decision', async () => {
      const result = await handler(httpEvent('POST', '/v1/exits', { body: JSON.stringify(validExit) }));
      expect(result).toMatchObject({ statusCode: 200, headers: { 'content-type': 'application/json' } });
      expect(JSON.parse((result as { body: string }).body)).toMatchObject({
        key: 'web-0_default_uid-1_app_',
        decision: 'RestartNow',
        restartAt: new Date(T0).toISOString(),
        delayMs: 0,
        restartCount: 1,
        backoffMs: 10_000,
        state: 'Running',
      });
      expect(flushes()).toBe(1);
    });

    it('answers a batch in order', async () => {
      const events = [validExit, { ...validExit, pod: 'web-1' }, { ...validExit, finishedAt: T0 + 1 }];
      h.clock.set(T0 + 1);
      const result = (await handler(httpEvent('POST', '/v1/exits', { body: JSON.stringify({ events }) }))) as { statusCode: number; body: string };
      expect(result.statusCode).toBe(200);
      const { results } = JSON.parse(result.body) as { results: { key: string; decision: string; restartCount: number }[] };
      expect(results.map((r) => [r.key, r.decision, r.restartCount])).toEqual([
        ['web-0_default_uid-1_app_', 'RestartNow', 1],
        ['web-1_default_uid-1_app_', 'RestartNow', 1],
        ['web-0_default_uid-1_app_', 'RestartScheduled', 2],
      ]);
    });

    it('serves GET and DELETE /v1/containers/{key}', async () => {
      await handler(httpEvent('POST', '/v1/exits', { body: JSON.stringify(validExit) }));
      const got = (await handler(httpEvent('GET', '/v1/containers/web-0_default_uid-1_app_'))) as { statusCode: number; body: string };
      expect(got.statusCode).toBe(200);
      expect(JSON.parse(got.body)).toMatchObject({ key: 'web-0_default_uid-1_app_', state: 'Running', restartCount: 1 });
      const listed = (await handler(httpEvent('GET', '/v1/containers', { query: { namespace: 'default' } }))) as { body: string };
      expect(JSON.parse(listed.body).items).toHaveLength(1);
      const reset = (await handler(httpEvent('DELETE', '/v1/containers/web-0_default_uid-1_app_'))) as { statusCode: number };
      expect(reset.statusCode).toBe(200);
      expect(h.records.at(-1)).toMatchObject({ type: 'BackoffReset', key: 'web-0_default_uid-1_app_' });
      const gone = (await handler(httpEvent('GET', '/v1/containers/web-0_default_uid-1_app_'))) as { statusCode: number };
      expect(gone.statusCode).toBe(404);
    });

    it('serves the committed OpenAPI document at GET /v1/openapi.json', async () => {
      const result = (await handler(httpEvent('GET', '/v1/openapi.json'))) as { statusCode: number; body: string };
      expect(result.statusCode).toBe(200);
      expect(JSON.parse(result.body)).toEqual(OPENAPI_DOCUMENT);
    });

    const tooFar = new Date(T0 + 6 * 60_000).toISOString();
    it.each([
      ['a missing container', { ...validExit, container: undefined }, 400, ['container']],
      ['a wrong-typed exit code', { ...validExit, exitCode: '1' }, 400, ['exitCode']],
      ['an exit code above int32', { ...validExit, exitCode: 2_147_483_648 }, 400, ['exitCode']],
      ['an exit code below int32', { ...validExit, exitCode: -2_147_483_649 }, 400, ['exitCode']],
      ['a pod name with an underscore', { ...validExit, pod: 'web_0' }, 400, ['pod']],
      ['a namespace starting with a dot', { ...validExit, namespace: '.hidden' }, 400, ['namespace']],
      ['a finishedAt 6 minutes in the future', { ...validExit, finishedAt: tooFar }, 400, ['finishedAt']],
      ['a startedAt after finishedAt', { ...validExit, startedAt: new Date(T0 + 1).toISOString() }, 400, ['startedAt']],
      ['several bad fields at once', { ...validExit, pod: '', exitCode: 1.5, restartPolicy: 'Sometimes' }, 400, ['pod', 'exitCode', 'restartPolicy']],
      ['a batch of 101', { events: Array.from({ length: 101 }, () => validExit) }, 400, ['events']],
      ['a batch with one bad event', { events: [validExit, { ...validExit, exitCode: null }] }, 400, ['events.1.exitCode']],
    ])('rejects %s with %i naming the field, and writes nothing', async (_label, body, status, paths) => {
      h.clock.set(T0);
      const before = await h.dump();
      const result = (await handler(httpEvent('POST', '/v1/exits', { body: JSON.stringify(body) }))) as { statusCode: number; body: string };
      expect(result.statusCode).toBe(status);
      const payload = JSON.parse(result.body) as { error: string; issues: { path: string }[] };
      expect(payload.error).toBe('ValidationError');
      expect(payload.issues.map((issue) => issue.path)).toEqual(expect.arrayContaining(paths));
      expect(await h.dump()).toEqual(before);
      expect(h.awsCalls()).toEqual([]);
    });

    it.each([
      ['a body that is not JSON', { body: 'exit=1' }, 415, 'UnsupportedMediaType'],
      ['a non-JSON content type', { body: JSON.stringify(validExit), headers: { 'content-type': 'text/plain' } }, 415, 'UnsupportedMediaType'],
      ['a body over 256 KiB', { body: JSON.stringify({ ...validExit, reason: 'x'.repeat(256 * 1024) }) }, 413, 'PayloadTooLarge'],
    ])('rejects %s with %i, and writes nothing', async (_label, options, status, error) => {
      await handler(httpEvent('POST', '/v1/exits', { body: JSON.stringify({ ...validExit, pod: 'existing' }) }));
      const before = await h.dump();
      h.resetAwsCalls();
      const result = (await handler(httpEvent('POST', '/v1/exits', options))) as { statusCode: number; body: string };
      expect(result.statusCode).toBe(status);
      expect(JSON.parse(result.body).error).toBe(error);
      expect(await h.dump()).toEqual(before);
      expect(h.awsCalls()).toEqual([]);
    });
  });

  describe('EventBridge', () => {
    it('handles a Container Exited event', async () => {
      const result = await handler(busEvent(validExit));
      expect(result).toMatchObject({ decisions: [{ key: 'web-0_default_uid-1_app_', decision: 'RestartNow' }] });
    });

    it('handles a batch of 100 in one event', async () => {
      const events = Array.from({ length: 100 }, (_, index) => ({ ...validExit, pod: `pod-${index}` }));
      const result = (await handler(busEvent({ events }))) as { decisions: unknown[] };
      expect(result.decisions).toHaveLength(100);
      expect((await h.store.list({ limit: 1_000 })).items).toHaveLength(100);
    });

    it('drops a malformed event with the reasons logged, and writes nothing', async () => {
      const result = await handler(busEvent({ ...validExit, exitCode: 'boom' }));
      expect(result).toEqual({ rejected: 1 });
      expect(await h.dump()).toEqual([]);
      expect(logged).toContainEqual(expect.objectContaining({ level: 'error', message: 'rejected a Container Exited event' }));
    });

    it('ignores other detail types', async () => {
      expect(await handler(busEvent(validExit, 'Something Else'))).toEqual({ rejected: 1 });
      expect(await h.dump()).toEqual([]);
    });
  });
});
