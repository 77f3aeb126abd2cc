import type { Clock, Random } from '../core/index.ts';
import type { ServiceConfig } from '../config.ts';
import type { BackoffStore, EventSink, RestartTimer } from '../ports.ts';
import { retryDelayMs, sleep as wait } from '../concurrency.ts';

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
  await pauseBeforeRetry(deps, attempt, { baseMs: 10, capMs: 200 });
}

/** A jittered pause before retry `attempt` of a failed call (`retryDelayMs`), on the injected sleep. */
export async function pauseBeforeRetry(deps: Pick<ServiceDeps, 'random' | 'sleep'>, attempt: number, options: { baseMs: number; capMs: number }): Promise<void> {
  await (deps.sleep ?? wait)(retryDelayMs(attempt, options, deps.random));
}

export function errorDetails(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { error: error.name, errorMessage: error.message } : { error: String(error) };
}
