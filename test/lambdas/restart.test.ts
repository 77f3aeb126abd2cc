import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SQSEvent } from 'aws-lambda';
import { createHandler } from '../../lambdas/restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { createHarness, exitOf, T0, type Harness } from '../support/pipeline.ts';
import { lambdaDeps } from '../support/lambda.ts';

function sqsEvent(bodies: string[]): SQSEvent {
  return {
    Records: bodies.map((body, index) => ({
      messageId: `message-${index}`,
      receiptHandle: `receipt-${index}`,
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 's', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:fine-stage',
      awsRegion: 'us-east-1',
    })),
  };
}

describe('restart handler', () => {
  let h: Harness;
  let handler: ReturnType<typeof createHandler>;
  // Two crashes: restart 1 went out with the first exit; restart 2 is due at T0 + 11 s.
  const callback = JSON.stringify({ key: 'web-0_default_uid-1_app_', restartCount: 2, restartAt: T0 + 11_000 });

  beforeEach(async () => {
    h = await createHarness();
    handler = createHandler(lambdaDeps(h).deps);
    await handleExit(h.deps, exitOf(T0));
    h.clock.set(T0 + 1_000);
    await handleExit(h.deps, exitOf(T0 + 1_000));
    h.resetAwsCalls();
    h.clock.set(T0 + 11_000);
  });
  afterEach(async () => {
    await h.close();
  });

  it('dispatches from a Scheduler invocation', async () => {
    expect(await handler(JSON.parse(callback))).toEqual({ outcome: 'Dispatched' });
    expect(h.restartRequests()).toHaveLength(1);
  });

  it('dispatches once from an SQS batch that carries the callback twice', async () => {
    expect(await handler(sqsEvent([callback, callback]))).toEqual({ batchItemFailures: [] });
    expect(h.restartRequests()).toHaveLength(1);
  });

  it('reports only the malformed record of a batch as failed', async () => {
    const result = await handler(sqsEvent([callback, '{"key": 42}']));
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'message-1' }] });
    expect(h.restartRequests()).toHaveLength(1);
  });

  it('throws on a malformed Scheduler payload, so Scheduler retries and dead-letters it', async () => {
    await expect(handler({ key: 'web-0_default_uid-1_app_' })).rejects.toThrow(/restartCount/);
  });
});
