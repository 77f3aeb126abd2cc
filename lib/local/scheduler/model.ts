/**
 * The schedule as the local EventBridge Scheduler endpoint keeps it: the
 * fields of the service's GetSchedule output (same names, so a reader who
 * knows the API knows this type), with dates as epoch milliseconds, plus the
 * local delivery bookkeeping the service keeps out of sight.
 */

export type ScheduleState = 'ENABLED' | 'DISABLED';
export type FlexibleTimeWindowMode = 'OFF' | 'FLEXIBLE';
export type ActionAfterCompletion = 'NONE' | 'DELETE';

export interface LocalFlexibleTimeWindow {
  readonly Mode: FlexibleTimeWindowMode;
  /** Present exactly when `Mode` is `FLEXIBLE`. */
  readonly MaximumWindowInMinutes?: number;
}

export interface LocalRetryPolicy {
  readonly MaximumRetryAttempts: number;
  readonly MaximumEventAgeInSeconds: number;
}

export interface LocalTarget {
  readonly Arn: string;
  readonly RoleArn: string;
  readonly Input?: string;
  /** Always present: the service fills in its defaults (185 attempts, 86400 s) when a request omits it. */
  readonly RetryPolicy: LocalRetryPolicy;
  readonly DeadLetterConfig?: { readonly Arn: string };
  /**
   * Target-type parameters the endpoint does not interpret (SqsParameters,
   * EventBridgeParameters, EcsParameters, …), kept verbatim and returned by GetSchedule.
   */
  readonly Parameters?: Readonly<Record<string, unknown>>;
}

/** Where a due schedule's delivery stands after at least one failed attempt. */
export interface LocalDelivery {
  /** Attempts made so far (the first invocation counts as one). */
  readonly Attempts: number;
  /** Epoch ms of the next attempt. */
  readonly NextAttemptAt: number;
  readonly LastError: string;
}

export interface LocalSchedule {
  readonly Arn: string;
  readonly Name: string;
  readonly GroupName: string;
  readonly ScheduleExpression: string;
  readonly ScheduleExpressionTimezone: string;
  readonly FlexibleTimeWindow: LocalFlexibleTimeWindow;
  readonly Target: LocalTarget;
  readonly State: ScheduleState;
  readonly ActionAfterCompletion: ActionAfterCompletion;
  readonly Description?: string;
  /** Epoch ms. Accepted and returned; a one-time schedule ignores it, as the service does. */
  readonly StartDate?: number;
  /** Epoch ms. Accepted and returned; a one-time schedule ignores it, as the service does. */
  readonly EndDate?: number;
  readonly KmsKeyArn?: string;
  readonly ClientToken?: string;
  /** Epoch ms. */
  readonly CreationDate: number;
  /** Epoch ms. */
  readonly LastModificationDate: number;
  /** Epoch ms of the instant `ScheduleExpression` names in `ScheduleExpressionTimezone`. */
  readonly ScheduledAt: number;
  /** Set once a delivery attempt has failed and a retry is pending. */
  readonly Delivery?: LocalDelivery;
  /**
   * Epoch ms at which the one invocation finished (succeeded, or was dead-lettered
   * or dropped). Only a schedule with `ActionAfterCompletion: NONE` survives it; it
   * keeps its state and never fires again.
   */
  readonly CompletedAt?: number;
}

/** What `onFire` learns besides the schedule itself. */
export interface FireContext {
  /** 1 for the first invocation, 2 for the first retry, … */
  readonly attempt: number;
  /** Epoch ms the schedule was due (its `ScheduledAt`). */
  readonly scheduledAt: number;
  /** Epoch ms of this attempt, by the endpoint's clock. */
  readonly firedAt: number;
}

export type DeadLetterReason = 'MaximumRetryAttemptsExceeded' | 'MaximumEventAgeExceeded';

export interface DeadLetterContext {
  readonly reason: DeadLetterReason;
  readonly attempts: number;
}

/** The service's defaults for a target without a RetryPolicy. */
export const DEFAULT_RETRY_POLICY: LocalRetryPolicy = Object.freeze({
  MaximumRetryAttempts: 185,
  MaximumEventAgeInSeconds: 86_400,
});

export const DEFAULT_GROUP = 'default';
export const DEFAULT_TIMEZONE = 'UTC';
