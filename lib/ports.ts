/**
 * The ports the services talk through. Adapters implement them on DynamoDB,
 * EventBridge Scheduler + SQS, and CloudWatch Logs + EventBridge (AWS), or on
 * the embedded local runtime; the services never see which.
 */
import type { ContainerPhase, ContainerState, EventRecord, ExitEvent, RestartBudgetSetting, TargetKind } from './core/index.ts';

// ---------------------------------------------------------------------------
// BackoffStore

/** A stored container with the version its next conditional write must match. */
export interface Versioned<T> {
  readonly value: T;
  readonly version: number;
}

/** Outcome of a conditional write. */
export type WriteResult = { readonly written: true; readonly version: number } | { readonly written: false };

export interface ContainerFilter {
  readonly namespace?: string;
  readonly state?: ContainerPhase;
  /** @default 100 */
  readonly limit?: number;
  /** Opaque cursor from a previous page. */
  readonly cursor?: string;
}

/** `list` (or an index read) was given a cursor it did not hand out. */
export class InvalidCursorError extends Error {
  constructor(cursor: string) {
    super(`invalid cursor ${JSON.stringify(cursor.slice(0, 64))}`);
    this.name = 'InvalidCursorError';
  }
}

export interface ContainerPage {
  readonly items: readonly ContainerState[];
  readonly cursor?: string;
}

/** One page of a sharded index read, with how many items it returned. */
export interface IndexPage<T> {
  readonly items: readonly T[];
  /** Items the read returned (what it costs), counted from the response. */
  readonly itemsRead: number;
  readonly cursor?: string;
}

export interface ExpiredEntry {
  readonly key: string;
  /** Epoch seconds, as stored in the TTL attribute. */
  readonly expiresAt: number;
}

/** A count over one partition of an index (`Select: COUNT`): no items come back. */
export interface IndexCount {
  readonly count: number;
  /** Index entries the count read (what it costs). */
  readonly itemsRead: number;
  readonly cursor?: string;
}

/**
 * One item per container key. Every write is conditional on the version read,
 * so concurrent writers cannot lose each other's updates. Nothing scans the
 * table: every read is one key, or one page of one partition of an index.
 */
export interface BackoffStore {
  /** The number of shards of the indexes; `sync` reads each one. */
  readonly shards: number;
  /** A strongly consistent read. An item whose TTL has passed reads as absent. */
  get(key: string): Promise<Versioned<ContainerState> | undefined>;
  /**
   * Strongly consistent reads of several keys at once (one request per 100
   * keys): what a batch of exits reads before deciding. The map holds only the
   * keys found (an expired item reads as absent, as with `get`).
   */
  getMany(keys: readonly string[]): Promise<ReadonlyMap<string, Versioned<ContainerState>>>;
  /**
   * Writes `state` if the stored version is still `expectedVersion`
   * (`undefined`: only if there is no item, or only an expired one).
   * `{ written: false }` means another writer got there first.
   */
  put(state: ContainerState, expectedVersion: number | undefined): Promise<WriteResult>;
  /** Deletes the item if its version is still `expectedVersion` (any version when omitted). */
  delete(key: string, expectedVersion?: number): Promise<boolean>;
  /**
   * One page of the keys of containers whose latest restart is not yet
   * dispatched, from one shard of the sparse index, in order of the restart
   * instant: only those due at or before `dueBy` when it is given (what the
   * sync reads), every one otherwise (the local runtime's start-up re-arm).
   * The index is eventually consistent: read the item before acting on it.
   */
  listWaiting(shard: number, options?: { readonly dueBy?: number; readonly cursor?: string }): Promise<IndexPage<string>>;
  /** One page of the keys whose BackOff record is due for a repeat at `now`, from one shard of the sparse index. */
  listBackOffRepeats(shard: number, now: number, cursor?: string): Promise<IndexPage<string>>;
  /** One page (at most `limit`) of the entries whose TTL has passed as of `now`, from one shard of the expiry index. */
  listExpired(shard: number, now: number, options: { readonly limit: number; readonly cursor?: string }): Promise<IndexPage<ExpiredEntry>>;
  /** Deletes the item only if it is still expired at `now` (a write since then keeps it). */
  collect(key: string, now: number): Promise<boolean>;
  /** Counts one page of one shard of the containers in `state`, from the state index. */
  countInState(state: ContainerPhase, shard: number, cursor?: string): Promise<IndexCount>;
  /** Containers for status views, by namespace and state, a page at a time (an operator's listing, never on the hot path or in `sync`). */
  list(filter: ContainerFilter): Promise<ContainerPage>;
}

// ---------------------------------------------------------------------------
// RestartTimer

/** Names one restart: the container and the restart count it brings it to. */
export interface RestartRef {
  readonly key: string;
  readonly restartCount: number;
  /** Epoch ms the restart is due. */
  readonly restartAt: number;
}

/** Which stage of the timer a restart went to. */
export type TimerStage = 'schedule' | 'queue';

/**
 * Calls `fireRestart(ref)` back at `ref.restartAt` — possibly earlier (the
 * restart handler then hands the remainder back through `defer`), never
 * deliberately later than the stage's precision.
 */
export interface RestartTimer {
  /** Arms the timer for a new restart decision: one outbound call. */
  arm(ref: RestartRef, now: number): Promise<TimerStage>;
  /** Waits out what remains of `ref` after an early callback, on the fine stage. */
  defer(ref: RestartRef, now: number): Promise<void>;
}

// ---------------------------------------------------------------------------
// RestartBudget

/**
 * One restart budget per namespace, shared by every caller (each Lambda
 * instance, the local runtime): slots are handed out in the order restarts
 * become due, `budget.burst` at once and `budget.perSecond` after that (GCRA,
 * see lib/core/budget.ts).
 */
export interface RestartBudget {
  /**
   * Takes the earliest slot at or after `at` (a restart due now: `at` is the
   * service's clock, never a workload's) and returns its instant. Each call
   * takes one slot for good: a caller that cannot use it leaves a gap, which
   * only makes later restarts later.
   */
  reserve(namespace: string, budget: RestartBudgetSetting, at: number): Promise<number>;
}

// ---------------------------------------------------------------------------
// EventSink

export const BUS_DETAIL_TYPES = {
  restartRequested: 'Container Restart Requested',
  crashLoopBackOff: 'Container CrashLoopBackOff',
  terminated: 'Container Terminated',
  exited: 'Container Exited',
} as const;

export type BusDetailType = (typeof BUS_DETAIL_TYPES)[Exclude<keyof typeof BUS_DETAIL_TYPES, 'exited'>];

/** A message for the workload's orchestrator, published on the project's bus. */
export interface BusMessage {
  readonly detailType: BusDetailType;
  readonly detail: Record<string, unknown>;
}

/** The detail of `Container Restart Requested`: what an orchestrator acts on. */
export interface RestartRequest {
  /** `{key}#{createdAt}.{restartCount}` (`restartIdOf`): the same for every delivery of one restart, for consumers to deduplicate. */
  readonly restartId: string;
  readonly key: string;
  readonly namespace: string;
  readonly pod: string;
  /** null when the container has none (always present, so that rules can map every field). */
  readonly podUid: string | null;
  readonly container: string;
  readonly containerHash: string | null;
  readonly restartCount: number;
  /** ISO-8601. */
  readonly restartAt: string;
  readonly firedAt: string;
  readonly recovered: boolean;
  /** Where the restart goes besides the bus: rules on the bus (and the local runtime) deliver by it. */
  readonly target: TargetKind;
}

/** CloudWatch identity of the metrics: namespace and the one dimension Powertools adds. */
export const METRICS_NAMESPACE = 'RestartScheduler';
export const SERVICE_NAME = 'restart-scheduler';

/** What a restart log keeps of a restart request. */
export type KeptRestart = Pick<RestartRequest, 'restartId' | 'key' | 'restartCount' | 'restartAt' | 'firedAt' | 'recovered' | 'target'>;

/** A dispatched restart as the local runtime's restart stream delivers it (SSE `id:` = `seq`). */
export interface RestartNotice extends KeptRestart {
  /** The restart's position in the durable restart log, from 1. */
  readonly seq: number;
}

/** An event record as the local runtime's event stream delivers it (SSE `id:` = `seq`, its line in the event log). */
export interface SequencedEvent {
  readonly seq: number;
  readonly record: EventRecord;
}

export const METRIC_NAMES = [
  'ExitsReceived',
  'RestartsScheduled',
  'RestartsDispatched',
  'RestartsRecovered',
  'ContainersInCrashLoopBackOff',
  'RestartLateness',
  'WriteConflicts',
  'TimerFailures',
  'ExitEventsRejected',
  'RestartsFailed',
] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export interface EventSink {
  /** Records event records: one structured log line each, no network call. */
  record(events: readonly EventRecord[]): void;
  /** Publishes messages on the bus; resolves only once every one is accepted. */
  publish(messages: readonly BusMessage[]): Promise<void>;
  /** Adds a data point to a metric (counts, or ms for `RestartLateness`). */
  metric(name: MetricName, value: number): void;
}

// ---------------------------------------------------------------------------
// RestartOutbox

/**
 * A restart log that can bind a restart's publish to the store write that
 * records it as dispatched (a transactional outbox): the restart reaches
 * subscribers if and only if the write landed, across a crash between the
 * two as well. With one, a restart due at once is stored already dispatched
 * in the exit's one write, with no claim to mark afterwards.
 *
 * The local runtime's restart log is one: it keeps the restart durably ahead
 * of the write, heard by nobody, and publishes or drops it once the write's
 * outcome is known. An EventBridge bus is not (a publish cannot be taken
 * back), so on AWS the restart is claimed, published, then marked.
 */
export interface RestartOutbox {
  /**
   * Keeps `request` ahead of `write`, then publishes it if the write landed
   * and drops it if it did not. Rejects, without calling `write`, if the
   * restart could not be kept; a `write` that throws leaves the restart
   * unsettled (whether it landed is unknown) and its error propagates.
   */
  publishWith(request: RestartRequest, write: () => Promise<WriteResult>): Promise<WriteResult>;
  /** Restarts kept ahead of a write whose outcome is unknown: a previous process died between the two, or the write failed. */
  unsettled(): readonly KeptRestart[];
  /** Publishes (`landed`) or drops one restart of `unsettled()`. */
  settle(restartId: string, landed: boolean): Promise<void>;
}

// ---------------------------------------------------------------------------
// ExitDeadLetters

/** An exit event that arrived on the bus and could not be decided, with why. */
export interface RejectedExit {
  /** The EventBridge event that carried it: the same id on every retry of that event, and its key in the bus archive. */
  readonly eventId: string;
  /** Who put the event on the bus. */
  readonly source: string;
  /** Its position in the detail's `{ "events": [...] }`; null when the whole detail is rejected. */
  readonly index: number | null;
  /** The rejected event as it arrived (the whole detail when `index` is null). */
  readonly event: unknown;
  /** What is wrong with it; paths are relative to `event`. */
  readonly issues: readonly { readonly path: string; readonly message: string }[];
}

/**
 * Where exit events go that no one can fix by retrying (on the bus nobody
 * reads a reply): an operator inspects them, fixes the producer, and replays.
 */
export interface ExitDeadLetters {
  /** Resolves only once every one is stored; throws otherwise, so the caller can retry. */
  send(rejected: readonly RejectedExit[]): Promise<void>;
}

// ---------------------------------------------------------------------------
// RestartTarget

/** What a target did with a restart. */
export interface DeliveryReceipt {
  /** `skipped`: nothing to deliver to any more (an ECS workload stopped since); not a failure. */
  readonly status: 'delivered' | 'skipped';
  /** What it answered, for the operational log (an HTTP status, a task ARN); never a secret. */
  readonly detail: string;
}

/** A delivery that did not go through: retryable (throttling, 5xx, no capacity) or not (a 4xx, a bad task definition). */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryable: boolean,
    /** A short code for records and metrics: `HTTP 503`, `ThrottlingException`, `RESOURCE:MEMORY`. */
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * Where a dispatched restart goes besides the bus: a webhook, or ECS. The
 * bus event is published exactly once per restart; its delivery to a target
 * is at least once, so every delivery carries the `restartId` as its
 * idempotency key (the `Idempotency-Key` header, ECS's `clientToken`).
 */
export interface RestartTarget {
  /** Hands the restart over once. Throws `DeliveryError`; the caller retries the retryable ones. */
  deliver(request: RestartRequest): Promise<DeliveryReceipt>;
}

// ---------------------------------------------------------------------------
// ECS workloads

/** The RunTask input a workload is started with, as registered (the parts `restart-scheduler ecs run` sets). */
export interface EcsRunTaskInput {
  /** Cluster name or ARN. */
  readonly cluster: string;
  /** `family`, `family:revision` or an ARN; a family alone runs its latest ACTIVE revision at every restart. */
  readonly taskDefinition: string;
  readonly launchType?: 'FARGATE' | 'EC2' | 'EXTERNAL';
  readonly capacityProviderStrategy?: readonly { readonly capacityProvider: string; readonly weight?: number; readonly base?: number }[];
  readonly networkConfiguration?: {
    readonly awsvpcConfiguration: {
      readonly subnets: readonly string[];
      readonly securityGroups?: readonly string[];
      readonly assignPublicIp?: 'ENABLED' | 'DISABLED';
    };
  };
  readonly platformVersion?: string;
}

/** The restart and back-off settings of a workload: they travel in each of its exit events, as `exit` flags do. */
export type WorkloadExitSettings = Pick<ExitEvent, 'restartPolicy' | 'restartPolicyRules' | 'maxRestarts' | 'backoffPolicy'>;

/** A workload id: a pod name, and fit for ECS's `startedBy` (letters, digits and `-`). */
export const WORKLOAD_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

/** Every task the service starts says so in `startedBy`: what the ECS rule matches (`prefix`). */
export const STARTED_BY_PREFIX = 'restart-scheduler/';
/** ECS limits `startedBy` to 128 letters, digits, `-`, `/` and `_`: the id's 64 and a restart count fit. */
export const STARTED_BY_MAX_LENGTH = 128;

/**
 * `restart-scheduler/<workload id>/<restart count>`: the workload names the
 * pod of the task's exit, and the restart count tells a repeat of an exit
 * (ECS sends more than one STOPPED event per task) from a new one.
 */
export function startedByOf(workloadId: string, restartCount: number): string {
  return `${STARTED_BY_PREFIX}${workloadId}/${restartCount}`;
}

/** The workload id and restart count in a `startedBy`, or undefined when the service did not start the task. */
export function parseStartedBy(startedBy: string | undefined): { workloadId: string; restartCount: number } | undefined {
  if (startedBy === undefined || !startedBy.startsWith(STARTED_BY_PREFIX)) return undefined;
  const [workloadId = '', count = '', ...rest] = startedBy.slice(STARTED_BY_PREFIX.length).split('/');
  if (rest.length > 0 || !WORKLOAD_ID_PATTERN.test(workloadId) || !/^\d{1,10}$/.test(count)) return undefined;
  const restartCount = Number(count);
  return restartCount <= 2_147_483_647 ? { workloadId, restartCount } : undefined;
}

export const WORKLOAD_STATUSES = ['running', 'stopped'] as const;
export type WorkloadStatus = (typeof WORKLOAD_STATUSES)[number];

/** An ECS workload the service starts and restarts itself: `restart-scheduler ecs run`. */
export interface EcsWorkload {
  /** The pod of its exit events, and `restart-scheduler/<id>/<restartCount>` in its tasks' `startedBy`. */
  readonly id: string;
  readonly namespace: string;
  readonly runTask: EcsRunTaskInput;
  /** The task definition's family, as described when the workload was registered. */
  readonly family: string;
  /** Its essential containers then: a stopped task is reported as the exit of the one that stopped it. */
  readonly essentialContainers: readonly string[];
  readonly exit: WorkloadExitSettings;
  /** `stopped` after `ecs stop`: its tasks are never started again. */
  readonly status: WorkloadStatus;
  /** The latest task started for it. */
  readonly taskArn?: string;
  /** The restart count that task carries (0 for the first run). */
  readonly restartCount: number;
  /** The container key of its latest restart: what `ecs stop` resets. */
  readonly containerKey?: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** What `ecs run` registers: where its tasks run, and how they restart. */
export interface WorkloadRegistration {
  readonly namespace: string;
  readonly runTask: EcsRunTaskInput;
  readonly exit: WorkloadExitSettings;
}

/** Workload registrations, written conditionally on the version read (as the back-off store). */
export interface WorkloadStore {
  get(id: string): Promise<Versioned<EcsWorkload> | undefined>;
  put(workload: EcsWorkload, expectedVersion: number | undefined): Promise<WriteResult>;
  /** Every registration, oldest id first, a page at a time. */
  list(cursor?: string): Promise<{ readonly items: readonly EcsWorkload[]; readonly cursor?: string }>;
}

export interface EcsTaskDefinition {
  readonly family: string;
  readonly revision: number;
  readonly essentialContainers: readonly string[];
}

export interface EcsTaskStatus {
  readonly taskArn: string;
  readonly lastStatus: string;
  readonly stopCode?: string;
  readonly stoppedReason?: string;
}

/** The ECS calls the service makes. Failures are `DeliveryError`s, retryable or not. */
export interface EcsTasks {
  describeTaskDefinition(taskDefinition: string): Promise<EcsTaskDefinition>;
  /**
   * Starts one task. The same `idempotencyKey` (a restart's `restartId`; it
   * becomes the `clientToken`) starts it once, however often it is called.
   * Resolves with its ARN.
   */
  runTask(input: EcsRunTaskInput, launch: { readonly idempotencyKey: string; readonly startedBy: string }): Promise<string>;
  stopTask(cluster: string, taskArn: string, reason: string): Promise<void>;
  describeTasks(cluster: string, taskArns: readonly string[]): Promise<EcsTaskStatus[]>;
}
