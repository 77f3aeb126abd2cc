import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { deadLetterBody, MAX_LISTED_ISSUES, MAX_MESSAGE_BYTES, SqsExitDeadLetters } from '../../lib/adapters/events/exit-dead-letters.ts';
import type { RejectedExit } from '../../lib/ports.ts';

const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/123456789012/exit-dlq';
const rejected = (index: number | null, overrides: Partial<RejectedExit> = {}): RejectedExit => ({
  eventId: 'e-1',
  source: 'workload',
  index,
  event: { pod: 'web_0', exitCode: 1 },
  issues: [{ path: 'pod', message: 'must contain only letters, digits, . and -' }],
  ...overrides,
});

describe('SqsExitDeadLetters.send', () => {
  const sqs = mockClient(SQSClient);
  afterEach(() => sqs.reset());

  it('sends one message per rejected event to its queue, carrying the bus event id, the index, the event and its issues', async () => {
    sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
    await new SqsExitDeadLetters({ client: new SQSClient({ region: 'us-east-1' }), queueUrl: QUEUE_URL }).send([rejected(0), rejected(3)]);
    expect(sqs.commandCalls(SendMessageCommand).map((call) => [call.args[0].input.QueueUrl, JSON.parse(call.args[0].input.MessageBody!)])).toEqual([
      [QUEUE_URL, { kind: 'RejectedExitEvent', eventId: 'e-1', source: 'workload', index: 0, issueCount: 1, issues: rejected(0).issues, event: rejected(0).event }],
      [QUEUE_URL, { kind: 'RejectedExitEvent', eventId: 'e-1', source: 'workload', index: 3, issueCount: 1, issues: rejected(3).issues, event: rejected(3).event }],
    ]);
  });

  it('fails when a message is not stored, so the caller can retry', async () => {
    sqs.on(SendMessageCommand).resolvesOnce({ MessageId: 'm' }).rejects(new Error('Service Unavailable'));
    await expect(new SqsExitDeadLetters({ client: new SQSClient({ region: 'us-east-1' }), queueUrl: QUEUE_URL }).send([rejected(0), rejected(1)])).rejects.toThrow('Service Unavailable');
  });
});

describe('deadLetterBody', () => {
  it('lists at most the first issues and says how many there were', () => {
    const issues = Array.from({ length: 5_000 }, (_, index) => ({ path: `field${index}`, message: 'unknown field' }));
    const body = JSON.parse(deadLetterBody(rejected(null, { issues })));
    expect(body.issues).toHaveLength(MAX_LISTED_ISSUES);
    expect(body.issueCount).toBe(5_000);
  });

  it('leaves out an event too large for one message and says where to find it, keeping the message under the limit', () => {
    const event = { pod: 'web-0', reason: 'x'.repeat(MAX_MESSAGE_BYTES) };
    const text = deadLetterBody(rejected(2, { event }));
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    expect(JSON.parse(text)).toMatchObject({ eventId: 'e-1', index: 2, event: null, eventOmitted: expect.stringContaining('bus archive'), issueCount: 1 });
  });

  it('keeps an event of any JSON value, multi-byte text included, when it fits', () => {
    for (const event of ['a string', 42, null, [1, 2], { reason: 'é'.repeat(100_000) }]) {
      expect(JSON.parse(deadLetterBody(rejected(null, { event }))).event).toEqual(event);
    }
  });
});
