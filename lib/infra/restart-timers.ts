import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './nag.ts';

export interface RestartTimersProps {
  /**
   * Messages the restart handler takes per invocation from the fine stage.
   * Small, so one slow restart does not hold up many others.
   * @default 5
   */
  readonly batchSize?: number;
  /**
   * How long the event source may wait to fill a batch. Every second here is
   * added to a restart's lateness, so it stays at zero unless traffic is heavy.
   * @default Duration.seconds(0)
   */
  readonly maxBatchingWindow?: Duration;
  /**
   * Receives of one fine-stage message before it moves to the dead-letter queue.
   * @default 5
   */
  readonly maxReceiveCount?: number;
  /**
   * The restart handler's timeout; the fine stage's visibility timeout is six
   * times it, as Lambda recommends for SQS event sources.
   * @default Duration.seconds(10)
   */
  readonly restartHandlerTimeout?: Duration;
  /**
   * What happens to the restart schedule group (and the schedules left in it)
   * when it leaves the stack. Its name is CloudFormation's, so a retained
   * group never stands in the way of the next deployment.
   * @default RemovalPolicy.DESTROY
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The two-stage restart timer (DESIGN §3): a schedule group for the one-time
 * restart schedules, the Scheduler execution role they run as, the SQS fine
 * stage that waits out the last seconds, and the dead-letter queue for
 * callbacks that fail on any path.
 */
export class RestartTimers extends Construct {
  /**
   * The group of the one-time restart schedules. Named by CloudFormation (the
   * handlers get the name from the stack), never fixed: a fixed name retained
   * after `cdk destroy` made the next `cdk deploy` fail on it.
   */
  readonly scheduleGroup: scheduler.CfnScheduleGroup;
  /** Assumed by EventBridge Scheduler to call the restart handler. */
  readonly schedulerRole: iam.Role;
  /** SQS delay queue feeding the restart handler. */
  readonly fineStageQueue: sqs.Queue;
  /**
   * Callbacks that failed: the restart schedules' dead-letter target, the
   * fine stage's redrive target, and the restart handler's async failures.
   */
  readonly deadLetterQueue: sqs.Queue;
  private readonly props: RestartTimersProps;

  constructor(scope: Construct, id: string, props: RestartTimersProps = {}) {
    super(scope, id);
    this.props = props;
    const stack = Stack.of(this);

    this.scheduleGroup = new scheduler.CfnScheduleGroup(this, 'ScheduleGroup', {});
    this.scheduleGroup.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.DESTROY);

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // The longest SQS allows: time for someone to look at what failed.
      retentionPeriod: Duration.days(14),
    });

    const handlerTimeout = props.restartHandlerTimeout ?? Duration.seconds(10);
    this.fineStageQueue = new sqs.Queue(this, 'FineStageQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(handlerTimeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? 5 },
    });

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'Assumed by EventBridge Scheduler to deliver restart callbacks',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: {
          // Confused-deputy protection: only schedules of this account, in this group.
          StringEquals: {
            'aws:SourceAccount': stack.account,
            'aws:SourceArn': this.scheduleGroupArn,
          },
        },
      }),
    });
    // No grant on the fine stage: every restart schedule targets the restart
    // handler; only the handlers send to the fine stage.
    this.schedulerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DeadLetterFailedCallbacks',
        actions: ['sqs:SendMessage'],
        resources: [this.deadLetterQueue.queueArn],
      }),
    );
  }

  /** The restart schedule group's name, as CloudFormation chose it. */
  get scheduleGroupName(): string {
    return this.scheduleGroup.ref;
  }

  get scheduleGroupArn(): string {
    return this.scheduleGroup.attrArn;
  }

  /**
   * The ARN pattern of the restart schedules. Their names are derived from
   * each restart at run time, so the pattern names the group and nothing finer.
   */
  get scheduleArnPattern(): string {
    return Stack.of(this).formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.scheduleGroupName}/*`,
      arnFormat: ArnFormat.SLASH_RESOURCE_NAME,
    });
  }

  /**
   * Lets the restart schedules invoke `restartFunction` (exactly that function,
   * no versions or aliases) and makes the fine stage its event source, with
   * partial batch failures.
   */
  connectRestartFunction(restartFunction: lambda.IFunction): void {
    this.schedulerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeRestartHandler',
        actions: ['lambda:InvokeFunction'],
        resources: [restartFunction.functionArn],
      }),
    );
    restartFunction.addEventSource(
      new SqsEventSource(this.fineStageQueue, {
        batchSize: this.props.batchSize ?? 5,
        maxBatchingWindow: this.props.maxBatchingWindow ?? Duration.seconds(0),
        reportBatchItemFailures: true,
      }),
    );
  }

  /**
   * What the exit handler needs to arm a timer: create schedules in the
   * group, and hand them the Scheduler role (to Scheduler only).
   */
  grantCreateSchedules(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['scheduler:CreateSchedule'],
      resourceArns: [this.scheduleArnPattern],
    });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    if (Construct.isConstruct(grantee.grantPrincipal)) {
      acknowledgeWildcardResource(
        grantee.grantPrincipal,
        this.scheduleArnPattern,
        'Each restart schedule is named at run time from a hash of the container key and restart count; ' +
          'the grant is scheduler:CreateSchedule only, limited to the restart schedule group.',
      );
    }
  }

  /** Sending to the fine stage: a restart due soon, or the remainder after an early callback. */
  grantSendToFineStage(grantee: iam.IGrantable): void {
    iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [this.fineStageQueue.queueArn] });
  }
}
