/**
 * `RestartTarget` for webhooks, posted by the process itself (the local
 * runtime; on AWS a namespace's webhook is an EventBridge API destination and
 * never passes through this code). The body is `webhookPayload`, the headers
 * the webhook's own plus `Idempotency-Key: <restartId>`. Which answers are
 * retried follows EventBridge API destinations, so a receiver sees the same
 * behaviour from both: 401, 407, 408, 409, 429 and 5xx (and no answer at
 * all) are retried, any other status is final.
 */
import { IDEMPOTENCY_HEADER, webhookPayload, type WebhookSpec } from '../../core/index.ts';
import { DeliveryError, type DeliveryReceipt, type RestartRequest, type RestartTarget } from '../../ports.ts';

const RETRIED_STATUSES = new Set([401, 407, 408, 409, 429]);

export interface WebhookTargetOptions {
  /** The webhook a restart goes to (its container's own, else its namespace's), or undefined when it has none. */
  readonly resolve: (request: RestartRequest) => Promise<WebhookSpec | undefined>;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** How long one POST may take. @default 10 s */
  readonly timeoutMs?: number;
}

export class WebhookRestartTarget implements RestartTarget {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: WebhookTargetOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async deliver(request: RestartRequest): Promise<DeliveryReceipt> {
    const webhook = await this.options.resolve(request);
    if (!webhook) throw new DeliveryError(`no webhook is configured for namespace ${request.namespace} or this container`, false, 'NotConfigured');
    let response: Response;
    try {
      response = await this.fetch(webhook.url, {
        method: 'POST',
        // A redirect is an answer like any other 3xx: the restart is not taken.
        redirect: 'manual',
        headers: { ...webhook.headers, 'content-type': 'application/json', [IDEMPOTENCY_HEADER]: request.restartId },
        body: JSON.stringify(webhookPayload(request)),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
      });
      // Read the answer to the end, so the connection can be reused.
      await response.arrayBuffer();
    } catch (error) {
      // The URL (which may hold a token) and the headers (which may hold secrets) are never part of the message.
      throw new DeliveryError(`the webhook did not answer: ${describeFailure(error)}`, true, 'NoResponse');
    }
    if (response.status >= 200 && response.status < 300) return { status: 'delivered', detail: `HTTP ${response.status}` };
    const retryable = response.status >= 500 || RETRIED_STATUSES.has(response.status);
    throw new DeliveryError(`the webhook answered HTTP ${response.status}`, retryable, `HTTP ${response.status}`);
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
}
