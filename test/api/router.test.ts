import { describe, expect, it } from 'vitest';
import { containerKey, type EventRecord } from '../../lib/core/index.ts';
import { RetryableError } from '../../lib/api/backend.ts';
import { API_LIMITS, jsonMediaTypeProblem, type ApiRequest, type ApiResponse } from '../../lib/api/router.ts';
import { documentedRequest } from '../support/openapi.ts';
import type { ApiErrorBody } from '../../lib/api/protocol.ts';
import { fakeBackend, NOW } from './fake-backend.ts';

const BASE = {
  namespace: 'default',
  pod: 'web-0',
  podUid: 'uid-1',
  container: 'app',
  exitCode: 1,
  finishedAt: '2024-05-01T11:59:59.000Z',
};
const KEY = 'web-0_default_uid-1_app_';

/** A body sent exactly as written (for JSON the serialiser would not produce, such as a `__proto__` key). */
class Raw {
  constructor(readonly text: string) {}
}

function request(method: string, path: string, extra: Partial<ApiRequest> = {}): ApiRequest {
  return { method, path, query: {}, headers: {}, ...extra };
}

function post(body: unknown, headers: Record<string, string | undefined> = { 'content-type': 'application/json' }): ApiRequest {
  const text = body instanceof Raw ? body.text : typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  return request('POST', '/v1/exits', { headers, body: text });
}

function withFields(fields: Record<string, unknown>): Record<string, unknown> {
  return { ...BASE, ...fields };
}

function without(field: string): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...BASE };
  delete copy[field];
  return copy;
}

function errorBody(response: ApiResponse): ApiErrorBody {
  return response.body as ApiErrorBody;
}

function issuePaths(response: ApiResponse): string[] {
  return (errorBody(response).issues ?? []).map((issue) => issue.path).sort();
}

function isoAfterNow(ms: number): string {
  return new Date(NOW + ms).toISOString();
}

describe('handleApiRequest', () => {
  describe('POST /v1/exits', () => {
    it('hands one validated exit event to the backend and answers with its decision', async () => {
      const backend = fakeBackend();
      const response = await documentedRequest(post({ ...BASE, reason: 'Error', startedAt: NOW - 60_000, exitId: 'run-1' }), backend);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toBe('application/json');
      expect(backend.calls.submitExits).toEqual([
        [
          {
            namespace: 'default',
            pod: 'web-0',
            podUid: 'uid-1',
            container: 'app',
            exitCode: 1,
            reason: 'Error',
            startedAt: NOW - 60_000,
            finishedAt: NOW - 1_000,
            exitId: 'run-1',
          },
        ],
      ]);
      expect(response.body).toEqual({
        key: KEY,
        decision: 'RestartNow',
        restartAt: new Date(NOW).toISOString(),
        restartId: `${KEY}#${NOW}.1`,
        delayMs: 0,
        restartCount: 1,
        backoffMs: 10_000,
        state: 'Running',
        message: 'restarting container=app pod=web-0_default(uid-1) now',
      });
    });

    it('reports a scheduled restart with its ISO instant and the CrashLoopBackOff reason', async () => {
      const backend = fakeBackend();
      await documentedRequest(post(BASE), backend);
      const response = await documentedRequest(post(withFields({ finishedAt: NOW })), backend);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({
        decision: 'RestartScheduled',
        restartAt: new Date(NOW + 10_000).toISOString(),
        delayMs: 10_000,
        restartCount: 2,
        backoffMs: 20_000,
        state: 'CrashLoopBackOff',
        reason: 'CrashLoopBackOff',
      });
    });

    it('answers a batch with one result per event, in the order sent', async () => {
      const backend = fakeBackend();
      const containers = ['c', 'a', 'b', 'a'];
      const events = containers.map((container, index) => withFields({ container, finishedAt: NOW - 10_000 + index }));
      const response = await documentedRequest(post({ events }), backend);
      expect(response.status).toBe(200);
      const results = (response.body as { results: { key: string; decision: string; restartCount: number }[] }).results;
      expect(results.map((result) => result.key)).toEqual(containers.map((container) => `web-0_default_uid-1_${container}_`));
      // The second exit of `a` follows the first: the order reached the backend intact.
      expect(results.map((result) => [result.decision, result.restartCount])).toEqual([
        ['RestartNow', 1],
        ['RestartNow', 1],
        ['RestartNow', 1],
        ['RestartScheduled', 2],
      ]);
      expect(backend.calls.submitExits).toHaveLength(1);
      expect(backend.calls.submitExits[0]?.map((exit) => exit.container)).toEqual(containers);
    });

    it('returns a one-event batch as a batch', async () => {
      const response = await documentedRequest(post({ events: [BASE] }), fakeBackend());
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ results: [expect.objectContaining({ key: KEY })] });
    });

    it.each([
      ['the smallest int32', -2_147_483_648],
      ['the largest int32', 2_147_483_647],
      ['zero', 0],
    ])('accepts exit code %s (%i)', async (_name, exitCode) => {
      const backend = fakeBackend();
      const response = await documentedRequest(post(withFields({ exitCode })), backend);
      expect(response.status).toBe(200);
      expect(backend.calls.submitExits[0]?.[0]?.exitCode).toBe(exitCode);
    });

    it('accepts a batch of exactly the limit', async () => {
      const events = Array.from({ length: API_LIMITS.maxBatch }, (_, index) => withFields({ container: `c${index}` }));
      const backend = fakeBackend();
      const response = await documentedRequest(post({ events }), backend);
      expect(response.status).toBe(200);
      expect(backend.calls.submitExits[0]).toHaveLength(API_LIMITS.maxBatch);
    });

    it('accepts a body of exactly the byte limit', async () => {
      const json = JSON.stringify(BASE);
      const body = json + ' '.repeat(API_LIMITS.maxBodyBytes - json.length);
      const response = await documentedRequest(post(body), fakeBackend());
      expect(response.status).toBe(200);
    });

    it('accepts a finishedAt exactly 5 minutes ahead of the clock (skew), but not 1 ms more', async () => {
      const atLimit = await documentedRequest(post(withFields({ finishedAt: NOW + 5 * 60_000 })), fakeBackend());
      const beyond = await documentedRequest(post(withFields({ finishedAt: NOW + 5 * 60_000 + 1 })), fakeBackend());
      expect(atLimit.status).toBe(200);
      expect(beyond.status).toBe(400);
    });

    it('applies the limits it is given instead of the defaults', async () => {
      const backend = fakeBackend();
      const response = await documentedRequest(post({ events: [BASE, BASE] }), backend, { maxBatch: 1 });
      expect(response.status).toBe(400);
      expect(issuePaths(response)).toEqual(['events']);
      const small = await documentedRequest(post(BASE), backend, { maxBodyBytes: 10 });
      expect(small.status).toBe(413);
      expect(backend.writes()).toBe(0);
    });

    it.each([
      ['application/json'],
      ['application/json; charset=utf-8'],
      ['Application/JSON;charset="UTF-8"'],
      ['application/vnd.restart-scheduler+json'],
      [undefined],
    ])('accepts Content-Type %j', async (contentType) => {
      const response = await documentedRequest(post(BASE, { 'content-type': contentType }), fakeBackend());
      expect(response.status).toBe(200);
    });

    it('accepts a UTF-8 body given as bytes, with a byte-order mark', async () => {
      const bytes = new TextEncoder().encode(`\uFEFF${JSON.stringify(BASE)}`);
      const response = await documentedRequest(post(bytes), fakeBackend());
      expect(response.status).toBe(200);
    });

    it('treats null and empty optional fields as absent', async () => {
      const backend = fakeBackend();
      const response = await documentedRequest(
        post(withFields({ podUid: '', reason: null, startedAt: null, exitId: '', restartPolicy: null, restartPolicyRules: null, maxRestarts: null, backoffPolicy: null })),
        backend,
      );
      expect(response.status).toBe(200);
      expect(backend.calls.submitExits[0]?.[0]).toEqual({ namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: NOW - 1_000 });
    });
  });

  describe('POST /v1/exits with bad input', () => {
    const tooManyRules = Array.from({ length: 21 }, () => ({ action: 'Restart', exitCodes: { operator: 'In', values: [1] } }));
    const rule = (exitCodes: unknown, action: unknown = 'Restart') => ({ restartPolicyRules: [{ action, exitCodes }] });
    const batchOf = (count: number) => ({ events: Array.from({ length: count }, () => BASE) });

    it.each<[string, unknown, string[]]>([
      // Required fields
      ['no namespace', without('namespace'), ['namespace']],
      ['no pod', without('pod'), ['pod']],
      ['no container', without('container'), ['container']],
      ['no exitCode', without('exitCode'), ['exitCode']],
      ['no finishedAt', without('finishedAt'), ['finishedAt']],
      ['an empty object', {}, ['container', 'exitCode', 'finishedAt', 'namespace', 'pod']],
      // Wrong types
      ['a numeric namespace', withFields({ namespace: 7 }), ['namespace']],
      ['a null pod', withFields({ pod: null }), ['pod']],
      ['an array container', withFields({ container: ['app'] }), ['container']],
      ['a string exitCode', withFields({ exitCode: '1' }), ['exitCode']],
      ['a boolean exitCode', withFields({ exitCode: true }), ['exitCode']],
      ['a null exitCode', withFields({ exitCode: null }), ['exitCode']],
      ['an object finishedAt', withFields({ finishedAt: {} }), ['finishedAt']],
      ['a numeric reason', withFields({ reason: 137 }), ['reason']],
      ['a string maxRestarts', withFields({ maxRestarts: '3' }), ['maxRestarts']],
      // Name rules
      ['an empty namespace', withFields({ namespace: '' }), ['namespace']],
      ['a namespace starting with a dash', withFields({ namespace: '-web' }), ['namespace']],
      ['a namespace starting with a dot', withFields({ namespace: '.web' }), ['namespace']],
      ['an underscore in the pod (the key separator)', withFields({ pod: 'web_0' }), ['pod']],
      ['a slash in the container', withFields({ container: 'a/b' }), ['container']],
      ['a space in the pod', withFields({ pod: 'web 0' }), ['pod']],
      ['non-ASCII letters in the container', withFields({ container: 'wéb' }), ['container']],
      ['an emoji in the namespace', withFields({ namespace: 'ns🚀' }), ['namespace']],
      ['a 129-character pod', withFields({ pod: 'p'.repeat(129) }), ['pod']],
      ['a dot in the podUid', withFields({ podUid: 'uid.1' }), ['podUid']],
      ['a 65-character podUid', withFields({ podUid: 'u'.repeat(65) }), ['podUid']],
      ['punctuation in the containerHash', withFields({ containerHash: 'abc!' }), ['containerHash']],
      // Exit codes
      ['exit code 2147483648', withFields({ exitCode: 2_147_483_648 }), ['exitCode']],
      ['exit code -2147483649', withFields({ exitCode: -2_147_483_649 }), ['exitCode']],
      ['exit code 1.5', withFields({ exitCode: 1.5 }), ['exitCode']],
      ['exit code 1e400 (Infinity)', new Raw(JSON.stringify(BASE).replace('"exitCode":1', '"exitCode":1e400')), ['exitCode']],
      // Reason and exit id
      ['a 129-character reason', withFields({ reason: 'r'.repeat(129) }), ['reason']],
      ['a 129-character exitId', withFields({ exitId: 'x'.repeat(129) }), ['exitId']],
      ['a newline in the exitId', withFields({ exitId: 'a\nb' }), ['exitId']],
      ['non-ASCII in the exitId', withFields({ exitId: 'ünïcode' }), ['exitId']],
      // Instants
      ['finishedAt 6 minutes in the future', withFields({ finishedAt: isoAfterNow(6 * 60_000) }), ['finishedAt']],
      ['finishedAt 6 minutes in the future as epoch ms', withFields({ finishedAt: NOW + 6 * 60_000 }), ['finishedAt']],
      ['startedAt after finishedAt', withFields({ startedAt: isoAfterNow(0) }), ['startedAt']],
      ['finishedAt without an offset', withFields({ finishedAt: '2024-05-01T11:59:59' }), ['finishedAt']],
      ['finishedAt as a date only', withFields({ finishedAt: '2024-05-01' }), ['finishedAt']],
      ['finishedAt in month 13', withFields({ finishedAt: '2024-13-01T00:00:00Z' }), ['finishedAt']],
      ['finishedAt on February 30', withFields({ finishedAt: '2024-02-30T00:00:00Z' }), ['finishedAt']],
      ['finishedAt on February 29 of a common year', withFields({ finishedAt: '2023-02-29T00:00:00Z' }), ['finishedAt']],
      ['finishedAt at hour 25', withFields({ finishedAt: '2024-05-01T25:00:00Z' }), ['finishedAt']],
      ['finishedAt with an offset of +24:00', withFields({ finishedAt: '2024-05-01T11:00:00+24:00' }), ['finishedAt']],
      ['finishedAt in words', withFields({ finishedAt: 'yesterday' }), ['finishedAt']],
      ['finishedAt as a string of digits', withFields({ finishedAt: String(NOW) }), ['finishedAt']],
      ['a negative epoch', withFields({ finishedAt: -1 }), ['finishedAt']],
      ['a fractional epoch', withFields({ finishedAt: NOW - 0.5 }), ['finishedAt']],
      ['an instant before 1970', withFields({ finishedAt: '1969-12-31T23:59:59Z' }), ['finishedAt']],
      ['a malformed startedAt', withFields({ startedAt: '2024-05-01T11:00:00 UTC' }), ['startedAt']],
      // Restart policy
      ['restartPolicy in the wrong case', withFields({ restartPolicy: 'always' }), ['restartPolicy']],
      ['an unknown restartPolicy', withFields({ restartPolicy: 'Sometimes' }), ['restartPolicy']],
      ['restartPolicyRules that are not a list', withFields({ restartPolicyRules: { action: 'Restart' } }), ['restartPolicyRules']],
      ['21 restartPolicyRules', withFields({ restartPolicyRules: tooManyRules }), ['restartPolicyRules']],
      ['a rule with an unknown action', withFields(rule({ operator: 'In', values: [1] }, 'Retry')), ['restartPolicyRules.0.action']],
      ['a rule with operator "in"', withFields(rule({ operator: 'in', values: [1] })), ['restartPolicyRules.0.exitCodes.operator']],
      ['a rule with no exit codes', withFields(rule({ operator: 'In', values: [] })), ['restartPolicyRules.0.exitCodes.values']],
      ['a rule with 256 exit codes', withFields(rule({ operator: 'In', values: Array.from({ length: 256 }, (_, i) => i) })), ['restartPolicyRules.0.exitCodes.values']],
      ['a rule with a fractional exit code', withFields(rule({ operator: 'NotIn', values: [0, 1.5] })), ['restartPolicyRules.0.exitCodes.values.1']],
      ['a rule with an exit code beyond int32', withFields(rule({ operator: 'In', values: [2_147_483_648] })), ['restartPolicyRules.0.exitCodes.values.0']],
      ['a rule with a string exit code', withFields(rule({ operator: 'In', values: ['1'] })), ['restartPolicyRules.0.exitCodes.values.0']],
      ['a rule without exitCodes', withFields({ restartPolicyRules: [{ action: 'Restart' }] }), ['restartPolicyRules.0.exitCodes']],
      ['a rule with an unknown field', withFields({ restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [1] }, onExit: 1 }] }), ['restartPolicyRules.0.onExit']],
      ['a rule that is a number', withFields({ restartPolicyRules: [5] }), ['restartPolicyRules.0']],
      ['a negative maxRestarts', withFields({ maxRestarts: -1 }), ['maxRestarts']],
      ['a fractional maxRestarts', withFields({ maxRestarts: 1.5 }), ['maxRestarts']],
      ['a maxRestarts above a million', withFields({ maxRestarts: 1_000_001 }), ['maxRestarts']],
      // Back-off policy
      ['an initial back-off of "5x"', withFields({ backoffPolicy: { initialBackoff: '5x' } }), ['backoffPolicy.initialBackoff']],
      ['an initial back-off of 0', withFields({ backoffPolicy: { initialBackoff: 0 } }), ['backoffPolicy.initialBackoff']],
      ['an initial back-off of "0s"', withFields({ backoffPolicy: { initialBackoff: '0s' } }), ['backoffPolicy.initialBackoff']],
      ['a sub-millisecond back-off', withFields({ backoffPolicy: { initialBackoff: '1.5ms' } }), ['backoffPolicy.initialBackoff']],
      ['a negative max back-off', withFields({ backoffPolicy: { maxBackoff: -5 } }), ['backoffPolicy.maxBackoff']],
      ['a max back-off of 0 (not blamed on the initial back-off)', withFields({ backoffPolicy: { maxBackoff: '0' } }), ['backoffPolicy.maxBackoff']],
      ['a max back-off beyond 7 days', withFields({ backoffPolicy: { maxBackoff: '169h' } }), ['backoffPolicy.maxBackoff']],
      ['a huge max back-off in ms', withFields({ backoffPolicy: { maxBackoff: 9e15 } }), ['backoffPolicy.maxBackoff']],
      ['a fractional resetAfter', withFields({ backoffPolicy: { resetAfter: 1.5 } }), ['backoffPolicy.resetAfter']],
      ['a boolean resetAfter', withFields({ backoffPolicy: { resetAfter: true } }), ['backoffPolicy.resetAfter']],
      ['jitter above 1', withFields({ backoffPolicy: { jitter: 2 } }), ['backoffPolicy.jitter']],
      ['jitter as a string', withFields({ backoffPolicy: { jitter: '0.1' } }), ['backoffPolicy.jitter']],
      ['an unknown preset', withFields({ backoffPolicy: { preset: 'fast' } }), ['backoffPolicy.preset']],
      ['an unknown policy field', withFields({ backoffPolicy: { initial: '1s' } }), ['backoffPolicy.initial']],
      ['a policy that is a string', withFields({ backoffPolicy: 'kubelet' }), ['backoffPolicy']],
      ['several bad durations at once', withFields({ backoffPolicy: { initialBackoff: '5x', maxBackoff: 0, resetAfter: 'soon' } }), ['backoffPolicy.initialBackoff', 'backoffPolicy.maxBackoff', 'backoffPolicy.resetAfter']],
      // Unknown fields
      ['a misspelt field', withFields({ exitcode: 1 }), ['exitcode']],
      ['a __proto__ field', new Raw(JSON.stringify(BASE).replace('{', '{"__proto__":{"exitCode":5},')), ['__proto__']],
      ['a constructor field', withFields({ constructor: { prototype: {} } }), ['constructor']],
      ['a top-level prototype field', withFields({ prototype: 1 }), ['prototype']],
      // Several problems: every field is named
      [
        'many problems at once',
        { namespace: '', pod: 'a_b', container: 'app', exitCode: 1.5, finishedAt: isoAfterNow(6 * 60_000), startedAt: isoAfterNow(7 * 60_000), extra: true },
        ['exitCode', 'extra', 'finishedAt', 'namespace', 'pod', 'startedAt'],
      ],
      // Batches
      ['an empty batch', { events: [] }, ['events']],
      ['a batch of 101', batchOf(101), ['events']],
      ['a batch that is not a list', { events: BASE }, ['events']],
      ['a bad event inside a batch', { events: [BASE, BASE, BASE, withFields({ finishedAt: 'now' })] }, ['events.3.finishedAt']],
      ['bad events at several positions', { events: [without('pod'), BASE, withFields({ exitCode: 2_147_483_648 })] }, ['events.0.pod', 'events.2.exitCode']],
      ['a batch with another field', { events: [BASE], dryRun: true }, ['dryRun']],
      ['a non-object inside a batch', { events: [BASE, 'oops'] }, ['events.1']],
      // Not an object at all
      ['a JSON array', [BASE], ['']],
      ['a JSON string', new Raw('"hello"'), ['']],
      ['JSON null', null, ['']],
      ['a JSON number', 42, ['']],
      ['an empty body', new Raw(''), ['']],
      ['a body of whitespace', new Raw('  \n'), ['']],
    ])('rejects %s with 400 naming the fields, and writes nothing', async (_name, body, paths) => {
      const backend = fakeBackend();
      const response = await documentedRequest(post(body), backend);
      expect(response.status).toBe(400);
      expect(errorBody(response).error).toBe('ValidationError');
      expect(issuePaths(response)).toEqual(paths);
      for (const issue of errorBody(response).issues ?? []) expect(issue.message).toMatch(/\S/);
      expect(backend.calls.submitExits).toHaveLength(0);
    });

    it.each<[string, ApiRequest, number, string]>([
      ['a truncated JSON body', post(new Raw('{"namespace":')), 415, 'UnsupportedMediaType'],
      ['a body that is not JSON', post(new Raw('namespace=default&pod=web-0')), 415, 'UnsupportedMediaType'],
      ['JSON with a trailing comma', post(new Raw('{"namespace":"default",}')), 415, 'UnsupportedMediaType'],
      ['Content-Type text/plain', post(BASE, { 'content-type': 'text/plain' }), 415, 'UnsupportedMediaType'],
      ['a form Content-Type', post(BASE, { 'content-type': 'application/x-www-form-urlencoded' }), 415, 'UnsupportedMediaType'],
      ['an empty Content-Type', post(BASE, { 'content-type': '' }), 415, 'UnsupportedMediaType'],
      ['a Latin-1 charset', post(BASE, { 'content-type': 'application/json; charset=iso-8859-1' }), 415, 'UnsupportedMediaType'],
      ['bytes that are not UTF-8', post(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), 415, 'UnsupportedMediaType'],
      ['a body of 256 KiB + 1 byte', post(JSON.stringify(BASE).padEnd(256 * 1024 + 1, ' ')), 413, 'PayloadTooLarge'],
      ['a byte body of 256 KiB + 1 byte', post(new Uint8Array(256 * 1024 + 1).fill(0x20)), 413, 'PayloadTooLarge'],
      // 131,072 two-byte characters: within the limit in characters, over it in UTF-8 bytes.
      ['a body over the limit in UTF-8 bytes though not in characters', post(`"${'é'.repeat(128 * 1024)}"`), 413, 'PayloadTooLarge'],
      ['an oversized body that is not JSON either', post('x'.repeat(300_000), { 'content-type': 'text/plain' }), 413, 'PayloadTooLarge'],
    ])('rejects %s (%i) and writes nothing', async (_name, input, status, error) => {
      const backend = fakeBackend();
      const response = await documentedRequest(input, backend);
      expect(response.status).toBe(status);
      expect(errorBody(response).error).toBe(error);
      expect(errorBody(response).message).toMatch(/\S/);
      expect(backend.calls.submitExits).toHaveLength(0);
    });

    it("quotes the JSON parser's complaint", async () => {
      const response = await documentedRequest(post(new Raw('{"namespace": tru}')), fakeBackend());
      expect(errorBody(response).message).toMatch(/^request body is not valid JSON: .*(JSON|token)/);
    });

    it('explains the unknown-field error with the field meant', async () => {
      const response = await documentedRequest(post(withFields({ exitcode: 1 })), fakeBackend());
      expect(errorBody(response).issues).toEqual([{ path: 'exitcode', message: 'unknown field (did you mean "exitCode"?)' }]);
    });

    it('names the limit in the message for a batch of 101', async () => {
      const response = await documentedRequest(post(batchOf(101)), fakeBackend());
      expect(errorBody(response).issues).toEqual([{ path: 'events', message: 'must hold 1 to 100 exit events, got 101' }]);
    });

    it('never echoes a huge string back', async () => {
      const response = await documentedRequest(post(withFields({ reason: 'r'.repeat(100_000), ['k'.repeat(100_000)]: 1 })), fakeBackend());
      expect(response.status).toBe(400);
      expect(JSON.stringify(response.body).length).toBeLessThan(2_000);
    });

    it('survives deep nesting', async () => {
      const depth = 50_000;
      const deep = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const inField = await documentedRequest(post(new Raw(JSON.stringify(BASE).replace('"exitCode":1', `"exitCode":${deep}`))), fakeBackend());
      expect(inField.status).toBe(400);
      expect(issuePaths(inField)).toEqual(['exitCode']);
      const unbalanced = await documentedRequest(post(new Raw('{"a":'.repeat(40_000))), fakeBackend());
      expect(unbalanced.status).toBe(415);
    });

    it('caps the issues listed for an absurd number of problems, saying how many there were', async () => {
      const fields = Object.fromEntries(Array.from({ length: 1_000 }, (_, index) => [`unknown${index}`, index]));
      const response = await documentedRequest(post(withFields(fields)), fakeBackend());
      expect(response.status).toBe(400);
      expect(errorBody(response).issues).toHaveLength(200);
      expect(errorBody(response).message).toContain('showing 200 of 1000 issues');
    });

    it('rejects query parameters on the exit route', async () => {
      const backend = fakeBackend();
      const response = await documentedRequest({ ...post(BASE), query: { dryRun: 'true' } }, backend);
      expect(response.status).toBe(400);
      expect(issuePaths(response)).toEqual(['dryRun']);
      expect(backend.writes()).toBe(0);
    });
  });

  describe('GET /v1/containers', () => {
    it('lists container views and passes the filter through', async () => {
      const backend = fakeBackend();
      await documentedRequest(post(BASE), backend);
      backend.nextPageCursor = 'next-page';
      const response = await documentedRequest(
        request('GET', '/v1/containers', { query: { namespace: 'default', state: 'Running', limit: '50', cursor: 'abc' } }),
        backend,
      );
      expect(response.status).toBe(200);
      expect(backend.calls.listContainers).toEqual([{ namespace: 'default', state: 'Running', limit: 50, cursor: 'abc' }]);
      expect(response.body).toEqual({
        items: [expect.objectContaining({ key: KEY, state: 'Running', restartCount: 1, backoffMs: 10_000, nextRestartAt: new Date(NOW).toISOString() })],
        cursor: 'next-page',
      });
    });

    it('passes an empty filter and omits the cursor when there is no next page', async () => {
      const backend = fakeBackend();
      const response = await documentedRequest(request('GET', '/v1/containers/'), backend);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ items: [] });
      expect(backend.calls.listContainers).toEqual([{}]);
    });

    it.each<[string, Record<string, string>, string[]]>([
      ['an unknown state', { state: 'Pending' }, ['state']],
      ['a state in the wrong case', { state: 'running' }, ['state']],
      ['a bad namespace', { namespace: 'a_b' }, ['namespace']],
      ['limit 0', { limit: '0' }, ['limit']],
      ['limit 1001', { limit: '1001' }, ['limit']],
      ['a fractional limit', { limit: '1.5' }, ['limit']],
      ['a word for a limit', { limit: 'ten' }, ['limit']],
      ['an empty cursor', { cursor: '' }, ['cursor']],
      ['an unknown parameter', { namespce: 'default' }, ['namespce']],
      ['a __proto__ parameter', JSON.parse('{"__proto__":"x"}') as Record<string, string>, ['__proto__']],
      ['several at once', { state: 'x', limit: '-1', namespace: '' }, ['limit', 'namespace', 'state']],
    ])('rejects %s with 400', async (_name, query, paths) => {
      const backend = fakeBackend();
      const response = await documentedRequest(request('GET', '/v1/containers', { query }), backend);
      expect(response.status).toBe(400);
      expect(issuePaths(response)).toEqual(paths);
      expect(backend.calls.listContainers).toHaveLength(0);
    });
  });

  describe('GET /v1/containers/{key}', () => {
    it('returns the container view', async () => {
      const backend = fakeBackend();
      await documentedRequest(post(withFields({ reason: 'OOMKilled', exitCode: 137 })), backend);
      const response = await documentedRequest(request('GET', `/v1/containers/${KEY}`), backend);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        key: KEY,
        namespace: 'default',
        pod: 'web-0',
        podUid: 'uid-1',
        container: 'app',
        state: 'Running',
        restartCount: 1,
        lastExit: { exitCode: 137, reason: 'OOMKilled', finishedAt: '2024-05-01T11:59:59.000Z' },
        backoffMs: 10_000,
        nextRestartAt: new Date(NOW).toISOString(),
        message: 'restarting container=app pod=web-0_default(uid-1) now',
        createdAt: new Date(NOW).toISOString(),
        updatedAt: new Date(NOW).toISOString(),
      });
    });

    it('URL-decodes the key', async () => {
      const backend = fakeBackend();
      await documentedRequest(post(BASE), backend);
      const response = await documentedRequest(request('GET', `/v1/containers/${encodeURIComponent(KEY).replaceAll('_', '%5F')}`), backend);
      expect(response.status).toBe(200);
      expect(backend.calls.getContainer).toEqual([KEY]);
    });

    it('answers 404 for a key it does not know', async () => {
      const response = await documentedRequest(request('GET', '/v1/containers/web-1_default__app_'), fakeBackend());
      expect(response.status).toBe(404);
      expect(errorBody(response)).toEqual({ error: 'NotFound', message: 'no container with key web-1_default__app_' });
    });

    it.each([
      ['too few parts', 'web-0_default_app'],
      ['too many parts', 'web-0_default_uid_app_hash_x'],
      ['an empty pod', '_default_uid_app_'],
      ['an empty container', 'web-0_default_uid__'],
      ['a dot in the podUid', 'web-0_default_uid.1_app_'],
      ['a bad character', 'web-0_default_uid_a%24p_'],
      ['an encoded slash', 'web-0_default_uid_a%2Fp_'],
      ['a path traversal', '..%2F..%2Fetc_passwd___'],
      ['malformed percent-encoding', 'web-0_default_uid_%E0%A4%A_'],
      ['a 200-character pod', `${'p'.repeat(200)}_default__app_`],
    ])('rejects a key with %s (400), reading nothing', async (_name, key) => {
      const backend = fakeBackend();
      const response = await documentedRequest(request('GET', `/v1/containers/${key}`), backend);
      expect(response.status).toBe(400);
      expect(issuePaths(response)).toEqual(['key']);
      expect(backend.calls.getContainer).toHaveLength(0);
    });
  });

  describe('DELETE /v1/containers/{key}', () => {
    it('forgets the entry, then answers 404 for it', async () => {
      const backend = fakeBackend();
      await documentedRequest(post(BASE), backend);
      const first = await documentedRequest(request('DELETE', `/v1/containers/${KEY}`), backend);
      expect(first).toEqual({ status: 200, headers: { 'content-type': 'application/json' }, body: { key: KEY, reset: true } });
      const second = await documentedRequest(request('DELETE', `/v1/containers/${KEY}`), backend);
      expect(second.status).toBe(404);
      expect(backend.calls.resetContainer).toEqual([KEY, KEY]);
    });

    it('rejects a bad key without resetting anything', async () => {
      const backend = fakeBackend();
      const response = await documentedRequest(request('DELETE', '/v1/containers/not-a-key'), backend);
      expect(response.status).toBe(400);
      expect(backend.calls.resetContainer).toHaveLength(0);
    });

    it.each(['GET', 'DELETE'])('refuses to %s a restart budget item through the container routes', async (method) => {
      const backend = fakeBackend();
      const response = await documentedRequest(request(method, `/v1/containers/${encodeURIComponent('budget#batch#0')}`), backend);
      expect(response.status).toBe(400);
      expect(backend.calls.getContainer).toHaveLength(0);
      expect(backend.calls.resetContainer).toHaveLength(0);
    });
  });

  describe('GET /v1/events', () => {
    const record: EventRecord = {
      time: new Date(NOW).toISOString(),
      type: 'Exited',
      key: KEY,
      namespace: 'default',
      pod: 'web-0',
      podUid: 'uid-1',
      container: 'app',
      exitCode: 1,
      message: 'exited',
    };

    it('lists event records with the parsed query', async () => {
      const backend = fakeBackend({ withEvents: true });
      backend.events = [record];
      const response = await documentedRequest(request('GET', '/v1/events', { query: { type: 'Exited', key: KEY, since: '1h', limit: '10' } }), backend);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({ items: [record] });
      expect(backend.calls.listEvents).toEqual([{ type: 'Exited', key: KEY, since: NOW - 3_600_000, limit: 10 }]);
    });

    it('defaults the limit to 100', async () => {
      const backend = fakeBackend({ withEvents: true });
      await documentedRequest(request('GET', '/v1/events'), backend);
      expect(backend.calls.listEvents).toEqual([{ limit: 100 }]);
    });

    it.each([
      ['an ISO instant', '2024-05-01T10:00:00+02:00', Date.parse('2024-05-01T08:00:00Z')],
      ['epoch milliseconds', '1714557600000', 1_714_557_600_000],
      ['a compound duration', '1m30s', NOW - 90_000],
      ['a duration longer than the epoch', '1000000h', 0],
    ])('reads since as %s', async (_name, since, expected) => {
      const backend = fakeBackend({ withEvents: true });
      const response = await documentedRequest(request('GET', '/v1/events', { query: { since } }), backend);
      expect(response.status).toBe(200);
      expect(backend.calls.listEvents[0]?.since).toBe(expected);
    });

    it.each<[string, Record<string, string>, string[]]>([
      ['an unknown type', { type: 'Crashed' }, ['type']],
      ['a bad key', { key: 'nope' }, ['key']],
      ['a bad since', { since: 'last tuesday' }, ['since']],
      ['a negative since', { since: '-1h' }, ['since']],
      ['limit 0', { limit: '0' }, ['limit']],
      ['an unknown parameter', { until: '1h' }, ['until']],
    ])('rejects %s with 400', async (_name, query, paths) => {
      const backend = fakeBackend({ withEvents: true });
      const response = await documentedRequest(request('GET', '/v1/events', { query }), backend);
      expect(response.status).toBe(400);
      expect(issuePaths(response)).toEqual(paths);
      expect(backend.calls.listEvents).toHaveLength(0);
    });

    it('answers 404 pointing at CloudWatch Logs when the backend keeps no event log', async () => {
      const response = await documentedRequest(request('GET', '/v1/events'), fakeBackend());
      expect(response.status).toBe(404);
      expect(errorBody(response)).toEqual({ error: 'NotFound', message: expect.stringContaining('CloudWatch Logs') });
    });
  });

  describe('routing', () => {
    it.each([
      ['/'],
      ['/v1'],
      ['/v1/nothing'],
      ['/v2/exits'],
      ['/v1/containers/a/b'],
      ['/v1//containers'],
      ['/v1/exits/extra'],
      ['/V1/EXITS'],
    ])('answers 404 for %s', async (path) => {
      const backend = fakeBackend();
      const response = await documentedRequest(request('POST', path, { body: JSON.stringify(BASE) }), backend);
      expect(response.status).toBe(404);
      expect(errorBody(response).error).toBe('NotFound');
      expect(backend.writes()).toBe(0);
    });

    it.each([
      ['GET', '/v1/exits', 'POST'],
      ['PUT', '/v1/exits', 'POST'],
      ['DELETE', '/v1/containers', 'GET'],
      ['PUT', `/v1/containers/${KEY}`, 'GET, DELETE'],
      ['POST', `/v1/containers/${KEY}`, 'GET, DELETE'],
      ['POST', '/v1/events', 'GET'],
      ['__proto__', '/v1/exits', 'POST'],
      ['CONSTRUCTOR', '/v1/containers', 'GET'],
    ])('answers 405 for %s %s with Allow: %s', async (method, path, allow) => {
      const backend = fakeBackend();
      const response = await documentedRequest(request(method, path, { body: JSON.stringify(BASE) }), backend);
      expect(response.status).toBe(405);
      expect(response.headers.allow).toBe(allow);
      expect(errorBody(response).error).toBe('MethodNotAllowed');
      expect(backend.writes()).toBe(0);
    });

    it('matches methods case-insensitively', async () => {
      const response = await documentedRequest({ ...post(BASE), method: 'post' }, fakeBackend());
      expect(response.status).toBe(200);
    });
  });

  describe('backend failures', () => {
    it.each<[string, ApiRequest]>([
      ['POST /v1/exits', post(BASE)],
      ['GET /v1/containers', request('GET', '/v1/containers')],
      ['GET /v1/containers/{key}', request('GET', `/v1/containers/${KEY}`)],
      ['DELETE /v1/containers/{key}', request('DELETE', `/v1/containers/${KEY}`)],
      ['GET /v1/events', request('GET', '/v1/events')],
    ])('turns a RetryableError in %s into 503 with Retry-After: 1', async (_name, input) => {
      const backend = fakeBackend({ withEvents: true });
      backend.failure = new RetryableError('DynamoDB throttled: ProvisionedThroughputExceededException');
      const response = await documentedRequest(input, backend);
      expect(response.status).toBe(503);
      expect(response.headers['retry-after']).toBe('1');
      expect(errorBody(response).error).toBe('ServiceUnavailable');
      expect(JSON.stringify(response.body)).not.toContain('DynamoDB');
    });

    it('turns any other error into a bare 500 and reports it to the backend', async () => {
      const backend = fakeBackend();
      const failure = new Error('secret table arn:aws:dynamodb:eu-west-1:123456789012:table/x');
      backend.failure = failure;
      const response = await documentedRequest(post(BASE), backend);
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ error: 'InternalError', message: 'internal error' });
      expect(backend.calls.reportError).toEqual([failure]);
    });

    it('answers 500 when the backend returns a decision count that does not match', async () => {
      const backend = fakeBackend();
      backend.submitExits = async () => [];
      const response = await documentedRequest(post(BASE), backend);
      expect(response.status).toBe(500);
    });

    it('still answers 500 when reporting the error fails too', async () => {
      const backend = fakeBackend();
      backend.failure = new Error('boom');
      backend.reportError = () => {
        throw new Error('logger down');
      };
      const response = await documentedRequest(post(BASE), backend);
      expect(response.status).toBe(500);
    });
  });
});

describe('jsonMediaTypeProblem', () => {
  it.each([['application/json'], ['application/json;charset=utf8'], ['application/problem+json'], ['APPLICATION/JSON ; Charset=UTF-8']])(
    'accepts %j',
    (contentType) => {
      expect(jsonMediaTypeProblem(contentType)).toBeUndefined();
    },
  );

  it.each([['text/json'], ['application/jsonx'], ['application/+json'], ['multipart/form-data'], ['application/json; charset=utf-16']])(
    'rejects %j',
    (contentType) => {
      expect(jsonMediaTypeProblem(contentType)).toMatch(/not supported/);
    },
  );
});

describe('containerKey round trip through the route', () => {
  it('reaches a container without podUid or containerHash', async () => {
    const backend = fakeBackend();
    await documentedRequest(post({ namespace: 'ns', pod: 'p', container: 'c', exitCode: 0, finishedAt: NOW }), backend);
    const key = containerKey({ namespace: 'ns', pod: 'p', container: 'c' });
    const response = await documentedRequest(request('GET', `/v1/containers/${key}`), backend);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ key, state: 'Running' });
  });
});
