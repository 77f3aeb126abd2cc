import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventBridgeEvent } from 'aws-lambda';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { createHandler } from '../../lambdas/exit.ts';
import type { DeliveryOutcome } from '../../lib/api/bus.ts';
import { FaultInjector, injectDynamoFaults } from '../support/faults.ts';
import { acquireDynalite, createHarness, releaseDynalite, SCHEDULER_SETTINGS, T0, type Harness } from '../support/pipeline.ts';
import { httpEvent, lambdaDeps } from '../support/lambda.ts';
import { OPENAPI_DOCUMENT } from '../support/openapi.ts';

const throttled = () => new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the provisioned rate', $metadata: {} });

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

    it('decides every valid event of a batch, in order, and dead-letters each invalid one with its issues', async () => {
      const bad1 = { ...validExit, pod: 'web_1', exitCode: 'boom' };
      const bad3 = { ...validExit, pod: 'web-3', finishedAt: undefined };
      const events = [validExit, bad1, { ...validExit, pod: 'web-2' }, bad3, { ...validExit, finishedAt: T0 + 1 }];
      h.clock.set(T0 + 1);
      const result = (await handler(busEvent({ events }))) as DeliveryOutcome;

      expect(result.rejected).toBe(2);
      expect(result.decisions.map((d) => [d.key, d.decision, d.restartCount])).toEqual([
        ['web-0_default_uid-1_app_', 'RestartNow', 1],
        ['web-2_default_uid-1_app_', 'RestartNow', 1],
        ['web-0_default_uid-1_app_', 'RestartScheduled', 2],
      ]);
      expect((await h.dump()).map((item) => item.pk?.S)).toEqual(['web-0_default_uid-1_app_', 'web-2_default_uid-1_app_']);
      expect(h.exitDeadLetterMessages()).toEqual([
        {
          kind: 'RejectedExitEvent',
          eventId: 'event-1',
          source: 'workload',
          index: 1,
          issueCount: 2,
          issues: [
            { path: 'pod', message: expect.stringContaining("letters, digits, '.' and '-'") },
            { path: 'exitCode', message: 'expected an integer, got a string' },
          ],
          event: bad1,
        },
        {
          kind: 'RejectedExitEvent',
          eventId: 'event-1',
          source: 'workload',
          index: 3,
          issueCount: 1,
          issues: [{ path: 'finishedAt', message: 'required' }],
          event: JSON.parse(JSON.stringify(bad3)),
        },
      ]);
      expect(h.errors.map((line) => [line.message, line.details?.index])).toEqual([
        ['rejected a Container Exited event; it is in the exit dead-letter queue', 1],
        ['rejected a Container Exited event; it is in the exit dead-letter queue', 3],
      ]);
      expect(h.metrics.filter((m) => m.name === 'ExitEventsRejected')).toEqual([{ name: 'ExitEventsRejected', value: 2 }]);
      expect(flushes()).toBe(1);
    });

    it('answers the same batch with a 400 over HTTP, writing and dead-lettering nothing, while the bus decides its valid event', async () => {
      const events = [validExit, { ...validExit, pod: 'web-1', exitCode: null }];
      const http = (await handler(httpEvent('POST', '/v1/exits', { body: JSON.stringify({ events }) }))) as { statusCode: number; body: string };
      expect(http.statusCode).toBe(400);
      expect(JSON.parse(http.body).issues).toEqual([{ path: 'events.1.exitCode', message: 'expected an integer, got null' }]);
      expect(await h.dump()).toEqual([]);
      expect(h.awsCalls()).toEqual([]);

      const bus = (await handler(busEvent({ events }))) as DeliveryOutcome;
      expect(bus).toMatchObject({ rejected: 1, decisions: [{ key: 'web-0_default_uid-1_app_', decision: 'RestartNow' }] });
      expect(h.exitDeadLetterMessages()).toEqual([expect.objectContaining({ index: 1, issues: [{ path: 'exitCode', message: 'expected an integer, got null' }] })]);
    });

    const tooMany = Array.from({ length: 101 }, (_, index) => ({ ...validExit, pod: `pod-${index}` }));
    it.each([
      ['a single malformed event', { ...validExit, exitCode: 'boom' }, ['exitCode']],
      ['a detail that is a string', 'exit=1', ['']],
      ['a detail that is an array', [validExit], ['']],
      ['a batch whose events are not an array', { events: validExit }, ['events']],
      ['an empty batch', { events: [] }, ['events']],
      ['a batch of 101', { events: tooMany }, ['events']],
      ['a batch with a field besides events', { events: [validExit], dryRun: true }, ['dryRun']],
    ])('dead-letters %s whole, as one message with its issues, and decides nothing', async (_label, detail, paths) => {
      const result = await handler(busEvent(detail));
      expect(result).toEqual({ decisions: [], rejected: 1 });
      expect(await h.dump()).toEqual([]);
      const [message, ...others] = h.exitDeadLetterMessages();
      expect(others).toEqual([]);
      expect(message).toMatchObject({ kind: 'RejectedExitEvent', eventId: 'event-1', index: null, event: detail });
      expect((message!.issues as { path: string }[]).map((issue) => issue.path)).toEqual(paths);
      expect(h.metrics.filter((m) => m.name === 'ExitEventsRejected')).toEqual([{ name: 'ExitEventsRejected', value: 1 }]);
    });

    it('throws when the dead-letter queue fails, before deciding anything, so Lambda retries the event and nothing is lost', async () => {
      const events = [validExit, { ...validExit, pod: 'web-1', exitCode: 'boom' }];
      h.sqs.on(SendMessageCommand, { QueueUrl: SCHEDULER_SETTINGS.exitDeadLetterQueueUrl }).rejectsOnce(Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable' }));
      await expect(handler(busEvent({ events }))).rejects.toThrow('Service Unavailable');
      expect(await h.dump()).toEqual([]);
      expect(h.metrics.filter((m) => m.name === 'ExitEventsRejected')).toEqual([]);
      expect(flushes()).toBe(1);

      // Lambda's retry delivers the same event (same id).
      const retry = (await handler(busEvent({ events }))) as DeliveryOutcome;
      expect(retry).toMatchObject({ rejected: 1, decisions: [{ key: 'web-0_default_uid-1_app_', decision: 'RestartNow', restartCount: 1 }] });
      expect(h.exitDeadLetterMessages()).toHaveLength(2);
      expect(h.exitDeadLetterMessages().map((m) => [m.eventId, m.index])).toEqual([
        ['event-1', 1],
        ['event-1', 1],
      ]);
    });

    it.each([
      ['with exitIds', (pod: string) => ({ ...validExit, pod, exitId: `exit-${pod}` })],
      ['without exitIds (told apart by their timestamps)', (pod: string) => ({ ...validExit, pod })],
    ])('decides each valid event once when the store fails mid-batch and Lambda retries the event, %s', async (_label, exitOfPod) => {
      const events = [exitOfPod('web-0'), { ...validExit, pod: 'web-1', exitCode: 'boom' }, exitOfPod('web-2')];
      const faults = new FaultInjector([
        { point: 'PutItem', phase: 'before', where: (args) => (args[0] as { Item?: { pk?: { S?: string } } }).Item?.pk?.S === 'web-2_default_uid-1_app_', error: throttled },
      ]);
      const removeFaults = injectDynamoFaults((await acquireDynalite()).client, h.tableName, faults);
      try {
        const first = await faults.during({ activity: 'exit' }, () => handler(busEvent({ events })));
        expect(first.ok).toBe(false);
        expect(faults.hits).toHaveLength(1);
        const retry = await faults.during({ activity: 'exit' }, () => handler(busEvent({ events })));
        expect(retry.ok).toBe(true);
      } finally {
        removeFaults();
        await releaseDynalite();
      }
      // One decision each: web-0 decided by the first attempt (a Duplicate on the retry), web-2 by the retry.
      for (const key of ['web-0_default_uid-1_app_', 'web-2_default_uid-1_app_']) {
        expect((await h.store.get(key))?.value).toMatchObject({ restartCount: 1, restart: { restartCount: 1 } });
      }
      // Each restart went out once, with its exit's own handling.
      const published = h.restartRequests().map((request) => request.key as string);
      expect(published.sort()).toEqual(['web-0_default_uid-1_app_', 'web-2_default_uid-1_app_']);
      // The rejection went to the dead-letter queue on each attempt: the same eventId and index.
      expect(h.exitDeadLetterMessages().map((m) => [m.eventId, m.index])).toEqual([
        ['event-1', 1],
        ['event-1', 1],
      ]);
    });

    it('throws on a bus event when no dead-letter queue is configured, so the event is retried, never dropped', async () => {
      const { exitDeadLetters: _none, ...withoutQueue } = lambdaDeps(h).deps();
      await expect(createHandler(() => withoutQueue)(busEvent({ events: [validExit] }))).rejects.toThrow('EXIT_DEAD_LETTER_QUEUE_URL is not set');
      expect(await h.dump()).toEqual([]);
    });

    it('ignores other detail types', async () => {
      expect(await handler(busEvent(validExit, 'Something Else'))).toEqual({ ignored: 1 });
      expect(logged).toContainEqual(expect.objectContaining({ level: 'warn', message: 'ignored an event that is not Container Exited' }));
      expect(await h.dump()).toEqual([]);
      expect(h.exitDeadLetterMessages()).toEqual([]);
    });
  });
});
