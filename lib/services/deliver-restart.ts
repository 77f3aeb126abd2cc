import { deliveryRetryDelay, eventRecord, formatPod, type Clock, type DeliveryRetryPolicy, type TargetKind } from '../core/index.ts';
import { DeliveryError, type EventSink, type RestartRequest, type RestartTarget } from '../ports.ts';
import { errorDetails, sleepOf, type OperationalLog } from './deps.ts';

/** What delivering a restart needs: a target per kind, and where to record a failure. */
export interface DeliveryDeps {
  /** The targets this deployment delivers to; a restart for a kind without one fails (and is recorded). */
  readonly targets: Partial<Record<Exclude<TargetKind, 'bus'>, RestartTarget>>;
  readonly sink: Pick<EventSink, 'record'>;
  readonly clock: Clock;
  readonly log: OperationalLog;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface DeliveryOptions extends DeliveryRetryPolicy {
  /**
   * What a retryable failure does after the last attempt: `fail` records
   * `RestartFailed` (the local runtime); `throw` hands the restart back to the
   * caller's own retries (on AWS: Lambda's, then the delivery-failure queue,
   * whose handler records the `RestartFailed`).
   * @default 'fail'
   */
  readonly exhausted?: 'fail' | 'throw';
}

export type DeliveryOutcome =
  | { readonly outcome: 'Delivered' | 'Skipped'; readonly attempts: number; readonly detail: string }
  | { readonly outcome: 'Failed'; readonly attempts: number; readonly code: string; readonly message: string };

/**
 * Delivers one restart to its target, at least once: retryable failures
 * (throttling, a 5xx, no capacity) are retried with exponential back-off,
 * others end at once. A delivery that does not go through is never silent: it
 * ends in a `RestartFailed` event record (and so the `RestartsFailed` metric
 * and its alarm). Every attempt carries the same `restartId`, the target's
 * idempotency key, so a repeat starts nothing twice.
 */
export async function deliverRestart(deps: DeliveryDeps, request: RestartRequest, options: DeliveryOptions): Promise<DeliveryOutcome> {
  if (request.target === 'bus') return { outcome: 'Skipped', attempts: 0, detail: 'the bus event is the whole delivery' };
  const target = deps.targets[request.target];
  if (!target) return failed(deps, request, 0, new DeliveryError(`no ${request.target} target is configured here`, false, 'NotConfigured'));
  const sleep = sleepOf(deps);
  // Never before its instant: the dispatch was not early, and neither is its delivery.
  const early = Date.parse(request.restartAt) - deps.clock.now();
  if (early > 0) await sleep(early);

  try {
    const { value: receipt, attempts } = await withDeliveryRetries(options, sleep, () => target.deliver(request), (error, attempt) =>
      deps.log.warn('delivering a restart failed; retrying', { restartId: request.restartId, target: request.target, attempt, code: error.code, ...errorDetails(error) }),
    );
    return { outcome: receipt.status === 'skipped' ? 'Skipped' : 'Delivered', attempts, detail: receipt.detail };
  } catch (caught) {
    if (!(caught instanceof DeliveryAttemptsFailed)) throw caught;
    if (caught.error.retryable && options.exhausted === 'throw') throw caught.error;
    return failed(deps, request, caught.attempts, caught.error);
  }
}

/** Every attempt of `withDeliveryRetries` failed, or one failed for good. */
export class DeliveryAttemptsFailed extends Error {
  override readonly name = 'DeliveryAttemptsFailed';
  constructor(
    readonly error: DeliveryError,
    readonly attempts: number,
  ) {
    super(error.message);
  }
}

/**
 * Runs `attempt` until it succeeds, fails with an error that is not
 * retryable, or has been tried `policy.maxAttempts` times, pausing with
 * exponential back-off in between. Any other error counts as retryable.
 */
export async function withDeliveryRetries<T>(
  policy: DeliveryRetryPolicy,
  sleep: (ms: number) => Promise<void>,
  attempt: () => Promise<T>,
  onRetry?: (error: DeliveryError, attempt: number) => void,
): Promise<{ readonly value: T; readonly attempts: number }> {
  for (let attempts = 1; ; attempts++) {
    try {
      return { value: await attempt(), attempts };
    } catch (caught) {
      const error = caught instanceof DeliveryError ? caught : new DeliveryError(caught instanceof Error ? caught.message : String(caught), true, caught instanceof Error ? caught.name : 'Error');
      if (!error.retryable || attempts >= policy.maxAttempts) throw new DeliveryAttemptsFailed(error, attempts);
      onRetry?.(error, attempts);
      await sleep(deliveryRetryDelay(policy, attempts));
    }
  }
}

function failed(deps: DeliveryDeps, request: RestartRequest, attempts: number, error: DeliveryError): DeliveryOutcome {
  recordRestartFailed(deps, request, { attempts, code: error.code, message: error.message });
  return { outcome: 'Failed', attempts, code: error.code, message: error.message };
}

/** The `RestartFailed` record of a restart whose delivery gave up (also used for deliveries that failed on AWS's own retries). */
export function recordRestartFailed(
  deps: Pick<DeliveryDeps, 'sink' | 'clock' | 'log'>,
  request: RestartRequest,
  failure: { readonly attempts?: number; readonly code: string; readonly message: string },
): void {
  const ref = { key: request.key, namespace: request.namespace, pod: request.pod, ...(request.podUid ? { podUid: request.podUid } : {}), container: request.container };
  const tries = failure.attempts === undefined ? 'after its retries' : failure.attempts === 1 ? '1 attempt' : `${failure.attempts} attempts`;
  deps.sink.record([
    eventRecord('RestartFailed', ref, deps.clock.now(), {
      reason: failure.code.slice(0, 128),
      restartCount: request.restartCount,
      restartId: request.restartId,
      restartAt: Date.parse(request.restartAt),
      target: request.target,
      ...(failure.attempts !== undefined ? { attempts: failure.attempts } : {}),
      message: `Restart ${request.restartCount} of container=${request.container} pod=${formatPod(ref)} was not delivered to its ${request.target} target (${tries}): ${failure.message}`.slice(0, 1_000),
    }),
  ]);
  deps.log.error('a restart was not delivered to its target', { restartId: request.restartId, target: request.target, attempts: failure.attempts, code: failure.code });
}
