/**
 * The HTTP API's backend on top of the services: the same object serves the
 * exit Lambda and the local runtime's server.
 */
import { containerKey, eventRecord, formatPod, parseContainerKey, type Decision, type ExitEvent } from '../core/index.ts';
import { InvalidRequestError, RetryableError, type ApiBackend, type EventQuery } from '../api/backend.ts';
import { InvalidCursorError } from '../ports.ts';
import { errorDetails, WriteContentionError, type ServiceDeps } from './deps.ts';
import { forEachConcurrently } from '../concurrency.ts';
import { handleExit } from './handle-exit.ts';

/** Containers of one batch handled at the same time; one container's exits always run in order. */
const BATCH_CONCURRENCY = 16;

const THROTTLING_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/** Is this a transient failure of a dependency, worth a retry by the caller? */
export function isRetryable(error: unknown): boolean {
  if (error instanceof WriteContentionError || error instanceof RetryableError) return true;
  if (!(error instanceof Error)) return false;
  const sdk = error as Error & { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; code?: string };
  if (sdk.$retryable) return true;
  if (THROTTLING_ERRORS.has(error.name)) return true;
  if ((sdk.$metadata?.httpStatusCode ?? 0) >= 500) return true;
  return ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(sdk.code ?? '');
}

export interface ServiceBackendOptions {
  /** The local runtime's event log; absent on AWS. */
  readonly listEvents?: ApiBackend['listEvents'];
}

export function createServiceBackend(deps: ServiceDeps, options: ServiceBackendOptions = {}): ApiBackend {
  return {
    now: () => deps.clock.now(),
    submitExits: (events) => retryableOnFailure(() => submitInOrder(deps, events)),
    listContainers: (filter) =>
      retryableOnFailure(async () => {
        try {
          return await deps.store.list(filter);
        } catch (error) {
          if (error instanceof InvalidCursorError) throw new InvalidRequestError([{ path: 'cursor', message: 'must be a cursor returned by a previous page' }]);
          throw error;
        }
      }),
    getContainer: (key) => retryableOnFailure(async () => (await deps.store.get(key))?.value),
    resetContainer: (key) => retryableOnFailure(() => resetContainer(deps, key)),
    ...(options.listEvents ? { listEvents: (query: EventQuery) => options.listEvents!(query) } : {}),
    reportError: (error, request) => deps.log.error('request failed', { ...request, ...errorDetails(error) }),
  };
}

/**
 * Handles a batch: exits of different containers concurrently, exits of the
 * same container one after another in the order given (each may depend on the
 * state the previous one wrote). Decisions come back in request order.
 */
async function submitInOrder(deps: ServiceDeps, events: readonly ExitEvent[]): Promise<Decision[]> {
  const decisions: Decision[] = new Array(events.length);
  const byContainer = new Map<string, number[]>();
  events.forEach((event, index) => {
    const key = containerKey(event);
    byContainer.set(key, [...(byContainer.get(key) ?? []), index]);
  });
  await forEachConcurrently([...byContainer.values()], BATCH_CONCURRENCY, async (queue) => {
    for (const index of queue) decisions[index] = await handleExit(deps, events[index]!);
  });
  return decisions;
}

/** kubelet's Reset: forget the entry, so the next exit starts over at delay 0. */
async function resetContainer(deps: ServiceDeps, key: string): Promise<boolean> {
  const found = await deps.store.get(key);
  if (!found || !(await deps.store.delete(key, found.version))) return false;
  const ref = parseContainerKey(key) ?? found.value;
  deps.sink.record([
    eventRecord('BackoffReset', { ...ref, key }, deps.clock.now(), {
      restartCount: found.value.restartCount,
      message: `Back-off reset on request for container=${ref.container} pod=${formatPod(ref)}: the entry was forgotten`,
    }),
  ]);
  return true;
}

async function retryableOnFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isRetryable(error)) throw new RetryableError((error as Error).message);
    throw error;
  }
}
