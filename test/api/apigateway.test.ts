import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { fromApiGatewayV2, toApiGatewayV2 } from '../../lib/api/apigateway.ts';
import { RetryableError } from '../../lib/api/backend.ts';
import { documentedRequest } from '../support/openapi.ts';
import { fakeBackend, NOW } from './fake-backend.ts';

const EXIT = { namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: NOW - 1_000 };

function gatewayEvent(overrides: Partial<APIGatewayProxyEventV2> & { method?: string; stage?: string } = {}): APIGatewayProxyEventV2 {
  const { method = 'POST', stage = '$default', ...rest } = overrides;
  const rawPath = rest.rawPath ?? '/v1/exits';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api-id',
      domainName: 'api-id.execute-api.eu-west-1.amazonaws.com',
      domainPrefix: 'api-id',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'test' },
      requestId: 'request-id',
      routeKey: '$default',
      stage,
      time: '01/May/2024:12:00:00 +0000',
      timeEpoch: NOW,
    },
    isBase64Encoded: false,
    ...rest,
  };
}

describe('fromApiGatewayV2', () => {
  it('decodes a base64 body to the same bytes', () => {
    const json = JSON.stringify({ ...EXIT, reason: 'Ünïcødé ✓' });
    const request = fromApiGatewayV2(gatewayEvent({ body: Buffer.from(json).toString('base64'), isBase64Encoded: true }));
    expect(request.body).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(request.body as Uint8Array)).toBe(json);
  });

  it('passes a plain body through as a string', () => {
    expect(fromApiGatewayV2(gatewayEvent({ body: '{"a":1}' })).body).toBe('{"a":1}');
  });

  it('leaves the body out when there is none', () => {
    expect(fromApiGatewayV2(gatewayEvent({ method: 'GET', rawPath: '/v1/containers' }))).not.toHaveProperty('body');
  });

  it('lower-cases header names and copies query parameters', () => {
    const request = fromApiGatewayV2(
      gatewayEvent({
        method: 'GET',
        rawPath: '/v1/containers',
        headers: { 'Content-Type': 'application/json', 'X-Amz-Date': '20240501T120000Z' },
        queryStringParameters: { namespace: 'default', state: 'Running' },
      }),
    );
    expect(request).toEqual({
      method: 'GET',
      path: '/v1/containers',
      headers: { 'content-type': 'application/json', 'x-amz-date': '20240501T120000Z' },
      query: { namespace: 'default', state: 'Running' },
    });
  });

  it.each([
    ['$default', '/v1/exits', '/v1/exits'],
    ['prod', '/prod/v1/exits', '/v1/exits'],
    ['prod', '/v1/exits', '/v1/exits'],
    // A stage named like the API's prefix keeps the API path.
    ['v1', '/v1/exits', '/v1/exits'],
    ['v1', '/v1/v1/exits', '/v1/exits'],
  ])('with stage %s reads rawPath %s as %s', (stage, rawPath, path) => {
    expect(fromApiGatewayV2(gatewayEvent({ stage, rawPath })).path).toBe(path);
  });
});

describe('toApiGatewayV2', () => {
  it('serialises the body as JSON with a JSON content type', () => {
    const result = toApiGatewayV2({ status: 405, headers: { allow: 'GET' }, body: { error: 'MethodNotAllowed', message: 'no' } });
    expect(result).toEqual({
      statusCode: 405,
      headers: { allow: 'GET', 'content-type': 'application/json' },
      body: '{"error":"MethodNotAllowed","message":"no"}',
      isBase64Encoded: false,
    });
  });
});

describe('API Gateway round trip', () => {
  async function roundTrip(event: APIGatewayProxyEventV2, backend = fakeBackend()) {
    const result = toApiGatewayV2(await documentedRequest(fromApiGatewayV2(event), backend));
    return { result, body: JSON.parse(result.body ?? 'null') as Record<string, unknown>, backend };
  }

  it('handles a base64-encoded exit event end to end', async () => {
    const { result, body, backend } = await roundTrip(gatewayEvent({ body: Buffer.from(JSON.stringify(EXIT)).toString('base64'), isBase64Encoded: true }));
    expect(result.statusCode).toBe(200);
    expect(result.headers?.['content-type']).toBe('application/json');
    expect(body).toMatchObject({ key: 'web-0_default__app_', decision: 'RestartNow' });
    expect(backend.calls.submitExits).toEqual([[EXIT]]);
  });

  it('counts the decoded bytes of a base64 body against the size limit', async () => {
    const oversized = Buffer.alloc(256 * 1024 + 1, ' ');
    const { result, body, backend } = await roundTrip(gatewayEvent({ body: oversized.toString('base64'), isBase64Encoded: true }));
    expect(result.statusCode).toBe(413);
    expect(body.error).toBe('PayloadTooLarge');
    expect(backend.writes()).toBe(0);
  });

  it('rejects a base64 body that is not JSON with 415', async () => {
    const { result } = await roundTrip(gatewayEvent({ body: Buffer.from('not json').toString('base64'), isBase64Encoded: true }));
    expect(result.statusCode).toBe(415);
  });

  it('carries Retry-After from a 503', async () => {
    const backend = fakeBackend();
    backend.failure = new RetryableError('throttled');
    const { result } = await roundTrip(gatewayEvent({ method: 'GET', rawPath: '/v1/containers' }), backend);
    expect(result.statusCode).toBe(503);
    expect(result.headers?.['retry-after']).toBe('1');
  });

  it('reads the query string of a listing', async () => {
    const backend = fakeBackend();
    const { result } = await roundTrip(gatewayEvent({ method: 'GET', rawPath: '/prod/v1/containers', stage: 'prod', queryStringParameters: { state: 'CrashLoopBackOff', limit: '5' } }), backend);
    expect(result.statusCode).toBe(200);
    expect(backend.calls.listContainers).toEqual([{ state: 'CrashLoopBackOff', limit: 5 }]);
  });
});
