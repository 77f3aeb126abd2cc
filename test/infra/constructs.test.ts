/**
 * One construct at a time, in small stacks with inline functions (no
 * bundling): the resources each construct creates and the grants it hands out.
 */
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_SCHEMA } from '../../lib/adapters/dynamodb/schema.ts';
import { createTableInput } from '../../lib/adapters/dynamodb/store.ts';
import { EVENT_RECORD_SCHEMA, eventRecord, type EventRecord } from '../../lib/core/index.ts';
import { BackoffTable } from '../../lib/infra/backoff-table.ts';
import { CONTAINER_KEY_PLACEHOLDER, EventQueries, eventQueries } from '../../lib/infra/event-queries.ts';
import { EventsBus } from '../../lib/infra/events-bus.ts';
import { API_ROUTES, Ingress } from '../../lib/infra/ingress.ts';
import { Observability } from '../../lib/infra/observability.ts';
import { RestartTimers } from '../../lib/infra/restart-timers.ts';
import { SyncSchedule } from '../../lib/infra/sync-schedule.ts';
import { BUS_DETAIL_TYPES, METRIC_NAMES, METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/ports.ts';
import { grants, idsOfType, logicalId, statementsByRole, trustPolicy } from './support.ts';

const PARTITION_REGION_ACCOUNT = '<AWS::Partition>:%s:<AWS::Region>:<AWS::AccountId>';
const arnPrefix = (service: string) => `arn:${PARTITION_REGION_ACCOUNT.replace('%s', service)}`;

function inlineFunction(scope: Stack, id: string): lambda.Function {
  return new lambda.Function(scope, id, {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({});'),
  });
}

/** A role for grant helpers to grant to; its policy shows exactly what a grant adds. */
function workloadRole(scope: Stack): iam.Role {
  return new iam.Role(scope, 'WorkloadRole', { assumedBy: new iam.AccountRootPrincipal() });
}

describe('BackoffTable', () => {
  let stack: Stack;
  let table: BackoffTable;
  let template: Template;
  let role: iam.Role;

  beforeAll(() => {
    stack = new Stack(new App(), 'TableStack');
    table = new BackoffTable(stack, 'Table');
    role = workloadRole(stack);
    table.grant(role, { table: ['GetItem', 'PutItem'], indexes: { actions: ['Query'], names: ['waiting'] } });
    template = Template.fromStack(stack);
  });

  it('is on-demand, with point-in-time recovery, encryption at rest and the TTL attribute of TABLE_SCHEMA', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      KeySchema: [{ AttributeName: TABLE_SCHEMA.partitionKey.name, KeyType: 'HASH' }],
    });
  });

  it('has exactly the indexes of TABLE_SCHEMA, with their keys and projections, as the local runtime creates them', () => {
    const local = createTableInput('local');
    const [table] = Object.values(template.findResources('AWS::DynamoDB::Table'));
    const byName = <T extends { IndexName?: string }>(indexes: T[]) => [...indexes].sort((a, b) => String(a.IndexName).localeCompare(String(b.IndexName)));
    expect(byName(table!.Properties.GlobalSecondaryIndexes)).toEqual(byName(local.GlobalSecondaryIndexes!));
    const byAttribute = <T extends { AttributeName?: string }>(keys: T[]) => [...keys].sort((a, b) => String(a.AttributeName).localeCompare(String(b.AttributeName)));
    expect(byAttribute(table!.Properties.AttributeDefinitions)).toEqual(byAttribute(local.AttributeDefinitions!));
    expect(local.GlobalSecondaryIndexes!.map((index) => index.IndexName).sort()).toEqual(Object.values(TABLE_SCHEMA.indexes).map((index) => index.indexName).sort());
    expect(local.GlobalSecondaryIndexes!.find((index) => index.IndexName === 'byState')!.Projection).toEqual({ ProjectionType: 'INCLUDE', NonKeyAttributes: ['namespace'] });
  });

  it('is retained when it leaves the stack, by default', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('is deleted with the stack when the removal policy says so', () => {
    const other = new Stack(new App(), 'DestroyStack');
    new BackoffTable(other, 'Table', { removalPolicy: RemovalPolicy.DESTROY });
    Template.fromStack(other).hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
  });

  it('grants exactly the listed actions, on the table and on the named index only', () => {
    const tableArn = `<${logicalId(table.table)}.Arn>`;
    expect(grants(statementsByRole(template).get(logicalId(role))!)).toEqual(
      [`dynamodb:GetItem ${tableArn}`, `dynamodb:PutItem ${tableArn}`, `dynamodb:Query ${tableArn}/index/waiting`].sort(),
    );
  });

  it('with a customer-managed key, rotates it and grants the KMS calls DynamoDB makes on the caller’s behalf', () => {
    const other = new Stack(new App(), 'KeyStack');
    const encrypted = new BackoffTable(other, 'Table', { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED });
    const reader = new iam.Role(other, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    const writer = new iam.Role(other, 'Writer', { assumedBy: new iam.AccountRootPrincipal() });
    encrypted.grant(reader, { indexes: { actions: ['Query'], names: ['waiting', 'expiry'] } });
    encrypted.grant(writer, { table: ['GetItem', 'PutItem'] });
    const keyed = Template.fromStack(other);
    keyed.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    const keyArn = `<${logicalId(encrypted.table.encryptionKey!)}.Arn>`;
    const byRole = statementsByRole(keyed);
    const kms = (roleId: string) => byRole.get(roleId)!.filter((statement) => statement.actions.some((action) => action.startsWith('kms:')));
    expect(kms(logicalId(reader))).toEqual([
      {
        effect: 'Allow',
        actions: ['kms:Decrypt', 'kms:DescribeKey'],
        resources: [keyArn],
        condition: { StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['dynamodb.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } } },
      },
    ]);
    expect(kms(logicalId(writer))[0]!.actions).toEqual(['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']);
  });

  it('grantBudgetReservations gives UpdateItem on the budget items only, with the KMS calls a write needs', () => {
    const other = new Stack(new App(), 'BudgetStack');
    const encrypted = new BackoffTable(other, 'Table', { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED });
    const reserver = new iam.Role(other, 'Reserver', { assumedBy: new iam.AccountRootPrincipal() });
    encrypted.grantBudgetReservations(reserver);
    const statements = statementsByRole(Template.fromStack(other)).get(logicalId(reserver))!;
    expect(statements.map((statement) => [statement.actions, statement.resources, statement.condition])).toEqual([
      [['dynamodb:UpdateItem'], [`<${logicalId(encrypted.table)}.Arn>`], { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${TABLE_SCHEMA.restartBudget.keyPrefix}*`] } }],
      [['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey'], [`<${logicalId(encrypted.table.encryptionKey!)}.Arn>`], expect.anything()],
    ]);
  });
});

describe('RestartTimers', () => {
  let stack: Stack;
  let timers: RestartTimers;
  let restart: lambda.Function;
  let role: iam.Role;
  let template: Template;

  beforeAll(() => {
    stack = new Stack(new App(), 'TimersStack');
    timers = new RestartTimers(stack, 'Timers');
    restart = inlineFunction(stack, 'Restart');
    timers.connectRestartFunction(restart);
    role = workloadRole(stack);
    timers.grantCreateSchedules(role);
    template = Template.fromStack(stack);
  });

  it('creates a schedule group for the restart schedules, named by CloudFormation and deleted with the stack by default', () => {
    template.resourceCountIs('AWS::Scheduler::ScheduleGroup', 1);
    const [group] = Object.values(template.findResources('AWS::Scheduler::ScheduleGroup'));
    // No Name: a retained group can never block the next deployment with its name.
    expect(group!.Properties ?? {}).not.toHaveProperty('Name');
    expect(group).toMatchObject({ DeletionPolicy: 'Delete', UpdateReplacePolicy: 'Delete' });
    expect(stack.resolve(timers.scheduleGroupName)).toEqual({ Ref: logicalId(timers.scheduleGroup) });
  });

  it.each([
    [RemovalPolicy.RETAIN, 'Retain'],
    [RemovalPolicy.DESTROY, 'Delete'],
  ])('gives the schedule group the removal policy it is given (%s)', (removalPolicy, deletionPolicy) => {
    const other = new Stack(new App(), 'RetainedTimers');
    new RestartTimers(other, 'Timers', { removalPolicy });
    const [group] = Object.values(Template.fromStack(other).findResources('AWS::Scheduler::ScheduleGroup'));
    expect(group).toMatchObject({ DeletionPolicy: deletionPolicy });
    expect(group!.Properties ?? {}).not.toHaveProperty('Name');
  });

  it('encrypts both queues, refuses non-TLS access to them, and redrives the fine stage to the dead-letter queue', () => {
    template.resourceCountIs('AWS::SQS::Queue', 2);
    for (const queue of [timers.fineStageQueue, timers.deadLetterQueue]) {
      template.hasResourceProperties('AWS::SQS::Queue', Match.objectLike({ SqsManagedSseEnabled: true }));
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: logicalId(queue) }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(timers.deadLetterQueue), 'Arn'] }, maxReceiveCount: 5 },
      // Six times the restart handler's 10 s timeout, as Lambda recommends for SQS sources.
      VisibilityTimeout: 60,
    });
    template.hasResourceProperties('AWS::SQS::Queue', { MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  it('trusts only EventBridge Scheduler, for schedules of this account and this group', () => {
    expect(trustPolicy(template, logicalId(timers.schedulerRole))).toEqual([
      {
        effect: 'Allow',
        actions: ['sts:AssumeRole'],
        resources: [],
        principal: { Service: 'scheduler.amazonaws.com' },
        condition: {
          StringEquals: {
            'aws:SourceAccount': { Ref: 'AWS::AccountId' },
            'aws:SourceArn': { 'Fn::GetAtt': [logicalId(timers.scheduleGroup), 'Arn'] },
          },
        },
      },
    ]);
  });

  it('lets the Scheduler role invoke the restart function (not its versions) and dead-letter to its queue, nothing more: no schedule targets the fine stage', () => {
    expect(grants(statementsByRole(template).get(logicalId(timers.schedulerRole))!)).toEqual(
      [`lambda:InvokeFunction <${logicalId(restart)}.Arn>`, `sqs:SendMessage <${logicalId(timers.deadLetterQueue)}.Arn>`].sort(),
    );
  });

  it('feeds the restart function from the fine stage in small batches, without waiting, with partial batch failures', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(timers.fineStageQueue), 'Arn'] },
      FunctionName: { Ref: logicalId(restart) },
      BatchSize: 5,
      MaximumBatchingWindowInSeconds: 0,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('grants CreateSchedule in the restart group only, and PassRole on the Scheduler role only, to Scheduler only', () => {
    const statements = statementsByRole(template).get(logicalId(role))!;
    const group = `<${logicalId(timers.scheduleGroup)}>`;
    expect(grants(statements)).toEqual(
      [`iam:PassRole <${logicalId(timers.schedulerRole)}.Arn>`, `scheduler:CreateSchedule ${arnPrefix('scheduler')}:schedule/${group}/*`].sort(),
    );
    expect(statements.find((statement) => statement.actions.includes('iam:PassRole'))!.condition).toEqual({
      StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
    });
  });
});

describe('EventsBus', () => {
  let stack: Stack;
  let bus: EventsBus;
  let exit: lambda.Function;
  let role: iam.Role;
  let handlerRole: iam.Role;
  let template: Template;

  beforeAll(() => {
    stack = new Stack(new App(), 'BusStack');
    bus = new EventsBus(stack, 'Events', { archiveRetention: Duration.days(45) });
    exit = inlineFunction(stack, 'Exit');
    bus.routeExitsTo(exit);
    role = workloadRole(stack);
    bus.grantPutExitEvents(role);
    handlerRole = new iam.Role(stack, 'HandlerRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    bus.grantSendExitDeadLetters(handlerRole);
    template = Template.fromStack(stack);
  });

  it('creates a custom bus and archives every event on it for the configured time', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [logicalId(bus.bus), 'Arn'] },
      EventPattern: { account: [{ Ref: 'AWS::AccountId' }] },
      RetentionDays: 45,
    });
  });

  it('routes Container Exited to the exit function, with retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalId(bus.bus) },
      EventPattern: { 'detail-type': [BUS_DETAIL_TYPES.exited] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalId(exit), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(bus.exitDeadLetterQueue), 'Arn'] } },
          RetryPolicy: { MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 3600 },
        }),
      ],
    });
  });

  it('lets EventBridge dead-letter only from this rule, over TLS-only, encrypted queue', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Action: 'sqs:SendMessage',
            Principal: { Service: 'events.amazonaws.com' },
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [idsOfType(template, 'AWS::Events::Rule')[0], 'Arn'] } } },
          }),
        ]),
      },
    });
  });

  it('grantPutExitEvents gives events:PutEvents on this bus for Container Exited events only', () => {
    expect(statementsByRole(template).get(logicalId(role))).toEqual([
      {
        effect: 'Allow',
        actions: ['events:PutEvents'],
        resources: [`<${logicalId(bus.bus)}.Arn>`],
        // A workload must not be able to forge the restart events orchestrators act on.
        condition: { StringEquals: { 'events:detail-type': 'Container Exited' } },
      },
    ]);
  });

  it('grantSendExitDeadLetters gives sqs:SendMessage on the exit dead-letter queue, nothing more', () => {
    expect(statementsByRole(template).get(logicalId(handlerRole))).toEqual([
      { effect: 'Allow', actions: ['sqs:SendMessage'], resources: [`<${logicalId(bus.exitDeadLetterQueue)}.Arn>`] },
    ]);
  });
});

describe('Ingress', () => {
  let stack: Stack;
  let ingress: Ingress;
  let role: iam.Role;
  let template: Template;

  beforeAll(() => {
    stack = new Stack(new App(), 'IngressStack');
    ingress = new Ingress(stack, 'Ingress', { handler: inlineFunction(stack, 'Exit') });
    role = workloadRole(stack);
    ingress.grantPostExits(role);
    template = Template.fromStack(stack);
  });

  it('serves exactly the five routes, the OpenAPI document included, every one behind IAM authorization', () => {
    const routes = template.findResources('AWS::ApiGatewayV2::Route');
    const routeKeys = ['DELETE /v1/containers/{key}', 'GET /v1/containers', 'GET /v1/containers/{key}', 'GET /v1/openapi.json', 'POST /v1/exits'];
    expect(Object.values(routes).map((route) => route.Properties.RouteKey).sort()).toEqual(routeKeys);
    expect(API_ROUTES.map(({ method, path }) => `${method} ${path}`).sort()).toEqual(routeKeys);
    for (const route of Object.values(routes)) expect(route.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('deploys the $default stage with throttling and JSON access logs to their own log group', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [logicalId(ingress.accessLogGroup), 'Arn'] },
        Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId".*"userArn":"\\$context.identity.userArn"'),
      },
    });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('grantPostExits gives execute-api:Invoke on the POST /v1/exits route of the stage, and nothing else', () => {
    expect(statementsByRole(template).get(logicalId(role))).toEqual([
      {
        effect: 'Allow',
        actions: ['execute-api:Invoke'],
        resources: [`${arnPrefix('execute-api')}:<${logicalId(ingress.api)}>/$default/POST/v1/exits`],
      },
    ]);
  });
});

describe('SyncSchedule', () => {
  let stack: Stack;
  let sync: SyncSchedule;
  let handler: lambda.Function;
  let template: Template;

  beforeAll(() => {
    stack = new Stack(new App(), 'SyncStack');
    handler = inlineFunction(stack, 'SyncHandler');
    sync = new SyncSchedule(stack, 'Sync', { handler });
    template = Template.fromStack(stack);
  });

  it('invokes the sync function at rate(1 minute), without a flexible window and without retries', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 minute)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      State: 'ENABLED',
      Target: {
        Arn: { 'Fn::GetAtt': [logicalId(handler), 'Arn'] },
        RoleArn: { 'Fn::GetAtt': [logicalId(sync.role), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 },
      },
    });
  });

  it('runs as a role trusted by Scheduler for this account’s default group, allowed to invoke exactly the sync function', () => {
    const [statement] = trustPolicy(template, logicalId(sync.role));
    expect(statement).toMatchObject({ principal: { Service: 'scheduler.amazonaws.com' }, actions: ['sts:AssumeRole'] });
    expect(statement!.condition).toEqual({
      StringEquals: {
        'aws:SourceAccount': { Ref: 'AWS::AccountId' },
        'aws:SourceArn': {
          'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':scheduler:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':schedule-group/default']],
        },
      },
    });
    expect(grants(statementsByRole(template).get(logicalId(sync.role))!)).toEqual([`lambda:InvokeFunction <${logicalId(handler)}.Arn>`]);
  });

  it('creates the schedule only once its role may invoke the function, so that no first run is denied', () => {
    const [schedule] = Object.values(template.findResources('AWS::Scheduler::Schedule'));
    expect(schedule!.DependsOn).toEqual(expect.arrayContaining([logicalId(sync.policy)]));
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: logicalId(sync.role) }],
      PolicyDocument: { Statement: [Match.objectLike({ Action: 'lambda:InvokeFunction', Resource: { 'Fn::GetAtt': [logicalId(handler), 'Arn'] } })] },
    });
  });
});

describe('EventQueries', () => {
  let stack: Stack;
  let logGroup: logs.LogGroup;
  let template: Template;

  beforeAll(() => {
    stack = new Stack(new App(), 'QueryStack');
    logGroup = new logs.LogGroup(stack, 'Logs');
    new EventQueries(stack, 'Queries', { logGroup, folder: 'RestartScheduler', lateRestartMs: 7_000 });
    template = Template.fromStack(stack);
  });

  /** Every field an event record can carry, from the core's own builder. */
  const recordFields = (): string[] => {
    const full: Required<EventRecord> = {
      ...eventRecord('Restarted', { namespace: 'ns', pod: 'p', podUid: 'u', container: 'c' }, 0, {
        exitCode: 1,
        reason: 'Error',
        restartCount: 1,
        delayMs: 1,
        backoffMs: 1,
        restartAt: 1,
        latenessMs: 1,
        decision: 'RestartScheduled',
        count: 1,
        firstTimestamp: 't',
        lastTimestamp: 't',
        message: 'm',
      }),
    } as Required<EventRecord>;
    return Object.keys(full);
  };

  it('saves the required queries in a folder, each on the shared log group', () => {
    const definitions = Object.values(template.findResources('AWS::Logs::QueryDefinition'));
    expect(definitions.map((definition) => definition.Properties.Name).sort()).toEqual(
      [
        'RestartScheduler/BackOff events',
        'RestartScheduler/Restarts per container over time',
        'RestartScheduler/Top crashing workloads',
        "RestartScheduler/One container's timeline",
        'RestartScheduler/Recovered or late restarts',
        'RestartScheduler/Handler errors',
      ].sort(),
    );
    for (const definition of definitions) expect(definition.Properties.LogGroupNames).toEqual([{ Ref: logicalId(logGroup) }]);
  });

  it('selects event records by their schema marker and reads only fields event records have', () => {
    const known = new Set([...recordFields(), 'schema', '@timestamp']);
    for (const query of eventQueries({ lateRestartMs: 7_000 }).filter((q) => q.title !== 'Handler errors')) {
      expect(query.queryString).toContain(`filter schema = "${EVENT_RECORD_SCHEMA}"`);
      const fieldsLine = query.queryString.split('\n').find((line) => line.startsWith('fields '));
      if (fieldsLine) {
        for (const field of fieldsLine.slice('fields '.length).split(',').map((name) => name.trim())) expect(known).toContain(field);
      }
      for (const match of query.queryString.matchAll(/(?:latest|max|count_distinct)\(([A-Za-z@]+)\)/g)) expect(known).toContain(match[1]);
      for (const match of query.queryString.matchAll(/\bby ([A-Za-z, ]+?)(?:\n|$)/g)) {
        for (const field of match[1]!.split(',').map((name) => name.trim())) expect(known).toContain(field);
      }
    }
  });

  it('has a timeline query with a placeholder key and a late-restarts query using the lateness threshold', () => {
    const byTitle = Object.fromEntries(eventQueries({ lateRestartMs: 7_000 }).map((query) => [query.title, query.queryString]));
    expect(byTitle["One container's timeline"]).toContain(`key = "${CONTAINER_KEY_PLACEHOLDER}"`);
    expect(byTitle['Recovered or late restarts']).toContain('latenessMs > 7000');
    expect(byTitle['Recovered or late restarts']).toContain('type = "RestartRecovered"');
    expect(byTitle['BackOff events']).toContain('type = "BackOff"');
    expect(byTitle['BackOff events']).toContain('latest(count) as count');
  });
});

describe('Observability', () => {
  let stack: Stack;
  let topic: sns.Topic;
  let template: Template;
  let dlq: sqs.Queue;

  beforeAll(() => {
    stack = new Stack(new App(), 'ObservabilityStack');
    topic = new sns.Topic(stack, 'Alarms');
    dlq = new sqs.Queue(stack, 'Dlq');
    new Observability(stack, 'Observability', {
      functions: { Exit: inlineFunction(stack, 'Exit'), Restart: inlineFunction(stack, 'Restart') },
      deadLetterQueues: { Callback: dlq, ExitEvent: new sqs.Queue(stack, 'Dlq2') },
      fineStageQueue: new sqs.Queue(stack, 'Fine'),
      latenessThresholdMs: 12_000,
      alarmTopic: topic,
    });
    template = Template.fromStack(stack);
  });

  it('alarms on dead letters in each queue, errors of each function, and p99 restart lateness', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2 + 2 + 1);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(dlq), 'QueueName'] } }],
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(Object.keys(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'Errors', Namespace: 'AWS/Lambda' } }))).toHaveLength(2);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: METRICS_NAMESPACE,
      MetricName: 'RestartLateness',
      Dimensions: [{ Name: 'service', Value: SERVICE_NAME }],
      ExtendedStatistic: 'p99',
      Threshold: 12_000,
      ComparisonOperator: 'GreaterThanThreshold',
    });
  });

  it('sends every alarm and its recovery to the topic', () => {
    for (const alarm of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: logicalId(topic) }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: logicalId(topic) }]);
    }
  });

  it('graphs every service metric, lateness percentiles, function errors and queue depths on one dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties.DashboardBody);
    for (const name of METRIC_NAMES) expect(body).toContain(`\\"${name}\\"`);
    for (const stat of ['p50', 'p99', 'Maximum']) expect(body).toContain(`\\"stat\\":\\"${stat}\\"`);
    expect(body).toContain('\\"Errors\\"');
    expect(body).toContain('\\"ApproximateNumberOfMessagesVisible\\"');
    expect(body).toContain(`\\"${METRICS_NAMESPACE}\\",\\"`);
  });
});
