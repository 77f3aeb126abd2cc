/**
 * The restart callback: invoked by EventBridge Scheduler with the schedule's
 * input, and by the fine-stage SQS queue in batches (partial batch failures).
 * Every path ends in `fireRestart`, which never dispatches early and
 * dispatches each restart once.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseRestartCallback } from '../lib/adapters/scheduler/timer.ts';
import { errorDetails } from '../lib/services/deps.ts';
import { fireRestart, type FireOutcome } from '../lib/services/fire-restart.ts';
import { defaults, wireServices, type LambdaDeps } from './wiring.ts';

export type RestartEvent = SQSEvent | Record<string, unknown>;

export function createHandler(deps: () => LambdaDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  return async function handler(event: RestartEvent, context?: Context): Promise<SQSBatchResponse | { outcome: FireOutcome }> {
    const { service, logger, metrics } = deps();
    if (context) logger.addContext(context);
    // A failed callback is retried (below), and said in the log where the
    // "Handler errors" query finds it.
    const fire = async (input: unknown): Promise<FireOutcome> => {
      try {
        return await fireRestart(service, parseRestartCallback(input));
      } catch (error) {
        logger.error('restart callback failed; it is retried', { callback: input, ...errorDetails(error) });
        throw error;
      }
    };
    try {
      if (isSqsEvent(event)) {
        // A failed record (e.g. the bus rejected the restart event) returns to
        // the queue and is retried; the rest of the batch is not.
        return await processPartialResponse(event, async (record: SQSRecord) => fire(record.body), processor);
      }
      // Scheduler invokes this function asynchronously: a failure is retried by
      // Lambda and then lands in the function's dead-letter queue (the schedule's
      // retry policy covers only the invocation call itself).
      const outcome = await fire(event);
      logger.debug('restart callback', { outcome });
      return { outcome };
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

function isSqsEvent(event: RestartEvent): event is SQSEvent {
  return Array.isArray((event as SQSEvent).Records);
}

export const handler = createHandler(defaults(wireServices));
