/**
 * `EventSink` on AWS: event records as structured log lines (Powertools
 * Logger → CloudWatch Logs, queried with Logs Insights), messages for
 * orchestrators on the project's EventBridge bus, metrics as EMF (Powertools
 * Metrics) — most of them derived from the records themselves, so a metric
 * and the log line it summarises can never disagree.
 */
import { PutEventsCommand, type EventBridgeClient, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import { forEachConcurrently, retryDelayMs, sleep } from '../../concurrency.ts';
import { EVENT_RECORD_SCHEMA, type EventRecord } from '../../core/index.ts';
import { metricsOf } from '../../metrics.ts';
import { SERVICE_NAME, type BusMessage, type EventSink, type MetricName } from '../../ports.ts';

/** PutEvents takes at most 10 entries per call. */
const PUT_EVENTS_BATCH = 10;
/** PutEvents calls in flight at once. */
const PUT_EVENTS_CONCURRENCY = 8;
/** Attempts for entries PutEvents reports as failed (throttling, internal errors). */
export const PUT_EVENTS_ATTEMPTS = 3;
/** The pause before retrying failed entries: full jitter from 100 ms, doubling, at most 1 s. */
export const PUT_EVENTS_RETRY = { baseMs: 100, capMs: 1_000 } as const;

export interface AwsEventSinkOptions {
  readonly logger: Pick<Logger, 'info'>;
  readonly metrics: Pick<Metrics, 'addMetric'>;
  readonly eventBridge: EventBridgeClient;
  readonly eventBusName: string;
  /** @default 'restart-scheduler' */
  readonly source?: string;
  /** Waits between retries of failed entries (tests pass their own). @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Jitter of those waits. @default Math.random */
  readonly random?: () => number;
}

export class AwsEventSink implements EventSink {
  private readonly source: string;

  constructor(private readonly options: AwsEventSinkOptions) {
    this.source = options.source ?? SERVICE_NAME;
  }

  record(events: readonly EventRecord[]): void {
    for (const event of events) {
      const { message, ...fields } = event;
      // One JSON line per record: Powertools puts `message` and these fields at
      // the top level, where Logs Insights discovers them.
      this.options.logger.info(message, { schema: EVENT_RECORD_SCHEMA, ...fields });
      for (const point of metricsOf(event)) this.metric(point.name, point.value);
    }
  }

  async publish(messages: readonly BusMessage[]): Promise<void> {
    const batches: PutEventsRequestEntry[][] = [];
    for (let start = 0; start < messages.length; start += PUT_EVENTS_BATCH) {
      batches.push(messages.slice(start, start + PUT_EVENTS_BATCH).map((message) => this.entry(message)));
    }
    // A sync with thousands of waiting containers publishes hundreds of batches.
    await forEachConcurrently(batches, PUT_EVENTS_CONCURRENCY, (batch) => this.putEntries(batch));
  }

  metric(name: MetricName, value: number): void {
    this.options.metrics.addMetric(name, name === 'RestartLateness' ? MetricUnit.Milliseconds : MetricUnit.Count, value);
  }

  private entry(message: BusMessage): PutEventsRequestEntry {
    return {
      EventBusName: this.options.eventBusName,
      Source: this.source,
      DetailType: message.detailType,
      Detail: JSON.stringify(message.detail),
    };
  }

  /** PutEvents can accept a call yet fail some entries: those are retried after a pause, then reported. */
  private async putEntries(entries: PutEventsRequestEntry[]): Promise<void> {
    let pending = entries;
    for (let attempt = 1; pending.length > 0; attempt++) {
      const response = await this.options.eventBridge.send(new PutEventsCommand({ Entries: pending }));
      if (!response.FailedEntryCount) return;
      const results = response.Entries ?? [];
      const failed = pending.filter((_, index) => results[index]?.ErrorCode);
      if (attempt >= PUT_EVENTS_ATTEMPTS) {
        const reasons = [...new Set(results.map((result) => result.ErrorCode).filter(Boolean))].join(', ');
        throw new Error(`PutEvents failed for ${failed.length} of ${entries.length} entries (${reasons})`);
      }
      // Failed entries are mostly throttling: retried back to back they would
      // meet the same limit. Jittered, so that concurrent batches spread out.
      await (this.options.sleep ?? sleep)(retryDelayMs(attempt, PUT_EVENTS_RETRY, this.options.random ?? Math.random));
      pending = failed;
    }
  }
}
