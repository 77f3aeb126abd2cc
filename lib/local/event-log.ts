/**
 * `EventSink` for the local runtime:
 * - event records → `events.jsonl` under the data directory (the same JSON
 *   objects as the CloudWatch log lines), one readable console line each, and
 *   an in-memory index for `GET /v1/events`; each record's sequence number is
 *   its line in the file, and `GET /v1/events/stream` follows them (resuming
 *   with `Last-Event-ID` like the restart stream);
 * - restart dispatches → `restarts.jsonl`, a durable log with sequence
 *   numbers, streamed to SSE subscribers (`GET /v1/restarts/stream`), who
 *   resume after a reconnect with `Last-Event-ID`. A restart is appended at
 *   most once (its `restartId` is remembered), so a re-publish after a crash
 *   between publish and acknowledgement never reaches a client twice;
 * - it is also the runtime's restart outbox (`RestartOutbox`): a restart due
 *   at once is kept in the file ahead of the write that stores it dispatched
 *   (a `pending` line, heard by nobody), then published (its numbered line)
 *   if that write landed or dropped (a `dropped` line) if it did not; one
 *   whose outcome the process never learnt is settled against the store when
 *   the runtime starts and by each sync;
 * - metrics → in-memory counters.
 *
 * Both files are appended off the event loop, in batches (`FileAppender`): a
 * restart is written before any subscriber hears of it (`publish` resolves
 * after both), and the local server answers a request once the records it
 * caused are written (`flushed`), as a synchronous append would have ordered
 * them — without stopping every timer and request for each write.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_RECORD_SCHEMA, type EventRecord } from '../core/index.ts';
import type { EventQuery } from '../api/backend.ts';
import { metricsOf } from '../metrics.ts';
import {
  BUS_DETAIL_TYPES,
  type BusMessage,
  type EventSink,
  type MetricName,
  type KeptRestart,
  type RestartNotice,
  type RestartOutbox,
  type RestartRequest,
  type WriteResult,
  type SequencedEvent,
} from '../ports.ts';
import { errorDetails, type OperationalLog } from '../services/deps.ts';
import { FileAppender, readJsonLines } from './appender.ts';
import { flatString } from './flat-string.ts';
import { consoleLog } from './console-log.ts';
import { SequencedLog } from './sequenced-log.ts';

export interface LocalEventLogOptions {
  /** Directory for events.jsonl and restarts.jsonl; in memory only when omitted. */
  readonly dir?: string;
  /** Receives one readable line per event record (the console). */
  readonly echo?: (line: string) => void;
  /**
   * Most event records (and restarts) kept in memory for queries and replay;
   * older ones stay in the files. Each costs about half a kilobyte of heap.
   * @default 50_000
   */
  readonly memoryLimit?: number;
  /** Where a failed write of events.jsonl is reported (a failed restart write fails its publish instead). @default console.error */
  readonly log?: OperationalLog;
}

const WRITTEN: Promise<void> = Promise.resolve();

/** A line of restarts.jsonl: a published restart (a notice), one kept ahead of its write, or one dropped because its write did not land. */
type RestartLine = RestartNotice | { readonly pending: KeptRestart } | { readonly dropped: string };

export class LocalEventLog implements EventSink, RestartOutbox {
  /**
   * Event records, kept up to `memoryLimit` (older ones stay in the file,
   * with their dispatch ids). A re-dispatch after a crash comes within a
   * claim's lease, long before its record could be pushed out.
   */
  readonly events: SequencedLog<SequencedEvent>;
  /** Dispatched restarts, kept up to `memoryLimit`: a client resuming further back than that misses the oldest. */
  readonly restarts: SequencedLog<RestartNotice>;
  private readonly restartIds = new Set<string>();
  /** The restart ids of every Restarted / RestartRecovered record kept. */
  private readonly recordedDispatches = new Set<string>();
  /** Restarts kept ahead of a write whose outcome is unknown, by restart id, with how many such writes each has. */
  private readonly unsettledRestarts = new Map<string, { readonly restart: KeptRestart; writes: number }>();
  private readonly counters = new Map<MetricName, number>();
  private readonly eventsFile: FileAppender | undefined;
  private readonly restartsFile: FileAppender | undefined;
  /** The sequence number the next restart gets (restarts being written hold theirs already). */
  private nextRestartSeq: number;

  constructor(private readonly options: LocalEventLogOptions = {}) {
    const memoryLimit = options.memoryLimit ?? 50_000;
    this.events = new SequencedLog<SequencedEvent>(memoryLimit, ({ record }) => {
      if (isDispatch(record)) this.recordedDispatches.delete(dispatchId(record));
    });
    this.restarts = new SequencedLog<RestartNotice>(memoryLimit, (restart) => this.restartIds.delete(restart.restartId));
    if (options.dir) {
      mkdirSync(options.dir, { recursive: true });
      const eventsFile = join(options.dir, 'events.jsonl');
      const restartsFile = join(options.dir, 'restarts.jsonl');
      for (const event of readJsonLines<EventRecord & { schema?: string }>(eventsFile)) {
        const { schema: _schema, ...record } = event;
        this.events.restore(this.remember(record));
      }
      for (const line of readJsonLines<RestartLine>(restartsFile)) this.restoreRestart(line);
      this.eventsFile = new FileAppender(eventsFile);
      this.restartsFile = new FileAppender(restartsFile);
    }
    this.nextRestartSeq = this.restarts.nextSeq;
  }

  record(input: readonly EventRecord[]): void {
    // A restart re-dispatched after a crash between its record and its
    // acknowledgement is recorded once, as it is streamed once.
    const events = input.filter((event) => !isDispatch(event) || !this.recordedDispatches.has(dispatchId(event)));
    if (events.length === 0) return;
    if (this.eventsFile) {
      this.eventsFile.append(events.map((event) => `${JSON.stringify({ schema: EVENT_RECORD_SCHEMA, ...event })}\n`).join('')).catch((error: unknown) => {
        (this.options.log ?? consoleLog).error('writing event records failed', { file: 'events.jsonl', ...errorDetails(error) });
      });
    }
    for (const event of events) {
      this.options.echo?.(consoleLine(event));
      for (const point of metricsOf(event)) this.count(point.name, point.value);
      this.events.append(this.remember(kept(event)));
    }
  }

  async publish(messages: readonly BusMessage[]): Promise<void> {
    const restarts = messages.filter((message) => message.detailType === BUS_DETAIL_TYPES.restartRequested).map((message) => keptRestart(message.detail as unknown as RestartRequest));
    await this.publishRestarts(restarts);
  }

  async publishWith(request: RestartRequest, write: () => Promise<WriteResult>): Promise<WriteResult> {
    const restart = keptRestart(request);
    // Published already (a repeat after a crash): the write alone.
    if (this.restartIds.has(restart.restartId)) return write();
    await this.restartsFile?.append(`${JSON.stringify({ pending: restart })}\n`);
    let written: WriteResult;
    try {
      written = await write();
    } catch (error) {
      this.keepUnsettled(restart);
      throw error;
    }
    if (written.written) {
      try {
        await this.publishRestarts([restart]);
      } catch (error) {
        // The decision stands; the restart is settled later, as after a crash.
        this.keepUnsettled(restart);
        (this.options.log ?? consoleLog).error('writing a restart failed; it is published once the restart log is writable', { key: restart.key, ...errorDetails(error) });
      }
    } else {
      await this.dropRestart(restart.restartId);
    }
    return written;
  }

  unsettled(): readonly KeptRestart[] {
    return [...this.unsettledRestarts.values()].map(({ restart }) => restart);
  }

  async settle(restartId: string, landed: boolean): Promise<void> {
    const entry = this.unsettledRestarts.get(restartId);
    if (!entry) return;
    if (landed) {
      await this.publishRestarts([entry.restart]);
      this.unsettledRestarts.delete(restartId);
      return;
    }
    for (; entry.writes > 0; entry.writes--) await this.dropRestart(restartId);
    this.unsettledRestarts.delete(restartId);
  }

  /** Numbers, writes and then streams the restarts not published before. */
  private async publishRestarts(restarts: readonly KeptRestart[]): Promise<void> {
    const fresh: RestartNotice[] = [];
    for (const restart of restarts) {
      if (this.restartIds.has(restart.restartId)) continue;
      // Held as long as the restart is kept: one flat string for the set and the notice.
      const restartId = flatString(restart.restartId);
      // Taken now, so that a second publish of it while this one is being written is dropped.
      this.restartIds.add(restartId);
      fresh.push({ seq: this.nextRestartSeq++, ...restart, restartId });
    }
    if (fresh.length === 0) return;
    // Durable before anyone hears of it: a client that missed the live event
    // (it was reconnecting, or the runtime died) gets it from the log.
    if (this.restartsFile) {
      try {
        await this.restartsFile.append(fresh.map((restart) => `${JSON.stringify(restart)}\n`).join(''));
      } catch (error) {
        // Not published: a retry of the dispatch may publish it again (under a
        // new sequence number; a stream skips the gap).
        for (const restart of fresh) this.restartIds.delete(restart.restartId);
        throw error;
      }
    }
    // Batches settle in order, so sequence numbers reach the log in order.
    for (const restart of fresh) this.restarts.append(restart);
  }

  private async dropRestart(restartId: string): Promise<void> {
    await this.restartsFile?.append(`${JSON.stringify({ dropped: restartId })}\n`);
  }

  private keepUnsettled(restart: KeptRestart): void {
    const entry = this.unsettledRestarts.get(restart.restartId);
    if (entry) entry.writes++;
    else this.unsettledRestarts.set(restart.restartId, { restart, writes: 1 });
  }

  /** One line of restarts.jsonl read back: what was published, and what was kept ahead of a write and never settled. */
  private restoreRestart(line: RestartLine): void {
    if ('pending' in line) {
      if (!this.restartIds.has(line.pending.restartId)) this.keepUnsettled(line.pending);
    } else if ('dropped' in line) {
      const entry = this.unsettledRestarts.get(line.dropped);
      if (entry && --entry.writes === 0) this.unsettledRestarts.delete(line.dropped);
    } else {
      this.restartIds.add(line.restartId);
      this.unsettledRestarts.delete(line.restartId);
      this.restarts.restore(line);
    }
  }

  /** Resolves once every record and restart handed over so far is written to its file. */
  flushed(): Promise<void> {
    if (!this.eventsFile || !this.restartsFile) return WRITTEN;
    return Promise.all([this.eventsFile.flushed(), this.restartsFile.flushed()]).then(() => undefined);
  }

  /** Writes what is pending and closes the files. */
  async close(): Promise<void> {
    await Promise.all([this.eventsFile?.close(), this.restartsFile?.close()]);
  }

  metric(name: MetricName, value: number): void {
    this.count(name, value);
  }

  /** Event records matching `query`, oldest first: the latest `limit` of them. */
  query(query: EventQuery): EventRecord[] {
    const since = query.since;
    // Filtered before anything is copied: the log holds tens of thousands of records.
    const matching = this.events.all().filter(
      ({ record: event }) =>
        (query.type === undefined || event.type === query.type) &&
        (query.key === undefined || event.key === query.key) &&
        (since === undefined || Date.parse(event.time) >= since),
    );
    return matching.slice(-query.limit).map((entry) => entry.record);
  }

  counter(name: MetricName): number {
    return this.counters.get(name) ?? 0;
  }

  /** Numbers the next record (its line in the file) and notes its dispatch id. */
  private remember(record: EventRecord): SequencedEvent {
    if (isDispatch(record)) this.recordedDispatches.add(dispatchId(record));
    return { seq: this.events.nextSeq, record };
  }

  private count(name: MetricName, value: number): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + value);
  }
}

/** A record as the log's tail holds it: the strings built by concatenation stored flat (tens of thousands are held). */
function kept(record: EventRecord): EventRecord {
  return { ...record, message: flatString(record.message), ...(record.restartId !== undefined ? { restartId: flatString(record.restartId) } : {}) };
}

function keptRestart(request: RestartRequest): KeptRestart {
  const { restartId, key, restartCount, restartAt, firedAt, recovered, target } = request;
  return { restartId, key, restartCount, restartAt, firedAt, recovered, target };
}

function isDispatch(event: EventRecord): boolean {
  return event.type === 'Restarted' || event.type === 'RestartRecovered';
}

function dispatchId(event: EventRecord): string {
  return event.restartId ?? `${event.key}#${event.restartCount}`;
}

/** `12:00:11.000  BackOff           default/web-0/app  Back-off 10s restarting failed …` */
export function consoleLine(event: EventRecord): string {
  const time = event.time.slice(11, 23);
  return printable(`${time}  ${event.type.padEnd(16)}  ${event.namespace}/${event.pod}/${event.container}  ${event.message}`);
}

/**
 * Escapes control and bidirectional-override characters: an exit `reason` is
 * free text from the workload, and must not rewrite the operator's terminal.
 */
function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
