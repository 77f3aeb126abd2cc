/**
 * Workloads with wrong or coarse clocks against `restart-scheduler local` as
 * users run it (a child process, over HTTP and the restart stream): restart
 * delays hold in real time, a clock that ran ahead once stalls nothing, and
 * whole-second reports with restartCount never stall.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RestartSchedulerClient, type ExitEventInput, type RestartNotice } from '../../lib/client/client.ts';
import { FAST_POLICY_ARGS, startRuntimeProcess, type RuntimeProcess } from '../support/runtime-process.ts';
import { documentedFetch } from '../support/openapi.ts';

const MINUTE = 60_000;
/** FAST_POLICY_ARGS: 100 ms doubling to 800 ms. */
const DELAYS = [0, 100, 200, 400, 800, 800];

interface Crash {
  /** Real time on this machine (the runtime's clock too) when the run ended. */
  readonly crashedAt: number;
  readonly restart: RestartNotice & { readonly receivedAt: number };
}

/**
 * A container that crashes `runMs` after each start and reports its exit on
 * a clock `skewMs(index)` off, in `resolutionMs` units; each restart that
 * arrives on the stream starts it again.
 */
async function crashLoop(
  client: RestartSchedulerClient,
  pod: string,
  runs: number,
  report: { skewMs?: (index: number) => number; resolutionMs?: number; restartCount?: boolean; runMs?: number },
): Promise<Crash[]> {
  const key = `${pod}_default__app_`;
  const received: (RestartNotice & { receivedAt: number })[] = [];
  let wake: (() => void) | undefined;
  const abort = new AbortController();
  let connected!: () => void;
  const ready = new Promise<void>((resolve) => (connected = resolve));
  void client.streamRestarts(
    (restart) => {
      received.push({ ...restart, receivedAt: Date.now() });
      wake?.();
    },
    { key, signal: abort.signal, onConnect: () => connected() },
  );
  await ready;
  const unit = report.resolutionMs ?? 1;
  const stamp = (ms: number, index: number) => {
    const skewed = Math.floor((ms + (report.skewMs?.(index) ?? 0)) / unit) * unit;
    return unit === 1 ? skewed : new Date(skewed).toISOString().replace('.000Z', 'Z');
  };
  const crashes: Crash[] = [];
  try {
    let startedAt = Date.now();
    for (let index = 0; index < runs; index++) {
      await new Promise((resolve) => setTimeout(resolve, report.runMs ?? 20));
      const crashedAt = Date.now();
      const exit: ExitEventInput = {
        namespace: 'default',
        pod,
        container: 'app',
        exitCode: 1,
        startedAt: stamp(startedAt, index),
        finishedAt: stamp(crashedAt, index),
        ...(report.restartCount ? { restartCount: index } : {}),
      };
      const decision = await client.postExit(exit);
      expect(decision, `exit #${index}`).toMatchObject({ restartCount: index + 1 });
      expect(decision.decision, `exit #${index}`).toMatch(/^Restart(Now|Scheduled)$/);
      const deadline = Date.now() + 20_000;
      while (received.length <= index) {
        if (Date.now() > deadline) throw new Error(`restart ${index + 1} never came (got ${received.length})`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 100);
        });
      }
      const restart = received[index]!;
      crashes.push({ crashedAt, restart });
      startedAt = restart.receivedAt;
    }
  } finally {
    abort.abort();
  }
  return crashes;
}

describe('restart-scheduler local with workload clocks that are wrong', () => {
  let runtime: RuntimeProcess | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  const start = async () => {
    runtime = await startRuntimeProcess(['--in-memory', ...FAST_POLICY_ARGS]);
    return new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
  };

  it('gives a workload whose clock runs 10 minutes behind the delays 0, 100, 200, 400, 800 ms in real time', async () => {
    const client = await start();
    const crashes = await crashLoop(client, 'behind', DELAYS.length, { skewMs: () => -10 * MINUTE });
    const delays = crashes.map((crash) => crash.restart.receivedAt - crash.crashedAt);
    console.table(crashes.map((crash, index) => ({ restart: index + 1, policyMs: DELAYS[index], realDelayMs: delays[index] })));
    // Never early in real time: each restart arrived at least the policy's delay after the crash.
    delays.forEach((delay, index) => expect(delay, `restart ${index + 1}`).toBeGreaterThanOrEqual(DELAYS[index]!));
    expect(crashes.map((crash) => crash.restart.restartCount)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('keeps restarting a workload whose clock ran 4 minutes ahead once', async () => {
    const client = await start();
    const crashes = await crashLoop(client, 'ahead-once', DELAYS.length, { skewMs: (index) => (index === 1 ? 4 * MINUTE : 0) });
    const delays = crashes.map((crash) => crash.restart.receivedAt - crash.crashedAt);
    delays.forEach((delay, index) => expect(delay, `restart ${index + 1}`).toBeGreaterThanOrEqual(DELAYS[index]!));
    expect(crashes.map((crash) => crash.restart.restartCount)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await client.getContainer('ahead-once_default__app_')).toMatchObject({ restartCount: 6 });
  });

  it('never stalls on whole-second reports with restartCount, even for crashes within one second', async () => {
    const client = await start();
    const crashes = await crashLoop(client, 'whole-seconds', DELAYS.length, { resolutionMs: 1_000, restartCount: true, runMs: 5 });
    expect(crashes.map((crash) => crash.restart.restartCount)).toEqual([1, 2, 3, 4, 5, 6]);
    crashes.forEach((crash, index) => expect(crash.restart.receivedAt - crash.crashedAt, `restart ${index + 1}`).toBeGreaterThanOrEqual(DELAYS[index]!));
  });
});
