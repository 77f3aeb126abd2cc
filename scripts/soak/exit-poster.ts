/**
 * Posts exit events for many simulated containers through a bounded number of
 * requests (batched when allowed), and retries each exit — the same event,
 * same `exitId` — until the runtime accepts it: through `kill -9`, refused
 * connections and 503s. A retried exit the first attempt did get through
 * answers `Duplicate` with the earlier decision, so nothing is decided twice.
 */
import { ApiError, type ExitEventInput, type RestartSchedulerClient } from '../../lib/client/client.ts';
import type { DecisionView } from '../../lib/api/views.ts';

export type PostOutcome =
  | { readonly accepted: true; readonly decision: DecisionView; readonly attempts: number }
  /** A 4xx other than 429: the runtime refuses this event and retrying will not help. */
  | { readonly accepted: false; readonly reason: string; readonly attempts: number };

export interface ExitPosterOptions {
  readonly concurrency: number;
  /** Most events per request; 1 posts single events. */
  readonly batch: number;
}

export interface ExitPosterStats {
  /** Requests that got an answer the soak could use. */
  readonly requests: number;
  /** Requests that failed and were retried. */
  readonly failedRequests: number;
  /** Exits that needed more than one attempt. */
  readonly retriedExits: number;
  /** Connection refused or reset, timeouts: the runtime was down or unreachable. */
  readonly connectionErrors: number;
  /** Retried error answers by HTTP status (503 under load or during start-up; 5xx otherwise is a finding). */
  readonly retriedStatuses: Readonly<Record<string, number>>;
  /** Exits the runtime refused for good (4xx): the soak's own mistake or a runtime bug. */
  readonly rejectedExits: number;
  readonly rejections: readonly string[];
  /** Mean events per request. */
  readonly meanBatch: number;
}

interface PendingExit {
  readonly event: ExitEventInput;
  attempts: number;
  readonly settle: (outcome: PostOutcome | undefined) => void;
}

const RETRY_BASE_MS = 50;
const RETRY_CAP_MS = 2_000;

export class ExitPoster {
  private readonly queue: PendingExit[] = [];
  /** Workers waiting for work. */
  private readonly idle: (() => void)[] = [];
  private aborted = false;
  private readonly workers: Promise<void>[] = [];
  private requests = 0;
  private eventsPosted = 0;
  private failedRequests = 0;
  private retriedExits = 0;
  private connectionErrors = 0;
  private readonly retriedStatuses = new Map<string, number>();
  private rejectedExits = 0;
  private readonly rejections: string[] = [];
  private inFlight = 0;

  constructor(
    private readonly client: RestartSchedulerClient,
    private readonly options: ExitPosterOptions,
  ) {
    for (let i = 0; i < options.concurrency; i++) this.workers.push(this.work());
  }

  /** Resolves with the runtime's answer, or `undefined` if the poster was aborted first. */
  submit(event: ExitEventInput): Promise<PostOutcome | undefined> {
    if (this.aborted) return Promise.resolve(undefined);
    return new Promise((settle) => {
      this.queue.push({ event, attempts: 0, settle });
      this.wakeOne();
    });
  }

  /** Exits queued or being posted. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Stops retrying: whatever is still pending resolves `undefined`. */
  async abort(): Promise<void> {
    this.aborted = true;
    for (const item of this.queue.splice(0)) item.settle(undefined);
    this.wakeAll();
    await Promise.all(this.workers);
  }

  stats(): ExitPosterStats {
    return {
      requests: this.requests,
      failedRequests: this.failedRequests,
      retriedExits: this.retriedExits,
      connectionErrors: this.connectionErrors,
      retriedStatuses: Object.fromEntries(this.retriedStatuses),
      rejectedExits: this.rejectedExits,
      rejections: [...this.rejections],
      meanBatch: this.requests ? Math.round((this.eventsPosted / this.requests) * 10) / 10 : 0,
    };
  }

  private async work(): Promise<void> {
    while (!this.aborted) {
      const items = this.queue.splice(0, this.options.batch);
      if (items.length === 0) {
        await new Promise<void>((resolve) => this.idle.push(resolve));
        continue;
      }
      this.inFlight += items.length;
      try {
        await this.post(items);
      } finally {
        this.inFlight -= items.length;
      }
    }
  }

  /** Posts `items` until they are answered, refused for good, or the poster aborts. */
  private async post(items: PendingExit[]): Promise<void> {
    for (let failures = 0; ; failures++) {
      if (this.aborted) {
        for (const item of items) item.settle(undefined);
        return;
      }
      for (const item of items) {
        item.attempts++;
        if (item.attempts === 2) this.retriedExits++;
      }
      try {
        const decisions =
          this.options.batch === 1 ? [await this.client.postExit(items[0]!.event)] : await this.client.postExits(items.map((item) => item.event));
        this.requests++;
        this.eventsPosted += items.length;
        items.forEach((item, index) => item.settle({ accepted: true, decision: decisions[index]!, attempts: item.attempts }));
        return;
      } catch (error) {
        const verdict = classify(error);
        if (verdict.retry) {
          this.failedRequests++;
          if (verdict.status === undefined) this.connectionErrors++;
          else this.retriedStatuses.set(String(verdict.status), (this.retriedStatuses.get(String(verdict.status)) ?? 0) + 1);
          const ceiling = Math.min(RETRY_CAP_MS, RETRY_BASE_MS * 2 ** Math.min(failures, 10));
          await sleep(ceiling / 2 + Math.random() * (ceiling / 2));
          continue;
        }
        this.requests++;
        this.rejectedExits += items.length;
        if (this.rejections.length < 5) this.rejections.push(verdict.reason);
        for (const item of items) item.settle({ accepted: false, reason: verdict.reason, attempts: item.attempts });
        return;
      }
    }
  }

  private wakeOne(): void {
    this.idle.shift()?.();
  }

  private wakeAll(): void {
    for (const wake of this.idle.splice(0)) wake();
  }
}

function classify(error: unknown): { retry: true; status?: number } | { retry: false; reason: string } {
  if (error instanceof ApiError) {
    if (error.status === 429 || error.status >= 500) return { retry: true, status: error.status };
    return { retry: false, reason: error.message };
  }
  // fetch failed (refused, reset, closed mid-answer) or timed out: the runtime is down or restarting.
  return { retry: true };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
