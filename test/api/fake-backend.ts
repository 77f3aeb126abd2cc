/**
 * An in-memory ApiBackend for router tests: decisions come from the real
 * planner, and every call is recorded so a test can prove that a rejected
 * request reached nothing.
 */
import {
  containerKey,
  planExit,
  resolveBackoffPolicy,
  type ContainerState,
  type Decision,
  type EventRecord,
  type ExitEvent,
} from '../../lib/core/index.ts';
import type { ContainerFilter, ContainerPage } from '../../lib/ports.ts';
import type { ApiBackend, EventQuery } from '../../lib/api/backend.ts';

export const NOW = Date.parse('2024-05-01T12:00:00.000Z');

export interface FakeBackendCalls {
  readonly submitExits: ExitEvent[][];
  readonly listContainers: ContainerFilter[];
  readonly getContainer: string[];
  readonly resetContainer: string[];
  readonly listEvents: EventQuery[];
  readonly reportError: unknown[];
}

export interface FakeBackend extends ApiBackend {
  readonly calls: FakeBackendCalls;
  readonly containers: Map<string, ContainerState>;
  /** Thrown by every data call while set. */
  failure: Error | undefined;
  /** Replaces what the next listContainers returns (for cursors). */
  nextPageCursor: string | undefined;
  events: EventRecord[];
  /** How many calls changed state. */
  writes(): number;
}

export function fakeBackend(options: { readonly withEvents?: boolean; readonly now?: number } = {}): FakeBackend {
  const now = options.now ?? NOW;
  const policy = resolveBackoffPolicy();
  const calls: FakeBackendCalls = { submitExits: [], listContainers: [], getContainer: [], resetContainer: [], listEvents: [], reportError: [] };
  const backend: FakeBackend = {
    calls,
    containers: new Map(),
    failure: undefined,
    nextPageCursor: undefined,
    events: [],
    writes: () => calls.submitExits.length + calls.resetContainer.length,
    now: () => now,
    async submitExits(events: readonly ExitEvent[]): Promise<Decision[]> {
      calls.submitExits.push([...events]);
      if (backend.failure) throw backend.failure;
      return events.map((exit) => {
        const plan = planExit(backend.containers.get(containerKey(exit)), exit, { policy: exit.backoffPolicy ?? policy, now });
        if (plan.next) backend.containers.set(plan.next.key, plan.next);
        return plan.decision;
      });
    },
    async listContainers(filter: ContainerFilter): Promise<ContainerPage> {
      calls.listContainers.push(filter);
      if (backend.failure) throw backend.failure;
      const items = [...backend.containers.values()]
        .filter((state) => (filter.namespace === undefined || state.namespace === filter.namespace) && (filter.state === undefined || state.state === filter.state))
        .slice(0, filter.limit ?? 100);
      return { items, ...(backend.nextPageCursor !== undefined ? { cursor: backend.nextPageCursor } : {}) };
    },
    async getContainer(key: string): Promise<ContainerState | undefined> {
      calls.getContainer.push(key);
      if (backend.failure) throw backend.failure;
      return backend.containers.get(key);
    },
    async resetContainer(key: string): Promise<boolean> {
      calls.resetContainer.push(key);
      if (backend.failure) throw backend.failure;
      return backend.containers.delete(key);
    },
    reportError(error: unknown): void {
      calls.reportError.push(error);
    },
  };
  if (options.withEvents) {
    backend.listEvents = async (query: EventQuery): Promise<EventRecord[]> => {
      calls.listEvents.push(query);
      if (backend.failure) throw backend.failure;
      return backend.events
        .filter((record) => (query.type === undefined || record.type === query.type) && (query.key === undefined || record.key === query.key))
        .slice(0, query.limit);
    };
  }
  return backend;
}
