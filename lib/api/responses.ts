/**
 * The response bodies of the HTTP API as zod schemas: the one definition of
 * their shapes. views.ts and protocol.ts take their types from here (type
 * imports only, so the handlers never load these schemas at run time); the
 * OpenAPI document is generated from them, and the tests validate every
 * response they receive against that document.
 */
import { CONTAINER_PHASES, DECISION_KINDS, EVENT_TYPES, type EventRecord } from '../core/model.ts';
import { TARGET_KINDS } from '../core/target.ts';
import { RESTART_POLICIES } from '../core/policy.ts';
import { WORKLOAD_STATUSES, type RestartNotice } from '../ports.ts';
import * as z from '../zod.ts';
import { API_ERRORS } from './protocol.ts';

/** Every instant in a response: UTC, with milliseconds, as `Date.prototype.toISOString` writes it. */
export const instantSchema = z.iso.datetime().check(z.describe('An instant, ISO-8601 in UTC (e.g. "2026-05-01T12:00:00.000Z").'));
const count = z.int().check(z.nonnegative());
const milliseconds = z.int().check(z.nonnegative());

export const issueSchema = z.object({
  path: z.string().check(z.describe('The field, e.g. `events.3.finishedAt`; empty for the body as a whole.')),
  message: z.string(),
});

export const apiErrorBodySchema = z.object({
  error: z.enum(API_ERRORS),
  message: z.string(),
  issues: z.optional(z.array(issueSchema)).check(z.describe('For a ValidationError: every bad field (up to 200).')),
});

export const decisionViewSchema = z.object({
  key: z.string().check(z.describe('The container key, `{pod}_{namespace}_{podUid}_{container}_{containerHash}`.')),
  decision: z.enum(DECISION_KINDS),
  restartAt: z.nullable(instantSchema).check(z.describe('When the restart is due; null when the container will not restart.')),
  restartId: z.optional(z.string()).check(z.describe("The id the restart's stream notice and `Container Restart Requested` carry.")),
  delayMs: milliseconds.check(z.describe('The back-off applied after finishedAt; 0 for an immediate restart.')),
  budgetDelayMs: z
    .optional(milliseconds)
    .check(z.describe("How much later than the back-off allows the namespace's restart budget moved the restart (restartAt includes it); absent when it did not.")),
  restartCount: count,
  backoffMs: milliseconds.check(z.describe('The back-off the next crash will get.')),
  state: z.enum(CONTAINER_PHASES),
  reason: z.optional(z.string()),
  message: z.string().check(z.describe("kubelet's wording, e.g. `back-off 20s restarting failed container=app pod=web-0_default(uid)`.")),
});

export const exitBatchResultSchema = z.object({ results: z.array(decisionViewSchema).check(z.describe('One decision per exit event, in order.')) });

export const lastExitViewSchema = z.object({
  exitCode: z.int(),
  reason: z.optional(z.string()),
  startedAt: z.optional(instantSchema).check(z.describe('On the service’s clock, like finishedAt.')),
  finishedAt: instantSchema.check(z.describe('The exit on the service’s clock: what the back-off counted from.')),
  reportedFinishedAt: z.optional(instantSchema).check(z.describe('finishedAt as the workload reported it, when the service placed it elsewhere (its clock was off).')),
});

export const containerViewSchema = z.object({
  key: z.string(),
  namespace: z.string(),
  pod: z.string(),
  podUid: z.optional(z.string()),
  container: z.string(),
  state: z.enum(CONTAINER_PHASES),
  reason: z.optional(z.string()),
  restartCount: count,
  lastExit: z.optional(lastExitViewSchema),
  backoffMs: milliseconds.check(z.describe('The back-off the next crash will get: 0 once the entry has expired (a crash now restarts at once).')),
  nextRestartAt: z.nullable(instantSchema).check(z.describe('When the pending restart is due; null when none is pending.')),
  lastRestartAt: z.optional(instantSchema).check(z.describe('When the latest restart was dispatched.')),
  message: z.optional(z.string()),
  createdAt: instantSchema,
  updatedAt: instantSchema,
});

export const containerPageSchema = z.object({
  items: z.array(containerViewSchema),
  cursor: z.optional(z.string()).check(z.describe('Pass as `cursor` for the next page; absent on the last page.')),
});

export const resetResultSchema = z.object({ key: z.string(), reset: z.literal(true) });

const runTaskViewSchema = z.object({
  cluster: z.string(),
  taskDefinition: z.string(),
  launchType: z.optional(z.enum(['FARGATE', 'EC2', 'EXTERNAL'])),
  capacityProviderStrategy: z.optional(z.array(z.object({ capacityProvider: z.string(), weight: z.optional(count), base: z.optional(count) }))),
  networkConfiguration: z.optional(
    z.object({ awsvpcConfiguration: z.object({ subnets: z.array(z.string()), securityGroups: z.optional(z.array(z.string())), assignPublicIp: z.optional(z.enum(['ENABLED', 'DISABLED'])) }) }),
  ),
  platformVersion: z.optional(z.string()),
});

const workloadRestartViewSchema = z.object({
  restartPolicy: z.optional(z.enum(RESTART_POLICIES)),
  restartPolicyRules: z.optional(
    z.array(z.object({ action: z.enum(['Restart', 'DoNotRestart']), exitCodes: z.object({ operator: z.enum(['In', 'NotIn']), values: z.array(z.int()) }) })),
  ),
  maxRestarts: z.optional(count),
  backoffPolicy: z.optional(z.object({ initialMs: milliseconds, maxMs: milliseconds, resetAfterMs: milliseconds, jitterFactor: z.number() })).check(z.describe('As resolved when the workload was registered.')),
});

export const workloadViewSchema = z.object({
  id: z.string().check(z.describe('The pod of its exits, and `restart-scheduler/<id>/<restartCount>` in its tasks’ startedBy.')),
  namespace: z.string(),
  status: z.enum(WORKLOAD_STATUSES).check(z.describe('`stopped` after `ecs stop` (DELETE): its tasks are never started again.')),
  cluster: z.string(),
  taskDefinition: z.string(),
  family: z.string(),
  taskArn: z.optional(z.string()).check(z.describe('The latest task started for it.')),
  lastStatus: z.optional(z.string()).check(z.describe('That task’s status in ECS (RUNNING, STOPPED, …), in a listing.')),
  stopCode: z.optional(z.string()),
  restartCount: count.check(z.describe('The restart count of its latest task (0: the first run).')),
  containerKey: z.optional(z.string()).check(z.describe('The container key of its latest restart.')),
  runTask: runTaskViewSchema.check(z.describe('The RunTask input of each of its tasks.')),
  restart: workloadRestartViewSchema.check(z.describe('The restart and back-off settings each of its exits carries.')),
  createdAt: instantSchema,
  updatedAt: instantSchema,
});

export const workloadPageSchema = z.object({
  items: z.array(workloadViewSchema),
  cursor: z.optional(z.string()).check(z.describe('Pass as `cursor` for the next page; absent on the last page.')),
});

export const eventRecordSchema = z.object({
  time: instantSchema,
  type: z.enum(EVENT_TYPES),
  key: z.string(),
  namespace: z.string(),
  pod: z.string(),
  podUid: z.optional(z.string()),
  container: z.string(),
  exitCode: z.optional(z.int()),
  reason: z.optional(z.string()),
  restartCount: z.optional(count),
  restartId: z.optional(z.string()).check(z.describe('For RestartScheduled, Restarted, RestartRecovered and RestartFailed: the restart it is about.')),
  delayMs: z.optional(milliseconds),
  budgetDelayMs: z.optional(milliseconds).check(z.describe("For RestartScheduled: how much later the namespace's restart budget moved the restart.")),
  backoffMs: z.optional(milliseconds),
  restartAt: z.optional(instantSchema),
  latenessMs: z.optional(milliseconds).check(z.describe('For Restarted and RestartRecovered: how long after restartAt it was dispatched.')),
  decision: z.optional(z.enum(DECISION_KINDS)),
  target: z.optional(z.enum(TARGET_KINDS)).check(z.describe('For Restarted, RestartRecovered and RestartFailed: where the restart went besides the bus.')),
  attempts: z.optional(count).check(z.describe('For RestartFailed: the delivery attempts made.')),
  count: z.optional(count).check(z.describe('For BackOff: how many times it has been recorded in its series (one series per back-off step), as a Kubernetes event counts its repeats.')),
  firstTimestamp: z.optional(instantSchema).check(z.describe('For BackOff: when its series was first recorded.')),
  lastTimestamp: z.optional(instantSchema).check(z.describe('For BackOff: when its series was recorded last (this record).')),
  message: z.string().check(z.describe("kubelet's wording.")),
});

export const eventListSchema = z.object({ items: z.array(eventRecordSchema).check(z.describe('Oldest first: the latest `limit` matching records.')) });

/** The `data:` of one `restart` event on `GET /v1/restarts/stream` (its `id:` is the sequence number). */
export const restartNoticeDataSchema = z.object({
  restartId: z.string(),
  key: z.string(),
  restartCount: count,
  restartAt: instantSchema,
  firedAt: instantSchema,
  recovered: z.boolean().check(z.describe('Dispatched by the sync, after its timer was lost.')),
  target: z.enum(TARGET_KINDS).check(z.describe('Where the restart goes besides the bus: `bus` (nowhere else), `webhook` or `ecs`.')),
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
