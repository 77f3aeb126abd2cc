/**
 * Webhooks from the local runtime, run as a user runs it (`restart-scheduler
 * local --config FILE` in a child process) against a real local HTTP
 * receiver: every restart of a crash loop is POSTed at or after its instant,
 * a receiver that fails is retried with back-off, and a delivery pending at
 * `kill -9` goes out once the runtime starts again, with the same restartId.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RestartSchedulerClient } from '../../lib/client/client.ts';
import { startRuntimeProcess, type RuntimeProcess } from '../support/runtime-process.ts';
import { startReceiver, type Receiver } from '../support/receiver.ts';

const dirs: string[] = [];
let runtime: RuntimeProcess | undefined;
let receiver: Receiver | undefined;
afterEach(async () => {
  await runtime?.stop();
  await receiver?.close();
  runtime = undefined;
  receiver = undefined;
});
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A data directory with a config file: namespace `hooks` posts its restarts to `url`, with a fast back-off. */
function configured(url: string): { dataDir: string; config: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'restart-scheduler-webhooks-'));
  dirs.push(dataDir);
  const config = join(dataDir, 'config.json');
  writeFileSync(
    config,
    JSON.stringify({
      namespaceDefaults: {
        hooks: { initialBackoff: '200ms', maxBackoff: '1s', restartTarget: { webhook: { url, headers: { Authorization: 'Bearer local-secret', 'X-Team': 'infra' } } } },
      },
    }),
  );
  return { dataDir, config };
}

const exitOf = (restartCount: number) => ({ namespace: 'hooks', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: Date.now(), restartCount });

describe('webhooks from restart-scheduler local --config', () => {
  it('POSTs every restart of a crash loop, each at or after its instant, with the documented payload', async () => {
    receiver = await startReceiver();
    const { dataDir, config } = configured(receiver.url);
    runtime = await startRuntimeProcess(['--data-dir', dataDir, '--config', config]);
    const client = new RestartSchedulerClient({ endpoint: runtime.url });
    const rows: { restart: number; delayMs: number; restartAt: string; receivedLatenessMs: number }[] = [];
    for (let run = 0; run < 6; run++) {
      // The container crashes the moment its restart arrives.
      const decision = await client.postExit(exitOf(run));
      const [delivery] = await receiver.waitFor(1, (request) => request.body.restartId === decision.restartId);
      const restartAt = Date.parse(decision.restartAt!);
      expect(delivery!.at).toBeGreaterThanOrEqual(restartAt);
      expect(delivery!.headers).toMatchObject({ authorization: 'Bearer local-secret', 'x-team': 'infra', 'idempotency-key': decision.restartId, 'content-type': 'application/json' });
      expect(delivery!.body).toEqual({ restartId: decision.restartId, key: 'web-0_hooks__app_', restartCount: run + 1, restartAt: decision.restartAt, namespace: 'hooks', pod: 'web-0', podUid: null, container: 'app', containerHash: null });
      rows.push({ restart: run + 1, delayMs: decision.delayMs, restartAt: decision.restartAt!, receivedLatenessMs: delivery!.at - restartAt });
    }
    expect(rows.map((row) => row.delayMs)).toEqual([0, 200, 400, 800, 1_000, 1_000]);
    // Each restart once: none is posted twice while the receiver answers 200.
    expect(receiver.requests.map((request) => request.body.restartId)).toEqual([...new Set(receiver.requests.map((request) => request.body.restartId))]);
    expect(runtime.output()).not.toContain('local-secret');
    if (process.env.WEBHOOK_REPORT) console.table(rows);
  });

  it('retries a receiver that fails twice: it gets the restart on the third try, with back-off in between', async () => {
    receiver = await startReceiver((_request, n) => (n <= 2 ? 503 : 200));
    const { dataDir, config } = configured(receiver.url);
    runtime = await startRuntimeProcess(['--data-dir', dataDir, '--config', config]);
    const decision = await new RestartSchedulerClient({ endpoint: runtime.url }).postExit(exitOf(0));
    const attempts = await receiver.waitFor(3);
    expect(attempts.map((attempt) => [attempt.status, attempt.body.restartId])).toEqual([
      [503, decision.restartId],
      [503, decision.restartId],
      [200, decision.restartId],
    ]);
    // 1 s, then 2 s (the local runtime's back-off): never sooner.
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1_000);
    expect(attempts[2]!.at - attempts[1]!.at).toBeGreaterThanOrEqual(2_000);
    const outcomes = await waitForLine(join(dataDir, 'deliveries.jsonl'), decision.restartId!);
    expect(outcomes).toMatchObject({ restartId: decision.restartId, outcome: 'Delivered', attempts: 3, detail: 'HTTP 200' });
    if (process.env.WEBHOOK_REPORT) console.table(attempts.map((attempt) => ({ status: attempt.status, afterFirstMs: attempt.at - attempts[0]!.at })));
  });

  it('delivers a restart pending at kill -9 once the runtime starts again, with the same restartId', async () => {
    let up = false;
    receiver = await startReceiver(() => (up ? 200 : 503));
    const { dataDir, config } = configured(receiver.url);
    runtime = await startRuntimeProcess(['--data-dir', dataDir, '--config', config]);
    const decision = await new RestartSchedulerClient({ endpoint: runtime.url }).postExit(exitOf(0));
    await receiver.waitFor(1);
    // The first attempt failed; the next one waits out its back-off when the runtime dies.
    await runtime.kill9();
    runtime = undefined;
    up = true;
    const failedBefore = receiver.requests.length;
    runtime = await startRuntimeProcess(['--data-dir', dataDir, '--config', config]);
    const [delivered] = await receiver.waitFor(1, (request) => request.status === 200);
    expect(delivered!.body.restartId).toBe(decision.restartId);
    expect(delivered!.headers['idempotency-key']).toBe(decision.restartId);
    expect(receiver.requests.slice(0, failedBefore).every((request) => request.status === 503 && request.body.restartId === decision.restartId)).toBe(true);
    // Delivered once: a later start finds its outcome and posts nothing.
    await runtime.stop();
    runtime = await startRuntimeProcess(['--data-dir', dataDir, '--config', config]);
    const client = new RestartSchedulerClient({ endpoint: runtime.url });
    const next = await client.postExit(exitOf(1));
    await receiver.waitFor(1, (request) => request.body.restartId === next.restartId);
    expect(receiver.requests.filter((request) => request.status === 200 && request.body.restartId === decision.restartId)).toHaveLength(1);
  });

  it('refuses to start with a config file it cannot use, naming the setting', async () => {
    const { dataDir, config } = configured('http://hooks.example.com/restart');
    await expect(startRuntimeProcess(['--data-dir', dataDir, '--config', config], { timeoutMs: 20_000 })).rejects.toThrow(
      /namespaceDefaults\.hooks\.restartTarget\.webhook\.url: must be https:\/\/, or http:\/\/ on a loopback address/,
    );
  });
});

/** Waits for the delivery outcome of `restartId` in deliveries.jsonl. */
async function waitForLine(file: string, restartId: string, timeoutMs = 30_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const line = readFileSync(file, 'utf8').split('\n').find((text) => text.includes(restartId));
      if (line) return JSON.parse(line) as Record<string, unknown>;
    } catch {
      // Not written yet.
    }
    if (Date.now() > deadline) throw new Error(`no delivery outcome for ${restartId} in ${file}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
