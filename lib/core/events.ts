import { containerKey, type ContainerRef } from './container.ts';
import type { EventRecord, EventType } from './model.ts';

/**
 * Marks a log line as an event record, so Logs Insights queries can select
 * event records (`filter schema = "restart-scheduler.event/v1"`) among other logs.
 */
export const EVENT_RECORD_SCHEMA = 'restart-scheduler.event/v1';

type EventFields = Omit<EventRecord, 'time' | 'type' | 'key' | 'namespace' | 'pod' | 'podUid' | 'container' | 'restartAt'> & {
  /** Epoch ms; written as ISO-8601. */
  readonly restartAt?: number | null;
};

/** Builds one event record about `ref` at `now`, with the common fields filled in. */
export function eventRecord(type: EventType, ref: ContainerRef & { key?: string }, now: number, fields: EventFields): EventRecord {
  const { restartAt, ...rest } = fields;
  return {
    time: new Date(now).toISOString(),
    type,
    key: ref.key ?? containerKey(ref),
    namespace: ref.namespace,
    pod: ref.pod,
    ...(ref.podUid ? { podUid: ref.podUid } : {}),
    container: ref.container,
    ...rest,
    ...(restartAt !== undefined && restartAt !== null ? { restartAt: new Date(restartAt).toISOString() } : {}),
  };
}
