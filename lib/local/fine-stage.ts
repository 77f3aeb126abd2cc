/**
 * The fine stage in the local runtime: an in-process timer per pending
 * restart. It is not durable — after a crash the runtime re-arms every
 * waiting restart from the store at start-up.
 *
 * It calls back `leadMs` before the instant on purpose: the restart callback
 * reads the container then, and waits out the rest itself (`inlineWaitMs` of
 * the service config, which must cover the lead), so the restart is claimed
 * the moment its instant comes instead of a store round trip later — on a busy
 * event loop, that round trip queues behind everything else the loop is doing.
 */
import type { FineStage } from '../adapters/scheduler/timer.ts';
import type { RestartRef } from '../ports.ts';

/** setTimeout's longest delay; a longer wait is re-deferred when it ends. */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

export interface InProcessFineStageOptions {
  /** How long before the instant the callback comes. @default 0 */
  readonly leadMs?: number;
}

export class InProcessFineStage implements FineStage {
  readonly maxDelayMs = MAX_TIMER_DELAY_MS;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly leadMs: number;
  private closed = false;

  /** `onDue` runs the restart callback; its failures are reported, not thrown. */
  constructor(
    private readonly onDue: (ref: RestartRef) => Promise<void>,
    options: InProcessFineStageOptions = {},
  ) {
    this.leadMs = options.leadMs ?? 0;
  }

  async send(ref: RestartRef, delayMs: number): Promise<void> {
    if (this.closed) throw new Error('the fine stage is stopped');
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.onDue(ref);
    }, Math.max(0, Math.min(delayMs - this.leadMs, this.maxDelayMs)));
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
