/**
 * The HTTP API (DESIGN §4), independent of transport: the Lambda behind API
 * Gateway and the local runtime's node:http server both hand requests to
 * `handleApiRequest` and write back what it returns.
 *
 * Rejections happen before the backend is called, so a bad request never
 * writes anything; only a backend failure can produce a 5xx.
 */
// The committed document (`npm run openapi`), not the generator: no handler builds JSON Schema at run time.
import openApiDocument from '../../docs/openapi.json' with { type: 'json' };
import { containerKeyProblem, formatPath, parseExitPayload } from './exits.ts';
import { InvalidRequestError, RetryableError, type ApiBackend } from './backend.ts';
import {
  API_LIMITS,
  errorResponse,
  jsonResponse,
  validationError,
  type ApiLimits,
  type ApiRequest,
  type ApiResponse,
} from './protocol.ts';
import { parseContainerFilter, parseEventQuery } from './queries.ts';
import { toContainerView, toDecisionView } from './views.ts';

export { API_LIMITS, type ApiLimits, type ApiRequest, type ApiResponse } from './protocol.ts';

type Handler = (request: ApiRequest, backend: ApiBackend, limits: ApiLimits, params: readonly string[]) => Promise<ApiResponse>;

interface Route {
  /** Path segments after the leading '/'; `null` matches any one segment and passes it as a parameter. */
  readonly segments: readonly (string | null)[];
  readonly methods: Readonly<Record<string, Handler>>;
}

const ROUTES: readonly Route[] = [
  { segments: ['v1', 'exits'], methods: { POST: postExits } },
  { segments: ['v1', 'containers'], methods: { GET: listContainers } },
  { segments: ['v1', 'containers', null], methods: { GET: getContainer, DELETE: resetContainer } },
  { segments: ['v1', 'events'], methods: { GET: listEvents } },
  { segments: ['v1', 'openapi.json'], methods: { GET: getOpenApiDocument } },
];

export async function handleApiRequest(request: ApiRequest, backend: ApiBackend, limits: Partial<ApiLimits> = {}): Promise<ApiResponse> {
  const resolved: ApiLimits = { ...API_LIMITS, ...limits };
  const method = typeof request.method === 'string' ? request.method.toUpperCase() : '';
  try {
    const segments = pathSegments(request.path);
    const matched = ROUTES.map((route) => ({ route, params: match(route, segments) })).find((candidate) => candidate.params);
    if (!matched?.params) return errorResponse(404, 'NotFound', `no such resource: ${truncate(request.path, 200)}`);
    const handler = Object.hasOwn(matched.route.methods, method) ? matched.route.methods[method] : undefined;
    if (!handler) {
      const allow = Object.keys(matched.route.methods).join(', ');
      return errorResponse(405, 'MethodNotAllowed', `${truncate(method, 20)} is not allowed here; use ${allow}`, { headers: { allow } });
    }
    return await handler(request, backend, resolved, matched.params);
  } catch (error) {
    if (error instanceof InvalidRequestError) return validationError(error.issues);
    if (error instanceof RetryableError) {
      return errorResponse(503, 'ServiceUnavailable', 'the service is temporarily unavailable; retry shortly', {
        headers: { 'retry-after': '1' },
      });
    }
    try {
      backend.reportError?.(error, { method, path: request.path });
    } catch {
      // Reporting is best effort: the client still gets its 500.
    }
    return errorResponse(500, 'InternalError', 'internal error');
  }
}

function pathSegments(path: string): string[] {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return trimmed.split('/').slice(1);
}

function match(route: Route, segments: readonly string[]): string[] | undefined {
  if (segments.length !== route.segments.length) return undefined;
  const params: string[] = [];
  for (const [index, expected] of route.segments.entries()) {
    const actual = segments[index] ?? '';
    if (expected === null) {
      if (actual === '') return undefined;
      params.push(actual);
    } else if (actual !== expected) {
      return undefined;
    }
  }
  return params;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

/** Routes that take no query parameters still reject them, so a misplaced filter is not ignored. */
function noQueryParameters(request: ApiRequest): ApiResponse | undefined {
  const unknown = Object.keys(request.query).filter((name) => request.query[name] !== undefined);
  if (unknown.length === 0) return undefined;
  return validationError(unknown.map((name) => ({ path: formatPath([name]), message: 'unknown query parameter; this route takes none' })));
}

// ---------------------------------------------------------------------------
// POST /v1/exits

async function postExits(request: ApiRequest, backend: ApiBackend, limits: ApiLimits): Promise<ApiResponse> {
  const rejected = noQueryParameters(request);
  if (rejected) return rejected;
  const body = readJsonBody(request, limits);
  if (!body.ok) return body.response;
  const payload = parseExitPayload(body.json, backend.now(), limits);
  if (!payload.ok) return validationError(payload.issues);
  const decisions = await backend.submitExits(payload.events);
  if (decisions.length !== payload.events.length) {
    throw new Error(`submitExits returned ${decisions.length} decisions for ${payload.events.length} exit events`);
  }
  const views = decisions.map(toDecisionView);
  return jsonResponse(200, payload.batch ? { results: views } : views[0]);
}

type BodyResult = { readonly ok: true; readonly json: unknown } | { readonly ok: false; readonly response: ApiResponse };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Size first (before any parsing), then media type, then encoding and syntax. */
function readJsonBody(request: ApiRequest, limits: ApiLimits): BodyResult {
  const { body } = request;
  const bytes = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.byteLength;
  if (bytes > limits.maxBodyBytes) {
    return {
      ok: false,
      response: errorResponse(413, 'PayloadTooLarge', `request body is ${bytes} bytes; the limit is ${limits.maxBodyBytes} bytes`),
    };
  }
  const contentType = Object.hasOwn(request.headers, 'content-type') ? request.headers['content-type'] : undefined;
  const mediaProblem = contentType === undefined ? undefined : jsonMediaTypeProblem(contentType);
  if (mediaProblem) return { ok: false, response: errorResponse(415, 'UnsupportedMediaType', mediaProblem) };
  let text: string;
  if (body === undefined || typeof body === 'string') {
    text = body ?? '';
  } else {
    try {
      text = utf8.decode(body);
    } catch {
      return { ok: false, response: errorResponse(415, 'UnsupportedMediaType', 'request body is not valid UTF-8') };
    }
  }
  if (text.trim() === '') {
    return { ok: false, response: validationError([{ path: '', message: 'request body is empty; expected an exit event or { "events": [...] }' }]) };
  }
  try {
    // A leading byte-order mark is legal in a UTF-8 JSON text; JSON.parse would trip on it.
    return { ok: true, json: JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text) };
  } catch (error) {
    const complaint = error instanceof Error ? error.message : String(error);
    return { ok: false, response: errorResponse(415, 'UnsupportedMediaType', `request body is not valid JSON: ${truncate(complaint, 200)}`) };
  }
}

/**
 * Accepts `application/json` and `application/<anything>+json`, with
 * parameters (a charset must be UTF-8). Returns what is wrong otherwise.
 */
export function jsonMediaTypeProblem(contentType: string): string | undefined {
  const [mediaType = '', ...parameters] = contentType.split(';');
  const type = mediaType.trim().toLowerCase();
  if (type !== 'application/json' && !/^application\/[a-z0-9!#$&^_.+-]+\+json$/.test(type)) {
    return `Content-Type ${JSON.stringify(truncate(contentType, 100))} is not supported; send application/json`;
  }
  for (const parameter of parameters) {
    const [name = '', value = ''] = parameter.split('=');
    if (name.trim().toLowerCase() !== 'charset') continue;
    const charset = value.trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (charset !== 'utf-8' && charset !== 'utf8') return `charset ${JSON.stringify(truncate(charset, 40))} is not supported; send UTF-8`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Containers

async function listContainers(request: ApiRequest, backend: ApiBackend): Promise<ApiResponse> {
  const filter = parseContainerFilter(request.query);
  if (!filter.ok) return validationError(filter.issues);
  const page = await backend.listContainers(filter.value);
  const now = backend.now();
  return jsonResponse(200, {
    items: page.items.map((state) => toContainerView(state, now)),
    ...(page.cursor !== undefined ? { cursor: page.cursor } : {}),
  });
}

/** The `{key}` segment, URL-decoded and checked against the container key shape. */
function keyParameter(request: ApiRequest, encoded: string): { readonly ok: true; readonly key: string } | { readonly ok: false; readonly response: ApiResponse } {
  const rejected = noQueryParameters(request);
  if (rejected) return { ok: false, response: rejected };
  let key: string;
  try {
    key = decodeURIComponent(encoded);
  } catch {
    return { ok: false, response: validationError([{ path: 'key', message: 'is not valid percent-encoding' }]) };
  }
  const problem = containerKeyProblem(key);
  if (problem) return { ok: false, response: validationError([{ path: 'key', message: problem }]) };
  return { ok: true, key };
}

async function getContainer(request: ApiRequest, backend: ApiBackend, _limits: ApiLimits, [encoded = '']: readonly string[]): Promise<ApiResponse> {
  const param = keyParameter(request, encoded);
  if (!param.ok) return param.response;
  const state = await backend.getContainer(param.key);
  if (!state) return errorResponse(404, 'NotFound', `no container with key ${param.key}`);
  return jsonResponse(200, toContainerView(state, backend.now()));
}

async function resetContainer(request: ApiRequest, backend: ApiBackend, _limits: ApiLimits, [encoded = '']: readonly string[]): Promise<ApiResponse> {
  const param = keyParameter(request, encoded);
  if (!param.ok) return param.response;
  const reset = await backend.resetContainer(param.key);
  if (!reset) return errorResponse(404, 'NotFound', `no container with key ${param.key}`);
  return jsonResponse(200, { key: param.key, reset: true });
}

// ---------------------------------------------------------------------------
// Events

async function listEvents(request: ApiRequest, backend: ApiBackend): Promise<ApiResponse> {
  if (!backend.listEvents) {
    return errorResponse(404, 'NotFound', 'event records are in CloudWatch Logs on AWS; use `restart-scheduler events`');
  }
  const query = parseEventQuery(request.query, backend.now());
  if (!query.ok) return validationError(query.issues);
  const items = await backend.listEvents(query.value);
  return jsonResponse(200, { items });
}

// ---------------------------------------------------------------------------
// The API's own description

async function getOpenApiDocument(request: ApiRequest): Promise<ApiResponse> {
  return noQueryParameters(request) ?? jsonResponse(200, openApiDocument);
}
