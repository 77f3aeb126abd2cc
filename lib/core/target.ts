/**
 * Restart targets (DESIGN §4): where a dispatched restart goes besides the
 * bus. Every restart is published on the bus as `Container Restart Requested`;
 * a namespace (or one exit event) may also name a webhook, or an ECS workload
 * to run again. This module holds the shapes and the payload, nothing that
 * delivers.
 */

export const TARGET_KINDS = ['bus', 'webhook', 'ecs'] as const;
/** The target of a restart as the bus event names it (`detail.target`): what rules on the bus route by. */
export type TargetKind = (typeof TARGET_KINDS)[number];

/** A webhook: a POST of the restart as JSON (`webhookPayload`), with these headers. */
export interface WebhookSpec {
  readonly url: string;
  /** Sent with every delivery. Values may be secrets: they are never logged or echoed. */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * A restart target as configured, in a namespace's defaults or in an exit event:
 *
 * - `"bus"`: the bus event alone (also the default);
 * - `"ecs"`: run the ECS workload whose id is the exit's pod again
 *   (RunTask with its stored input);
 * - `{"webhook": {url, headers}}`: POST the restart to `url`;
 * - `"webhook"`: the namespace's webhook, delivered by the deployment (on AWS
 *   the handlers see only this form: the URL and headers stay in the
 *   EventBridge connection the stack creates).
 */
export type RestartTargetSpec = 'bus' | 'ecs' | 'webhook' | { readonly webhook: WebhookSpec };

export function targetKind(spec: RestartTargetSpec | undefined): TargetKind {
  if (spec === undefined) return 'bus';
  return typeof spec === 'string' ? spec : 'webhook';
}

/** The webhook of a spec, when it carries one. */
export function webhookOf(spec: RestartTargetSpec | undefined): WebhookSpec | undefined {
  return typeof spec === 'object' ? spec.webhook : undefined;
}

/**
 * The body a webhook receives, in this order; the same fields (and values)
 * as the `Container Restart Requested` detail. Optional parts of the container
 * reference are null when the container has none, so the payload has one
 * shape: the AWS stack's input transformer builds it from these paths.
 */
export const WEBHOOK_PAYLOAD_FIELDS = ['restartId', 'key', 'restartCount', 'restartAt', 'namespace', 'pod', 'podUid', 'container', 'containerHash'] as const;

export type WebhookPayload = {
  readonly restartId: string;
  readonly key: string;
  readonly restartCount: number;
  /** ISO-8601. */
  readonly restartAt: string;
  readonly namespace: string;
  readonly pod: string;
  readonly podUid: string | null;
  readonly container: string;
  readonly containerHash: string | null;
};

/** The webhook body for a restart (the fields of `WEBHOOK_PAYLOAD_FIELDS`, nothing else). */
export function webhookPayload(request: WebhookPayload): WebhookPayload {
  return {
    restartId: request.restartId,
    key: request.key,
    restartCount: request.restartCount,
    restartAt: request.restartAt,
    namespace: request.namespace,
    pod: request.pod,
    podUid: request.podUid,
    container: request.container,
    containerHash: request.containerHash,
  };
}

/** The header that carries the `restartId` with every delivery, for the receiver to deduplicate on. */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

/**
 * How a delivery is retried: attempts with exponential back-off ("full
 * jitter" is left out on purpose: a receiver that is down sees a steady,
 * predictable pace), from `initialDelayMs` doubling up to `maxDelayMs`.
 */
export interface DeliveryRetryPolicy {
  readonly maxAttempts: number;
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
}

/** The pause after failed attempt `attempt` (1-based). */
export function deliveryRetryDelay(policy: DeliveryRetryPolicy, attempt: number): number {
  return exponentialCeilingMs(attempt, policy.initialDelayMs, policy.maxDelayMs);
}

/** `baseMs × 2^(attempt − 1)` (attempt from 1), capped at `capMs`: the pause (or its ceiling) before retry `attempt`. */
export function exponentialCeilingMs(attempt: number, baseMs: number, capMs: number): number {
  return Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
}
