/**
 * Event records from the AWS deployment: the handlers log one JSON line per
 * record to the shared log group (DESIGN §4), and CloudWatch Logs Insights
 * reads them back into the same `EventRecord` shape `GET /v1/events` returns
 * from the local runtime.
 */
import type { CloudWatchLogsClient, QueryStatus, ResultField } from '@aws-sdk/client-cloudwatch-logs';
import { EVENT_RECORD_SCHEMA, EVENT_TYPES, type EventRecord, type EventType } from '../core/index.ts';

/** The event record fields, in the order the query returns them. */
export const EVENT_RECORD_FIELDS = [
  'time',
  'type',
  'key',
  'namespace',
  'pod',
  'podUid',
  'container',
  'exitCode',
  'reason',
  'restartCount',
  'delayMs',
  'budgetDelayMs',
  'backoffMs',
  'restartAt',
  'latenessMs',
  'decision',
  'message',
] as const satisfies readonly (keyof EventRecord)[];

const NUMERIC_FIELDS: ReadonlySet<string> = new Set(['exitCode', 'restartCount', 'delayMs', 'budgetDelayMs', 'backoffMs', 'latenessMs']);

/** The most rows one GetQueryResults call returns. */
export const MAX_QUERY_LIMIT = 10_000;

export interface EventRecordQuery {
  readonly type?: EventType;
  readonly key?: string;
  /** The latest `limit` records are returned, oldest first (as the local runtime does). */
  readonly limit: number;
}

/** A Logs Insights string literal. */
function literal(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The Logs Insights query for event records: the schema marker selects them
 * among the other log lines, then type and key narrow them; the newest
 * `limit` records come back (the caller puts them oldest first).
 */
export function buildEventQuery(query: EventRecordQuery): string {
  if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_QUERY_LIMIT) {
    throw new RangeError(`limit must be an integer from 1 to ${MAX_QUERY_LIMIT}, got ${query.limit}`);
  }
  const filters = [`schema = ${literal(EVENT_RECORD_SCHEMA)}`];
  if (query.type !== undefined) filters.push(`type = ${literal(query.type)}`);
  if (query.key !== undefined) filters.push(`key = ${literal(query.key)}`);
  return [
    `fields @timestamp, ${EVENT_RECORD_FIELDS.join(', ')}`,
    `| filter ${filters.join(' and ')}`,
    '| sort @timestamp desc',
    `| limit ${query.limit}`,
  ].join('\n');
}

/** `2024-05-01 12:00:00.000` (Logs Insights' @timestamp, UTC) → ISO-8601. */
function insightsTimestampToIso(value: string): string | undefined {
  const ms = Date.parse(`${value.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

/**
 * One result row as an event record, or undefined for a row that is not one
 * (a line carrying the schema marker but missing identifying fields).
 */
export function toEventRecord(row: readonly ResultField[]): EventRecord | undefined {
  const values = new Map<string, string>();
  for (const { field, value } of row) if (field !== undefined && value !== undefined) values.set(field, value);
  const type = values.get('type');
  if (type === undefined || !(EVENT_TYPES as readonly string[]).includes(type)) return undefined;
  const record: Record<string, string | number> = {};
  for (const field of EVENT_RECORD_FIELDS) {
    const value = values.get(field);
    if (value === undefined) continue;
    if (NUMERIC_FIELDS.has(field)) {
      const number = Number(value);
      if (value.trim() !== '' && Number.isFinite(number)) record[field] = number;
    } else {
      record[field] = value;
    }
  }
  if (record.time === undefined) {
    const fromTimestamp = insightsTimestampToIso(values.get('@timestamp') ?? '');
    if (fromTimestamp) record.time = fromTimestamp;
  }
  record.message ??= '';
  for (const required of ['time', 'key', 'namespace', 'pod', 'container'] as const) {
    if (record[required] === undefined) return undefined;
  }
  return record as unknown as EventRecord;
}

export interface QueryProgress {
  readonly status: QueryStatus | 'Starting';
  readonly elapsedMs: number;
  readonly recordsScanned?: number;
  readonly recordsMatched?: number;
}

export interface QueryEventRecordsOptions {
  readonly logGroupName: string;
  readonly query: EventRecordQuery;
  /** The time range, epoch ms (Logs Insights works in whole seconds: the range is widened to cover it). */
  readonly startMs: number;
  readonly endMs: number;
  /** @default 1000 */
  readonly pollMs?: number;
  /** Gives up (and stops the query) after this long. @default 120 s */
  readonly timeoutMs?: number;
  readonly onProgress?: (progress: QueryProgress) => void;
  readonly signal?: AbortSignal;
  /** @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
  /** @default Date.now */
  readonly now?: () => number;
}

export class LogsInsightsError extends Error {
  override readonly name = 'LogsInsightsError';
}

const FINISHED_UNSUCCESSFULLY: ReadonlySet<string> = new Set(['Failed', 'Cancelled', 'Timeout', 'Unknown']);

/**
 * Runs the event record query (StartQuery, then GetQueryResults until it
 * completes) and returns the records oldest first.
 */
export async function queryEventRecords(client: CloudWatchLogsClient, options: QueryEventRecordsOptions): Promise<EventRecord[]> {
  // Loaded here, not at the top: every CLI command imports this module, few run a query.
  const { GetQueryResultsCommand, StartQueryCommand, StopQueryCommand } = await import('@aws-sdk/client-cloudwatch-logs');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const pollMs = options.pollMs ?? 1_000;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const startedAt = now();
  options.onProgress?.({ status: 'Starting', elapsedMs: 0 });
  const started = await client.send(
    new StartQueryCommand({
      logGroupNames: [options.logGroupName],
      startTime: Math.floor(options.startMs / 1_000),
      endTime: Math.ceil(options.endMs / 1_000),
      queryString: buildEventQuery(options.query),
      limit: options.query.limit,
    }),
    ...(options.signal ? [{ abortSignal: options.signal }] : []),
  );
  const queryId = started.queryId;
  if (!queryId) throw new LogsInsightsError('StartQuery returned no query id');
  const stop = async () => {
    // Best effort: a query left running only costs until it ends on its own.
    await client.send(new StopQueryCommand({ queryId })).catch(() => undefined);
  };
  for (;;) {
    if (options.signal?.aborted) {
      await stop();
      throw new LogsInsightsError('the query was cancelled');
    }
    const result = await client.send(new GetQueryResultsCommand({ queryId }));
    const status = result.status ?? 'Unknown';
    const elapsedMs = now() - startedAt;
    options.onProgress?.({
      status,
      elapsedMs,
      ...(result.statistics?.recordsScanned !== undefined ? { recordsScanned: result.statistics.recordsScanned } : {}),
      ...(result.statistics?.recordsMatched !== undefined ? { recordsMatched: result.statistics.recordsMatched } : {}),
    });
    if (status === 'Complete') {
      const records = (result.results ?? []).map(toEventRecord).filter((record): record is EventRecord => record !== undefined);
      return records.reverse();
    }
    if (FINISHED_UNSUCCESSFULLY.has(status)) throw new LogsInsightsError(`the Logs Insights query ended with status ${status}`);
    if (elapsedMs >= timeoutMs) {
      await stop();
      throw new LogsInsightsError(`the Logs Insights query did not complete within ${Math.round(timeoutMs / 1_000)}s (stopped)`);
    }
    await sleep(pollMs);
  }
}
