/**
 * The deliver handler: restart targets on AWS that are not an API
 * destination. Two inputs:
 *
 * - `Container Restart Requested` events for the `ecs` target, from a rule on
 *   the bus: RunTask with the workload's input and the restart's id as
 *   `clientToken`. Throttling and `failures[]` are retried with back-off in
 *   the invocation; if they persist the invocation fails, Lambda retries it
 *   twice more (the same `clientToken`, so one task), then it goes to the
 *   delivery-failure queue.
 * - that queue (SQS): deliveries that failed every retry — a webhook's API
 *   destination, or this function's own — each recorded as `RestartFailed`
 *   (a log line and the `RestartsFailed` metric, which has an alarm).
 */
import type { EventBridgeEvent, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseRestartRequest } from '../lib/api/restart-requests.ts';
import type { DeliveryRetryPolicy } from '../lib/core/index.ts';
import { BUS_DETAIL_TYPES } from '../lib/ports.ts';
import { ConfigError } from '../lib/config.ts';
import { deliverRestart, recordRestartFailed, type DeliveryDeps, type DeliveryOutcome } from '../lib/services/deliver-restart.ts';
import { defaults, wireDeliver, type DeliverDeps } from './wiring.ts';

/** Attempts in one invocation (0.5 s, 1 s, 2 s apart); Lambda's own retries follow. */
export const AWS_DELIVERY_RETRY: DeliveryRetryPolicy = { maxAttempts: 4, initialDelayMs: 500, maxDelayMs: 4_000 };

export type DeliverEvent = EventBridgeEvent<string, unknown> | SQSEvent;
export type DeliverResult = DeliveryOutcome | SQSBatchResponse | { readonly ignored: number };

export function createHandler(deps: () => DeliverDeps) {
  return async function handler(event: DeliverEvent): Promise<DeliverResult> {
    const { delivery, logger, metrics } = deps();
    try {
      if (!delivery) throw new ConfigError('the deliver handler was wired without its targets');
      if (isSqsEvent(event)) {
        for (const record of event.Records) recordFailedDelivery(delivery, logger, record);
        return { batchItemFailures: [] };
      }
      if (event['detail-type'] !== BUS_DETAIL_TYPES.restartRequested) {
        logger.warn('ignored an event that is not Container Restart Requested', { detailType: event['detail-type'] });
        return { ignored: 1 };
      }
      const outcome = await deliverRestart(delivery, parseRestartRequest(event.detail), { ...AWS_DELIVERY_RETRY, exhausted: 'throw' });
      logger.info('restart delivered', { outcome });
      return outcome;
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

/**
 * One dead-lettered delivery. EventBridge (a rule target that failed every
 * retry) names the error in `ERROR_CODE` / `ERROR_MESSAGE`; Lambda (an async
 * invocation that failed every retry) in `ErrorCode` / `ErrorMessage`. The
 * body is the event either way. A body that is no restart is logged, not
 * retried: it would fail the same way every time.
 */
function recordFailedDelivery(delivery: DeliveryDeps, logger: DeliverDeps['logger'], record: SQSRecord): void {
  const attribute = (...names: string[]) => names.map((name) => record.messageAttributes?.[name]?.stringValue).find((value) => value !== undefined);
  let request;
  try {
    request = parseRestartRequest((JSON.parse(record.body) as { detail?: unknown }).detail);
  } catch (error) {
    logger.error('a dead-lettered delivery is not a restart request', { messageId: record.messageId, error: (error as Error).message });
    return;
  }
  recordRestartFailed(delivery, request, {
    code: attribute('ERROR_CODE', 'ErrorCode') ?? 'DeliveryFailed',
    message: attribute('ERROR_MESSAGE', 'ErrorMessage') ?? 'the target did not take it after every retry',
  });
}

function isSqsEvent(event: DeliverEvent): event is SQSEvent {
  return Array.isArray((event as SQSEvent).Records);
}

export const handler = createHandler(defaults(wireDeliver));
