/**
 * The HTTP API's backend on top of the services: the same object serves the
 * exit Lambda and the local runtime's server.
 */
import { containerKey, type Decision, type ExitEvent } from '../core/index.ts';
import { InvalidRequestError, RetryableError, type ApiBackend, type EcsWorkloadsApi, type EventQuery } from '../api/backend.ts';
import { toWorkloadView } from '../api/workloads.ts';
import { isTransientError } from '../transient.ts';
import { DeliveryError, InvalidCursorError } from '../ports.ts';
import { errorDetails, WriteContentionError, type ServiceDeps } from './deps.ts';
import { forEachConcurrently } from '../concurrency.ts';
import { handleExit } from './handle-exit.ts';
import { resetContainer } from './reset-container.ts';
import { DEFAULT_ECS_NAMESPACE, listWorkloads, registerWorkload, stopWorkload, WorkloadRejectedError, type EcsDeps } from './ecs-workloads.ts';

/** Containers of one batch handled at the same time; one container's exits always run in order. */
const BATCH_CONCURRENCY = 16;

/** Is this a transient failure of a dependency, worth a retry by the caller? */
export function isRetryable(error: unknown): boolean {
  if (error instanceof WriteContentionError || error instanceof RetryableError) return true;
  if (error instanceof DeliveryError) return error.retryable;
  return isTransientError(error);
}

export interface ServiceBackendOptions {
  /** The local runtime's event log; absent on AWS. */
  readonly listEvents?: ApiBackend['listEvents'];
  /** ECS workloads, where they are enabled. */
  readonly ecs?: EcsDeps;
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
    ...(options.ecs ? { ecs: ecsApi(deps, options.ecs) } : {}),
    reportError: (error, request) => deps.log.error('request failed', { ...request, ...errorDetails(error) }),
  };
}

/**
 * Handles a batch: exits of different containers concurrently, exits of the
 * same container one after another in the order given (each may depend on the
 * state the previous one wrote). Decisions come back in request order. A
 * batch of more than one container reads them all first, in one request per
 * 100 keys rather than one each; that read serves the first exit of each
 * container only (the ones after it must see what it wrote, so they read afresh).
 */
async function submitInOrder(deps: ServiceDeps, events: readonly ExitEvent[]): Promise<Decision[]> {
  const decisions: Decision[] = new Array(events.length);
  const byContainer = new Map<string, number[]>();
  events.forEach((event, index) => {
    const key = containerKey(event);
    const queue = byContainer.get(key);
    if (queue) queue.push(index);
    else byContainer.set(key, [index]);
  });
  const prefetched = byContainer.size > 1 ? await deps.store.getMany([...byContainer.keys()]) : undefined;
  await forEachConcurrently([...byContainer.entries()], BATCH_CONCURRENCY, async ([key, queue]) => {
    for (const [position, index] of queue.entries()) {
      const read = prefetched && position === 0 ? { prefetched: { current: prefetched.get(key) } } : {};
      decisions[index] = await handleExit(deps, events[index]!, read);
    }
  });
  return decisions;
}

function ecsApi(service: ServiceDeps, ecs: EcsDeps): EcsWorkloadsApi {
  return {
    defaultNamespace: DEFAULT_ECS_NAMESPACE,
    register: (registration) =>
      retryableOnFailure(async () => {
        try {
          return toWorkloadView(await registerWorkload(ecs, registration));
        } catch (error) {
          if (error instanceof WorkloadRejectedError) throw new InvalidRequestError([{ path: 'runTask', message: `ECS did not accept it: ${error.message}` }]);
          throw error;
        }
      }),
    list: (cursor) =>
      retryableOnFailure(async () => {
        try {
          const page = await listWorkloads(ecs, cursor);
          return { items: page.items.map((item) => toWorkloadView(item.workload, item.task)), ...(page.cursor !== undefined ? { cursor: page.cursor } : {}) };
        } catch (error) {
          if (error instanceof InvalidCursorError) throw new InvalidRequestError([{ path: 'cursor', message: 'must be a cursor returned by a previous page' }]);
          throw error;
        }
      }),
    get: (id) => retryableOnFailure(async () => {
      const found = await ecs.workloads.get(id);
      return found ? toWorkloadView(found.value) : undefined;
    }),
    stop: (id) => retryableOnFailure(async () => {
      const stopped = await stopWorkload({ ...ecs, service }, id);
      return stopped ? toWorkloadView(stopped) : undefined;
    }),
  };
}

async function retryableOnFailure<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isRetryable(error)) throw new RetryableError((error as Error).message);
    throw error;
  }
}
