/**
 * "No input may produce a 5xx, and a rejected request writes nothing":
 * checked over generated requests rather than only the hand-written table.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ApiRequest } from '../../lib/api/router.ts';
import { documentedRequest } from '../support/openapi.ts';
import { formatPath } from '../../lib/api/exits.ts';
import type { ApiErrorBody } from '../../lib/api/protocol.ts';
import { fakeBackend, NOW } from './fake-backend.ts';

const REQUIRED = ['namespace', 'pod', 'container', 'exitCode', 'finishedAt'];
const NAME = /^[A-Za-z0-9][A-Za-z0-9.-]{0,127}$/;

function post(body: string | Uint8Array, contentType = 'application/json'): ApiRequest {
  return { method: 'POST', path: '/v1/exits', query: {}, headers: { 'content-type': contentType }, body };
}

const anything = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constantFrom(undefined, null, '', -0, 1e400, 'NaN', 2_147_483_648, -1, 1.5, '2024-02-30T00:00:00Z'));

const validExit = fc.record(
  {
    namespace: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/),
    pod: fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/),
    podUid: fc.uuid(),
    container: fc.constantFrom('app', 'sidecar', 'a.b-c'),
    exitCode: fc.integer({ min: -2_147_483_648, max: 2_147_483_647 }),
    reason: fc.string({ maxLength: 128 }),
    startedAt: fc.integer({ min: 0, max: NOW - 600_000 }),
    finishedAt: fc.oneof(
      fc.integer({ min: NOW - 600_000, max: NOW + 5 * 60_000 }),
      fc.date({ min: new Date(NOW - 600_000), max: new Date(NOW + 5 * 60_000), noInvalidDate: true }).map((date) => date.toISOString()),
    ),
    restartPolicy: fc.constantFrom('Always', 'OnFailure', 'Never'),
    restartPolicyRules: fc.array(
      fc.record({
        action: fc.constantFrom('Restart', 'DoNotRestart'),
        exitCodes: fc.record({ operator: fc.constantFrom('In', 'NotIn'), values: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 5 }) }),
      }),
      { maxLength: 3 },
    ),
    maxRestarts: fc.nat(10),
    exitId: fc.stringMatching(/^[ -~]{1,20}$/),
    backoffPolicy: fc.record(
      {
        preset: fc.constantFrom('kubelet', 'reduced'),
        initialBackoff: fc.constantFrom('1s', '10s', 500, '1m30s'),
        maxBackoff: fc.constantFrom('1m', '5m', 60_000, 2),
        resetAfter: fc.constantFrom('10m', 1),
        jitter: fc.double({ min: 0, max: 1, noNaN: true }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: ['namespace', 'pod', 'container', 'exitCode', 'finishedAt'] },
);

const FIELDS = ['namespace', 'pod', 'podUid', 'container', 'exitCode', 'reason', 'startedAt', 'finishedAt', 'restartPolicy', 'restartPolicyRules', 'maxRestarts', 'exitId', 'backoffPolicy'];
const EXTRA_KEYS = fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'exitcode', 'a.b'));

/** A valid exit event, left alone a third of the time, otherwise with a few fields replaced, dropped or added. */
const nearlyValidExit = fc
  .tuple(
    validExit,
    fc.oneof(
      fc.constant([] as [string, unknown][]),
      fc.array(fc.tuple(fc.constantFrom(...FIELDS), anything), { minLength: 1, maxLength: 3 }),
      fc.array(fc.tuple(EXTRA_KEYS, anything), { minLength: 1, maxLength: 2 }),
    ),
  )
  .map(([event, changes]) => {
    const changed: Record<string, unknown> = { ...event };
    for (const [field, value] of changes) Object.defineProperty(changed, field, { value, enumerable: true, configurable: true, writable: true });
    return changed;
  });

describe('handleApiRequest over generated input', () => {
  it('answers any JSON value with 200 or 400, writing only on 200', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue(), async (value) => {
        const backend = fakeBackend();
        const response = await documentedRequest(post(JSON.stringify(value) ?? 'null'), backend);
        expect([200, 400]).toContain(response.status);
        expect(backend.calls.submitExits).toHaveLength(response.status === 200 ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });

  it('answers any string or byte body without a 5xx, writing only on 200', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array()), fc.constantFrom('application/json', 'text/plain'), async (body, contentType) => {
        const backend = fakeBackend();
        const response = await documentedRequest(post(body, contentType), backend);
        expect([200, 400, 413, 415]).toContain(response.status);
        expect(backend.calls.submitExits).toHaveLength(response.status === 200 ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts only valid exit events, and names only fields that are present or required', async () => {
    await fc.assert(
      fc.asyncProperty(nearlyValidExit, async (event) => {
        const backend = fakeBackend();
        const text = JSON.stringify(event);
        const response = await documentedRequest(post(text), backend);
        if (response.status === 200) {
          const [submitted] = backend.calls.submitExits[0] ?? [];
          expect(submitted).toBeDefined();
          expect(submitted!.namespace).toMatch(NAME);
          expect(submitted!.pod).toMatch(NAME);
          expect(submitted!.container).toMatch(NAME);
          expect(Number.isInteger(submitted!.exitCode)).toBe(true);
          expect(submitted!.finishedAt).toBeLessThanOrEqual(NOW + 5 * 60_000);
          if (submitted!.startedAt !== undefined) expect(submitted!.startedAt).toBeLessThanOrEqual(submitted!.finishedAt);
          expect(Object.values(submitted!)).not.toContain(undefined);
        } else {
          expect(response.status).toBe(400);
          expect(backend.calls.submitExits).toHaveLength(0);
          const sent = Object.keys(JSON.parse(text) as object);
          for (const issue of (response.body as ApiErrorBody).issues ?? []) {
            // A path starts with the field it is about (unknown field names may themselves hold dots).
            const named = [...sent, ...REQUIRED].map((field) => formatPath([field])).some((field) => issue.path === field || issue.path.startsWith(`${field}.`));
            expect(named, `${issue.path}: ${issue.message}`).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('answers any method, path and query without a 5xx', async () => {
    const segment = fc.oneof(fc.constantFrom('v1', 'exits', 'containers', 'events', 'web-0_default__app_', '%', '%2F', '..', ''), fc.string({ maxLength: 12 }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT', 'PATCH', 'HEAD', 'OPTIONS', 'toString', '__proto__'),
        fc.array(segment, { maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
        fc.dictionary(fc.oneof(fc.constantFrom('namespace', 'state', 'limit', 'cursor', 'type', 'key', 'since', '__proto__'), fc.string({ maxLength: 8 })), fc.string({ maxLength: 20 }), { maxKeys: 3 }),
        async (method, path, query) => {
          const backend = fakeBackend({ withEvents: true });
          const response = await documentedRequest({ method, path, query, headers: {} }, backend);
          expect(response.status).toBeLessThan(500);
          expect(response.headers['content-type']).toBe('application/json');
        },
      ),
      { numRuns: 500 },
    );
  });
});
