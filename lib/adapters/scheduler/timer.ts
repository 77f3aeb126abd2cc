/**
 * `RestartTimer` in two stages (DESIGN §3). EventBridge Scheduler invokes its
 * targets with one-minute precision ("at 1:00 it invokes between 1:00:00 and
 * 1:00:59"), while kubelet's first delays are 10 s and 20 s. So:
 *
 * - coarse stage: a one-time `at()` schedule that fires ahead of the instant;
 * - fine stage: a delay queue (SQS `DelaySeconds` on AWS, an in-process timer
 *   locally) that waits out the remainder;
 * - a restart due within `directWithinMs` goes to the fine stage directly,
 *   with either precision (one SQS message is cheaper than a schedule, and
 *   exact to the second);
 * - `precision: minute` uses the schedule alone for later restarts, rounded up
 *   to the minute so it is never early: at most `MINUTE_PRECISION_MAX_LATENESS_MS` late.
 */
import { createHash } from 'node:crypto';
import { ConflictException, CreateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { MINUTE_ROUNDING_MS, SCHEDULER_WINDOW_MS, type Precision } from '../../config.ts';
import type { RestartRef, RestartTimer, TimerStage } from '../../ports.ts';
import * as z from '../../zod.ts';

/** A schedule's instant is at least this far ahead when it is created (and the direct window at least this long). */
const SCHEDULE_MIN_AHEAD_MS = 30_000;

/** Where the remainder of a restart's wait is spent. */
export interface FineStage {
  /** The longest single delay this stage accepts; longer waits are re-deferred. */
  readonly maxDelayMs: number;
  send(ref: RestartRef, delayMs: number): Promise<void>;
}

/** The payload every timer delivers to the restart handler. */
export interface RestartCallback {
  readonly key: string;
  readonly restartCount: number;
  readonly restartAt: number;
}

export function restartCallback(ref: RestartRef): RestartCallback {
  return { key: ref.key, restartCount: ref.restartCount, restartAt: ref.restartAt };
}

const restartCallbackSchema = z.object({
  key: z.string().check(z.minLength(1), z.maxLength(1_024)),
  restartCount: z.number().check(z.int(), z.gte(1)),
  restartAt: z.number().check(z.int(), z.gte(0)),
});

/** Reads a timer's payload (a schedule's input, or a fine-stage message body). */
export function parseRestartCallback(payload: unknown): RestartCallback {
  const json = typeof payload === 'string' ? JSON.parse(payload) : payload;
  const parsed = restartCallbackSchema.safeParse(json);
  if (!parsed.success) throw new Error(`not a restart callback: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'} ${issue.message}`).join('; ')}`);
  return parsed.data;
}

/** The fine stage on AWS: an SQS standard queue feeding the restart handler. */
export class SqsFineStage implements FineStage {
  /** SQS caps `DelaySeconds` at 900. */
  readonly maxDelayMs = 900_000;

  constructor(private readonly options: { readonly client: SQSClient; readonly queueUrl: string }) {}

  async send(ref: RestartRef, delayMs: number): Promise<void> {
    await this.options.client.send(
      new SendMessageCommand({
        QueueUrl: this.options.queueUrl,
        MessageBody: JSON.stringify(restartCallback(ref)),
        // Whole seconds, rounded up: the message never becomes visible early.
        DelaySeconds: Math.min(900, Math.max(0, Math.ceil(delayMs / 1_000))),
      }),
    );
  }
}

export interface SchedulerRestartTimerOptions {
  readonly scheduler: SchedulerClient;
  readonly fineStage: FineStage;
  /** The schedule group restart schedules are created in. */
  readonly groupName: string;
  /** The restart handler's ARN: the schedules' target. */
  readonly targetArn: string;
  /** The execution role Scheduler assumes to invoke the target. */
  readonly roleArn: string;
  /** An SQS queue for invocations that keep failing. */
  readonly deadLetterArn?: string;
  /** @default 'second' */
  readonly precision?: Precision;
  /**
   * How far ahead of the instant the coarse schedule fires (second precision).
   * Scheduler's window covers it, so the callback is never late on account of
   * the schedule.
   * @default SCHEDULER_WINDOW_MS (60 s)
   */
  readonly leadMs?: number;
  /**
   * Restarts due within this go straight to the fine stage, with either
   * precision. At least 30 s (a schedule is never created closer than that),
   * at most the fine stage's longest delay.
   * @default 2 minutes
   */
  readonly directWithinMs?: number;
  /** @default { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 } */
  readonly retryPolicy?: { readonly MaximumRetryAttempts: number; readonly MaximumEventAgeInSeconds: number };
}

export class SchedulerRestartTimer implements RestartTimer {
  private readonly precision: Precision;
  private readonly leadMs: number;
  private readonly directWithinMs: number;

  constructor(private readonly options: SchedulerRestartTimerOptions) {
    this.precision = options.precision ?? 'second';
    this.leadMs = options.leadMs ?? SCHEDULER_WINDOW_MS;
    // Never under SCHEDULE_MIN_AHEAD_MS: a minute-precision schedule is then
    // rounded up from the restart's own instant, never from "30 s from now",
    // which is what bounds its lateness by MINUTE_PRECISION_MAX_LATENESS_MS.
    this.directWithinMs = Math.min(Math.max(options.directWithinMs ?? 2 * MINUTE_ROUNDING_MS, SCHEDULE_MIN_AHEAD_MS), options.fineStage.maxDelayMs);
  }

  async arm(ref: RestartRef, now: number): Promise<TimerStage> {
    const delayMs = ref.restartAt - now;
    const instant = this.scheduleInstant(ref.restartAt, now);
    // Due now: the fine stage with no delay (Scheduler has no "now"). Due soon,
    // or so soon that the schedule's minute would start almost at once: the
    // fine stage too, whatever the precision — exact, cheaper than a schedule,
    // and no schedule is ever created for an instant that has passed by the
    // time Scheduler reads it.
    const soon = delayMs <= this.directWithinMs || instant - now < SCHEDULE_MIN_AHEAD_MS;
    if (delayMs <= 0 || (soon && delayMs <= this.options.fineStage.maxDelayMs)) {
      await this.options.fineStage.send(ref, Math.max(0, delayMs));
      return 'queue';
    }
    await this.createSchedule(ref, instant);
    return 'schedule';
  }

  async defer(ref: RestartRef, now: number): Promise<void> {
    await sendRemainder(this.options.fineStage, ref, now);
  }

  /**
   * The `at()` instant. Scheduler fires anywhere in the minute of its time, so
   * with `minute` precision the instant is rounded up to a whole minute (never
   * early), and at least `SCHEDULE_MIN_AHEAD_MS` from now (never in the past;
   * `arm` sends anything that close to the fine stage); with `second`
   * precision it is the minute that starts at least `leadMs` before the
   * restart (the fine stage waits out the rest).
   */
  scheduleInstant(restartAt: number, now: number): number {
    return this.precision === 'minute'
      ? Math.ceil(Math.max(restartAt, now + SCHEDULE_MIN_AHEAD_MS) / MINUTE_ROUNDING_MS) * MINUTE_ROUNDING_MS
      : Math.floor((restartAt - this.leadMs) / SCHEDULER_WINDOW_MS) * SCHEDULER_WINDOW_MS;
  }

  private async createSchedule(ref: RestartRef, instant: number): Promise<void> {
    const name = scheduleName(ref);
    const { options } = this;
    try {
      await options.scheduler.send(
        new CreateScheduleCommand({
          Name: name,
          GroupName: options.groupName,
          ScheduleExpression: atExpression(instant),
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          // The same restart always yields the same token: a retried call is idempotent.
          ClientToken: name,
          Description: `restart ${ref.restartCount} of ${ref.key}`.slice(0, 512),
          Target: {
            Arn: options.targetArn,
            RoleArn: options.roleArn,
            Input: JSON.stringify(restartCallback(ref)),
            RetryPolicy: options.retryPolicy ?? { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3_600 },
            ...(options.deadLetterArn ? { DeadLetterConfig: { Arn: options.deadLetterArn } } : {}),
          },
        }),
      );
    } catch (error) {
      // The name is derived from the restart, so an existing schedule is this
      // very restart, armed by an earlier attempt.
      if (error instanceof ConflictException) return;
      throw error;
    }
  }
}

/**
 * The timer of a function that creates no schedules (the restart callback and
 * the sync are given neither the schedule settings nor the permission): the
 * fine stage alone. An early callback's remainder goes back to it, as with
 * `SchedulerRestartTimer`; a restart armed here waits there too, in hops of at
 * most the stage's longest delay, each callback handing the rest over.
 */
export class FineStageTimer implements RestartTimer {
  constructor(private readonly fineStage: FineStage) {}

  async arm(ref: RestartRef, now: number): Promise<TimerStage> {
    await sendRemainder(this.fineStage, ref, now);
    return 'queue';
  }

  async defer(ref: RestartRef, now: number): Promise<void> {
    await sendRemainder(this.fineStage, ref, now);
  }
}

/** What remains of `ref`'s wait at `now`, up to the fine stage's longest delay, sent to it. */
async function sendRemainder(fineStage: FineStage, ref: RestartRef, now: number): Promise<void> {
  const remainingMs = Math.max(0, ref.restartAt - now);
  await fineStage.send(ref, Math.min(remainingMs, fineStage.maxDelayMs));
}

/**
 * A schedule name derived from a hash of the restart (key, restart count and
 * instant): deterministic, so a retried arm is idempotent; at most 64
 * characters of `[0-9a-zA-Z-_.]`, so no input text ever reaches it unescaped.
 * The instant is in the hash because restart counts start over when an entry
 * is reset or expires: a leftover schedule of an earlier life must not pass
 * for this one (its `ConflictException` would read as "already armed").
 */
export function scheduleName(ref: RestartRef): string {
  const digest = createHash('sha256').update(`${ref.key}\n${ref.restartCount}\n${ref.restartAt}`).digest('hex').slice(0, 40);
  return `restart-${digest}-${ref.restartCount}`;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC, whole seconds rounded up so never early. */
export function atExpression(instant: number): string {
  const seconds = Math.ceil(instant / 1_000) * 1_000;
  return `at(${new Date(seconds).toISOString().slice(0, 19)})`;
}
