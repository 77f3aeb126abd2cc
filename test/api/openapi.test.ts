/**
 * The OpenAPI 3.1 document: generated from the validation schemas, committed
 * as docs/openapi.json, valid, served by the router, and naming every route.
 */
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_EVENT_FIELDS } from '../../lib/api/exits.ts';
import { openApiDocument, renderOpenApiDocument } from '../../lib/api/openapi.ts';
import { API_ROUTES } from '../../lib/infra/ingress.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { assertDocumentedResponse, documentedFetch, documentedRequest, OPENAPI_DOCUMENT } from '../support/openapi.ts';
import { fakeBackend } from './fake-backend.ts';

const COMMITTED = new URL('../../docs/openapi.json', import.meta.url);
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

describe('OpenAPI document', () => {
  it('is what `npm run openapi` generates from the schemas (run it after changing them)', () => {
    expect(readFileSync(COMMITTED, 'utf8')).toBe(renderOpenApiDocument());
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const result = await new Validator().validate(JSON.parse(readFileSync(COMMITTED, 'utf8')));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(OPENAPI_DOCUMENT).toMatchObject({ openapi: '3.1.0' });
  });

  it('describes every exit event field the validation knows, with the fields it requires', () => {
    const exitEvent = (openApiDocument({ version: '0' }) as { components: { schemas: Record<string, { properties: object; required: string[] }> } }).components.schemas['ExitEvent']!;
    expect(Object.keys(exitEvent.properties)).toEqual(EXIT_EVENT_FIELDS);
    expect(exitEvent.required).toEqual(['namespace', 'pod', 'container', 'exitCode', 'finishedAt']);
  });

  it('documents every route API Gateway serves', () => {
    for (const { method, path } of API_ROUTES) expect(OPENAPI_DOCUMENT.paths[path]?.[method.toLowerCase()], `${method} ${path}`).toBeDefined();
  });

  it('is served by the router at GET /v1/openapi.json, exactly as committed', async () => {
    const response = await documentedRequest({ method: 'GET', path: '/v1/openapi.json', query: {}, headers: {} }, fakeBackend());
    expect(response.status).toBe(200);
    expect(response.body).toEqual(OPENAPI_DOCUMENT);
  });

  it('refuses a response that does not match it', () => {
    expect(() => assertDocumentedResponse('GET', '/v1/containers', 200, 'application/json', { items: [{ key: 'k' }] })).toThrow(/does not match/);
    expect(() => assertDocumentedResponse('GET', '/v1/containers', 418, 'application/json', {})).toThrow(/not documented/);
    expect(() => assertDocumentedResponse('GET', '/v1/nothing', 200, 'application/json', {})).toThrow(/expected 404/);
  });

  describe('in the local runtime', () => {
    let runtime: LocalRuntime;
    beforeAll(async () => {
      runtime = await startLocalRuntime({ port: 0, inMemory: true, log: { warn: () => undefined, error: () => undefined } });
    });
    afterAll(() => runtime.close());

    it.each(Object.entries(OPENAPI_DOCUMENT.paths).flatMap(([path, item]) => Object.keys(item).filter((key) => HTTP_METHODS.includes(key)).map((method) => [method.toUpperCase(), path] as const)))(
      'serves %s %s as documented',
      async (method, template) => {
        const path = template.replace('{key}', 'web-0_default__app_').replace('{asset}', 'main.css');
        const abort = new AbortController();
        const init: RequestInit = { method, signal: abort.signal, headers: { 'content-type': 'application/json' } };
        if (method === 'POST') init.body = JSON.stringify({ namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: Date.now() });
        const response = await documentedFetch(`${runtime.url}${path}`, init);
        expect(response.status).toBeLessThan(405);
        abort.abort();
      },
    );
  });
});
