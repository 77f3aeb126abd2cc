/**
 * `restart-scheduler status`: the kubectl-like table and its formats, and the
 * command against an in-process local runtime.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerView } from '../../lib/api/views.ts';
import { RestartSchedulerClient, type ExitEventInput } from '../../lib/client/client.ts';
import { USAGE_EXIT_CODE } from '../../lib/cli/program.ts';
import { renderStatus } from '../../lib/cli/status.ts';
import { countdown, humanDuration } from '../../lib/client/format.ts';
import { resolveBackoffPolicy } from '../../lib/core/index.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { cli } from '../support/cli.ts';
import { documentedFetch } from '../support/openapi.ts';

/** The table's cells, split on the two-or-more spaces between columns. */
function cells(table: string): string[][] {
  return table.split('\n').map((line) => line.split(/ {2,}/));
}

const S = 1_000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('humanDuration (kubectl AGE)', () => {
  it.each([
    [-5 * S, '<invalid>'],
    [-500, '0s'],
    [0, '0s'],
    [999, '0s'],
    [45 * S, '45s'],
    [119 * S, '119s'],
    [2 * M, '2m'],
    [3 * M + 2 * S, '3m2s'],
    [9 * M + 59 * S, '9m59s'],
    [10 * M + 30 * S, '10m'],
    [179 * M, '179m'],
    [2 * H, '120m'],
    [3 * H, '3h'],
    [7 * H + 30 * M, '7h30m'],
    [20 * H + 59 * M, '20h'],
    [47 * H, '47h'],
    [2 * D, '2d'],
    [3 * D + 4 * H, '3d4h'],
    [5 * D, '5d'],
    [8 * D + 5 * H, '8d'],
    [400 * D, '400d'],
    [730 * D, '2y'],
    [3 * 365 * D + 10 * D, '3y10d'],
    [9 * 365 * D, '9y'],
  ])('formats %d ms as %s', (ms, expected) => {
    expect(humanDuration(ms)).toBe(expected);
  });
});

describe('countdown (NEXT RESTART)', () => {
  it.each([
    [-100, 'now'],
    [0, 'now'],
    [1, 'in 1ms'],
    [399.2, 'in 400ms'],
    [1_000, 'in 1s'],
    [1_250, 'in 1.3s'],
    [8_000, 'in 8s'],
    [10_001, 'in 11s'],
    [90 * S, 'in 90s'],
    [4 * M + 10 * S, 'in 4m10s'],
    [5 * M, 'in 5m'],
  ])('shows %d ms as %s', (ms, expected) => {
    expect(countdown(ms)).toBe(expected);
  });
});

describe('renderStatus', () => {
  const now = Date.parse('2024-05-01T12:10:00Z');
  const base = { podUid: 'uid', createdAt: '2024-05-01T12:00:00Z', updatedAt: '2024-05-01T12:09:50Z' };
  const views: ContainerView[] = [
    {
      ...base,
      key: 'web-0_default_uid_app_',
      namespace: 'default',
      pod: 'web-0',
      container: 'app',
      state: 'CrashLoopBackOff',
      reason: 'CrashLoopBackOff',
      restartCount: 4,
      lastExit: { exitCode: 1, finishedAt: '2024-05-01T12:09:48Z' },
      backoffMs: 20_000,
      nextRestartAt: '2024-05-01T12:10:08Z',
      lastRestartAt: '2024-05-01T12:09:00Z',
    },
    {
      ...base,
      key: 'job-0_batch_uid_task_',
      namespace: 'batch',
      pod: 'job-0',
      container: 'task',
      state: 'Terminated',
      reason: 'Completed',
      restartCount: 0,
      lastExit: { exitCode: 0, reason: 'Completed', finishedAt: '2024-05-01T12:07:00Z' },
      backoffMs: 0,
      nextRestartAt: null,
      createdAt: '2024-04-26T12:00:00Z',
    },
    {
      ...base,
      key: 'db-0_default_uid_pg_',
      namespace: 'default',
      pod: 'db-0',
      container: 'pg',
      state: 'Running',
      restartCount: 1,
      lastExit: { exitCode: 137, reason: 'OOMKilled', finishedAt: '2024-05-01T09:10:00Z' },
      backoffMs: 10_000,
      nextRestartAt: null,
      lastRestartAt: '2024-05-01T09:10:00Z',
      createdAt: '2024-05-01T12:06:58Z',
    },
  ];

  it('prints the kubectl-like columns, sorted by namespace, pod and container', () => {
    expect(cells(renderStatus(views, now))).toEqual([
      ['NAMESPACE', 'POD', 'CONTAINER', 'STATE', 'RESTARTS', 'LAST EXIT', 'BACKOFF', 'NEXT RESTART', 'AGE'],
      ['batch', 'job-0', 'task', 'Terminated (Completed)', '0', 'Completed (0) 3m ago', '-', '-', '5d'],
      ['default', 'db-0', 'pg', 'Running', '1 (3h ago)', 'OOMKilled (137) 3h ago', '10s', '-', '3m2s'],
      ['default', 'web-0', 'app', 'CrashLoopBackOff', '4 (60s ago)', 'Error (1) 12s ago', '20s', 'in 8s', '10m'],
    ]);
  });

  it('adds KEY and MESSAGE with wide', () => {
    const [header, first] = cells(renderStatus(views.slice(1, 2), now, { wide: true }));
    expect(header?.slice(-2)).toEqual(['KEY', 'MESSAGE']);
    expect(first?.at(-1)).toBe('job-0_batch_uid_task_');
  });
});

describe('restart-scheduler status', () => {
  let runtime: LocalRuntime;
  let client: RestartSchedulerClient;
  const exit = (fields: Partial<ExitEventInput> & { pod: string }): ExitEventInput => ({ namespace: 'default', container: 'app', exitCode: 1, finishedAt: Date.now(), ...fields });

  beforeAll(async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true, policy: resolveBackoffPolicy({ initial: 100, max: 800 }), syncPeriodMs: 100 });
    client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
  });
  afterAll(async () => {
    // Let no restart be mid-dispatch while the runtime shuts down.
    for (let attempt = 0; attempt < 100; attempt++) {
      const { items } = await client.listContainers({ limit: 1000 });
      if (items.every((view) => view.nextRestartAt === null || Date.parse(view.nextRestartAt) > Date.now() + 1_000)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await runtime.close();
  });

  it('says so on stderr, and exits 0, when there are no containers', async () => {
    expect(await cli('status', '--endpoint', runtime.url)).toEqual({ code: 0, out: '', err: 'No containers found.' });
  });

  it('shows a crash-looping container with its restarts, last exit, back-off and next restart', async () => {
    const backoff = { initialBackoff: '30s', maxBackoff: '5m' };
    await client.postExit(exit({ pod: 'loop-0', backoffPolicy: backoff, exitId: 'a' }));
    const pending = await client.postExit(exit({ pod: 'loop-0', backoffPolicy: backoff, exitId: 'b' }));
    await client.postExit(exit({ namespace: 'jobs', pod: 'job-0', exitCode: 0, restartPolicy: 'OnFailure' }));
    expect(pending).toMatchObject({ decision: 'RestartScheduled', delayMs: 30 * S });
    const renderedFrom = Date.now();
    const { code, out } = await cli('status', '--endpoint', runtime.url);
    const renderedBy = Date.now();
    expect(code).toBe(0);
    const [header, ...rows] = cells(out);
    expect(header).toEqual(['NAMESPACE', 'POD', 'CONTAINER', 'STATE', 'RESTARTS', 'LAST EXIT', 'BACKOFF', 'NEXT RESTART', 'AGE']);
    const loop = rows.find((row) => row[1] === 'loop-0');
    expect(loop?.slice(0, 4)).toEqual(['default', 'loop-0', 'app', 'CrashLoopBackOff']);
    // Restart 2 is pending, so there is no dispatched restart to date.
    expect(loop?.[4]).toBe('2');
    expect(loop?.[5]).toMatch(/^Error \(1\) \d+s ago$/);
    expect(loop?.[6]).toBe('1m');
    // Counted down from the instant the table was rendered, however long the
    // requests before it took on a loaded machine.
    const restartAt = Date.parse(pending.restartAt!);
    const countdownS = Number(/^in (\d+)s$/.exec(loop?.[7] ?? '')?.[1]);
    expect(countdownS, loop?.[7]).toBeGreaterThanOrEqual(Math.ceil((restartAt - renderedBy) / S));
    expect(countdownS, loop?.[7]).toBeLessThanOrEqual(Math.ceil((restartAt - renderedFrom) / S));
    expect(loop?.[8]).toMatch(/^\d+s$/);
    expect(rows.find((row) => row[1] === 'job-0')?.slice(3, 7)).toEqual(['Terminated (Completed)', '0', expect.stringMatching(/^Completed \(0\) \d+s ago$/), '-']);
  });

  it('prints the API ContainerView array with --json, and filters by --namespace and --state', async () => {
    const { out } = await cli('status', '--endpoint', runtime.url, '--json');
    const views = JSON.parse(out) as ContainerView[];
    expect(views.map((view) => view.key).sort()).toEqual((await client.listContainers({ limit: 1000 })).items.map((view) => view.key).sort());
    expect(views.find((view) => view.pod === 'job-0')).toMatchObject({ state: 'Terminated', reason: 'Completed', lastExit: { exitCode: 0 } });

    const jobs = JSON.parse((await cli('status', '--endpoint', runtime.url, '--json', '--namespace', 'jobs')).out) as ContainerView[];
    expect(jobs.map((view) => view.pod)).toEqual(['job-0']);
    const waiting = JSON.parse((await cli('status', '--endpoint', runtime.url, '--json', '--state', 'CrashLoopBackOff')).out) as ContainerView[];
    expect(waiting.map((view) => view.pod)).toEqual(['loop-0']);
  });

  it('follows the cursor through every page', async () => {
    const pods = Array.from({ length: 150 }, (_, index) => `many-${String(index).padStart(3, '0')}`);
    for (let start = 0; start < pods.length; start += 100) {
      await client.postExits(pods.slice(start, start + 100).map((pod) => exit({ namespace: 'many', pod, exitCode: 0, restartPolicy: 'Never' })));
    }
    expect((await client.listContainers({ namespace: 'many' })).cursor).toBeDefined();
    const { out } = await cli('status', '--endpoint', runtime.url, '--namespace', 'many');
    const rows = cells(out).slice(1);
    expect(rows.map((row) => row[1])).toEqual(pods);
  });

  it.each([
    ['an unknown state', ['--state', 'Sleeping'], /Allowed choices are Running, CrashLoopBackOff, Terminated/],
    ['an unknown flag', ['--all'], /unknown option '--all'/],
  ])('exits 2 for %s', async (_, args, message) => {
    const { code, err } = await cli('status', '--endpoint', runtime.url, ...args);
    expect(code).toBe(USAGE_EXIT_CODE);
    expect(err).toMatch(message);
  });

  it('exits 1 with the API issues for a namespace the API refuses', async () => {
    const { code, err } = await cli('status', '--endpoint', runtime.url, '--namespace', 'bad_ns');
    expect(code).toBe(1);
    expect(err.split('\n')[1]).toMatch(/^ {2}namespace: must contain only/);
  });
});
