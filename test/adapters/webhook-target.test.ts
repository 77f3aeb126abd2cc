import { afterEach, describe, expect, it } from 'vitest';
import { WebhookRestartTarget } from '../../lib/adapters/webhook/target.ts';
import { restartRequestOf } from '../support/pipeline.ts';
import { startReceiver, type Receiver } from '../support/receiver.ts';

const request = restartRequestOf({ podUid: 'uid-1', key: 'web-0_hooks_uid-1_app_', restartId: 'web-0_hooks_uid-1_app_#1767268800000.2', restartCount: 2 });

let receiver: Receiver | undefined;
afterEach(async () => {
  await receiver?.close();
  receiver = undefined;
});

const target = (url: string, headers?: Record<string, string>) => new WebhookRestartTarget({ resolve: async () => ({ url, ...(headers ? { headers } : {}) }), timeoutMs: 5_000 });

describe('WebhookRestartTarget', () => {
  it('POSTs the restart as JSON with its headers and the restartId as Idempotency-Key', async () => {
    receiver = await startReceiver();
    expect(await target(receiver.url, { Authorization: 'Bearer t0ken', 'X-Team': 'infra' }).deliver(request)).toEqual({ status: 'delivered', detail: 'HTTP 200' });
    const [received] = receiver.requests;
    expect(received).toMatchObject({ method: 'POST', path: '/restart' });
    expect(received!.headers).toMatchObject({ 'content-type': 'application/json', 'idempotency-key': request.restartId, authorization: 'Bearer t0ken', 'x-team': 'infra' });
    expect(received!.body).toEqual({
      restartId: request.restartId,
      key: request.key,
      restartCount: 2,
      restartAt: request.restartAt,
      namespace: 'hooks',
      pod: 'web-0',
      podUid: 'uid-1',
      container: 'app',
      containerHash: null,
    });
  });

  it.each([
    [500, true],
    [503, true],
    [429, true],
    [409, true],
    [401, true],
    [408, true],
    [400, false],
    [404, false],
    [302, false],
  ])('reads an answer of HTTP %i as retryable: %s (as API destinations do)', async (status, retryable) => {
    receiver = await startReceiver(() => status);
    await expect(target(receiver.url).deliver(request)).rejects.toMatchObject({ name: 'DeliveryError', retryable, code: `HTTP ${status}` });
  });

  it('retries a webhook that does not answer, and never names its URL or headers', async () => {
    receiver = await startReceiver();
    const url = receiver.url.replace(/:\d+\//, ':1/') + '?token=secret-in-url';
    const error = (await target(url, { Authorization: 'Bearer secret-in-header' }).deliver(request).catch((caught: unknown) => caught)) as Error;
    expect(error).toMatchObject({ name: 'DeliveryError', retryable: true, code: 'NoResponse' });
    expect(error.message).not.toMatch(/secret/);
  });

  it('fails for good when no webhook is configured', async () => {
    await expect(new WebhookRestartTarget({ resolve: async () => undefined }).deliver(request)).rejects.toMatchObject({ retryable: false, code: 'NotConfigured' });
  });
});
