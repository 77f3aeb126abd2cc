import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';

export interface SyncScheduleProps {
  /** The sync handler. */
  readonly handler: lambda.IFunction;
  /**
   * How often the sync runs. Recovery of a lost restart waits for the next
   * run, so this bounds how late a recovered restart can be.
   * @default Duration.minutes(1)
   */
  readonly period?: Duration;
}

/**
 * The recurring schedule that runs the sync (DESIGN §2): overdue restarts
 * re-dispatched, BackOff repeats of long waits, expired entries collected.
 */
export class SyncSchedule extends Construct {
  readonly schedule: scheduler.Schedule;
  /** The role Scheduler assumes to invoke the sync handler, and nothing else. */
  readonly role: iam.Role;
  /** What the role may do; the schedule depends on it. */
  readonly policy: iam.Policy;

  constructor(scope: Construct, id: string, props: SyncScheduleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    // The schedule lives in the account's default group (the restart group is
    // for the one-time restart schedules only).
    const defaultGroupArn = stack.formatArn({ service: 'scheduler', resource: 'schedule-group', resourceName: 'default' });
    this.role = new iam.Role(this, 'Role', {
      description: 'Assumed by EventBridge Scheduler to run the restart-scheduler sync',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account, 'aws:SourceArn': defaultGroupArn } },
      }),
    });
    // Exactly the function: the target's own grant would add every version
    // and alias (`function:name:*`), which nothing here invokes. A policy of
    // its own, so that the schedule can wait for it (below).
    this.policy = new iam.Policy(this, 'InvokePolicy', {
      statements: [
        new iam.PolicyStatement({
          sid: 'InvokeSyncHandler',
          actions: ['lambda:InvokeFunction'],
          resources: [props.handler.functionArn],
        }),
      ],
    });
    this.role.attachInlinePolicy(this.policy);
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Runs the restart-scheduler sync',
      schedule: scheduler.ScheduleExpression.rate(props.period ?? Duration.minutes(1)),
      target: new targets.LambdaInvoke(props.handler, {
        role: this.role.withoutPolicyUpdates(),
        // A missed run is made up by the next one within a minute; retrying
        // it later would only overlap that run.
        retryAttempts: 0,
        maxEventAge: Duration.minutes(1),
      }),
    });
    // The schedule names only the role, so CloudFormation could create it
    // before the role may invoke anything, and its first runs be denied.
    this.schedule.node.addDependency(this.policy);
  }
}
