/**
 * Holds the API's responses to its OpenAPI document (docs/openapi.json):
 * the router and HTTP calls of the API and local runtime tests go through
 * these wrappers, so every response a test receives is validated against
 * the schema the document gives for its route and status.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ApiBackend } from '../../lib/api/backend.ts';
import { handleApiRequest, type ApiLimits, type ApiRequest, type ApiResponse } from '../../lib/api/router.ts';

const DOCUMENT_URL = new URL('../../docs/openapi.json', import.meta.url);
const DOCUMENT_ID = 'openapi.json';

type Json = Record<string, unknown>;
interface Operation {
  readonly responses: Record<string, { readonly $ref?: string; readonly content?: Record<string, { readonly schema?: Json }> }>;
}

export const OPENAPI_DOCUMENT = JSON.parse(readFileSync(DOCUMENT_URL, 'utf8')) as { paths: Record<string, Record<string, Operation>>; components: Json };

// The document is added whole; the schemas are reached through JSON pointers into it.
const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (instance: Ajv2020) => void)(ajv);
ajv.addSchema(OPENAPI_DOCUMENT, DOCUMENT_ID);

const validators = new Map<string, ReturnType<typeof ajv.compile>>();
function validatorFor(pointer: string) {
  let validate = validators.get(pointer);
  if (!validate) {
    validate = ajv.compile({ $ref: `${DOCUMENT_ID}#${pointer}` });
    validators.set(pointer, validate);
  }
  return validate;
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

const escape = (segment: string) => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** Who answered: the shared router (Lambda and local runtime), or the local runtime's server with its own routes too. */
export type Responder = 'router' | 'local server';

/** The documented path template a request path falls under (`/v1/containers/abc` → `/v1/containers/{key}`). */
export function documentedPath(path: string, responder: Responder = 'local server'): string | undefined {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  return Object.keys(OPENAPI_DOCUMENT.paths).find((template) => {
    if (responder === 'router' && (OPENAPI_DOCUMENT.paths[template] as Record<string, unknown>)['x-local-server'] === true) return false;
    const pattern = new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`);
    return pattern.test(trimmed);
  });
}

/**
 * Throws unless `body` is what the document says `method path` answers with
 * `status`. A path the document does not name must be a 404 error, and a
 * method it does not list for a path a 405 error (or, from the local
 * server, a 401 or 403 refusal, which comes before routing).
 */
export function assertDocumentedResponse(
  method: string,
  path: string,
  status: number,
  contentType: string | undefined,
  body: unknown,
  responder: Responder = 'local server',
): void {
  const template = documentedPath(path, responder);
  const item = template === undefined ? undefined : OPENAPI_DOCUMENT.paths[template]!;
  const verb = method.toLowerCase();
  const operation = item && HTTP_METHODS.has(verb) && Object.hasOwn(item, verb) ? item[verb] : undefined;
  let pointer: string;
  if (!operation) {
    // The local server checks the token (and cross-site requests) before it routes.
    const expected = [template === undefined ? 404 : 405, ...(responder === 'local server' ? [401, 403] : [])];
    if (!expected.includes(status)) throw new Error(`${method} ${path}: undocumented, so expected ${expected.join(' or ')}, got ${status}`);
    pointer = '/components/schemas/ApiError';
  } else {
    let response = operation.responses[String(status)];
    if (!response) throw new Error(`${method} ${path}: status ${status} is not documented for ${method.toUpperCase()} ${template}`);
    let base = `/paths/${escape(template!)}/${method.toLowerCase()}/responses/${status}`;
    if (response.$ref) {
      base = response.$ref.replace(/^#/, '');
      response = (OPENAPI_DOCUMENT.components['responses'] as Record<string, typeof response>)[base.split('/').at(-1)!]!;
    }
    // A status documented without content (304) has no body to check.
    if (!response.content) return;
    const mediaType = (contentType ?? '').split(';')[0]!.trim();
    if (!response.content[mediaType]) {
      throw new Error(`${method} ${path}: ${status} as ${mediaType || 'no content type'} is not documented (documented: ${Object.keys(response.content).join(', ')})`);
    }
    if (mediaType !== 'application/json') return;
    pointer = `${base}/content/${escape(mediaType)}/schema`;
  }
  const validate = validatorFor(pointer);
  if (!validate(body)) {
    throw new Error(`${method} ${path} → ${status}: the body does not match the OpenAPI document (${pointer}): ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
  }
}

/** `handleApiRequest`, with its answer checked against the document. */
export async function documentedRequest(request: ApiRequest, backend: ApiBackend, limits: Partial<ApiLimits> = {}): Promise<ApiResponse> {
  const response = await handleApiRequest(request, backend, limits);
  assertDocumentedResponse(typeof request.method === 'string' ? request.method : '', request.path, response.status, response.headers['content-type'], response.body, 'router');
  return response;
}

/** `fetch`, with every answer's body checked against the document (streams by their status and media type). */
export const documentedFetch: typeof fetch = async (input, init) => {
  const response = await fetch(input, init);
  const url = new URL(input instanceof Request ? input.url : String(input));
  const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
  const contentType = response.headers.get('content-type') ?? undefined;
  const json = contentType?.startsWith('application/json') && method.toUpperCase() !== 'HEAD';
  const body = json ? await response.clone().json() : undefined;
  assertDocumentedResponse(method, url.pathname, response.status, contentType, body);
  return response;
};
