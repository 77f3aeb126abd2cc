import type { Clock, Random } from '../core/index.ts';
import type { ServiceConfig } from '../config.ts';
import type { BackoffStore, EventSink, RestartTimer } from '../ports.ts';

/** Operational diagnostics (not event records): failures an operator should see. */
export interface OperationalLog {
  warn(message: string, details?: Record<string, unknown>): void;
  error(message: string, details?: Record<string, unknown>): void;
}

/** Everything the services need; the same shape in Lambda and in the local runtime. */
export interface ServiceDeps {
  readonly store: BackoffStore;
  readonly timer: RestartTimer;
  readonly sink: EventSink;
  readonly clock: Clock;
  /** Jitter for back-off (when the policy asks for it) and for retry pauses. */
  readonly random: Random;
  readonly config: ServiceConfig;
  readonly log: OperationalLog;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Too many concurrent writers on one container: the caller may retry. */
export class WriteContentionError extends Error {
  constructor(
    readonly key: string,
    readonly attempts: number,
  ) {
    super(`gave up writing ${key} after ${attempts} conflicting attempts`);
    this.name = 'WriteContentionError';
  }
}

/**
 * Pause before retrying a conflicting write: "full jitter" exponential back-off
 * (10 ms doubling, capped at 200 ms), so colliding writers spread out.
 */
export async function pauseAfterConflict(deps: ServiceDeps, attempt: number): Promise<void> {
  deps.sink.metric('WriteConflicts', 1);
  const ceiling = Math.min(200, 10 * 2 ** (attempt - 1));
  await sleeper(deps)(Math.floor(deps.random() * ceiling));
}

/**
 * Waits until the clock reads `instant` or later and returns what it reads
 * then: never earlier, however the sleep rounds (a timer may wake a
 * millisecond early, or more when its event loop started the turn late).
 */
export async function waitUntil(deps: Pick<ServiceDeps, 'clock' | 'sleep'>, instant: number): Promise<number> {
  const sleep = sleeper(deps);
  for (;;) {
    const now = deps.clock.now();
    if (now >= instant) return now;
    await sleep(instant - now);
  }
}

function sleeper(deps: Pick<ServiceDeps, 'sleep'>): (ms: number) => Promise<void> {
  return deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
}

export function errorDetails(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { error: error.name, errorMessage: error.message } : { error: String(error) };
}
