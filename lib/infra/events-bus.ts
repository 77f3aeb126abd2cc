import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUS_DETAIL_TYPES } from '../ports.ts';

export interface EventsBusProps {
  /**
   * How long the archive keeps every event on the bus (for replay after an
   * outage of a consumer).
   * @default Duration.days(30)
   */
  readonly archiveRetention?: Duration;
  /**
   * Attempts EventBridge makes to hand an exit event to the exit handler.
   * @default 8
   */
  readonly exitDeliveryRetries?: number;
  /**
   * How long EventBridge keeps retrying one exit event.
   * @default Duration.hours(1)
   */
  readonly exitDeliveryMaxAge?: Duration;
}

/**
 * The project's custom EventBridge bus: exit events come in on it
 * (`Container Exited`), restart requests and state events go out on it, and
 * an archive keeps them for replay.
 */
export class EventsBus extends Construct {
  readonly bus: events.EventBus;
  readonly archive: events.Archive;
  /**
   * Exit events that could not be handled: EventBridge's undeliverable ones,
   * the exit handler's async invocations that failed every retry, and each
   * invalid event of a bus batch, with its issues (`RejectedExitEvent`).
   */
  readonly exitDeadLetterQueue: sqs.Queue;
  private readonly props: EventsBusProps;

  constructor(scope: Construct, id: string, props: EventsBusProps = {}) {
    super(scope, id);
    this.props = props;
    this.bus = new events.EventBus(this, 'Bus', {
      description: 'restart-scheduler: Container Exited in; restart requests and container state out',
    });
    this.archive = new events.Archive(this, 'Archive', {
      sourceEventBus: this.bus,
      description: 'Every event on the restart-scheduler bus, for replay',
      // Every event on this bus comes from an account; matching the account keeps them all.
      eventPattern: { account: [Stack.of(this).account] },
      retention: props.archiveRetention ?? Duration.days(30),
    });
    this.exitDeadLetterQueue = new sqs.Queue(this, 'ExitDeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
  }

  get eventBusName(): string {
    return this.bus.eventBusName;
  }

  /** Routes `Container Exited` events on the bus to the exit handler, retrying, then dead-lettering. */
  routeExitsTo(exitFunction: lambda.IFunction): events.Rule {
    return new events.Rule(this, 'ExitRule', {
      eventBus: this.bus,
      description: 'Container Exited events to the exit handler',
      eventPattern: { detailType: [BUS_DETAIL_TYPES.exited] },
      targets: [
        new targets.LambdaFunction(exitFunction, {
          deadLetterQueue: this.exitDeadLetterQueue,
          retryAttempts: this.props.exitDeliveryRetries ?? 8,
          maxEventAge: this.props.exitDeliveryMaxAge ?? Duration.hours(1),
        }),
      ],
    });
  }

  /**
   * sqs:SendMessage on the exit dead-letter queue, for the exit handler: it
   * parks there each invalid event of a bus batch, with its issues.
   */
  grantSendExitDeadLetters(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [this.exitDeadLetterQueue.queueArn] });
  }

  /** events:PutEvents on this bus (the handlers publish restart and state events). */
  grantPutEvents(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({ grantee, actions: ['events:PutEvents'], resourceArns: [this.bus.eventBusArn] });
  }

  /**
   * For a workload that reports exits through the bus: events:PutEvents on
   * this bus for detail-type `Container Exited` only. Without the condition a
   * workload could also forge `Container Restart Requested` events that the
   * orchestrators on this bus act on.
   */
  grantPutExitEvents(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['events:PutEvents'],
      resourceArns: [this.bus.eventBusArn],
      conditions: { StringEquals: { 'events:detail-type': BUS_DETAIL_TYPES.exited } },
    });
  }
}
