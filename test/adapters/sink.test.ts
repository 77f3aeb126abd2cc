import { EventBridgeClient, PutEventsCommand, type PutEventsCommandInput } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { AwsEventSink, PUT_EVENTS_ATTEMPTS, PUT_EVENTS_RETRY } from '../../lib/adapters/events/sink.ts';
import { retryDelayMs } from '../../lib/concurrency.ts';
import { BUS_DETAIL_TYPES, type BusMessage } from '../../lib/ports.ts';

const messages = (count: number): BusMessage[] =>
  Array.from({ length: count }, (_, index) => ({ detailType: BUS_DETAIL_TYPES.crashLoopBackOff, detail: { key: `pod-${index}` } }));

describe('AwsEventSink.publish', () => {
  const client = new EventBridgeClient({ region: 'us-east-1' });
  const eventBridge = mockClient(client);
  let pauses: number[];
  let randoms: number[];
  const sink = () =>
    new AwsEventSink({
      logger: { info: () => undefined },
      metrics: { addMetric: () => undefined } as never,
      eventBridge: client,
      eventBusName: 'bus',
      sleep: async (ms) => void pauses.push(ms),
      random: () => randoms.shift() ?? 0.5,
    });
  const keysSent = () => eventBridge.commandCalls(PutEventsCommand).map((call) => (call.args[0].input as PutEventsCommandInput).Entries!.map((entry) => JSON.parse(entry.Detail!).key));

  beforeEach(() => {
    eventBridge.reset();
    pauses = [];
    randoms = [];
  });

  it('sends ten entries a call', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [] });
    await sink().publish(messages(23));
    expect(keysSent().map((keys) => keys.length)).toEqual([10, 10, 3]);
    expect(pauses).toEqual([]);
  });

  it('retries only the failed entries, after a jittered pause that doubles, never back to back', async () => {
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 2, Entries: [{ EventId: 'a' }, { ErrorCode: 'ThrottlingException' }, { ErrorCode: 'InternalFailure' }] })
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }, { EventId: 'c' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'b' }] });
    randoms = [0.5, 0.25];
    await sink().publish(messages(3));
    expect(keysSent()).toEqual([['pod-0', 'pod-1', 'pod-2'], ['pod-1', 'pod-2'], ['pod-1']]);
    // Full jitter: below 100 ms, then below 200 ms.
    expect(pauses).toEqual([0.5 * PUT_EVENTS_RETRY.baseMs, 0.25 * 2 * PUT_EVENTS_RETRY.baseMs]);
  });

  it.each([
    [1, 0.999, 99],
    [2, 0.999, 199],
    [5, 0.999, 999],
    [9, 0.999, 999],
    [3, 0, 0],
  ])('pauses before retry %i below min(1 s, 100 ms × 2^(n−1)): random %d → %i ms', (attempt, random, expected) => {
    expect(retryDelayMs(attempt, PUT_EVENTS_RETRY, () => random)).toBe(expected);
  });

  it('gives up after its attempts, naming the errors, without a pause after the last', async () => {
    eventBridge.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException' }] });
    await expect(sink().publish(messages(1))).rejects.toThrow('PutEvents failed for 1 of 1 entries (ThrottlingException)');
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(PUT_EVENTS_ATTEMPTS);
    expect(pauses).toHaveLength(PUT_EVENTS_ATTEMPTS - 1);
  });
});
