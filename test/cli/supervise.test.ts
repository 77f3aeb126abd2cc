/**
 * `restart-scheduler supervise` as users run it: a child process supervising
 * a real command against an in-process local runtime with a fast policy
 * (100 ms doubling to 800 ms), while `status --json` samples what the service
 * sees.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerView } from '../../lib/api/views.ts';
import { RestartSchedulerClient } from '../../lib/client/client.ts';
import { USAGE_EXIT_CODE } from '../../lib/cli/program.ts';
import { derivedPodUid, LiveLine, podNameFor } from '../../lib/cli/supervise.ts';
import { containerKey, resolveBackoffPolicy } from '../../lib/core/index.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { CLI } from '../support/runtime-process.ts';
import { cli } from '../support/cli.ts';
import { documentedFetch } from '../support/openapi.ts';

interface Supervisor {
  readonly child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Resolves once stderr matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
  readonly exited: Promise<number | null>;
}

/** `restart-scheduler supervise ARGS` in a child process, with its output collected. */
function startSupervisor(args: readonly string[]): Supervisor {
  const child = spawn(process.execPath, [CLI, 'supervise', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let ended = false;
  void exited.then(() => (ended = true));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitFor: async (pattern, timeoutMs = 60_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!pattern.test(stderr)) {
        if (ended) throw new Error(`supervise exited before ${pattern}:\n${stderr}`);
        if (Date.now() > deadline) throw new Error(`no ${pattern} in time:\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('restart-scheduler supervise', () => {
  let runtime: LocalRuntime;
  let client: RestartSchedulerClient;
  const keyOf = (name: string) => containerKey({ namespace: 'default', pod: name, podUid: derivedPodUid('default', name), container: 'main' });
  const status = async (name: string): Promise<ContainerView | undefined> => {
    const { out } = await cli('status', '--endpoint', runtime.url, '--json');
    return (JSON.parse(out) as ContainerView[]).find((view) => view.key === keyOf(name));
  };

  beforeAll(async () => {
    // Reset after 10m, not 2 × max (1.6 s): on a loaded machine starting a command
    // can take longer than that, and a reset would rightly start the back-off over.
    runtime = await startLocalRuntime({ port: 0, inMemory: true, policy: resolveBackoffPolicy({ initial: 100, max: 800, resetAfter: '10m' }), syncPeriodMs: 100 });
    client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
  });
  afterAll(async () => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const { items } = await client.listContainers({ limit: 1000 });
      if (items.every((view) => view.nextRestartAt === null || Date.parse(view.nextRestartAt) > Date.now() + 1_000)) break;
      await sleep(50);
    }
    await runtime.close();
  });

  it('restarts a command that exits with code 3 with growing back-off: status shows the restart count growing and CrashLoopBackOff', async () => {
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', 'crasher', '--', process.execPath, '-e', 'process.exit(3)']);
    await supervisor.waitFor(/\[supervise\] started /);
    const samples: { state: string; restartCount: number }[] = [];
    // Sampled until the third restart has started the command and a back-off was
    // seen, however long a loaded machine takes to get there.
    const seenEnough = () =>
      /restart #3: started/.test(supervisor.stderr()) && samples.some((sample) => sample.restartCount >= 3) && samples.some((sample) => sample.state === 'CrashLoopBackOff');
    const deadline = Date.now() + 60_000;
    while (!seenEnough()) {
      if (Date.now() > deadline) throw new Error(`not seen in time: ${JSON.stringify(samples)}\n${supervisor.stderr()}`);
      const view = await status('crasher');
      if (view) samples.push({ state: view.state, restartCount: view.restartCount });
      await sleep(50);
    }
    supervisor.child.kill('SIGTERM');
    const code = await supervisor.exited;

    const counts = samples.map((sample) => sample.restartCount);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    expect(Math.max(...counts)).toBeGreaterThanOrEqual(3);
    expect(samples.map((sample) => sample.state)).toContain('CrashLoopBackOff');
    // SIGTERM reached supervise while it waited out a back-off (143), or passed on to a running command.
    expect([3, 143]).toContain(code);

    const lines = supervisor.stderr().split('\n');
    expect(lines[0]).toBe(`[supervise] default/crasher/main (key ${keyOf('crasher')}) via ${runtime.url}`);
    expect(lines).toContain('[supervise] exit 3 (Error) · restart #1 now (next back-off 100ms) · Running');
    // Waiting out its back-off, or, when the exit reached the service only after
    // the back-off had passed (a loaded machine), restarted at once.
    expect(lines.some((line) => /^\[supervise\] exit 3 \(Error\) · restart #2 (in \d+ms|due, waiting for it) \(back-off 100ms, next 200ms\) · (CrashLoopBackOff|Running)$/.test(line))).toBe(true);
    // Each restart the service dispatched started the command again, in order.
    const started = lines.filter((line) => /^\[supervise\] restart #\d+: started pid \d+$/.test(line)).map((line) => Number(/#(\d+)/.exec(line)![1]));
    expect(started).toEqual(Array.from({ length: started.length }, (_, index) => index + 1));
    expect(started.length).toBeGreaterThanOrEqual(3);
  });

  it('restarts only when the restart arrives: each start follows its restart instant', async () => {
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', 'timed', '--', process.execPath, '-e', 'process.exit(1)']);
    await supervisor.waitFor(/restart #4: started/);
    supervisor.child.kill('SIGTERM');
    await supervisor.exited;
    // Every restart, whether its exit reached the service within the back-off
    // (RestartScheduled) or after it (RestartNow, on a loaded machine), has a
    // dispatch record; it follows the restart's notice by a write, so wait for it.
    const dispatched = async () =>
      (await client.listEvents({ key: keyOf('timed'), limit: 1000 })).filter((event) => (event.type === 'Restarted' || event.type === 'RestartRecovered') && (event.restartCount ?? 0) <= 4);
    await expect.poll(async () => (await dispatched()).map((event) => event.restartCount), { timeout: 10_000 }).toEqual([1, 2, 3, 4]);
    const restarts = await dispatched();
    const exited = await client.listEvents({ key: keyOf('timed'), type: 'Exited', limit: 1000 });
    // Restart n was due at restartAt; the exit of the process it started (the first after n restarts) came after that instant.
    for (const restart of restarts.slice(1)) {
      const nextExit = exited.find((event) => event.restartCount === restart.restartCount);
      expect(nextExit, `exit after restart #${restart.restartCount}`).toBeDefined();
      expect(Date.parse(nextExit!.time)).toBeGreaterThanOrEqual(Date.parse(restart.restartAt!));
    }
    // The back-off doubled with each restart: 100 ms, then 200, 400 and 800 (the cap).
    expect(restarts.map((event) => event.backoffMs)).toEqual([100, 200, 400, 800]);
  });

  it('ends Terminated with reason Completed, and exits 0, when --restart-policy OnFailure meets exit 0', async () => {
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', 'oneshot', '--restart-policy', 'OnFailure', '--', process.execPath, '-e', 'process.exit(0)']);
    expect(await supervisor.exited).toBe(0);
    expect(await status('oneshot')).toMatchObject({ state: 'Terminated', reason: 'Completed', restartCount: 0, lastExit: { exitCode: 0 } });
    expect(supervisor.stderr()).toMatch(/\[supervise\] exit 0 \(Completed\) · no restart: .* · Terminated \(Completed\)/);
  });

  it("exits with the command's exit code when the service says it will not restart", async () => {
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', 'never', '--restart-policy', 'Never', '--', process.execPath, '-e', 'process.exit(5)']);
    expect(await supervisor.exited).toBe(5);
    expect(await status('never')).toMatchObject({ state: 'Terminated', reason: 'Error', lastExit: { exitCode: 5 } });
  });

  it('reports each run’s restart count, carrying on from the service’s count when supervise runs again', async () => {
    const lastExitOf = async (name: string) => (await runtime.deps.store.get(keyOf(name)))?.value.lastExit;
    const args = ['--endpoint', runtime.url, '--name', 'again', '--max-restarts', '1', '--', process.execPath, '-e', 'process.exit(4)'];
    expect(await startSupervisor(args).exited).toBe(4);
    // Run 0 crashed and was restarted once; run 1 crashed and hit the limit.
    expect(await lastExitOf('again')).toMatchObject({ restartCount: 1, exitCode: 4 });
    const second = startSupervisor(args);
    expect(await second.exited).toBe(4);
    // A new run, not taken for a repeat of the last exit: numbered after it.
    expect(second.stderr()).not.toContain('duplicate');
    expect(await lastExitOf('again')).toMatchObject({ restartCount: 2, exitCode: 4 });
    expect(await status('again')).toMatchObject({ state: 'Terminated', reason: 'RestartLimitExceeded', restartCount: 1 });
  });

  it('stops after --max-restarts with RestartLimitExceeded', async () => {
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', 'capped', '--max-restarts', '2', '--', process.execPath, '-e', 'process.exit(3)']);
    expect(await supervisor.exited).toBe(3);
    expect(await status('capped')).toMatchObject({ state: 'Terminated', reason: 'RestartLimitExceeded', restartCount: 2 });
  });

  it('reports an exit by signal as 128 + its number, with the signal as reason', async () => {
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', 'killed', '--restart-policy', 'Never', '--', process.execPath, '-e', "process.kill(process.pid, 'SIGKILL')"]);
    expect(await supervisor.exited).toBe(137);
    expect(await status('killed')).toMatchObject({ state: 'Terminated', reason: 'SIGKILL', lastExit: { exitCode: 137, reason: 'SIGKILL' } });
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('passes %s on to the command and does not restart it afterwards', async (signal) => {
    const name = `trap-${signal.toLowerCase()}`;
    const script = `process.on('${signal}', () => { console.log('child got ${signal}'); process.exit(0); }); console.log('ready'); setInterval(() => {}, 1000);`;
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', name, '--', process.execPath, '-e', script]);
    const deadline = Date.now() + 60_000;
    while (!supervisor.stdout().includes('ready') && Date.now() < deadline) await sleep(20);
    supervisor.child.kill(signal);
    expect(await supervisor.exited).toBe(0);
    expect(supervisor.stdout()).toContain(`child got ${signal}`);
    expect(supervisor.stderr()).toMatch(new RegExp(`\\[supervise\\] ${signal}: passing it on to pid \\d+; no restart after this exit`));
    expect(supervisor.stderr()).toContain(`[supervise] exit 0 (Completed) · stopped by ${signal} · Terminated (Completed)`);
    expect(supervisor.stderr()).not.toMatch(/restart #\d+: started/);
    expect(await status(name)).toMatchObject({ state: 'Terminated', reason: 'Completed', restartCount: 0 });
  });

  it('waits for restarts by polling the container status with --poll', async () => {
    const supervisor = startSupervisor(['--endpoint', runtime.url, '--name', 'poller', '--poll', '--', process.execPath, '-e', 'process.exit(2)']);
    await supervisor.waitFor(/restart #3: started/);
    supervisor.child.kill('SIGTERM');
    await supervisor.exited;
    expect((await status('poller'))?.restartCount).toBeGreaterThanOrEqual(3);
  });

  describe('in process', () => {
    it('exits 127 when the command cannot be started', async () => {
      const { code, err } = await cli('supervise', '--endpoint', runtime.url, '--name', 'missing', '--', '/nonexistent/command');
      expect(code).toBe(127);
      expect(err).toContain('[supervise] cannot start /nonexistent/command: spawn /nonexistent/command ENOENT');
    });

    it('exits 1 with the hint when the runtime is not there, before starting anything', async () => {
      // A port the OS just handed out and took back: nothing listens there.
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const { code, err } = await cli('supervise', '--endpoint', endpoint, '--', process.execPath, '-e', 'process.exit(3)');
      expect(code).toBe(1);
      expect(err).toContain(`error: cannot reach ${endpoint} (connection refused): is \`restart-scheduler local\` running?`);
      expect(err).not.toContain('started');
    });

    it.each([
      ['no command', [], /missing required argument 'command'/],
      ['a bad --max-restarts', ['--max-restarts', 'many', '--', 'true'], /--max-restarts: expected a non-negative integer/],
      ['a bad --restart-policy', ['--restart-policy', 'Maybe', '--', 'true'], /Allowed choices are Always, OnFailure, Never/],
      ['an unknown flag', ['--forever', '--', 'true'], /unknown option '--forever'/],
    ])('exits 2 for %s', async (_, args, message) => {
      const { code, err } = await cli('supervise', '--endpoint', runtime.url, ...args);
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(err).toMatch(message);
    });
  });
});

describe('supervise helpers', () => {
  it.each([
    ['node', 'node'],
    ['/usr/local/bin/my_app.sh', 'my-app.sh'],
    ['./_build/server', 'server'],
    ['___', 'process'],
  ])('names the pod of %s %s', (command, pod) => {
    expect(podNameFor(command)).toBe(pod);
  });

  it('derives a stable, UUID-shaped pod UID per namespace and name', () => {
    const uid = derivedPodUid('default', 'web');
    expect(uid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(derivedPodUid('default', 'web')).toBe(uid);
    expect(derivedPodUid('other', 'web')).not.toBe(uid);
    expect(derivedPodUid('default', 'web2')).not.toBe(uid);
  });

  it('rewrites a live line in place, truncated to the terminal width, and ends it with a newline', () => {
    const written: string[] = [];
    const line = new LiveLine({ write: (text) => written.push(text) > 0, columns: 50 });
    line.update('short');
    line.update('x'.repeat(80));
    line.finish();
    expect(written).toEqual(['\rshort\x1b[K', `\r${'x'.repeat(48)}…\x1b[K`, '\n']);
  });
});
