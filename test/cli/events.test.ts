/**
 * `restart-scheduler events` against an in-process local runtime, and against
 * CloudWatch Logs Insights (the query the CLI builds, the result mapping and
 * the polling) with the SDK client mocked at its boundary.
 */
import { spawn } from 'node:child_process';
import { CloudWatchLogsClient, GetQueryResultsCommand, StartQueryCommand, StopQueryCommand, type ResultField } from '@aws-sdk/client-cloudwatch-logs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RestartSchedulerClient } from '../../lib/client/client.ts';
import { buildEventQuery, queryEventRecords, toEventRecord } from '../../lib/client/logs-insights.ts';
import { USAGE_EXIT_CODE } from '../../lib/cli/program.ts';
import { resolveBackoffPolicy, type EventRecord } from '../../lib/core/index.ts';
import { consoleLine } from '../../lib/local/event-log.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { CLI } from '../support/runtime-process.ts';
import { cli } from '../support/cli.ts';
import { documentedFetch } from '../support/openapi.ts';

describe('restart-scheduler events (local runtime)', () => {
  let runtime: LocalRuntime;
  let client: RestartSchedulerClient;
  const key = 'web-0_default__app_';

  beforeAll(async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true, policy: resolveBackoffPolicy({ initial: 100, max: 800 }), syncPeriodMs: 100 });
    client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
    await client.postExit({ namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: Date.now(), exitId: 'one' });
    await client.postExit({ namespace: 'jobs', pod: 'job-0', container: 'task', exitCode: 0, finishedAt: Date.now(), restartPolicy: 'Never' });
    // Until the immediate restart of web-0 is on record: the tests compare the log with what is printed.
    const deadline = Date.now() + 20_000;
    while ((await client.listEvents({ type: 'Restarted' })).length === 0) {
      if (Date.now() > deadline) throw new Error('the immediate restart of web-0 was not recorded in time');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
  afterAll(async () => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { items } = await client.listContainers({ limit: 1000 });
      if (items.every((view) => view.nextRestartAt === null || Date.parse(view.nextRestartAt) > Date.now() + 1_000)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await runtime.close();
  });

  it("prints one line per record, as the runtime's console does, oldest first", async () => {
    const { code, out } = await cli('events', '--endpoint', runtime.url);
    expect(code).toBe(0);
    const records = await client.listEvents();
    expect(out.split('\n')).toEqual(records.map(consoleLine));
    expect(out).toMatch(/^\d\d:\d\d:\d\d\.\d{3} {2}Exited {12}default\/web-0\/app {2}Container app in pod web-0_default exited with code 1 \(Error\)$/m);
    expect(records.map((record) => record.type)).toEqual(expect.arrayContaining(['Exited', 'Restarted', 'Terminated']));
  });

  it('prints the EventRecord array with --json, as GET /v1/events returns it', async () => {
    const { out } = await cli('events', '--endpoint', runtime.url, '--json');
    expect(JSON.parse(out)).toEqual(await client.listEvents());
  });

  it('filters by --type, --key, --since and --limit', async () => {
    const json = async (...args: string[]) => JSON.parse((await cli('events', '--endpoint', runtime.url, '--json', ...args)).out) as EventRecord[];
    expect((await json('--type', 'Terminated')).map((record) => record.pod)).toEqual(['job-0']);
    const forKey = await json('--key', key);
    expect(forKey.length).toBeGreaterThan(0);
    expect(new Set(forKey.map((record) => record.key))).toEqual(new Set([key]));
    expect(await json('--since', new Date(Date.now() + 60_000).toISOString())).toEqual([]);
    expect((await json('--since', '1h')).length).toBe((await client.listEvents()).length);
    const all = await client.listEvents();
    expect(await json('--limit', '2')).toEqual(all.slice(-2));
  });

  it('says so on stderr when nothing matches', async () => {
    expect(await cli('events', '--endpoint', runtime.url, '--type', 'BackoffReset')).toEqual({ code: 0, out: '', err: 'No events found.' });
  });

  it.each([
    ['an unknown type', ['--type', 'Crashed'], /Allowed choices are Exited, RestartScheduled/],
    ['a malformed key', ['--key', 'web-0'], /--key: expected a container key/],
    ['a bad --since', ['--since', 'last tuesday'], /--since: expected an ISO-8601 instant/],
    ['a zero limit', ['--limit', '0'], /--limit: expected an integer from 1 to 10000/],
    ['a limit the runtime does not serve', ['--limit', '5000'], /--limit: the local runtime returns at most 1000/],
  ])('exits 2 for %s', async (_, args, message) => {
    const { code, err } = await cli('events', '--endpoint', runtime.url, ...args);
    expect(code).toBe(USAGE_EXIT_CODE);
    expect(err).toMatch(message);
  });

  it('prints new records as they happen with --follow, and stops on SIGINT', async () => {
    const child = spawn(process.execPath, [CLI, 'events', '--follow', '--endpoint', runtime.url, '--key', 'follow-0_default__app_'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    try {
      // Posted repeatedly until the follower, which has started at some point meanwhile, prints it.
      const deadline = Date.now() + 60_000;
      for (let attempt = 0; !stdout.includes('Restarted') && Date.now() < deadline; attempt++) {
        if (attempt % 10 === 0) await client.postExit({ namespace: 'default', pod: 'follow-0', container: 'app', exitCode: 1, finishedAt: Date.now(), restartPolicy: 'Always', backoffPolicy: { initialBackoff: '100ms', maxBackoff: '100ms' } });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(stdout).toMatch(/Exited +default\/follow-0\/app/);
      expect(stdout).toMatch(/Restarted +default\/follow-0\/app/);
      // Each record once: no line is printed twice.
      const lines = stdout.trim().split('\n');
      expect(new Set(lines).size).toBe(lines.length);
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});

// ---------------------------------------------------------------------------
// CloudWatch Logs Insights

/** A result row as GetQueryResults returns it: every value a string. */
function row(fields: Record<string, string>): ResultField[] {
  return Object.entries(fields).map(([field, value]) => ({ field, value }));
}

const ROW_NEWER = row({
  '@timestamp': '2024-05-01 12:00:11.000',
  time: '2024-05-01T12:00:11.000Z',
  type: 'RestartScheduled',
  key: 'web-0_default_uid-1_app_',
  namespace: 'default',
  pod: 'web-0',
  podUid: 'uid-1',
  container: 'app',
  exitCode: '1',
  reason: 'CrashLoopBackOff',
  restartCount: '2',
  delayMs: '10000',
  backoffMs: '20000',
  restartAt: '2024-05-01T12:00:21.000Z',
  decision: 'RestartScheduled',
  message: 'Back-off 10s restarting failed container=app pod=web-0_default(uid-1)',
  '@ptr': 'CmAKJwojMTIzNDU2Nzg5MDEyOi9hd3MvbGFtYmRh',
});
const ROW_OLDER = row({
  '@timestamp': '2024-05-01 12:00:01.500',
  type: 'Exited',
  key: 'web-0_default_uid-1_app_',
  namespace: 'default',
  pod: 'web-0',
  podUid: 'uid-1',
  container: 'app',
  exitCode: '1',
  restartCount: '1',
  message: 'Container app in pod web-0_default(uid-1) exited with code 1 (Error)',
});

describe('Logs Insights event query (lib/client/logs-insights.ts)', () => {
  // Every CloudWatchLogsClient, the CLI's included, answers from this mock.
  const logs = mockClient(CloudWatchLogsClient);
  afterEach(() => logs.reset());
  afterAll(() => logs.restore());

  describe('buildEventQuery', () => {
    it('selects event records by schema and returns the newest first, up to the limit', () => {
      expect(buildEventQuery({ limit: 100 })).toBe(
        [
          'fields @timestamp, time, type, key, namespace, pod, podUid, container, exitCode, reason, restartCount, delayMs, budgetDelayMs, backoffMs, restartAt, latenessMs, decision, message',
          '| filter schema = "restart-scheduler.event/v1"',
          '| sort @timestamp desc',
          '| limit 100',
        ].join('\n'),
      );
    });

    it('adds type and key filters', () => {
      expect(buildEventQuery({ type: 'BackOff', key: 'web-0_default_uid-1_app_', limit: 5 }).split('\n')[1]).toBe(
        '| filter schema = "restart-scheduler.event/v1" and type = "BackOff" and key = "web-0_default_uid-1_app_"',
      );
    });

    it('escapes quotes and backslashes in literals', () => {
      expect(buildEventQuery({ key: 'a"b\\c', limit: 1 })).toContain('key = "a\\"b\\\\c"');
    });

    it.each([0, 10_001, 1.5])('refuses limit %d', (limit) => {
      expect(() => buildEventQuery({ limit })).toThrow(RangeError);
    });
  });

  describe('toEventRecord', () => {
    it('maps a row to an EventRecord with numbers for numeric fields', () => {
      expect(toEventRecord(ROW_NEWER)).toEqual({
        time: '2024-05-01T12:00:11.000Z',
        type: 'RestartScheduled',
        key: 'web-0_default_uid-1_app_',
        namespace: 'default',
        pod: 'web-0',
        podUid: 'uid-1',
        container: 'app',
        exitCode: 1,
        reason: 'CrashLoopBackOff',
        restartCount: 2,
        delayMs: 10_000,
        backoffMs: 20_000,
        restartAt: '2024-05-01T12:00:21.000Z',
        decision: 'RestartScheduled',
        message: 'Back-off 10s restarting failed container=app pod=web-0_default(uid-1)',
      });
    });

    it('takes the time from @timestamp when the record has none', () => {
      expect(toEventRecord(ROW_OLDER)).toMatchObject({ time: '2024-05-01T12:00:01.500Z', type: 'Exited', exitCode: 1 });
    });

    it.each([
      ['an unknown type', { type: 'Crashed' }],
      ['no key', { key: '' }],
    ])('skips a row with %s', (_, change) => {
      const fields = Object.fromEntries(ROW_OLDER.map(({ field, value }) => [field!, value!]));
      const changed = { ...fields, ...change };
      const withoutEmpty = Object.fromEntries(Object.entries(changed).filter(([, value]) => value !== ''));
      expect(toEventRecord(row(withoutEmpty))).toBeUndefined();
    });
  });

  describe('queryEventRecords', () => {

    it('starts the query over the time range, polls until it completes, and returns the records oldest first', async () => {
      logs.on(StartQueryCommand).resolves({ queryId: 'q-1' });
      logs
        .on(GetQueryResultsCommand)
        .resolvesOnce({ status: 'Scheduled' })
        .resolvesOnce({ status: 'Running', statistics: { recordsScanned: 1200, recordsMatched: 2 } })
        .resolves({ status: 'Complete', results: [ROW_NEWER, ROW_OLDER] });
      const sleeps: number[] = [];
      const progress: string[] = [];
      const records = await queryEventRecords(new CloudWatchLogsClient({ region: 'eu-west-1' }), {
        logGroupName: '/restart-scheduler/events',
        query: { key: 'web-0_default_uid-1_app_', limit: 50 },
        startMs: 1_714_564_800_500,
        endMs: 1_714_568_400_250,
        pollMs: 750,
        sleep: async (ms) => void sleeps.push(ms),
        onProgress: (p) => progress.push(`${p.status}${p.recordsScanned !== undefined ? ` ${p.recordsScanned}` : ''}`),
      });
      expect(records.map((record) => record.type)).toEqual(['Exited', 'RestartScheduled']);
      expect(logs.commandCalls(StartQueryCommand)[0]!.args[0].input).toEqual({
        logGroupNames: ['/restart-scheduler/events'],
        startTime: 1_714_564_800,
        endTime: 1_714_568_401,
        queryString: buildEventQuery({ key: 'web-0_default_uid-1_app_', limit: 50 }),
        limit: 50,
      });
      expect(logs.commandCalls(GetQueryResultsCommand).map((call) => call.args[0].input)).toEqual(Array(3).fill({ queryId: 'q-1' }));
      expect(sleeps).toEqual([750, 750]);
      expect(progress).toEqual(['Starting', 'Scheduled', 'Running 1200', 'Complete']);
    });

    it('fails with the status of a query that failed', async () => {
      logs.on(StartQueryCommand).resolves({ queryId: 'q-2' });
      logs.on(GetQueryResultsCommand).resolves({ status: 'Failed' });
      await expect(
        queryEventRecords(new CloudWatchLogsClient({ region: 'eu-west-1' }), { logGroupName: 'g', query: { limit: 10 }, startMs: 0, endMs: 1_000, sleep: async () => undefined }),
      ).rejects.toThrow('the Logs Insights query ended with status Failed');
    });

    it('stops a query that runs past its timeout', async () => {
      logs.on(StartQueryCommand).resolves({ queryId: 'q-3' });
      logs.on(GetQueryResultsCommand).resolves({ status: 'Running' });
      logs.on(StopQueryCommand).resolves({ success: true });
      let clock = 0;
      await expect(
        queryEventRecords(new CloudWatchLogsClient({ region: 'eu-west-1' }), {
          logGroupName: 'g',
          query: { limit: 10 },
          startMs: 0,
          endMs: 1_000,
          timeoutMs: 5_000,
          now: () => clock,
          sleep: async (ms) => void (clock += ms),
        }),
      ).rejects.toThrow('did not complete within 5s');
      expect(logs.commandCalls(StopQueryCommand).map((call) => call.args[0].input)).toEqual([{ queryId: 'q-3' }]);
    });
  });

  describe('restart-scheduler events --log-group', () => {

    it('runs the Logs Insights query and prints the records like the local runtime', async () => {
      logs.on(StartQueryCommand).resolves({ queryId: 'q-4' });
      logs.on(GetQueryResultsCommand).resolves({ status: 'Complete', results: [ROW_NEWER, ROW_OLDER] });
      const { code, out } = await cli('events', '--log-group', '/rs/events', '--region', 'eu-west-1', '--type', 'RestartScheduled', '--since', '2h');
      expect(code).toBe(0);
      expect(out.split('\n')).toEqual([
        '12:00:01.500  Exited            default/web-0/app  Container app in pod web-0_default(uid-1) exited with code 1 (Error)',
        '12:00:11.000  RestartScheduled  default/web-0/app  Back-off 10s restarting failed container=app pod=web-0_default(uid-1)',
      ]);
      const input = logs.commandCalls(StartQueryCommand)[0]!.args[0].input;
      expect(input.queryString).toContain('and type = "RestartScheduled"');
      expect(input.endTime! - input.startTime!).toBeGreaterThanOrEqual(2 * 3_600);
      expect(input.endTime! - input.startTime!).toBeLessThanOrEqual(2 * 3_600 + 2);
    });

    it('prints the records as JSON with --json', async () => {
      logs.on(StartQueryCommand).resolves({ queryId: 'q-5' });
      logs.on(GetQueryResultsCommand).resolves({ status: 'Complete', results: [ROW_NEWER] });
      const { out } = await cli('events', '--log-group', '/rs/events', '--region', 'eu-west-1', '--json');
      expect(JSON.parse(out)).toEqual([toEventRecord(ROW_NEWER)]);
    });

    it.each([
      ['an AWS endpoint without --log-group', ['--endpoint', 'https://abc123.execute-api.eu-west-1.amazonaws.com'], /--log-group: required for events on AWS/],
      ['--follow with Logs Insights', ['--log-group', 'g', '--region', 'eu-west-1', '--follow'], /--follow: works with the local runtime/],
    ])('exits 2 for %s', async (_, args, message) => {
      const { code, err } = await cli('events', ...args);
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(err).toMatch(message);
      expect(logs.commandCalls(StartQueryCommand)).toHaveLength(0);
    });
  });
});
