import { afterEach, describe, expect, it } from 'vitest';
import { RestartSchedulerClient, type RestartNotice } from '../../lib/client/client.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import type { BusMessage } from '../../lib/ports.ts';

function restart(pod: string, restartCount: number): BusMessage {
  const key = `${pod}_default__app_`;
  return {
    detailType: 'Container Restart Requested',
    detail: { restartId: `${key}#1.${restartCount}`, key, namespace: 'default', pod, container: 'app', restartCount, restartAt: new Date(0).toISOString(), firedAt: new Date(0).toISOString(), recovered: false },
  };
}

describe('GET /v1/restarts/stream', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
  });

  async function collect(client: RestartSchedulerClient, options: { after?: number; key?: string; onConnect?: () => void }, count: number): Promise<RestartNotice[]> {
    const received: RestartNotice[] = [];
    const abort = new AbortController();
    await new Promise<void>((resolve, reject) => {
      // Only a guard against a hang: generous, for a loaded machine.
      const timer = setTimeout(() => reject(new Error(`got ${received.length} of ${count}`)), 20_000);
      void client.streamRestarts(
        (notice) => {
          received.push(notice);
          if (received.length === count) {
            clearTimeout(timer);
            resolve();
          }
        },
        { ...options, signal: abort.signal },
      );
    });
    abort.abort();
    return received;
  }

  it('replays what a client missed after Last-Event-ID, then follows live', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    await runtime.eventLog.publish([restart('web-0', 1), restart('web-0', 2)]);
    const client = new RestartSchedulerClient({ endpoint: runtime.url });
    // Published once the stream is open, so it arrives live rather than in the
    // replay, however long connecting takes.
    const pending = collect(client, { after: 1, onConnect: () => void runtime!.eventLog.publish([restart('web-0', 3)]) }, 2);
    expect((await pending).map((notice) => [notice.seq, notice.restartCount])).toEqual([
      [2, 2],
      [3, 3],
    ]);
  });

  it('replays the whole log to a client whose Last-Event-ID came from an earlier log', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    await runtime.eventLog.publish([restart('web-0', 1)]);
    const client = new RestartSchedulerClient({ endpoint: runtime.url });
    expect((await collect(client, { after: 999 }, 1)).map((notice) => notice.seq)).toEqual([1]);
  });

  it('narrows the stream to one container with ?key=', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    await runtime.eventLog.publish([restart('web-0', 1), restart('web-1', 1), restart('web-0', 2)]);
    const client = new RestartSchedulerClient({ endpoint: runtime.url });
    expect((await collect(client, { after: 0, key: 'web-1_default__app_' }, 1)).map((notice) => notice.key)).toEqual(['web-1_default__app_']);
  });
});
