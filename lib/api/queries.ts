/**
 * Query string validation for the read routes. Every parameter is checked,
 * unknown ones included, so a misspelt filter is an error rather than a
 * silently unfiltered listing.
 */
import { CONTAINER_PHASES, EVENT_TYPES, parseDuration, type ContainerPhase, type EventType } from '../core/index.ts';
import type { ContainerFilter } from '../ports.ts';
import type { EventQuery } from './backend.ts';
import { containerKeyProblem, formatPath, nameSchema, parseInstant, type MillisecondsResult } from './exits.ts';
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

function parseLimit(value: string, issues: Issue[]): number | undefined {
  if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > MAX_LIST_LIMIT) {
    issues.push({ path: 'limit', message: `must be an integer from 1 to ${MAX_LIST_LIMIT}` });
    return undefined;
  }
  return Number(value);
}

function parseEnum<T extends string>(name: string, value: string, allowed: readonly T[], issues: Issue[]): T | undefined {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  issues.push({ path: name, message: `must be one of ${allowed.join(', ')}` });
  return undefined;
}

/** `GET /v1/containers?namespace=&state=&limit=&cursor=`. */
export function parseContainerFilter(query: Query): QueryResult<ContainerFilter> {
  const issues = unknownParameters(query, ['namespace', 'state', 'limit', 'cursor']);
  const filter: { namespace?: string; state?: ContainerPhase; limit?: number; cursor?: string } = {};
  const namespace = param(query, 'namespace');
  if (namespace !== undefined) {
    const result = nameSchema.safeParse(namespace);
    if (result.success) filter.namespace = result.data;
    else issues.push({ path: 'namespace', message: result.error.issues[0]?.message ?? 'invalid namespace' });
  }
  const state = param(query, 'state');
  if (state !== undefined) {
    const value = parseEnum('state', state, CONTAINER_PHASES, issues);
    if (value) filter.state = value;
  }
  const limit = param(query, 'limit');
  if (limit !== undefined) {
    const value = parseLimit(limit, issues);
    if (value !== undefined) filter.limit = value;
  }
  const cursor = param(query, 'cursor');
  if (cursor !== undefined) {
    if (cursor === '' || cursor.length > MAX_CURSOR_LENGTH) issues.push({ path: 'cursor', message: 'must be a cursor returned by a previous page' });
    else filter.cursor = cursor;
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: filter };
}

/**
 * `since`: an ISO-8601 instant, epoch milliseconds, or a duration such as
 * "1h" meaning that long before `now`.
 */
export function parseSince(value: string, now: number): MillisecondsResult {
  if (/^\d{1,15}$/.test(value)) return { ok: true, ms: Number(value) };
  const instant = parseInstant(value);
  if (instant.ok) return instant;
  if (value.length <= 64) {
    try {
      return { ok: true, ms: Math.max(0, now - parseDuration(value)) };
    } catch {
      // Neither an instant nor a duration: reported below.
    }
  }
  return { ok: false, message: 'expected an ISO-8601 instant, epoch milliseconds, or a duration such as "1h" (that long ago)' };
}

/** `GET /v1/events?type=&key=&since=&limit=`. */
export function parseEventQuery(query: Query, now: number): QueryResult<EventQuery> {
  const issues = unknownParameters(query, ['type', 'key', 'since', 'limit']);
  const result: { type?: EventType; key?: string; since?: number; limit: number } = { limit: DEFAULT_EVENT_LIMIT };
  const type = param(query, 'type');
  if (type !== undefined) {
    const value = parseEnum('type', type, EVENT_TYPES, issues);
    if (value) result.type = value;
  }
  const key = param(query, 'key');
  if (key !== undefined) {
    const problem = containerKeyProblem(key);
    if (problem) issues.push({ path: 'key', message: problem });
    else result.key = key;
  }
  const since = param(query, 'since');
  if (since !== undefined) {
    const value = parseSince(since, now);
    if (value.ok) result.since = value.ms;
    else issues.push({ path: 'since', message: value.message });
  }
  const limit = param(query, 'limit');
  if (limit !== undefined) {
    const value = parseLimit(limit, issues);
    if (value !== undefined) result.limit = value;
  }
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: result };
}
