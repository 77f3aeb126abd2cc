/**
 * The exit handler: the HTTP API's routes (API Gateway HTTP API v2 events)
 * and `Container Exited` events from the EventBridge bus.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context, EventBridgeEvent } from 'aws-lambda';
import { fromApiGatewayV2, toApiGatewayV2 } from '../lib/api/apigateway.ts';
import { handleExitDelivery, type DeliveryOutcome } from '../lib/api/bus.ts';
import { handleApiRequest } from '../lib/api/router.ts';
import { ConfigError, ENV } from '../lib/config.ts';
import { BUS_DETAIL_TYPES } from '../lib/ports.ts';
import { ECS_EVENT_SOURCE, ECS_TASK_STATE_CHANGE } from '../lib/api/ecs-events.ts';
import { createServiceBackend } from '../lib/services/backend.ts';
import { handleTaskStateChange, type TaskStateChangeOutcome } from '../lib/services/ecs-workloads.ts';
import { defaults, wireExit, type LambdaDeps } from './wiring.ts';

export type ExitHandlerEvent = APIGatewayProxyEventV2 | EventBridgeEvent<string, unknown>;
export type ExitHandlerResult = APIGatewayProxyStructuredResultV2 | DeliveryOutcome | TaskStateChangeOutcome | { readonly ignored: number };

export function createHandler(deps: () => LambdaDeps) {
  return async function handler(event: ExitHandlerEvent, context?: Context): Promise<ExitHandlerResult> {
    const { service, logger, metrics, exitDeadLetters, ecs } = deps();
    if (context) logger.addContext(context);
    const backend = createServiceBackend(service, ecs ? { ecs } : {});
    try {
      if (isHttpEvent(event)) return toApiGatewayV2(await handleApiRequest(fromApiGatewayV2(event), backend));
      if (event.source === ECS_EVENT_SOURCE && event['detail-type'] === ECS_TASK_STATE_CHANGE) {
        if (!ecs) throw new ConfigError(`${ENV.workloadTableName} is not set: ECS task state changes need the ECS workloads`);
        // A failure propagates: Lambda retries the event, then hands it to the exit dead-letter queue.
        const outcome = await handleTaskStateChange({ ecs, service }, { detail: event.detail, time: event.time });
        if ('ignored' in outcome) logger.info('ignored an ECS task state change', { eventId: event.id, because: outcome.ignored });
        return outcome;
      }
      if (event['detail-type'] !== BUS_DETAIL_TYPES.exited) {
        logger.warn('ignored an event that is not Container Exited', { detailType: event['detail-type'] });
        return { ignored: 1 };
      }
      if (!exitDeadLetters) throw new ConfigError(`${ENV.exitDeadLetterQueueUrl} is not set`);
      // A failure propagates: the rule invokes this function asynchronously, so
      // Lambda retries the event, then hands it to the function's dead-letter queue.
      return await handleExitDelivery(
        { backend, deadLetters: exitDeadLetters, sink: service.sink, log: service.log },
        { id: event.id, source: event.source, detail: event.detail },
      );
    } finally {
      metrics.publishStoredMetrics();
    }
  };
}

function isHttpEvent(event: ExitHandlerEvent): event is APIGatewayProxyEventV2 {
  return typeof (event as APIGatewayProxyEventV2).requestContext?.http === 'object';
}

export const handler = createHandler(defaults(wireExit));
