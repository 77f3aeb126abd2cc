/**
 * The transport-neutral request and response of the HTTP API, its limits,
 * and the error bodies. The Lambda and the local runtime's node:http server
 * translate to and from these shapes; nothing here knows which one it is.
 */
import type { ApiErrorBody, Issue } from './responses.ts';

export interface ApiRequest {
  /** Upper- or lower-case; the router compares upper-case. */
  readonly method: string;
  /** The path without the query string, still percent-encoded (e.g. `/v1/containers/web-0_default__app_`). */
  readonly path: string;
  /** Decoded query string parameters. */
  readonly query: Readonly<Record<string, string | undefined>>;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body?: Uint8Array | string;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** JSON-serialisable; the transport writes it with `JSON.stringify`. */
  readonly body: unknown;
}

export interface ApiLimits {
  /** Largest request body accepted, in bytes (UTF-8 for string bodies). */
  readonly maxBodyBytes: number;
  /** Most exit events in one `{ "events": [...] }` batch. */
  readonly maxBatch: number;
  /** How far after the receiver's clock an exit's `finishedAt` may be (clock skew between hosts). */
  readonly maxFutureSkewMs: number;
}

export const API_LIMITS: ApiLimits = {
  maxBodyBytes: 256 * 1024,
  maxBatch: 100,
  maxFutureSkewMs: 5 * 60_000,
};

export const API_ERRORS = [
  'ValidationError',
  /** Used by transports that authenticate (the local runtime's bearer token); IAM rejects before the router on AWS. */
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'MethodNotAllowed',
  'PayloadTooLarge',
  'UnsupportedMediaType',
  'ServiceUnavailable',
  'InternalError',
] as const;
export type ApiErrorCode = (typeof API_ERRORS)[number];

/**
 * One problem with a request (`path` names the field, `events.3.finishedAt`,
 * or '' for the whole body), and the body of every error response: defined
 * once, as schemas, in responses.ts.
 */
export type { ApiErrorBody, Issue } from './responses.ts';

/** A response body is always JSON; transports add nothing else. */
export const JSON_HEADERS = { 'content-type': 'application/json' } as const;

/** Above this many issues a response lists the first ones and says how many there were. */
export const MAX_REPORTED_ISSUES = 200;

export function jsonResponse(status: number, body: unknown, headers: Record<string, string> = {}): ApiResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body };
}

export function errorResponse(
  status: number,
  error: ApiErrorCode,
  message: string,
  options: { readonly issues?: readonly Issue[]; readonly headers?: Record<string, string> } = {},
): ApiResponse {
  const body: ApiErrorBody = { error, message, ...(options.issues ? { issues: options.issues } : {}) };
  return jsonResponse(status, body, options.headers);
}

/** 400 naming every bad field (up to MAX_REPORTED_ISSUES of them). */
export function validationError(issues: readonly Issue[]): ApiResponse {
  const shown = issues.slice(0, MAX_REPORTED_ISSUES);
  const summary = shown.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message));
  const more = issues.length > shown.length ? ` (showing ${shown.length} of ${issues.length} issues)` : '';
  const head = summary.slice(0, 3).join('; ') + (summary.length > 3 ? `; and ${summary.length - 3} more` : '');
  return errorResponse(400, 'ValidationError', `invalid request: ${head}${more}`, { issues: shown });
}
