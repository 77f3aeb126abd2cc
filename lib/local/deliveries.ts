/**
 * The local runtime's restart targets: what an EventBridge rule and its
 * target are on AWS. Deliveries are driven from the durable restart log
 * (`restarts.jsonl`, the local bus), not from the dispatch itself: a restart
 * whose target is a webhook or ECS is in the log before anyone hears of it,
 * and `deliveries.jsonl` records each delivery's outcome. A restart in the
 * log without an outcome is pending: delivered now, or — after a crash, even
 * `kill -9` mid-retry — once the runtime starts again, with the same
 * `restartId` (the receiver's idempotency key). Attempts are retried with
 * back-off; one that keeps failing ends in `RestartFailed`.
 */
import { parseContainerKey, type DeliveryRetryPolicy } from '../core/index.ts';
import type { RestartNotice, RestartRequest } from '../ports.ts';
import { deliverRestart, type DeliveryDeps, type DeliveryOutcome } from '../services/deliver-restart.ts';
import { errorDetails } from '../services/deps.ts';
import { FileAppender, readJsonLines } from './appender.ts';
import type { LocalEventLog } from './event-log.ts';

/** One line of `deliveries.jsonl`. */
export interface DeliveryRecord {
  readonly restartId: string;
  readonly outcome: DeliveryOutcome['outcome'];
  readonly attempts: number;
  readonly at: string;
  /** What the target answered (`Delivered`, `Skipped`), or the failure's code (`Failed`). */
  readonly detail: string;
}

/** 1 s doubling to a minute, 8 attempts: about two minutes of trying before `RestartFailed`. */
export const LOCAL_DELIVERY_RETRY: DeliveryRetryPolicy = { maxAttempts: 8, initialDelayMs: 1_000, maxDelayMs: 60_000 };

export interface LocalDeliveriesOptions {
  readonly eventLog: LocalEventLog;
  /** `deliveries.jsonl`; in memory only when omitted. */
  readonly file?: string;
  readonly deps: Omit<DeliveryDeps, 'sleep'>;
  /** @default LOCAL_DELIVERY_RETRY */
  readonly retry?: DeliveryRetryPolicy;
}

class Closing extends Error {}

export class LocalDeliveries {
  private readonly done = new Map<string, DeliveryRecord>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly sleeping = new Set<() => void>();
  private unsubscribe: (() => void) | undefined;
  private closed = false;
  private readonly file: FileAppender | undefined;

  constructor(private readonly options: LocalDeliveriesOptions) {
    if (options.file) {
      // A line torn by a crash mid-write is skipped: that delivery counts as pending, and goes out again.
      for (const record of readJsonLines<DeliveryRecord>(options.file)) this.done.set(record.restartId, record);
      this.file = new FileAppender(options.file);
    }
  }

  /** Delivers what the log holds without an outcome, then every restart the log appends from now on. */
  start(): void {
    this.unsubscribe = this.options.eventLog.restarts.subscribe((notice) => this.deliver(notice));
    for (const notice of this.options.eventLog.restarts.all()) this.deliver(notice);
  }

  /** Restarts handed to a target whose delivery has no outcome yet. */
  get pending(): number {
    return this.running.size;
  }

  /** The outcome of a restart's delivery, once it has one. */
  outcome(restartId: string): DeliveryRecord | undefined {
    return this.done.get(restartId);
  }

  /** Waits for every delivery in progress to reach an outcome (tests). */
  async settled(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running.values()]);
  }

  /** Stops: deliveries waiting for their next attempt stay pending, for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    for (const wake of this.sleeping) wake();
    await Promise.allSettled([...this.running.values()]);
    await this.file?.close();
  }

  private deliver(notice: RestartNotice): void {
    if (this.closed || notice.target === undefined || notice.target === 'bus') return;
    if (this.done.has(notice.restartId) || this.running.has(notice.restartId)) return;
    const request = requestOf(notice);
    if (!request) return;
    const delivery = deliverRestart({ ...this.options.deps, sleep: (ms) => this.sleep(ms) }, request, this.options.retry ?? LOCAL_DELIVERY_RETRY)
      .then((outcome) => this.remember(request, outcome))
      .catch((error: unknown) => {
        if (!(error instanceof Closing)) this.options.deps.log.error('delivering a restart failed; it is delivered again at the next start', { restartId: request.restartId, ...errorDetails(error) });
      })
      .finally(() => this.running.delete(request.restartId));
    this.running.set(request.restartId, delivery);
  }

  private async remember(request: RestartRequest, outcome: DeliveryOutcome): Promise<void> {
    const record: DeliveryRecord = {
      restartId: request.restartId,
      outcome: outcome.outcome,
      attempts: outcome.attempts,
      at: new Date(this.options.deps.clock.now()).toISOString(),
      detail: outcome.outcome === 'Failed' ? outcome.code : outcome.detail,
    };
    // Written before the delivery counts as done (`outcome`, `settled`, no
    // longer pending): an outcome that is not in the file is not one, and the
    // restart goes out again at the next start.
    await this.file?.append(`${JSON.stringify(record)}\n`);
    this.done.set(request.restartId, record);
  }

  /** A pause that `close` cuts short: the delivery then stops where it is, still pending. */
  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.reject(new Closing());
    return new Promise<void>((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer);
        this.sleeping.delete(wake);
        reject(new Closing());
      };
      const timer = setTimeout(() => {
        this.sleeping.delete(wake);
        resolve();
      }, ms);
      this.sleeping.add(wake);
    });
  }
}

/** The `Container Restart Requested` detail a restart log entry stands for (the key holds the container reference). */
function requestOf(notice: RestartNotice): RestartRequest | undefined {
  const ref = parseContainerKey(notice.key);
  if (!ref) return undefined;
  return {
    restartId: notice.restartId,
    key: notice.key,
    namespace: ref.namespace,
    pod: ref.pod,
    podUid: ref.podUid ?? null,
    container: ref.container,
    containerHash: ref.containerHash ?? null,
    restartCount: notice.restartCount,
    restartAt: notice.restartAt,
    firedAt: notice.firedAt,
    recovered: notice.recovered,
    target: notice.target,
  };
}
