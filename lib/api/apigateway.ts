/**
 * API Gateway HTTP API (payload format 2.0) ⇄ the transport-neutral request
 * and response of the router.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { ApiRequest, ApiResponse } from './protocol.ts';

export function fromApiGatewayV2(event: APIGatewayProxyEventV2): ApiRequest {
  const headers: Record<string, string | undefined> = {};
  // Payload 2.0 already lower-cases names and joins repeated headers with
  // commas; lower-casing again keeps the contract when a test or proxy does not.
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const query: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined) query[name] = value;
  }
  return {
    method: event.requestContext.http.method,
    path: stripStage(event.rawPath, event.requestContext.stage),
    query,
    headers,
    ...(event.body !== undefined ? { body: event.isBase64Encoded ? new Uint8Array(Buffer.from(event.body, 'base64')) : event.body } : {}),
  };
}

/**
 * Through the execute-api endpoint of a named stage, `rawPath` starts with
 * `/{stage}`; through the `$default` stage or a custom domain it does not. The
 * prefix is dropped only when an API path (`/v1/...`) remains, so a stage
 * that happens to be called `v1` cannot eat the API's own prefix.
 */
function stripStage(rawPath: string, stage: string | undefined): string {
  if (!stage || stage === '$default') return rawPath;
  const prefix = `/${stage}`;
  if (!rawPath.startsWith(`${prefix}/`)) return rawPath;
  const rest = rawPath.slice(prefix.length);
  return rest === '/v1' || rest.startsWith('/v1/') ? rest : rawPath;
}

export function toApiGatewayV2(response: ApiResponse): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: response.status,
    headers: { ...response.headers, 'content-type': 'application/json' },
    body: JSON.stringify(response.body),
    isBase64Encoded: false,
  };
}
