/**
 * The stack with restart targets: `restart-scheduler:ecs` set, and a
 * namespace whose restarts go to a webhook. The rules' patterns, the API
 * destination and its input, every new IAM statement, the handlers'
 * settings (no webhook secret among them), the routes, the alarm, cdk-nag.
 */
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ENV } from '../../lib/config.ts';
import { WEBHOOK_PAYLOAD_FIELDS } from '../../lib/core/index.ts';
import { CONTEXT_KEYS, readDeploySettings } from '../../lib/infra/settings.ts';
import { RestartSchedulerStack } from '../../lib/infra/stack.ts';
import { FIXTURE_ENTRIES, grants, logicalId, statementsByRole } from './support.ts';

const ECS = { clusters: ['work', 'batch'], taskDefinitionFamilies: ['worker'], passRoles: ['arn:aws:iam::123456789012:role/worker-task', 'arn:aws:iam::123456789012:role/worker-execution'] };
const WEBHOOK = { url: 'https://hooks.example.com/restart', headers: { Authorization: 'Bearer s3cret-token', 'X-Team': 'infra' } };
const NAMESPACES = { hooks: { maxBackoff: '1m', restartTarget: { webhook: WEBHOOK } }, jobs: { restartTarget: 'bus' } };

let stack: RestartSchedulerStack;
let template: Template;
let app: App;
beforeAll(() => {
  app = new App({ context: { [CONTEXT_KEYS.ecs]: JSON.stringify(ECS), [CONTEXT_KEYS.namespaceDefaults]: NAMESPACES } });
  stack = new RestartSchedulerStack(app, 'RestartScheduler', { entries: FIXTURE_ENTRIES });
  // As bin/app.ts does: an unacknowledged cdk-nag finding makes synth throw.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth();
  template = Template.fromStack(stack);
});

const part = (rest: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:ecs:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${rest}`]] });
const arn = (rest: string) => `arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:${rest}`;
const att = (construct: Parameters<typeof logicalId>[0]) => `<${logicalId(construct)}.Arn>`;
type Rule = { Properties: { EventBusName?: unknown; EventPattern: unknown; Targets: Record<string, unknown>[] } };
const rule = (construct: Parameters<typeof logicalId>[0]) => (template.toJSON().Resources as Record<string, Rule>)[logicalId(construct)]!.Properties;
const resourcesOf = (type: string) => Object.values(template.findResources(type)) as { Properties: Record<string, unknown> }[];

describe('ECS workloads', () => {
  it("routes the service's stopped tasks of the named clusters from the default bus to the exit handler", () => {
    const rules = resourcesOf('AWS::Events::Rule').filter((candidate) => JSON.stringify(candidate.Properties.EventPattern).includes('aws.ecs'));
    expect(rules).toHaveLength(1);
    const { EventBusName, EventPattern, Targets } = rules[0]!.Properties as Rule['Properties'];
    expect(EventBusName).toBeUndefined();
    expect(EventPattern).toEqual({
      source: ['aws.ecs'],
      'detail-type': ['ECS Task State Change'],
      detail: { lastStatus: ['STOPPED'], clusterArn: [part('cluster/work'), part('cluster/batch')], startedBy: [{ prefix: 'restart-scheduler/' }] },
    });
    expect(Targets).toEqual([
      {
        Id: 'Target0',
        Arn: { 'Fn::GetAtt': [logicalId(stack.handlers.exit), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.bus.exitDeadLetterQueue), 'Arn'] } },
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 },
      },
    ]);
  });

  it('sends restarts for the ecs target to the deliver handler, retrying, then to the delivery-failure queue', () => {
    const rules = resourcesOf('AWS::Events::Rule').filter((candidate) => JSON.stringify(candidate.Properties.EventPattern).includes('"target":["ecs"]'));
    expect(rules.map((candidate) => candidate.Properties.EventPattern)).toEqual([{ source: ['restart-scheduler'], 'detail-type': ['Container Restart Requested'], detail: { target: ['ecs'] } }]);
    expect(rules[0]!.Properties.EventBusName).toEqual({ Ref: logicalId(stack.bus.bus) });
    expect(rules[0]!.Properties.Targets).toEqual([
      {
        Id: 'Target0',
        Arn: { 'Fn::GetAtt': [logicalId(stack.handlers.deliver!), 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.delivery!.failedDeliveries), 'Arn'] } },
        RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 24 },
      },
    ]);
  });

  const ecsStatements = (fn: Parameters<typeof logicalId>[0] & { role?: Parameters<typeof logicalId>[0] }) =>
    statementsByRole(template)
      .get(logicalId(fn.role!))!
      .filter((statement) => statement.actions.some((action) => action.startsWith('ecs:') || action === 'iam:PassRole') && !statement.resources.includes(att(stack.timers.schedulerRole)));
  const clusters = { ArnEquals: { 'ecs:cluster': [part('cluster/work'), part('cluster/batch')] } };
  const runTask = {
    sid: 'RunWorkloadTasks',
    effect: 'Allow',
    actions: ['ecs:RunTask'],
    resources: [arn('task-definition/worker'), arn('task-definition/worker:*')],
    condition: clusters,
  };
  const passRole = {
    sid: 'PassWorkloadRoles',
    effect: 'Allow',
    actions: ['iam:PassRole'],
    resources: [...ECS.passRoles].sort(),
    condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
  };

  it('lets the exit handler (the API) run tasks of the named families in the named clusters, stop and describe their tasks, and pass the named roles to ECS tasks only', () => {
    expect(ecsStatements(stack.handlers.exit)).toEqual([
      runTask,
      passRole,
      { effect: 'Allow', actions: ['ecs:DescribeTasks', 'ecs:StopTask'], resources: [arn('task/batch/*'), arn('task/work/*')], condition: clusters },
      { sid: 'DescribeTaskDefinitions', effect: 'Allow', actions: ['ecs:DescribeTaskDefinition'], resources: ['*'] },
    ]);
    expect(grants(statementsByRole(template).get(logicalId(stack.handlers.exit.role!))!).filter((grant) => grant.includes(logicalId(stack.ecs!.table)))).toEqual(
      ['GetItem', 'PutItem', 'Query'].map((action) => `dynamodb:${action} ${att(stack.ecs!.table)}`),
    );
  });

  it('lets the deliver handler run and stop those tasks, read and write registrations, and take the failure queue — nothing else', () => {
    expect(ecsStatements(stack.handlers.deliver!)).toEqual([runTask, passRole, { effect: 'Allow', actions: ['ecs:StopTask'], resources: [arn('task/batch/*'), arn('task/work/*')], condition: clusters }]);
    const failed = att(stack.delivery!.failedDeliveries);
    const streams = `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:<${logicalId(stack.handlers.logGroup)}>:log-stream:*`;
    expect(grants(statementsByRole(template).get(logicalId(stack.handlers.deliver!.role!))!)).toEqual(
      [
        `logs:CreateLogStream ${streams}`,
        `logs:PutLogEvents ${streams}`,
        `dynamodb:GetItem ${att(stack.ecs!.table)}`,
        `dynamodb:PutItem ${att(stack.ecs!.table)}`,
        `ecs:RunTask ${arn('task-definition/worker')}`,
        `ecs:RunTask ${arn('task-definition/worker:*')}`,
        `ecs:StopTask ${arn('task/work/*')}`,
        `ecs:StopTask ${arn('task/batch/*')}`,
        ...ECS.passRoles.map((role) => `iam:PassRole ${role}`),
        // Lambda parks an invocation that failed every retry here; the event source reads it.
        `sqs:SendMessage ${failed}`,
        ...['ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes', 'GetQueueUrl'].map((action) => `sqs:${action} ${failed}`),
      ].sort(),
    );
  });

  it('serves the workload routes behind IAM auth', () => {
    const routes = resourcesOf('AWS::ApiGatewayV2::Route').map((route) => [route.Properties.RouteKey, route.Properties.AuthorizationType]);
    expect(routes.filter(([key]) => String(key).includes('/v1/ecs/')).sort()).toEqual(
      [
        ['DELETE /v1/ecs/workloads/{id}', 'AWS_IAM'],
        ['GET /v1/ecs/workloads', 'AWS_IAM'],
        ['GET /v1/ecs/workloads/{id}', 'AWS_IAM'],
        ['POST /v1/ecs/workloads', 'AWS_IAM'],
      ].sort(),
    );
    expect(routes.every(([, auth]) => auth === 'AWS_IAM')).toBe(true);
  });

  it('keeps registrations in a table of their own (one partition, listed by Query), retained, with point-in-time recovery', () => {
    template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      Properties: {
        KeySchema: [
          { AttributeName: 'registry', KeyType: 'HASH' },
          { AttributeName: 'id', KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
      },
    });
  });
});

describe('webhooks', () => {
  it("routes the namespace's restarts for the webhook target to its API destination, with the payload, the idempotency key, retries and a dead-letter queue", () => {
    const webhookRule = rule(stack.delivery!.webhookRules.get('hooks')!);
    expect(webhookRule.EventPattern).toEqual({ source: ['restart-scheduler'], 'detail-type': ['Container Restart Requested'], detail: { namespace: ['hooks'], target: ['webhook'] } });
    expect(webhookRule.EventBusName).toEqual({ Ref: logicalId(stack.bus.bus) });
    const [target] = webhookRule.Targets as [{ InputTransformer: { InputPathsMap: Record<string, string>; InputTemplate: string } } & Record<string, unknown>];
    expect(target).toMatchObject({
      HttpParameters: { HeaderParameters: { 'Idempotency-Key': '$.detail.restartId' } },
      RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 24 },
      DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalId(stack.delivery!.failedDeliveries), 'Arn'] } },
    });
    // The template with each variable replaced by its JSON path: exactly the payload's fields, from the detail.
    const { InputPathsMap, InputTemplate } = target.InputTransformer;
    const filled = JSON.parse(InputTemplate.replace(/<([^>]+)>/g, (_match, name: string) => JSON.stringify(InputPathsMap[name])));
    expect(filled).toEqual(Object.fromEntries(WEBHOOK_PAYLOAD_FIELDS.map((field) => [field, `$.detail.${field}`])));
    expect(Object.keys(filled)).toEqual([...WEBHOOK_PAYLOAD_FIELDS]);
    template.hasResourceProperties('AWS::Events::ApiDestination', { HttpMethod: 'POST', InvocationEndpoint: WEBHOOK.url });
  });

  it("keeps the webhook's headers in its connection (a Secrets Manager secret), as API key and secret header", () => {
    expect(resourcesOf('AWS::Events::Connection').map((connection) => connection.Properties)).toEqual([
      {
        Description: 'restart-scheduler: webhook of namespace hooks',
        AuthorizationType: 'API_KEY',
        AuthParameters: {
          ApiKeyAuthParameters: { ApiKeyName: 'Authorization', ApiKeyValue: 'Bearer s3cret-token' },
          InvocationHttpParameters: { HeaderParameters: [{ Key: 'X-Team', Value: 'infra', IsValueSecret: true }] },
        },
      },
    ]);
  });

  it("lets EventBridge invoke that API destination, and nothing else, for the webhook's rule", () => {
    const destination = resourcesOf('AWS::Events::ApiDestination');
    expect(destination).toHaveLength(1);
    const invokers = [...statementsByRole(template).values()].flat().filter((statement) => statement.actions.includes('events:InvokeApiDestination'));
    expect(invokers).toEqual([{ effect: 'Allow', actions: ['events:InvokeApiDestination'], resources: [expect.stringMatching(/^<.*ApiDestination.*\.Arn>$/)] }]);
  });

  it('gives the handlers the namespace defaults without the webhook: no URL, no header, no secret', () => {
    for (const fn of stack.handlers.all) {
      const variables = (template.toJSON().Resources[logicalId(fn)].Properties.Environment as { Variables: Record<string, string> }).Variables;
      const defaults = JSON.parse(variables[ENV.namespaceDefaults]!);
      expect(defaults).toEqual({ hooks: { maxBackoff: '1m', restartTarget: 'webhook' }, jobs: { restartTarget: 'bus' } });
      expect(JSON.stringify(variables)).not.toMatch(/s3cret|hooks\.example\.com/);
    }
  });
});

describe('restart delivery', () => {
  it('alarms on any RestartFailed, and the deliver handler has its own errors alarm', () => {
    const alarms = resourcesOf('AWS::CloudWatch::Alarm').map((alarm) => alarm.Properties);
    expect(alarms).toContainEqual(expect.objectContaining({ MetricName: 'RestartsFailed', Namespace: 'RestartScheduler', Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' }));
    expect(alarms.filter((alarm) => String(alarm.AlarmDescription).includes('the Deliver handler'))).toHaveLength(1);
  });

  it('names the workload table and the deliver handler in the handlers that use them, and only there', () => {
    const variables = (fn: Parameters<typeof logicalId>[0]) => (template.toJSON().Resources[logicalId(fn)].Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables(stack.handlers.exit)[ENV.workloadTableName]).toEqual({ Ref: logicalId(stack.ecs!.table) });
    expect(variables(stack.handlers.deliver!)[ENV.workloadTableName]).toEqual({ Ref: logicalId(stack.ecs!.table) });
    expect(variables(stack.handlers.restart)[ENV.workloadTableName]).toBeUndefined();
    expect(variables(stack.handlers.sync)[ENV.workloadTableName]).toBeUndefined();
  });

  it('passes cdk-nag, acknowledging only the wildcards ECS and Lambda name at run time and DescribeTaskDefinition', () => {
    expect(new AwsSolutionsChecks(app).validateScope(app).violations).toEqual([]);
    const raw = new AwsSolutionsChecks(app);
    (raw as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const findings = [...new Set(raw.validateScope(app).violations.map((violation) => violation.ruleName))];
    expect(findings.filter((finding) => finding.includes(':ecs:') || finding.includes('Resource::*]')).sort()).toEqual(
      [`AwsSolutions-IAM5[Resource::*]`, `AwsSolutions-IAM5[Resource::${arn('task-definition/worker:*')}]`, `AwsSolutions-IAM5[Resource::${arn('task/batch/*')}]`, `AwsSolutions-IAM5[Resource::${arn('task/work/*')}]`].sort(),
    );
  });
});

describe('restart-scheduler:ecs', () => {
  const read = (value: unknown) => readDeploySettings((key) => (key === CONTEXT_KEYS.ecs ? value : undefined));

  it('reads the setting from the command line (JSON text) or cdk.json (an object)', () => {
    expect(read(JSON.stringify(ECS)).ecs).toEqual(ECS);
    expect(read({ clusters: ['work'], taskDefinitionFamilies: ['worker'] }).ecs).toEqual({ clusters: ['work'], taskDefinitionFamilies: ['worker'], passRoles: [] });
    expect(read(undefined).ecs).toBeUndefined();
  });

  it.each([
    ['{', 'CDK context restart-scheduler:ecs: not valid JSON'],
    [{ clusters: [], taskDefinitionFamilies: ['worker'] }, 'CDK context restart-scheduler:ecs.clusters: must name at least one cluster'],
    [{ clusters: ['work/x'], taskDefinitionFamilies: ['worker'] }, 'CDK context restart-scheduler:ecs.clusters.0: must be a cluster name'],
    [{ clusters: ['work'], taskDefinitionFamilies: ['worker'], passRoles: ['worker-task'] }, 'CDK context restart-scheduler:ecs.passRoles.0: must be an IAM role ARN'],
    [{ clusters: ['work'], taskDefinitionFamilies: ['worker'], services: [] }, 'CDK context restart-scheduler:ecs.services: unknown setting'],
  ])('refuses %j, naming what is wrong', (value, message) => {
    expect(() => read(value)).toThrow(ConfigError);
    expect(() => read(value)).toThrow(message);
  });

  it('refuses a webhook namespace whose URL is not https', () => {
    expect(() => readDeploySettings((key) => (key === CONTEXT_KEYS.namespaceDefaults ? { hooks: { restartTarget: { webhook: { url: 'http://127.0.0.1/' } } } } : undefined))).toThrow(
      'CDK context restart-scheduler:namespaceDefaults.hooks.restartTarget.webhook.url: must be https://',
    );
  });
});
