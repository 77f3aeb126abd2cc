import { describe, expect, it } from 'vitest';
import { LocalEventLog } from '../../lib/local/event-log.ts';
import { DeliveryError, type RestartRequest, type RestartTarget } from '../../lib/ports.ts';
import { deliverRestart, type DeliveryDeps } from '../../lib/services/deliver-restart.ts';
import { ManualClock, restartRequestOf, T0 } from '../support/pipeline.ts';

const request = restartRequestOf();
const POLICY = { maxAttempts: 4, initialDelayMs: 1_000, maxDelayMs: 3_000 };

/** A target that answers with `results` in turn (an Error is thrown), counting attempts. */
function scripted(results: readonly (Error | 'ok')[]): RestartTarget & { attempts: RestartRequest[] } {
  const attempts: RestartRequest[] = [];
  return {
    attempts,
    deliver: async (given) => {
      attempts.push(given);
      const result = results[Math.min(attempts.length - 1, results.length - 1)]!;
      if (result instanceof Error) throw result;
      return { status: 'delivered', detail: 'HTTP 200' };
    },
  };
}

function setup(target: RestartTarget | undefined) {
  const clock = new ManualClock(T0);
  const log = new LocalEventLog();
  const pauses: number[] = [];
  const warnings: string[] = [];
  const deps: DeliveryDeps = {
    targets: target ? { webhook: target } : {},
    sink: log,
    clock,
    log: { warn: (message) => void warnings.push(message), error: () => undefined },
    sleep: async (ms) => {
      pauses.push(ms);
      clock.advance(ms);
    },
  };
  return { deps, log, pauses, warnings, clock };
}

const unavailable = new DeliveryError('the webhook answered HTTP 503', true, 'HTTP 503');

describe('deliverRestart', () => {
  it('retries a retryable failure with back-off and delivers on the third try, the same restart every time', async () => {
    const target = scripted([unavailable, unavailable, 'ok']);
    const { deps, pauses, log } = setup(target);
    expect(await deliverRestart(deps, request, POLICY)).toEqual({ outcome: 'Delivered', attempts: 3, detail: 'HTTP 200' });
    expect(pauses).toEqual([1_000, 2_000]);
    expect(target.attempts.map((attempt) => attempt.restartId)).toEqual([request.restartId, request.restartId, request.restartId]);
    expect(log.query({ limit: 10 })).toEqual([]);
  });

  it('ends a delivery that keeps failing in RestartFailed, its metric included', async () => {
    const { deps, pauses, log } = setup(scripted([unavailable]));
    expect(await deliverRestart(deps, request, POLICY)).toEqual({ outcome: 'Failed', attempts: 4, code: 'HTTP 503', message: 'the webhook answered HTTP 503' });
    expect(pauses).toEqual([1_000, 2_000, 3_000]);
    expect(log.query({ type: 'RestartFailed', limit: 10 })).toEqual([
      expect.objectContaining({
        type: 'RestartFailed',
        key: request.key,
        restartId: request.restartId,
        restartCount: 3,
        target: 'webhook',
        attempts: 4,
        reason: 'HTTP 503',
        message: 'Restart 3 of container=app pod=web-0_hooks was not delivered to its webhook target (4 attempts): the webhook answered HTTP 503',
      }),
    ]);
    expect(log.counter('RestartsFailed')).toBe(1);
  });

  it('does not retry a failure that retrying cannot cure', async () => {
    const target = scripted([new DeliveryError('the webhook answered HTTP 400', false, 'HTTP 400')]);
    const { deps, pauses, log } = setup(target);
    expect(await deliverRestart(deps, request, POLICY)).toMatchObject({ outcome: 'Failed', attempts: 1, code: 'HTTP 400' });
    expect(pauses).toEqual([]);
    expect(log.counter('RestartsFailed')).toBe(1);
  });

  it("hands a retryable failure back after the last attempt when the caller retries on its own (Lambda's retries)", async () => {
    const { deps, log } = setup(scripted([unavailable]));
    await expect(deliverRestart(deps, request, { ...POLICY, exhausted: 'throw' })).rejects.toBe(unavailable);
    expect(log.counter('RestartsFailed')).toBe(0);
  });

  it('counts an unexpected error as retryable', async () => {
    const { deps } = setup(scripted([new TypeError('boom'), 'ok']));
    expect(await deliverRestart(deps, request, POLICY)).toMatchObject({ outcome: 'Delivered', attempts: 2 });
  });

  it('fails, and says so, a restart for a target that is not configured', async () => {
    const { deps, log } = setup(undefined);
    expect(await deliverRestart(deps, request, POLICY)).toMatchObject({ outcome: 'Failed', attempts: 0, code: 'NotConfigured' });
    expect(log.query({ type: 'RestartFailed', limit: 1 })[0]?.message).toContain('no webhook target is configured here');
  });

  it('delivers nothing for the bus, and never before restartAt', async () => {
    const target = scripted(['ok']);
    const { deps, pauses, clock } = setup(target);
    expect(await deliverRestart(deps, { ...request, target: 'bus' }, POLICY)).toMatchObject({ outcome: 'Skipped', attempts: 0 });
    clock.set(T0 - 250);
    expect(await deliverRestart(deps, request, POLICY)).toMatchObject({ outcome: 'Delivered' });
    expect(pauses).toEqual([250]);
  });
});
