/**
 * The response bodies of the HTTP API as zod schemas: the one definition of
 * their shapes. views.ts and protocol.ts take their types from here (type
 * imports only, so the handlers never load these schemas at run time); the
 * OpenAPI document is generated from them, and the tests validate every
 * response they receive against that document.
 */
import { z } from 'zod';
import { CONTAINER_PHASES, DECISION_KINDS, EVENT_TYPES, type EventRecord } from '../core/model.ts';
import type { RestartNotice } from '../ports.ts';
import { API_ERRORS } from './protocol.ts';

/** Every instant in a response: UTC, with milliseconds, as `Date.prototype.toISOString` writes it. */
export const instantSchema = z.iso.datetime().meta({ description: 'An instant, ISO-8601 in UTC (e.g. "2026-05-01T12:00:00.000Z").' });
const count = z.int().nonnegative();
const milliseconds = z.int().nonnegative();

export const issueSchema = z.object({
  path: z.string().meta({ description: 'The field, e.g. `events.3.finishedAt`; empty for the body as a whole.' }),
  message: z.string(),
});

export const apiErrorBodySchema = z.object({
  error: z.enum(API_ERRORS),
  message: z.string(),
  issues: z.array(issueSchema).optional().meta({ description: 'For a ValidationError: every bad field (up to 200).' }),
});

export const decisionViewSchema = z.object({
  key: z.string().meta({ description: 'The container key, `{pod}_{namespace}_{podUid}_{container}_{containerHash}`.' }),
  decision: z.enum(DECISION_KINDS),
  restartAt: instantSchema.nullable().meta({ description: 'When the restart is due; null when the container will not restart.' }),
  restartId: z.string().optional().meta({ description: "The id the restart's stream notice and `Container Restart Requested` carry." }),
  delayMs: milliseconds.meta({ description: 'The back-off applied after finishedAt; 0 for an immediate restart.' }),
  budgetDelayMs: milliseconds
    .optional()
    .meta({ description: "How much later than the back-off allows the namespace's restart budget moved the restart (restartAt includes it); absent when it did not." }),
  restartCount: count,
  backoffMs: milliseconds.meta({ description: 'The back-off the next crash will get.' }),
  state: z.enum(CONTAINER_PHASES),
  reason: z.string().optional(),
  message: z.string().meta({ description: "kubelet's wording, e.g. `back-off 20s restarting failed container=app pod=web-0_default(uid)`." }),
});

export const exitBatchResultSchema = z.object({ results: z.array(decisionViewSchema).meta({ description: 'One decision per exit event, in order.' }) });

export const lastExitViewSchema = z.object({
  exitCode: z.int(),
  reason: z.string().optional(),
  startedAt: instantSchema.optional().meta({ description: 'On the service’s clock, like finishedAt.' }),
  finishedAt: instantSchema.meta({ description: 'The exit on the service’s clock: what the back-off counted from.' }),
  reportedFinishedAt: instantSchema.optional().meta({ description: 'finishedAt as the workload reported it, when the service placed it elsewhere (its clock was off).' }),
});

export const containerViewSchema = z.object({
  key: z.string(),
  namespace: z.string(),
  pod: z.string(),
  podUid: z.string().optional(),
  container: z.string(),
  state: z.enum(CONTAINER_PHASES),
  reason: z.string().optional(),
  restartCount: count,
  lastExit: lastExitViewSchema.optional(),
  backoffMs: milliseconds.meta({ description: 'The back-off the next crash will get: 0 once the entry has expired (a crash now restarts at once).' }),
  nextRestartAt: instantSchema.nullable().meta({ description: 'When the pending restart is due; null when none is pending.' }),
  lastRestartAt: instantSchema.optional().meta({ description: 'When the latest restart was dispatched.' }),
  message: z.string().optional(),
  createdAt: instantSchema,
  updatedAt: instantSchema,
});

export const containerPageSchema = z.object({
  items: z.array(containerViewSchema),
  cursor: z.string().optional().meta({ description: 'Pass as `cursor` for the next page; absent on the last page.' }),
});

export const resetResultSchema = z.object({ key: z.string(), reset: z.literal(true) });

export const eventRecordSchema = z.object({
  time: instantSchema,
  type: z.enum(EVENT_TYPES),
  key: z.string(),
  namespace: z.string(),
  pod: z.string(),
  podUid: z.string().optional(),
  container: z.string(),
  exitCode: z.int().optional(),
  reason: z.string().optional(),
  restartCount: count.optional(),
  restartId: z.string().optional().meta({ description: 'For RestartScheduled, Restarted and RestartRecovered: the restart it is about.' }),
  delayMs: milliseconds.optional(),
  budgetDelayMs: milliseconds.optional().meta({ description: "For RestartScheduled: how much later the namespace's restart budget moved the restart." }),
  backoffMs: milliseconds.optional(),
  restartAt: instantSchema.optional(),
  latenessMs: milliseconds.optional().meta({ description: 'For Restarted and RestartRecovered: how long after restartAt it was dispatched.' }),
  decision: z.enum(DECISION_KINDS).optional(),
  message: z.string().meta({ description: "kubelet's wording." }),
});

export const eventListSchema = z.object({ items: z.array(eventRecordSchema).meta({ description: 'Oldest first: the latest `limit` matching records.' }) });

/** The `data:` of one `restart` event on `GET /v1/restarts/stream` (its `id:` is the sequence number). */
export const restartNoticeDataSchema = z.object({
  restartId: z.string(),
  key: z.string(),
  restartCount: count,
  restartAt: instantSchema,
  firedAt: instantSchema,
  recovered: z.boolean().meta({ description: 'Dispatched by the sync, after its timer was lost.' }),
});

export type Issue = Readonly<z.infer<typeof issueSchema>>;
export type ApiErrorBody = Readonly<Omit<z.infer<typeof apiErrorBodySchema>, 'issues'> & { issues?: readonly Issue[] }>;
export type DecisionView = Readonly<z.infer<typeof decisionViewSchema>>;
export type LastExitView = Readonly<z.infer<typeof lastExitViewSchema>>;
export type ContainerView = Readonly<Omit<z.infer<typeof containerViewSchema>, 'lastExit'> & { lastExit?: LastExitView }>;

// The core and the ports own these two shapes (the core knows no zod); the
// compiler holds the schemas to them, both ways.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const eventRecordMatches: Same<z.infer<typeof eventRecordSchema>, Omit<EventRecord, never>> = true;
const restartNoticeMatches: Same<Readonly<z.infer<typeof restartNoticeDataSchema>>, Readonly<Omit<RestartNotice, 'seq'>>> = true;
void eventRecordMatches;
void restartNoticeMatches;
