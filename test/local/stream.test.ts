import { afterEach, describe, expect, it } from 'vitest';
import { RestartSchedulerClient, type RestartNotice, type SequencedEvent, type StreamOptions } from '../../lib/client/client.ts';
import { eventRecord } from '../../lib/core/index.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import type { BusMessage } from '../../lib/ports.ts';
import { documentedFetch } from '../support/openapi.ts';

function restart(pod: string, restartCount: number): BusMessage {
  const key = `${pod}_default__app_`;
  return {
    detailType: 'Container Restart Requested',
    detail: { restartId: `${key}#1.${restartCount}`, key, namespace: 'default', pod, container: 'app', restartCount, restartAt: new Date(0).toISOString(), firedAt: new Date(0).toISOString(), recovered: false },
  };
}

/** Follows a stream until `count` entries arrived (or fails after 20 s, only against a hang), then stops. */
async function collectStream<T>(follow: (onEntry: (entry: T) => void, options: StreamOptions) => Promise<void>, options: StreamOptions, count: number): Promise<T[]> {
  const received: T[] = [];
  const abort = new AbortController();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`got ${received.length} of ${count}`)), 20_000);
    void follow(
      (entry) => {
        received.push(entry);
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

describe('GET /v1/restarts/stream', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
  });

  const collect = (client: RestartSchedulerClient, options: StreamOptions, count: number) => collectStream<RestartNotice>(client.streamRestarts.bind(client), options, count);

  it('replays what a client missed after Last-Event-ID, then follows live', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    await runtime.eventLog.publish([restart('web-0', 1), restart('web-0', 2)]);
    const client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
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
    const client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
    expect((await collect(client, { after: 999 }, 1)).map((notice) => notice.seq)).toEqual([1]);
  });

  it('narrows the stream to one container with ?key=', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    await runtime.eventLog.publish([restart('web-0', 1), restart('web-1', 1), restart('web-0', 2)]);
    const client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
    expect((await collect(client, { after: 0, key: 'web-1_default__app_' }, 1)).map((notice) => notice.key)).toEqual(['web-1_default__app_']);
  });
});

describe('GET /v1/events/stream', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
  });

  const record = (pod: string, message: string) => eventRecord('Exited', { namespace: 'default', pod, container: 'app' }, Date.now(), { exitCode: 1, message });

  const collect = (client: RestartSchedulerClient, options: StreamOptions, count: number) => collectStream<SequencedEvent>(client.streamEvents.bind(client), options, count);

  it('replays the records a client missed after Last-Event-ID, then follows live', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    runtime.eventLog.record([record('web-0', 'first'), record('web-0', 'second')]);
    const client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
    // Recorded once the stream is open, so it arrives live rather than in the replay.
    const pending = collect(client, { after: 1, onConnect: () => runtime!.eventLog.record([record('web-0', 'third')]) }, 2);
    expect((await pending).map((event) => [event.seq, event.record.message])).toEqual([
      [2, 'second'],
      [3, 'third'],
    ]);
  });

  it('streams the records of a real exit as they are written, narrowed to one container with ?key=', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    const client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
    await client.postExit({ namespace: 'default', pod: 'other', container: 'app', exitCode: 1, finishedAt: Date.now() });
    const pending = collect(client, { after: 0, key: 'web-0_default__app_' }, 1);
    await client.postExit({ namespace: 'default', pod: 'web-0', container: 'app', exitCode: 2, finishedAt: Date.now() });
    const [event] = await pending;
    expect(event!.record).toMatchObject({ type: 'Exited', key: 'web-0_default__app_', exitCode: 2 });
  });

  it('sends a reset and the whole log to a client whose Last-Event-ID came from an earlier log', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    runtime.eventLog.record([record('web-0', 'only')]);
    const response = await documentedFetch(`${runtime.url}/v1/events/stream`, { headers: { 'last-event-id': '999' } });
    const reader = response.body!.getReader();
    let text = '';
    while (!text.includes('only')) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    expect(text).toMatch(/event: reset\ndata: \{\}\n\nid: 1\nevent: record\ndata: \{.*"message":"only"/);
  });

  it.each([
    ['a misspelt parameter', '?keys=web-0_default__app_', 'keys'],
    ['a malformed key', '?key=not-a-key', 'key'],
    ['a Last-Event-ID that is no sequence number', '?after=1e3', 'after'],
  ])('refuses %s with 400', async (_label, query, path) => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    const response = await documentedFetch(`${runtime.url}/v1/events/stream${query}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'ValidationError', issues: [{ path }] });
  });
});
