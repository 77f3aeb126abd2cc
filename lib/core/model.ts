/**
 * The shapes the core reasons about: an exit event, the stored state of one
 * container, the decision taken on an exit, and the event records that
 * describe every state change. Times are Unix epoch milliseconds.
 */
import type { BackoffEntry } from './backoff.ts';
import type { ContainerRef } from './container.ts';
import type { BackoffPolicy, RestartPolicy, RestartPolicyRule } from './policy.ts';
import type { RestartTargetSpec, TargetKind } from './target.ts';

/** A container exit as a workload reports it, after validation. */
export interface ExitEvent extends ContainerRef {
  readonly exitCode: number;
  readonly reason?: string;
  readonly startedAt?: number;
  readonly finishedAt: number;
  /**
   * The unit the workload's timestamps were reported in: 1000 for whole seconds
   * (`2026-01-01T12:00:05Z`), 100 for tenths, 1 (the default) for milliseconds.
   */
  readonly timestampResolutionMs?: number;
  /** Idempotency key: the same exit reported twice carries the same id. */
  readonly exitId?: string;
  /**
   * The restarts before the run that ended (kubelet's `containerStatus.restartCount`:
   * 0 for the first run). When present it decides whether the exit is new, a
   * repeat, or from an older run, whatever the timestamps say.
   */
  readonly restartCount?: number;
  readonly restartPolicy?: RestartPolicy;
  readonly restartPolicyRules?: readonly RestartPolicyRule[];
  readonly maxRestarts?: number;
  /** The workload's own back-off policy; else its namespace's default; else the service default. */
  readonly backoffPolicy?: BackoffPolicy;
  /** Where this container's restarts go besides the bus; else its namespace's target. */
  readonly restartTarget?: RestartTargetSpec;
}

export const CONTAINER_PHASES = ['Running', 'CrashLoopBackOff', 'Terminated'] as const;
/** kubectl's view of a container: what `status` and `GET /v1/containers` show. */
export type ContainerPhase = (typeof CONTAINER_PHASES)[number];

/**
 * The last exit as stored. `finishedAt` and `startedAt` are on the service's
 * clock (see `placeExit`); the `reported…` fields are the workload's own
 * clock, kept only to recognise a repeat of the same report.
 */
export interface ExitRecord {
  readonly exitCode: number;
  readonly reason?: string;
  /** The run's start on the service's clock: `finishedAt` minus the run's reported length. */
  readonly startedAt?: number;
  /** The exit on the service's clock: what the back-off counted from. */
  readonly finishedAt: number;
  /** When the exit reached the service. Absent on entries written before it was kept. */
  readonly receivedAt?: number;
  /** The restart count of the run that ended: as reported, else the restarts dispatched before it. */
  readonly restartCount?: number;
  /** `finishedAt` as the workload reported it. Absent on entries written before it was kept (then `finishedAt` is). */
  readonly reportedFinishedAt?: number;
  /** `startedAt` as the workload reported it. */
  readonly reportedStartedAt?: number;
  readonly exitId?: string;
}

/**
 * Progress of the latest restart decision. `waiting` until `fireRestart`
 * claims it, `dispatching` while its restart event is being published (the
 * claim expires, so a crash here is recovered), `dispatched` afterwards.
 */
export type RestartStatus = 'waiting' | 'dispatching' | 'dispatched';

export interface PendingRestart {
  /** The restart count this restart brings the container to; with the key, it names the restart. */
  readonly restartCount: number;
  readonly restartAt: number;
  readonly status: RestartStatus;
  readonly claimedAt?: number;
  readonly dispatchedAt?: number;
  /** Set when the sync, not the timer, dispatched it. */
  readonly recovered?: boolean;
  /**
   * Set once the restart holds a slot of its namespace's restart budget: how
   * much later than it was due the slot is (0: it was free at once). A
   * restart that holds a slot never takes another.
   */
  readonly budgetDelayMs?: number;
}

/**
 * The BackOff record of a container as Kubernetes' event correlator keeps an
 * Event: one record when the container enters a wait (a back-off step), then at
 * most one repeat per `backOffEventInterval` while it still waits, each with the
 * running `count` and the series' first and last instants. A new step with the
 * same message (the back-off at its cap) continues the series, as identical
 * events do in Kubernetes (`x37 over 3h`); a different message (another
 * back-off) starts a new one.
 */
export interface BackOffSeries {
  /** The restart the latest record is about: the wait it was recorded in. */
  readonly restartCount: number;
  /** The back-off of the series' waits: with the container, it makes kubelet's message (kept short: the item is written often). */
  readonly delayMs: number;
  readonly count: number;
  readonly firstTimestamp: number;
  readonly lastTimestamp: number;
  /** When the next repeat is due, if one falls before the restart; the sync reads these from a sparse index. */
  readonly nextRepeatAt?: number;
}

export const DECISION_KINDS = ['RestartNow', 'RestartScheduled', 'NoRestart', 'Duplicate', 'Stale'] as const;
export type DecisionKind = (typeof DECISION_KINDS)[number];

/** The answer to one exit event (DESIGN §4, `POST /v1/exits`). */
export interface Decision {
  readonly key: string;
  readonly decision: DecisionKind;
  /** When the restart is due; null when the container will not restart. */
  readonly restartAt: number | null;
  /** Names the restart (see `restartIdOf`): what its `Container Restart Requested` carries. */
  readonly restartId?: string;
  /** The back-off applied after `finishedAt`; 0 for an immediate restart. */
  readonly delayMs: number;
  /** How much later than the back-off allows the namespace's restart budget moved the restart; absent when it did not. */
  readonly budgetDelayMs?: number;
  readonly restartCount: number;
  /** The back-off the next crash will get. */
  readonly backoffMs: number;
  readonly state: ContainerPhase;
  readonly reason?: string;
  readonly message: string;
}

/** Everything stored about one container (one DynamoDB item). */
export interface ContainerState extends ContainerRef {
  readonly key: string;
  /** The back-off entry; absent after a reset and before the first restart. */
  readonly backoff?: BackoffEntry;
  readonly restartCount: number;
  readonly state: ContainerPhase;
  readonly reason?: string;
  readonly message?: string;
  readonly lastExit?: ExitRecord;
  /** The latest exit ids seen, newest last, so replays are recognised. */
  readonly recentExitIds: readonly string[];
  readonly lastDecision?: Decision;
  readonly restart?: PendingRestart;
  /** The BackOff record series (see `BackOffSeries`); absent until the first wait. */
  readonly backOffEvent?: BackOffSeries;
  /**
   * The policy in force at the last decision. The store derives the entry's TTL
   * from it; the next decision uses whatever policy is in force then.
   */
  readonly policy: BackoffPolicy;
  /** The restart target the last exit named, if it named one (else the namespace's applies). */
  readonly restartTarget?: RestartTargetSpec;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export const EVENT_TYPES = [
  'Exited',
  'RestartScheduled',
  'BackOff',
  'Restarted',
  'Terminated',
  'BackoffReset',
  'RestartRecovered',
  /** A dispatched restart that its target (webhook, ECS) did not take, after every retry. */
  'RestartFailed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * One event record: the same JSON object in CloudWatch Logs and in the local
 * event log (DESIGN §4). Instants are ISO-8601 strings; durations are ms.
 */
export interface EventRecord {
  readonly time: string;
  readonly type: EventType;
  readonly key: string;
  readonly namespace: string;
  readonly pod: string;
  readonly podUid?: string;
  readonly container: string;
  readonly exitCode?: number;
  readonly reason?: string;
  readonly restartCount?: number;
  /** For `RestartScheduled`, `Restarted` and `RestartRecovered`: the restart's id (see `restartIdOf`). */
  readonly restartId?: string;
  readonly delayMs?: number;
  /** For `RestartScheduled`: how much later the namespace's restart budget moved the restart. */
  readonly budgetDelayMs?: number;
  readonly backoffMs?: number;
  readonly restartAt?: string;
  /** For `Restarted`/`RestartRecovered`: how long after `restartAt` it was dispatched. */
  readonly latenessMs?: number;
  /** For `Restarted`, `RestartRecovered` and `RestartFailed`: where the restart went besides the bus. */
  readonly target?: TargetKind;
  /** For `RestartFailed`: the delivery attempts made. */
  readonly attempts?: number;
  readonly decision?: DecisionKind;
  /** For `BackOff`: how many times it has been recorded in its series, and the series' first and latest instants (ISO-8601). */
  readonly count?: number;
  readonly firstTimestamp?: string;
  readonly lastTimestamp?: string;
  readonly message: string;
}
