/**
 * `restart-scheduler events`: the event records — from the local runtime
 * (`GET /v1/events`), or from CloudWatch Logs Insights for the AWS deployment —
 * one readable line each (as the runtime's console prints them) or `--json`.
 */
import { Option, type Command } from 'commander';
import { containerKeyProblem } from '../api/exits.ts';
import { MAX_LIST_LIMIT, parseSince } from '../api/queries.ts';
import { MAX_QUERY_LIMIT, queryEventRecords, type QueryProgress } from '../client/logs-insights.ts';
import { EVENT_TYPES, formatDuration, parseDuration, type EventRecord, type EventType } from '../core/index.ts';
import { consoleLine } from '../local/event-log.ts';
import { addConnectionOptions, callApi, connect, type Connection, type ConnectionFlags } from './connection.ts';
import { flagParser, UsageError } from './errors.ts';
import { ENV_PREFIX } from './local.ts';
import type { CliIo } from './io.ts';
import { LiveLine, type LiveStream } from './supervise.ts';

/** How far back a Logs Insights query looks when --since is not given (it needs a time range). */
export const DEFAULT_AWS_SINCE = '1h';
const DEFAULT_LIMIT = 100;
/** How often --follow asks for new records. */
const FOLLOW_POLL_MS = 1_000;

interface EventsFlags extends ConnectionFlags {
  readonly type?: EventType;
  readonly key?: string;
  readonly since?: string;
  readonly limit: number;
  readonly json?: boolean;
  readonly follow?: boolean;
  readonly logGroup?: string;
}

export function registerEvents(program: Command, io: CliIo, live?: LiveStream): void {
  const command = program
    .command('events')
    .description('list event records (local runtime, or CloudWatch Logs Insights on AWS)')
    .addOption(new Option('--type <type>', 'only this event type').choices(EVENT_TYPES))
    .option('--key <key>', 'only this container (its key, as `status --wide` shows it)', flagParser('--key', parseKey))
    .option('--since <when>', `only records from this instant on: a duration ago (e.g. 1h, 15m) or ISO-8601 (on AWS default ${DEFAULT_AWS_SINCE})`)
    .option('--limit <n>', `at most this many (the latest), 1-${MAX_QUERY_LIMIT}`, flagParser('--limit', parseLimit), DEFAULT_LIMIT)
    .option('--json', 'print the EventRecord array as JSON (with --follow: one JSON object per line)')
    .option('--follow', 'keep printing new records until interrupted (local runtime)')
    .addOption(new Option('--log-group <name>', 'query this CloudWatch log group with Logs Insights (the stack output LogGroupName)').env(`${ENV_PREFIX}LOG_GROUP`));
  addConnectionOptions(command).action(async (flags: EventsFlags) => {
    const connection = connect(flags);
    const now = Date.now();
    const sinceMs = flags.since === undefined ? undefined : parseSinceFlag(flags.since, now);
    const print = (records: readonly EventRecord[], streaming: boolean) => {
      if (records.length === 0) return;
      if (flags.json) io.out(streaming ? records.map((record) => JSON.stringify(record)).join('\n') : JSON.stringify(records, null, 2));
      else io.out(records.map(consoleLine).join('\n'));
    };

    if (flags.logGroup !== undefined || connection.aws) {
      if (flags.follow) throw new UsageError('--follow: works with the local runtime; Logs Insights queries are one-off');
      if (flags.logGroup === undefined) {
        throw new UsageError(`--log-group: required for events on AWS (the stack output LogGroupName, or ${ENV_PREFIX}LOG_GROUP)`);
      }
      const region = connection.aws?.region ?? flags.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
      if (!region) throw new UsageError('--region: required for Logs Insights (or set AWS_REGION)');
      const records = await queryLogsInsights(flags, { region, profile: connection.aws?.profile ?? flags.profile }, sinceMs ?? now - parseDuration(DEFAULT_AWS_SINCE), now, live);
      if (flags.json) io.out(JSON.stringify(records, null, 2));
      else if (records.length === 0) io.err('No events found.');
      else print(records, false);
      return;
    }

    if (flags.limit > MAX_LIST_LIMIT) throw new UsageError(`--limit: the local runtime returns at most ${MAX_LIST_LIMIT}`);
    const query = (since: number | undefined, limit: number) =>
      connection.client.listEvents({
        ...(flags.type !== undefined ? { type: flags.type } : {}),
        ...(flags.key !== undefined ? { key: flags.key } : {}),
        ...(since !== undefined ? { since: String(since) } : {}),
        limit,
      });
    const first = await callApi(connection, () => query(sinceMs, flags.limit));
    if (!flags.follow) {
      if (flags.json) io.out(JSON.stringify(first, null, 2));
      else if (first.length === 0) io.err('No events found.');
      else print(first, false);
      return;
    }
    print(first, true);
    await follow(connection, first, (since) => query(since, MAX_LIST_LIMIT), (records) => print(records, true));
  });
}

/**
 * Polls for records newer than the last one printed until SIGINT/SIGTERM.
 * Records share millisecond instants, so those at the boundary are compared
 * whole to print each exactly once.
 */
async function follow(
  connection: Connection,
  already: readonly EventRecord[],
  fetchSince: (since: number) => Promise<EventRecord[]>,
  print: (records: readonly EventRecord[]) => void,
): Promise<void> {
  let boundary = already.length > 0 ? Date.parse(already.at(-1)!.time) : Date.now();
  let seenAtBoundary = new Set(already.filter((record) => Date.parse(record.time) === boundary).map((record) => JSON.stringify(record)));
  const stopped = new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  let running = true;
  void stopped.then(() => (running = false));
  while (running) {
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, FOLLOW_POLL_MS))]);
    if (!running) break;
    const records = await callApi(connection, () => fetchSince(boundary));
    const fresh = records.filter((record) => Date.parse(record.time) > boundary || !seenAtBoundary.has(JSON.stringify(record)));
    if (fresh.length === 0) continue;
    print(fresh);
    const latest = Date.parse(fresh.at(-1)!.time);
    if (latest > boundary) {
      boundary = latest;
      seenAtBoundary = new Set();
    }
    for (const record of records) if (Date.parse(record.time) === boundary) seenAtBoundary.add(JSON.stringify(record));
  }
}

async function queryLogsInsights(flags: EventsFlags, aws: { region: string; profile?: string | undefined }, startMs: number, endMs: number, live?: LiveStream): Promise<EventRecord[]> {
  // Loaded on demand: the SDK client costs every other command's start-up time otherwise.
  const { CloudWatchLogsClient } = await import('@aws-sdk/client-cloudwatch-logs');
  const client = new CloudWatchLogsClient({ region: aws.region, ...(aws.profile ? { profile: aws.profile } : {}) });
  const line = live ? new LiveLine(live) : undefined;
  try {
    return await queryEventRecords(client, {
      logGroupName: flags.logGroup!,
      query: { ...(flags.type !== undefined ? { type: flags.type } : {}), ...(flags.key !== undefined ? { key: flags.key } : {}), limit: flags.limit },
      startMs,
      endMs,
      ...(line ? { onProgress: (progress: QueryProgress) => line.update(describeProgress(flags.logGroup!, progress)) } : {}),
    });
  } catch (error) {
    if (error instanceof Error && error.name === 'CredentialsProviderError') {
      throw new Error(`no AWS credentials: ${error.message} (configure the default credential chain, e.g. AWS_PROFILE or \`aws sso login\`, or pass --profile)`);
    }
    throw error;
  } finally {
    line?.clear();
    client.destroy();
  }
}

function describeProgress(logGroup: string, progress: QueryProgress): string {
  const scanned = progress.recordsScanned !== undefined ? `, ${progress.recordsScanned.toLocaleString('en-US')} records scanned` : '';
  return `Logs Insights on ${logGroup}: ${progress.status} ${formatDuration(Math.floor(progress.elapsedMs / 1_000) * 1_000)}${scanned}`;
}

function parseKey(value: string): string {
  const problem = containerKeyProblem(value);
  if (problem) throw new Error(problem);
  return value;
}

function parseLimit(value: string): number {
  const limit = Number(value);
  if (!/^\d+$/.test(value.trim()) || limit < 1 || limit > MAX_QUERY_LIMIT) throw new Error(`expected an integer from 1 to ${MAX_QUERY_LIMIT}, got ${JSON.stringify(value)}`);
  return limit;
}

function parseSinceFlag(value: string, now: number): number {
  const result = parseSince(value, now);
  if (!result.ok) throw new UsageError(`--since: ${result.message}`);
  return result.ms;
}
