/**
 * The response bodies of the HTTP API as zod schemas: the one definition of
 * their shapes. views.ts and protocol.ts take their types from here (type
 * imports only, so the handlers never load these schemas at run time); the
 * OpenAPI document is generated from them, and the tests validate every
 * response they receive against that document.
 */
import { z } from 'zod';
import { CONTAINER_PHASES, DECISION_KINDS, EVENT_TYPES, type EventRecord } from '../core/model.ts';
import { TARGET_KINDS } from '../core/target.ts';
import { RESTART_POLICIES } from '../core/policy.ts';
import { WORKLOAD_STATUSES, type RestartNotice } from '../ports.ts';
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

const runTaskViewSchema = z.object({
  cluster: z.string(),
  taskDefinition: z.string(),
  launchType: z.enum(['FARGATE', 'EC2', 'EXTERNAL']).optional(),
  capacityProviderStrategy: z.array(z.object({ capacityProvider: z.string(), weight: count.optional(), base: count.optional() })).optional(),
  networkConfiguration: z
    .object({ awsvpcConfiguration: z.object({ subnets: z.array(z.string()), securityGroups: z.array(z.string()).optional(), assignPublicIp: z.enum(['ENABLED', 'DISABLED']).optional() }) })
    .optional(),
  platformVersion: z.string().optional(),
});

const workloadRestartViewSchema = z.object({
  restartPolicy: z.enum(RESTART_POLICIES).optional(),
  restartPolicyRules: z
    .array(z.object({ action: z.enum(['Restart', 'DoNotRestart']), exitCodes: z.object({ operator: z.enum(['In', 'NotIn']), values: z.array(z.int()) }) }))
    .optional(),
  maxRestarts: count.optional(),
  backoffPolicy: z.object({ initialMs: milliseconds, maxMs: milliseconds, resetAfterMs: milliseconds, jitterFactor: z.number() }).optional().meta({ description: 'As resolved when the workload was registered.' }),
});

export const workloadViewSchema = z.object({
  id: z.string().meta({ description: 'The pod of its exits, and `restart-scheduler/<id>/<restartCount>` in its tasks’ startedBy.' }),
  namespace: z.string(),
  status: z.enum(WORKLOAD_STATUSES).meta({ description: '`stopped` after `ecs stop` (DELETE): its tasks are never started again.' }),
  cluster: z.string(),
  taskDefinition: z.string(),
  family: z.string(),
  taskArn: z.string().optional().meta({ description: 'The latest task started for it.' }),
  lastStatus: z.string().optional().meta({ description: 'That task’s status in ECS (RUNNING, STOPPED, …), in a listing.' }),
  stopCode: z.string().optional(),
  restartCount: count.meta({ description: 'The restart count of its latest task (0: the first run).' }),
  containerKey: z.string().optional().meta({ description: 'The container key of its latest restart.' }),
  runTask: runTaskViewSchema.meta({ description: 'The RunTask input of each of its tasks.' }),
  restart: workloadRestartViewSchema.meta({ description: 'The restart and back-off settings each of its exits carries.' }),
  createdAt: instantSchema,
  updatedAt: instantSchema,
});

export const workloadPageSchema = z.object({
  items: z.array(workloadViewSchema),
  cursor: z.string().optional().meta({ description: 'Pass as `cursor` for the next page; absent on the last page.' }),
});

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
  restartId: z.string().optional().meta({ description: 'For RestartScheduled, Restarted, RestartRecovered and RestartFailed: the restart it is about.' }),
  delayMs: milliseconds.optional(),
  budgetDelayMs: milliseconds.optional().meta({ description: "For RestartScheduled: how much later the namespace's restart budget moved the restart." }),
  backoffMs: milliseconds.optional(),
  restartAt: instantSchema.optional(),
  latenessMs: milliseconds.optional().meta({ description: 'For Restarted and RestartRecovered: how long after restartAt it was dispatched.' }),
  decision: z.enum(DECISION_KINDS).optional(),
  target: z.enum(TARGET_KINDS).optional().meta({ description: 'For Restarted, RestartRecovered and RestartFailed: where the restart went besides the bus.' }),
  attempts: count.optional().meta({ description: 'For RestartFailed: the delivery attempts made.' }),
  count: count.optional().meta({ description: 'For BackOff: how many times it has been recorded in its series (one series per back-off step), as a Kubernetes event counts its repeats.' }),
  firstTimestamp: instantSchema.optional().meta({ description: "For BackOff: when its series was first recorded." }),
  lastTimestamp: instantSchema.optional().meta({ description: 'For BackOff: when its series was recorded last (this record).' }),
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
  target: z.enum(TARGET_KINDS).meta({ description: 'Where the restart goes besides the bus: `bus` (nowhere else), `webhook` or `ecs`.' }),
});

export type Issue = Readonly<z.infer<typeof issueSchema>>;
export type ApiErrorBody = Readonly<Omit<z.infer<typeof apiErrorBodySchema>, 'issues'> & { issues?: readonly Issue[] }>;
export type DecisionView = Readonly<z.infer<typeof decisionViewSchema>>;
export type LastExitView = Readonly<z.infer<typeof lastExitViewSchema>>;
export type ContainerView = Readonly<Omit<z.infer<typeof containerViewSchema>, 'lastExit'> & { lastExit?: LastExitView }>;

// The core and the ports own these two shapes (the core knows no zod); the
// compiler holds the schemas to them, both ways.
// Keys compared too: an optional field on one side only would pass the assignability check.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? ([keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false) : false) : false;
const eventRecordMatches: Same<z.infer<typeof eventRecordSchema>, Omit<EventRecord, never>> = true;
const restartNoticeMatches: Same<Readonly<z.infer<typeof restartNoticeDataSchema>>, Readonly<Omit<RestartNotice, 'seq'>>> = true;
void eventRecordMatches;
void restartNoticeMatches;
