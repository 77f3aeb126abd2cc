import type { Clock, Random, RestartBudgetSetting } from '../core/index.ts';
import { budgetFor, type ServiceConfig } from '../config.ts';
import type { BackoffStore, EventSink, RestartBudget, RestartOutbox, RestartTimer } from '../ports.ts';
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
  /** Where namespaces with a `restartBudget` take their slots; unused (no call) for the others. */
  readonly budget?: RestartBudget;
  /**
   * Where the restart log binds a publish to its write (the local runtime):
   * a restart due at once is then written already dispatched, in one write.
   * @default none: claimed, published, then marked
   */
  readonly restartOutbox?: RestartOutbox;
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
  await sleepOf(deps)(retryDelayMs(attempt, options, deps.random));
}

/** The deps' `sleep`, else a real timer. */
export function sleepOf(deps: { readonly sleep?: (ms: number) => Promise<void> }): (ms: number) => Promise<void> {
  return deps.sleep ?? wait;
}

/** A namespace has a `restartBudget` but the service was wired without a `RestartBudget`: a wiring mistake, not a retryable failure. */
class BudgetNotWiredError extends Error {
  constructor(readonly namespace: string) {
    super(`namespace ${namespace} has a restartBudget, but no RestartBudget is wired`);
    this.name = 'BudgetNotWiredError';
  }
}

/** The port and the budget for a restart in `namespace`, or undefined when the namespace has none (then nothing is called). */
export function budgetPort(deps: ServiceDeps, namespace: string): { port: RestartBudget; budget: RestartBudgetSetting } | undefined {
  const budget = budgetFor(namespace, deps.config);
  if (!budget) return undefined;
  if (!deps.budget) throw new BudgetNotWiredError(namespace);
  return { port: deps.budget, budget };
}

/**
 * Waits until the clock reads `instant` or later and returns what it reads
 * then: never earlier, however the sleep rounds (a timer may wake a
 * millisecond early, or more when its event loop started the turn late).
 */
export async function waitUntil(deps: Pick<ServiceDeps, 'clock' | 'sleep'>, instant: number): Promise<number> {
  const sleep = sleepOf(deps);
  for (;;) {
    const now = deps.clock.now();
    if (now >= instant) return now;
    await sleep(instant - now);
  }
}

export function errorDetails(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { error: error.name, errorMessage: error.message } : { error: String(error) };
}
