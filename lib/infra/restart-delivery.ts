import { Duration, SecretValue } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { IDEMPOTENCY_HEADER, WEBHOOK_PAYLOAD_FIELDS, type WebhookSpec } from '../core/index.ts';
import { BUS_DETAIL_TYPES, SERVICE_NAME } from '../ports.ts';
import type { EventsBus } from './events-bus.ts';

export interface RestartDeliveryProps {
  readonly bus: EventsBus;
  /** Each namespace whose restarts go to a webhook, and its webhook. */
  readonly webhooks: Readonly<Record<string, WebhookSpec>>;
  /**
   * How many times EventBridge retries a webhook or ECS delivery.
   * @default 24
   */
  readonly retryAttempts?: number;
  /**
   * How long EventBridge keeps trying one delivery.
   * @default Duration.hours(1)
   */
  readonly maxEventAge?: Duration;
}

/**
 * Delivery of restarts to their targets, driven from the bus event
 * (`Container Restart Requested`, `detail.target`), so dispatch stays one
 * exactly-once publish and a crash between publish and delivery loses
 * nothing:
 *
 * - per webhook namespace, an EventBridge connection (its auth and headers in
 *   a Secrets Manager secret that the connection creates), an API destination,
 *   and a rule with the payload as input transformation,
 *   `Idempotency-Key: <restartId>`, a retry policy and a dead-letter queue;
 * - for ECS workloads, a rule that sends `target: ecs` restarts to the
 *   deliver handler (RunTask);
 * - the delivery-failure queue: what failed every retry, on either path. The
 *   deliver handler records each as `RestartFailed`.
 */
export class RestartDelivery extends Construct {
  /** Deliveries that failed every retry: rule dead letters, and the deliver handler's failed invocations. */
  readonly failedDeliveries: sqs.Queue;
  readonly webhookRules: ReadonlyMap<string, events.Rule>;
  readonly connections: ReadonlyMap<string, events.Connection>;
  private readonly props: RestartDeliveryProps;

  constructor(scope: Construct, id: string, props: RestartDeliveryProps) {
    super(scope, id);
    this.props = props;
    this.failedDeliveries = new sqs.Queue(this, 'FailedDeliveries', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    const rules = new Map<string, events.Rule>();
    const connections = new Map<string, events.Connection>();
    Object.entries(props.webhooks).forEach(([namespace, webhook], index) => {
      const scopeId = `Webhook${index}`;
      const connection = new events.Connection(this, `${scopeId}Connection`, {
        description: `restart-scheduler: webhook of namespace ${namespace}`,
        ...connectionAuth(namespace, webhook),
      });
      const destination = new events.ApiDestination(this, `${scopeId}Destination`, {
        description: `restart-scheduler: restarts of namespace ${namespace}`,
        connection,
        endpoint: webhook.url,
        httpMethod: events.HttpMethod.POST,
      });
      rules.set(
        namespace,
        new events.Rule(this, `${scopeId}Rule`, {
          eventBus: props.bus.bus,
          description: `Restarts of namespace ${namespace} to its webhook`,
          eventPattern: restartPattern({ namespace: [namespace], target: ['webhook'] }),
          targets: [
            new targets.ApiDestination(destination, {
              event: events.RuleTargetInput.fromObject(Object.fromEntries(WEBHOOK_PAYLOAD_FIELDS.map((field) => [field, events.EventField.fromPath(`$.detail.${field}`)]))),
              headerParameters: { [IDEMPOTENCY_HEADER]: '$.detail.restartId' },
              ...this.retryPolicy(),
            }),
          ],
        }),
      );
      connections.set(namespace, connection);
    });
    this.webhookRules = rules;
    this.connections = connections;
  }

  /**
   * Connects the deliver handler: `target: ecs` restarts from the bus, and the
   * delivery-failure queue as its event source.
   */
  connectDeliverFunction(deliver: lambda.IFunction, options: { readonly ecs: boolean }): void {
    if (options.ecs) {
      new events.Rule(this, 'EcsRule', {
        eventBus: this.props.bus.bus,
        description: 'Restarts of ECS workloads to the deliver handler (RunTask)',
        eventPattern: restartPattern({ target: ['ecs'] }),
        targets: [new targets.LambdaFunction(deliver, this.retryPolicy())],
      });
    }
    deliver.addEventSource(new SqsEventSource(this.failedDeliveries, { batchSize: 10, reportBatchItemFailures: true }));
  }

  private retryPolicy() {
    return {
      deadLetterQueue: this.failedDeliveries,
      retryAttempts: this.props.retryAttempts ?? 24,
      maxEventAge: this.props.maxEventAge ?? Duration.hours(1),
    };
  }
}

/** `Container Restart Requested` from the service, with these detail fields. */
export function restartPattern(detail: Record<string, string[]>): events.EventPattern {
  return { source: [SERVICE_NAME], detailType: [BUS_DETAIL_TYPES.restartRequested], detail };
}

/**
 * An API destination's connection needs an authorization: the webhook's
 * `Authorization` header (else its first header) becomes the API key, every
 * other header a secret header parameter. A webhook without headers gets a
 * harmless `X-Restart-Scheduler-Namespace` key. All of them live in the
 * secret the connection creates. (A value such as
 * `{{resolve:secretsmanager:…}}` is resolved by CloudFormation, so the
 * template need not hold the secret itself.)
 */
function connectionAuth(namespace: string, webhook: WebhookSpec): Pick<events.ConnectionProps, 'authorization' | 'headerParameters'> {
  const headers = Object.entries(webhook.headers ?? {});
  const keyIndex = Math.max(0, headers.findIndex(([name]) => name.toLowerCase() === 'authorization'));
  const [key, ...rest] = headers.length > 0 ? [headers[keyIndex]!, ...headers.filter((_, index) => index !== keyIndex)] : [['X-Restart-Scheduler-Namespace', namespace] as const];
  return {
    authorization: events.Authorization.apiKey(key![0], SecretValue.unsafePlainText(key![1])),
    ...(rest.length > 0 ? { headerParameters: Object.fromEntries(rest.map(([name, value]) => [name, events.HttpParameter.fromSecret(SecretValue.unsafePlainText(value))])) } : {}),
  };
}
