/**
 * Exit events from the EventBridge bus (`Container Exited`): the bus's
 * counterpart of the router's `POST /v1/exits`. Nobody reads a reply on the
 * bus, so one bad event must not cost the others their decision: each valid
 * event of a batch is decided, each invalid one goes to the exit dead-letter
 * queue with its issues. (Over HTTP a bad batch is a 400 and nothing is
 * written: there a client is waiting to fix it.)
 */
import type { Decision } from '../core/index.ts';
import type { EventSink, ExitDeadLetters, RejectedExit } from '../ports.ts';
import type { ApiBackend } from './backend.ts';
import { parseExitPayloadItems } from './exits.ts';

/** What the bus delivered: the EventBridge event's id, source and detail. */
export interface ExitDelivery {
  readonly id: string;
  readonly source: string;
  readonly detail: unknown;
}

export interface BusIngressDeps {
  readonly backend: Pick<ApiBackend, 'submitExits' | 'now'>;
  readonly deadLetters: ExitDeadLetters;
  readonly sink: Pick<EventSink, 'metric'>;
  readonly log: { error(message: string, details?: Record<string, unknown>): void };
}

export interface DeliveryOutcome {
  /** The decisions of the valid events, in the order they came. */
  readonly decisions: readonly Decision[];
  /** Events (or whole details) sent to the dead-letter queue. */
  readonly rejected: number;
}

/**
 * Handles one `Container Exited` event. Throws, so that Lambda retries the
 * whole event, when the dead-letter queue or the store cannot be reached.
 *
 * The rejections are sent first, the valid events decided after: a failing
 * dead-letter queue then leaves nothing decided, and the retry starts from
 * scratch. A failure while deciding comes after the rejections were stored,
 * so the retry stores them again (an operator deduplicates on eventId and
 * index) and submits the valid events again, which decides none twice: the
 * planner answers a repeat of an exit it has decided `Duplicate` (or `Stale`
 * once a newer exit is stored), by its `exitId`, its `restartCount` or its
 * timestamps, as for any redelivered exit.
 */
export async function handleExitDelivery(deps: BusIngressDeps, delivery: ExitDelivery): Promise<DeliveryOutcome> {
  const parsed = parseExitPayloadItems(delivery.detail, deps.backend.now());
  const rejection = (index: number | null, event: unknown, issues: RejectedExit['issues']): RejectedExit => ({
    eventId: delivery.id,
    source: delivery.source,
    index,
    event,
    issues,
  });
  const rejected: RejectedExit[] = parsed.ok
    ? parsed.items.flatMap((item, index) => (item.ok ? [] : [rejection(parsed.batch ? index : null, item.input, item.issues)]))
    : [rejection(null, delivery.detail, parsed.issues)];

  if (rejected.length > 0) {
    await deps.deadLetters.send(rejected);
    for (const { eventId, source, index, issues } of rejected) {
      deps.log.error('rejected a Container Exited event; it is in the exit dead-letter queue', { eventId, source, index, issues });
    }
    deps.sink.metric('ExitEventsRejected', rejected.length);
  }
  const valid = parsed.ok ? parsed.items.flatMap((item) => (item.ok ? [item.event] : [])) : [];
  const decisions = valid.length > 0 ? await deps.backend.submitExits(valid) : [];
  return { decisions, rejected: rejected.length };
}
