/**
 * The fine stage in the local runtime: an in-process timer per pending
 * restart, precise to the event loop. It is not durable — after a crash the
 * runtime re-arms every waiting restart from the store at start-up.
 */
import type { FineStage } from '../adapters/scheduler/timer.ts';
import type { RestartRef } from '../ports.ts';

/** setTimeout's longest delay; a longer wait is re-deferred when it ends. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export class InProcessFineStage implements FineStage {
  readonly maxDelayMs = MAX_TIMER_DELAY_MS;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  /** `onDue` runs the restart callback; its failures are reported, not thrown. */
  constructor(private readonly onDue: (ref: RestartRef) => Promise<void>) {}

  async send(ref: RestartRef, delayMs: number): Promise<void> {
    if (this.closed) throw new Error('the fine stage is stopped');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.onDue(ref);
    }, Math.max(0, Math.min(delayMs, this.maxDelayMs)));
    this.timers.add(timer);
  }

  /** Restarts waiting in this stage right now. */
  get pending(): number {
    return this.timers.size;
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }
}
