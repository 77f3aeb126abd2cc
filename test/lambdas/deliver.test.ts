import type { SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler } from '../../lambdas/deliver.ts';
import { LocalEventLog } from '../../lib/local/event-log.ts';
import { lambdaDeps, type LoggedLine } from '../support/lambda.ts';
import { createHarness, restartRequestOf, type Harness } from '../support/pipeline.ts';

let h: Harness;
let handler: ReturnType<typeof createHandler>;
let logged: LoggedLine[];
let sink: LocalEventLog;
beforeEach(async () => {
  h = await createHarness();
  sink = new LocalEventLog();
  const wired = lambdaDeps(h, { delivery: { targets: {}, sink, clock: h.clock, log: h.deps.log } });
  logged = wired.logged;
  handler = createHandler(wired.deps);
});
afterEach(() => h.close());

const detail = restartRequestOf({ restartCount: 4, restartId: 'web-0_hooks__app_#1.4' });
const record = (body: string, attributes: Record<string, string>) => ({
  messageId: 'm1',
  body,
  messageAttributes: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { stringValue: value, dataType: 'String' }])),
});

describe('the deliver handler on the delivery-failure queue', () => {
  it("records a webhook delivery that EventBridge gave up on as RestartFailed, with the API destination's error", async () => {
    const body = JSON.stringify({ 'detail-type': 'Container Restart Requested', source: 'restart-scheduler', detail });
    const event = { Records: [record(body, { RULE_ARN: 'arn:rule', TARGET_ARN: 'arn:destination', ERROR_CODE: 'SDK_CLIENT_ERROR', ERROR_MESSAGE: 'Unable to invoke ApiDestination endpoint: 503' })] };
    expect(await handler(event as unknown as SQSEvent)).toEqual({ batchItemFailures: [] });
    expect(sink.query({ type: 'RestartFailed', limit: 10 })).toEqual([
      expect.objectContaining({ restartId: detail.restartId, target: 'webhook', reason: 'SDK_CLIENT_ERROR', message: expect.stringContaining('after its retries): Unable to invoke ApiDestination endpoint: 503') }),
    ]);
    expect(sink.counter('RestartsFailed')).toBe(1);
  });

  it('logs, and does not retry, a message that is no restart request', async () => {
    expect(await handler({ Records: [record('{"detail": {"key": 1}}', {})] } as unknown as SQSEvent)).toEqual({ batchItemFailures: [] });
    expect(sink.counter('RestartsFailed')).toBe(0);
    expect(logged).toContainEqual(expect.objectContaining({ level: 'error', message: 'a dead-lettered delivery is not a restart request' }));
  });
});
