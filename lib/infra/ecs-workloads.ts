import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { WORKLOAD_TABLE_SCHEMA } from '../adapters/ecs/workload-store.ts';
import { ECS_EVENT_SOURCE, ECS_TASK_STATE_CHANGE } from '../api/ecs-events.ts';
import { STARTED_BY_PREFIX } from '../ports.ts';
import { acknowledgeNag, acknowledgeWildcardResource } from './nag.ts';
import type { EcsSettings } from './settings.ts';

export interface EcsWorkloadsProps extends EcsSettings {
  /**
   * What happens to the workload table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * ECS workloads the service runs itself (`restart-scheduler ecs …`): the
 * table of their registrations, the rule that turns their stopped tasks into
 * exit events, and the grants to run, stop and describe their tasks — limited
 * to the named clusters, task definition families and roles.
 */
export class EcsWorkloads extends Construct {
  readonly table: dynamodb.Table;
  private readonly settings: EcsSettings;

  constructor(scope: Construct, id: string, props: EcsWorkloadsProps) {
    super(scope, id);
    this.settings = props;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: WORKLOAD_TABLE_SCHEMA.partitionKey.name, type: dynamodb.AttributeType.STRING },
      sortKey: { name: WORKLOAD_TABLE_SCHEMA.sortKey.name, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.AWS_MANAGED,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** The ARNs of the named clusters. */
  get clusterArns(): string[] {
    return this.settings.clusters.map((cluster) => this.arn('cluster', cluster));
  }

  /** The default bus pattern the stack routes: stopped tasks of the named clusters that the service started. */
  get taskStoppedPattern(): events.EventPattern {
    return {
      source: [ECS_EVENT_SOURCE],
      detailType: [ECS_TASK_STATE_CHANGE],
      detail: { lastStatus: ['STOPPED'], clusterArn: this.clusterArns, startedBy: [{ prefix: STARTED_BY_PREFIX }] },
    };
  }

  /**
   * ECS sends task state changes to the account's default bus: a rule there
   * sends the service's stopped tasks to the exit handler, retrying, then to
   * the exit dead-letter queue.
   */
  routeTaskChangesTo(exitFunction: lambda.IFunction, deadLetterQueue: sqs.IQueue): events.Rule {
    return new events.Rule(this, 'TaskStoppedRule', {
      description: 'Stopped ECS tasks started by restart-scheduler, to the exit handler',
      eventPattern: this.taskStoppedPattern,
      targets: [new targets.LambdaFunction(exitFunction, { deadLetterQueue, retryAttempts: 8, maxEventAge: Duration.hours(1) })],
    });
  }

  /** For the API (`ecs run | list | stop`): register, start, list and stop workloads. */
  grantManage(grantee: iam.IGrantable): void {
    this.grantTable(grantee, ['GetItem', 'PutItem', 'Query']);
    this.grantRunTask(grantee);
    this.grantTaskCalls(grantee, ['ecs:StopTask', 'ecs:DescribeTasks']);
    // DescribeTaskDefinition has no resource-level permissions: it takes "*" or nothing.
    grantee.grantPrincipal.addToPrincipalPolicy(new iam.PolicyStatement({ sid: 'DescribeTaskDefinitions', actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] }));
    acknowledgeNag(
      principalScope(grantee),
      'AwsSolutions-IAM5[Resource::*]',
      'ecs:DescribeTaskDefinition supports no resource-level permissions; it reads a task definition (which of its containers are essential) and changes nothing.',
    );
  }

  /** For the deliver handler (the `ecs` restart target): run a workload's task again, and stop one that started after `ecs stop`. */
  grantRestart(grantee: iam.IGrantable): void {
    this.grantTable(grantee, ['GetItem', 'PutItem']);
    this.grantRunTask(grantee);
    this.grantTaskCalls(grantee, ['ecs:StopTask']);
  }

  private grantTable(grantee: iam.IGrantable, actions: readonly string[]): void {
    iam.Grant.addToPrincipal({ grantee, actions: actions.map((action) => `dynamodb:${action}`), resourceArns: [this.table.tableArn] });
  }

  /**
   * RunTask on the named families (a family alone, which RunTask authorizes
   * as `task-definition/<family>`, and any of its revisions), in the named
   * clusters only; and passing the named roles, to ECS tasks only.
   */
  private grantRunTask(grantee: iam.IGrantable): void {
    const definitions = this.settings.taskDefinitionFamilies.flatMap((family) => [this.arn('task-definition', family), this.arn('task-definition', `${family}:*`)]);
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'RunWorkloadTasks', actions: ['ecs:RunTask'], resources: definitions, conditions: { ArnEquals: { 'ecs:cluster': this.clusterArns } } }),
    );
    for (const family of this.settings.taskDefinitionFamilies) {
      acknowledgeWildcardResource(principalScope(grantee), this.arn('task-definition', `${family}:*`), `RunTask of any revision of the ${family} family (a new revision is a new container spec), in the named clusters only.`);
    }
    if (this.settings.passRoles.length > 0) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'PassWorkloadRoles',
          actions: ['iam:PassRole'],
          resources: [...this.settings.passRoles],
          conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
        }),
      );
    }
  }

  /** Calls on the tasks of the named clusters (`task/<cluster>/*`, and the `ecs:cluster` condition for good measure). */
  private grantTaskCalls(grantee: iam.IGrantable, actions: readonly string[]): void {
    const tasks = this.settings.clusters.map((cluster) => this.arn('task', `${cluster}/*`));
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...actions], resources: tasks, conditions: { ArnEquals: { 'ecs:cluster': this.clusterArns } } }),
    );
    for (const arn of tasks) {
      acknowledgeWildcardResource(principalScope(grantee), arn, 'Task ids are chosen by ECS when a task starts; the grant covers the tasks of one named cluster.');
    }
  }

  private arn(resource: string, resourceName: string): string {
    return Stack.of(this).formatArn({ service: 'ecs', resource, resourceName, arnFormat: ArnFormat.SLASH_RESOURCE_NAME });
  }
}

/** The role a grant lands on: cdk-nag reports its policy's findings there. */
function principalScope(grantee: iam.IGrantable): IConstruct {
  const principal = grantee.grantPrincipal;
  if (!Construct.isConstruct(principal)) throw new Error('ECS grants need a role in this stack');
  return principal;
}
