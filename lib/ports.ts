/**
 * The ports the services talk through. Adapters implement them on DynamoDB,
 * EventBridge Scheduler + SQS, and CloudWatch Logs + EventBridge (AWS), or on
 * the embedded local runtime; the services never see which.
 */
import type { ContainerPhase, ContainerState, EventRecord } from './core/index.ts';

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
  readonly podUid?: string;
  readonly container: string;
  readonly containerHash?: string;
  readonly restartCount: number;
  /** ISO-8601. */
  readonly restartAt: string;
  readonly firedAt: string;
  readonly recovered: boolean;
}

/** CloudWatch identity of the metrics: namespace and the one dimension Powertools adds. */
export const METRICS_NAMESPACE = 'RestartScheduler';
export const SERVICE_NAME = 'restart-scheduler';

/** A dispatched restart as the local runtime's restart stream delivers it (SSE `id:` = `seq`). */
export interface RestartNotice extends Pick<RestartRequest, 'restartId' | 'key' | 'restartCount' | 'restartAt' | 'firedAt' | 'recovered'> {
  /** The restart's position in the durable restart log, from 1. */
  readonly seq: number;
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
