/**
 * Query string validation for the read routes, as zod schemas (the OpenAPI
 * document describes the parameters from them). Every parameter is checked,
 * unknown ones included, so a misspelt filter is an error rather than a
 * silently unfiltered listing.
 */
import { CONTAINER_PHASES, EVENT_TYPES, parseDuration } from '../core/index.ts';
import type { ContainerFilter } from '../ports.ts';
import * as z from '../zod.ts';
import type { EventQuery } from './backend.ts';
import { containerKeyProblem, formatPath, MAX_KEY_LENGTH, nameSchema, parseInstant, type MillisecondsResult } from './exits.ts';
import type { Issue } from './protocol.ts';

export const MAX_LIST_LIMIT = 1000;
/** How many event records a listing returns when the request does not say. */
export const DEFAULT_EVENT_LIMIT = 100;
/** Cursors are opaque, but nothing legitimate is this long. */
const MAX_CURSOR_LENGTH = 4096;

export type QueryResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: Issue[] };

type Query = Readonly<Record<string, string | undefined>>;

/** Reads a parameter that the request really carries (never one inherited from Object.prototype). */
function param(query: Query, name: string): string | undefined {
  return Object.hasOwn(query, name) ? query[name] : undefined;
}

function unknownParameters(query: Query, known: readonly string[]): Issue[] {
  return Object.keys(query)
    .filter((name) => !known.includes(name) && query[name] !== undefined)
    .map((name) => ({ path: formatPath([name]), message: `unknown query parameter; expected one of ${known.join(', ')}` }));
}

/** A parameter read from its string by `read`, whose complaint becomes the parameter's issue; `accepted` is its JSON Schema. */
function parameterSchema<T>(read: (value: string) => { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string }, accepted: z.core.JSONSchemaMeta) {
  return z
    .pipe(
      z.string(),
      z.transform((value: string, ctx) => {
        const result = read(value);
        if (result.ok) return result.value;
        ctx.issues.push({ code: 'custom', message: result.message, input: value });
        return z.NEVER;
      }),
    )
    .check(z.meta(accepted));
}

function enumParameter<T extends string>(allowed: readonly [T, ...T[]]) {
  return z.enum(allowed, { error: `must be one of ${allowed.join(', ')}` });
}

const limitParameter = parameterSchema(
  (value) =>
    /^\d{1,7}$/.test(value) && Number(value) >= 1 && Number(value) <= MAX_LIST_LIMIT
      ? { ok: true, value: Number(value) }
      : { ok: false, message: `must be an integer from 1 to ${MAX_LIST_LIMIT}` },
  { type: 'integer', minimum: 1, maximum: MAX_LIST_LIMIT },
);

const keyParameter = parameterSchema<string>(
  (value) => {
    const problem = containerKeyProblem(value);
    return problem ? { ok: false, message: problem } : { ok: true, value };
  },
  { type: 'string', maxLength: MAX_KEY_LENGTH },
);

/** A position in a stream's log: a sequence number (0 for its start). */
export const SEQUENCE_PATTERN = /^\d{1,15}$/;

/** The query of the local runtime's Server-Sent Events streams (`Last-Event-ID` may stand in for `after`). */
export const streamQuerySchema = z.object({
  key: z.optional(keyParameter).check(z.describe("Only this container's entries.")),
  after: z
    .optional(
      parameterSchema<number>(
        (value) => (SEQUENCE_PATTERN.test(value) ? { ok: true, value: Number(value) } : { ok: false, message: 'must be a sequence number (a non-negative integer)' }),
        { type: 'integer', minimum: 0 },
      ),
    )
    .check(z.describe('Start after this sequence number (0: from the start of the log) instead of from now; `Last-Event-ID` wins over it.')),
});

/** The query of the local runtime's Server-Sent Events streams. */
export function parseStreamQuery(query: Query): QueryResult<z.output<typeof streamQuerySchema>> {
  return parseQuery(streamQuerySchema, query);
}

/** The query of `GET /v1/containers`: every parameter optional. */
export const containerQuerySchema = z.object({
  namespace: z.optional(nameSchema).check(z.describe('Only containers of this namespace.')),
  state: z.optional(enumParameter(CONTAINER_PHASES)).check(z.describe('Only containers in this state.')),
  limit: z.optional(limitParameter).check(z.describe('Most containers in one page.')),
  cursor: z
    .optional(
      z
        .string()
        .check(
          z.minLength(1, { error: 'must be a cursor returned by a previous page' }),
          z.maxLength(MAX_CURSOR_LENGTH, { error: 'must be a cursor returned by a previous page' }),
        ),
    )
    .check(z.describe('The `cursor` of the previous page.')),
});

/** `since`: an instant, or a duration meaning that long before the request. */
type Since = { readonly at: number } | { readonly ago: number };

/** The query of `GET /v1/events`. */
export const eventQuerySchema = z.object({
  type: z.optional(enumParameter(EVENT_TYPES)).check(z.describe('Only records of this type.')),
  key: z.optional(keyParameter).check(z.describe('Only records about this container key.')),
  since: z
    .optional(parameterSchema<Since>(readSince, { type: 'string', maxLength: 64 }))
    .check(z.describe('Only records at or after this: an ISO-8601 instant, epoch milliseconds, or a duration such as "1h" (that long ago).')),
  limit: z.optional(limitParameter).check(z.describe(`How many of the latest matching records (default ${DEFAULT_EVENT_LIMIT}).`)),
});

/**
 * Reads a query with `schema`: unknown parameters are issues, and each bad
 * parameter gets one issue (its first), in the schema's order.
 */
function parseQuery<S extends z.ZodMiniObject>(schema: S, query: Query): QueryResult<z.output<S>> {
  const known = Object.keys(schema.shape);
  const issues = unknownParameters(query, known);
  const present = Object.fromEntries(known.flatMap((name) => (param(query, name) !== undefined ? [[name, param(query, name)]] : [])));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const named = new Set<string>();
    for (const issue of parsed.error.issues) {
      const path = formatPath(issue.path);
      if (named.has(path)) continue;
      named.add(path);
      issues.push({ path, message: issue.message });
    }
  }
  return issues.length > 0 || !parsed.success ? { ok: false, issues } : { ok: true, value: parsed.data };
}

/** `GET /v1/containers?namespace=&state=&limit=&cursor=`. */
export function parseContainerFilter(query: Query): QueryResult<ContainerFilter> {
  const result = parseQuery(containerQuerySchema, query);
  if (!result.ok) return result;
  const { namespace, state, limit, cursor } = result.value;
  return {
    ok: true,
    value: { ...(namespace !== undefined ? { namespace } : {}), ...(state ? { state } : {}), ...(limit !== undefined ? { limit } : {}), ...(cursor !== undefined ? { cursor } : {}) },
  };
}

/**
 * `since`: an ISO-8601 instant, epoch milliseconds, or a duration such as
 * "1h" meaning that long before `now`.
 */
export function parseSince(value: string, now: number): MillisecondsResult {
  const since = readSince(value);
  if (!since.ok) return since;
  return { ok: true, ms: sinceMs(since.value, now) };
}

/** The instant a `since` names: as given, or that long before `now` (never before the epoch). */
function sinceMs(since: Since, now: number): number {
  return 'at' in since ? since.at : Math.max(0, now - since.ago);
}

function readSince(value: string): { readonly ok: true; readonly value: Since } | { readonly ok: false; readonly message: string } {
  if (SEQUENCE_PATTERN.test(value)) return { ok: true, value: { at: Number(value) } };
  const instant = parseInstant(value);
  if (instant.ok) return { ok: true, value: { at: instant.ms } };
  if (value.length <= 64) {
    try {
      return { ok: true, value: { ago: parseDuration(value) } };
    } catch {
      // Neither an instant nor a duration: reported below.
    }
  }
  return { ok: false, message: 'expected an ISO-8601 instant, epoch milliseconds, or a duration such as "1h" (that long ago)' };
}

/** `GET /v1/events?type=&key=&since=&limit=`. */
export function parseEventQuery(query: Query, now: number): QueryResult<EventQuery> {
  const result = parseQuery(eventQuerySchema, query);
  if (!result.ok) return result;
  const { type, key, since, limit } = result.value;
  return {
    ok: true,
    value: {
      ...(type ? { type } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(since !== undefined ? { since: sinceMs(since, now) } : {}),
      limit: limit ?? DEFAULT_EVENT_LIMIT,
    },
  };
}
