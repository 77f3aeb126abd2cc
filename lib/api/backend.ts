/**
 * What the HTTP API needs from the rest of the system. The router validates
 * and shapes; everything that reads or writes state goes through this
 * interface, so the same router serves the Lambda and the local runtime.
 */
import type { ContainerFilter, ContainerPage, WorkloadRegistration } from '../ports.ts';
import type { WorkloadView } from './workloads.ts';
import type { Issue } from './protocol.ts';
import type { ContainerState, Decision, EventRecord, EventType, ExitEvent } from '../core/index.ts';

export interface EventQuery {
  readonly type?: EventType;
  readonly key?: string;
  /** Epoch ms: only records at or after this instant. */
  readonly since?: number;
  readonly limit: number;
}

export interface ApiBackend {
  /** Handles validated exit events in order, one decision each. Throws RetryableError when the store or timers are unavailable. */
  submitExits(events: readonly ExitEvent[]): Promise<Decision[]>;
  listContainers(filter: ContainerFilter): Promise<ContainerPage>;
  getContainer(key: string): Promise<ContainerState | undefined>;
  /** kubelet's Reset: forgets the entry. False when there was none. */
  resetContainer(key: string): Promise<boolean>;
  /** Only the local runtime keeps an event log; on AWS it is absent (events are in CloudWatch Logs). */
  listEvents?(query: EventQuery): Promise<EventRecord[]>;
  /** ECS workloads (`restart-scheduler ecs …`); absent where they are not enabled. */
  readonly ecs?: EcsWorkloadsApi;
  now(): number;
  /**
   * Told about an unexpected error before the router answers 500, so that it
   * reaches the logs: the response itself never carries it.
   */
  reportError?(error: unknown, request: { readonly method: string; readonly path: string }): void;
}

/** A transient failure of the store or the timers: the client should retry (503 with Retry-After). */
export class RetryableError extends Error {
  override readonly name: string = 'RetryableError';
}

/** The request names something the backend cannot use (e.g. a cursor it never handed out): a 400. */
export class InvalidRequestError extends Error {
  override readonly name: string = 'InvalidRequestError';
  constructor(readonly issues: readonly Issue[]) {
    super(issues.map((issue) => `${issue.path}: ${issue.message}`).join('; '));
  }
}

/** What the ECS workload routes need. Throws InvalidRequestError (ECS refused the input) or RetryableError. */
export interface EcsWorkloadsApi {
  /** The namespace of a workload registered without one. */
  readonly defaultNamespace: string;
  /** Registers a workload and starts its first task. */
  register(registration: WorkloadRegistration): Promise<WorkloadView>;
  list(cursor?: string): Promise<{ readonly items: readonly WorkloadView[]; readonly cursor?: string }>;
  get(id: string): Promise<WorkloadView | undefined>;
  /** Stops its task for good; undefined when there is no such workload. */
  stop(id: string): Promise<WorkloadView | undefined>;
}
