import type { EventRecord, EventType } from './core/index.ts';
import type { MetricName } from './ports.ts';

/** The counters each event record type adds one to. */
const RECORD_COUNTERS: Partial<Record<EventType, readonly MetricName[]>> = {
  Exited: ['ExitsReceived'],
  RestartScheduled: ['RestartsScheduled'],
  Restarted: ['RestartsDispatched'],
  RestartRecovered: ['RestartsDispatched', 'RestartsRecovered'],
  RestartFailed: ['RestartsFailed'],
};

/**
 * The metric data points an event record stands for. Every sink derives its
 * metrics from the records, so a metric and the log line it summarises can
 * never disagree.
 */
export function metricsOf(event: EventRecord): { readonly name: MetricName; readonly value: number }[] {
  const points = (RECORD_COUNTERS[event.type] ?? []).map((name) => ({ name, value: 1 }));
  if (event.latenessMs !== undefined) points.push({ name: 'RestartLateness', value: event.latenessMs });
  return points;
}
