/**
 * The whole stack, synthesized once (handlers bundled from the fixture entry):
 * what it creates, every IAM grant, the handlers' settings and bundles,
 * cdk-nag, and the synth-time check of context values.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import type { CloudAssembly } from 'aws-cdk-lib/cx-api';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, ENV } from '../../lib/config.ts';
import { ESM_REQUIRE_BANNER } from '../../lib/infra/bundling.ts';
import { CONTEXT_KEYS } from '../../lib/infra/settings.ts';
import { RestartSchedulerStack } from '../../lib/infra/stack.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/ports.ts';
import { FIXTURE_ENTRIES, findCycle, grants, logicalId, resourceCounts, statementsByRole } from './support.ts';

let app: App;
let stack: RestartSchedulerStack;
let assembly: CloudAssembly;
let template: Template;

beforeAll(() => {
  app = new App();
  stack = new RestartSchedulerStack(app, 'RestartScheduler', { entries: FIXTURE_ENTRIES });
  // As bin/app.ts does: any unacknowledged cdk-nag finding makes synth throw.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  assembly = app.synth();
  template = Template.fromStack(stack);
});

const arn = (service: string, rest: string) => `arn:<AWS::Partition>:${service}:<AWS::Region>:<AWS::AccountId>:${rest}`;
const att = (construct: Parameters<typeof logicalId>[0]) => `<${logicalId(construct)}.Arn>`;

describe('RestartSchedulerStack resources', () => {
  it('creates exactly these resources', () => {
    expect(resourceCounts(template)).toEqual({
      'AWS::DynamoDB::Table': 1,
      'AWS::Scheduler::ScheduleGroup': 1,
      'AWS::Scheduler::Schedule': 1,
      'AWS::SQS::Queue': 3,
      'AWS::SQS::QueuePolicy': 3,
      'AWS::IAM::Role': 5,
      'AWS::IAM::Policy': 5,
      'AWS::Events::EventBus': 1,
      'AWS::Events::Archive': 1,
      'AWS::Events::Rule': 1,
      'AWS::Lambda::Function': 3,
      'AWS::Lambda::EventInvokeConfig': 3,
      'AWS::Lambda::EventSourceMapping': 1,
      // Five API routes and the bus rule may invoke the exit function.
      'AWS::Lambda::Permission': 6,
      'AWS::Logs::LogGroup': 2,
      'AWS::Logs::QueryDefinition': 6,
      'AWS::ApiGatewayV2::Api': 1,
      'AWS::ApiGatewayV2::Integration': 1,
      'AWS::ApiGatewayV2::Route': 5,
      'AWS::ApiGatewayV2::Stage': 1,
      'AWS::CloudWatch::Alarm': 6,
      'AWS::CloudWatch::Dashboard': 1,
    });
  });

  it('has no dependency cycle (the exit function names the restart function, never the reverse)', () => {
    expect(findCycle(template)).toBeUndefined();
  });

  it('outputs the API URL, bus, table, log group and dashboard', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(['ApiUrl', 'DashboardName', 'DashboardUrl', 'EventBusName', 'LogGroupName', 'TableName']);
    expect(outputs.TableName!.Value).toEqual({ Ref: logicalId(stack.table.table) });
    expect(outputs.EventBusName!.Value).toEqual({ Ref: logicalId(stack.bus.bus) });
    expect(outputs.LogGroupName!.Value).toEqual({ Ref: logicalId(stack.handlers.logGroup) });
    expect(JSON.stringify(outputs.ApiUrl!.Value)).toContain(logicalId(stack.ingress.api));
  });

  it('names the restart schedule group by CloudFormation and gives it the stack’s removal policy, so destroy then deploy never meets a leftover name', () => {
    const [group] = Object.values(template.findResources('AWS::Scheduler::ScheduleGroup'));
    expect(group!.Properties ?? {}).not.toHaveProperty('Name');
    expect(group!.DeletionPolicy).toBe('Retain');
    const destroyed = new RestartSchedulerStack(new App({ context: { [CONTEXT_KEYS.removalPolicy]: 'destroy' } }), 'Destroyed', { entries: FIXTURE_ENTRIES });
    const [deleted] = Object.values(Template.fromStack(destroyed).findResources('AWS::Scheduler::ScheduleGroup'));
    expect(deleted!.DeletionPolicy).toBe('Delete');
  });

  it('keeps the table and both log groups when the stack is deleted (default removal policy)', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.map((group) => [group.DeletionPolicy, group.Properties.RetentionInDays])).toEqual([
      ['Retain', 30],
      ['Retain', 30],
    ]);
  });
});

describe('RestartSchedulerStack IAM', () => {
  const streams = () => arn('logs', `log-group:<${logicalId(stack.handlers.logGroup)}>:log-stream:*`);
  const logging = () => [`logs:CreateLogStream ${streams()}`, `logs:PutLogEvents ${streams()}`];
  const table = () => att(stack.table.table);
  const indexes = (...names: string[]) => names.map((name) => `dynamodb:Query ${table()}/index/${name}`);
  const fine = () => att(stack.timers.fineStageQueue);
  const bus = () => att(stack.bus.bus);
  const role = (fn: { role?: Parameters<typeof logicalId>[0] }) => logicalId(fn.role!);

  it('grants the exit handler exactly its calls: the listing queries the state, namespace and expiry indexes and reads items by key, never a Scan', () => {
    const group = `<${logicalId(stack.timers.scheduleGroup)}>`;
    expect(grants(statementsByRole(template).get(role(stack.handlers.exit))!)).toEqual(
      [
        ...logging(),
        ...['GetItem', 'BatchGetItem', 'PutItem', 'DeleteItem'].map((action) => `dynamodb:${action} ${table()}`),
        ...indexes('byState', 'byNamespace', 'expiry'),
        `scheduler:CreateSchedule ${arn('scheduler', `schedule/${group}/*`)}`,
        `iam:PassRole ${att(stack.timers.schedulerRole)}`,
        `sqs:SendMessage ${fine()}`,
        `events:PutEvents ${bus()}`,
        // The handler parks each invalid event of a bus batch here, and Lambda a bus
        // event that failed every async retry (function DeadLetterConfig): one grant.
        `sqs:SendMessage ${att(stack.bus.exitDeadLetterQueue)}`,
      ].sort(),
    );
  });

  it('passes the Scheduler role to Scheduler only', () => {
    const passRole = statementsByRole(template)
      .get(role(stack.handlers.exit))!
      .filter((statement) => statement.actions.includes('iam:PassRole'));
    expect(passRole).toEqual([
      {
        effect: 'Allow',
        actions: ['iam:PassRole'],
        resources: [att(stack.timers.schedulerRole)],
        condition: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      },
    ]);
  });

  it('grants the restart handler exactly its calls', () => {
    expect(grants(statementsByRole(template).get(role(stack.handlers.restart))!)).toEqual(
      [
        ...logging(),
        `dynamodb:GetItem ${table()}`,
        `dynamodb:PutItem ${table()}`,
        `sqs:SendMessage ${fine()}`,
        // What the SQS event source needs to poll the fine stage.
        ...['ReceiveMessage', 'DeleteMessage', 'ChangeMessageVisibility', 'GetQueueAttributes', 'GetQueueUrl'].map(
          (action) => `sqs:${action} ${fine()}`,
        ),
        `events:PutEvents ${bus()}`,
        // Lambda parks a Scheduler callback that failed every async retry here.
        `sqs:SendMessage ${att(stack.timers.deadLetterQueue)}`,
      ].sort(),
    );
  });

  it('grants the sync handler exactly its calls', () => {
    expect(grants(statementsByRole(template).get(role(stack.handlers.sync))!)).toEqual(
      [
        ...logging(),
        ...['GetItem', 'PutItem', 'DeleteItem'].map((action) => `dynamodb:${action} ${table()}`),
        // Overdue restarts, BackOff repeats, expired entries, and the CrashLoopBackOff count.
        ...indexes('waiting', 'backOffRepeats', 'expiry', 'byState'),
        `sqs:SendMessage ${fine()}`,
        `events:PutEvents ${bus()}`,
      ].sort(),
    );
  });

  it('lets the restart schedules invoke the restart handler and dead-letter to its queue, nothing more (no schedule targets the fine stage)', () => {
    expect(grants(statementsByRole(template).get(logicalId(stack.timers.schedulerRole))!)).toEqual(
      [`lambda:InvokeFunction ${att(stack.handlers.restart)}`, `sqs:SendMessage ${att(stack.timers.deadLetterQueue)}`].sort(),
    );
  });

  it('lets the sync schedule invoke the sync handler, nothing more', () => {
    expect(grants(statementsByRole(template).get(logicalId(stack.sync.role))!)).toEqual([`lambda:InvokeFunction ${att(stack.handlers.sync)}`]);
  });

  it('covers every role in the stack', () => {
    expect([...statementsByRole(template).keys()].sort()).toEqual(
      [
        role(stack.handlers.exit),
        role(stack.handlers.restart),
        role(stack.handlers.sync),
        logicalId(stack.timers.schedulerRole),
        logicalId(stack.sync.role),
      ].sort(),
    );
  });

  it('allows no wildcard action anywhere, in identity or resource policies', () => {
    const allowed: string[] = [];
    const denied: string[] = [];
    const visit = (node: unknown): void => {
      if (Array.isArray(node)) return node.forEach(visit);
      if (!node || typeof node !== 'object') return;
      const value = node as { Effect?: string; Action?: string | string[] };
      if (value.Effect && value.Action) {
        for (const action of [value.Action].flat()) (value.Effect === 'Allow' ? allowed : denied).push(action);
      }
      Object.values(node).forEach(visit);
    };
    visit(template.toJSON().Resources);
    expect(allowed.filter((action) => action.includes('*'))).toEqual([]);
    // The only `*` actions are the three queues' Deny of any SQS call without TLS (enforceSSL).
    expect(denied).toEqual(['sqs:*', 'sqs:*', 'sqs:*']);
  });

  it('uses a wildcard resource only where AWS names the resource at run time', () => {
    const wildcards = [...statementsByRole(template).entries()].flatMap(([roleId, statements]) =>
      statements.flatMap((statement) => statement.resources.filter((resource) => resource.includes('*')).map((resource) => `${roleId} ${resource}`)),
    );
    const group = `<${logicalId(stack.timers.scheduleGroup)}>`;
    expect(wildcards.sort()).toEqual(
      [
        // Lambda creates a log stream per execution environment, named at run time.
        `${role(stack.handlers.exit)} ${streams()}`,
        `${role(stack.handlers.restart)} ${streams()}`,
        `${role(stack.handlers.sync)} ${streams()}`,
        // Each restart schedule's name is derived at run time from the container key and restart count.
        `${role(stack.handlers.exit)} ${arn('scheduler', `schedule/${group}/*`)}`,
      ].sort(),
    );
  });
});

describe('RestartSchedulerStack handlers', () => {
  const functionProps = (fn: Parameters<typeof logicalId>[0]) =>
    (template.toJSON().Resources as Record<string, { Properties: Record<string, unknown> }>)[logicalId(fn)]!.Properties;
  const environment = (fn: Parameters<typeof logicalId>[0]) =>
    (functionProps(fn).Environment as { Variables: Record<string, unknown> }).Variables;

  it.each([
    ['exit', 10],
    ['restart', 10],
    ['sync', 60],
  ] as const)('runs the %s handler on nodejs22.x arm64 with JSON logs into the shared group, timeout %is', (name, timeout) => {
    expect(functionProps(stack.handlers[name])).toMatchObject({
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      Timeout: timeout,
      LoggingConfig: { LogFormat: 'JSON', LogGroup: { Ref: logicalId(stack.handlers.logGroup) } },
    });
  });

  const common = [
    ENV.tableName,
    ENV.shards,
    ENV.retention,
    ENV.fineStageQueueUrl,
    ENV.eventBusName,
    ENV.initialBackoff,
    ENV.maxBackoff,
    ENV.resetAfter,
    ENV.jitter,
    ENV.precision,
    'POWERTOOLS_SERVICE_NAME',
    'POWERTOOLS_METRICS_NAMESPACE',
    'POWERTOOLS_LOG_LEVEL',
    'NODE_OPTIONS',
  ];

  it.each([
    ['exit', [ENV.scheduleGroup, ENV.schedulerRoleArn, ENV.restartFunctionArn, ENV.scheduleDeadLetterArn, ENV.exitDeadLetterQueueUrl, ENV.backOffEventInterval]],
    ['restart', [ENV.dispatchLease]],
    ['sync', [ENV.dispatchLease, ENV.recoveryGrace, ENV.backOffEventInterval]],
  ] as const)('gives the %s handler exactly the settings it reads', (name, extra) => {
    expect(Object.keys(environment(stack.handlers[name])).sort()).toEqual([...common, ...extra].sort());
  });

  it('points the handlers at the stack’s resources and the default policy', () => {
    const exit = environment(stack.handlers.exit);
    expect(exit).toMatchObject({
      [ENV.tableName]: { Ref: logicalId(stack.table.table) },
      [ENV.shards]: '16',
      [ENV.retention]: '24h',
      [ENV.fineStageQueueUrl]: { Ref: logicalId(stack.timers.fineStageQueue) },
      [ENV.eventBusName]: { Ref: logicalId(stack.bus.bus) },
      [ENV.scheduleGroup]: stack.resolve(stack.timers.scheduleGroupName),
      [ENV.schedulerRoleArn]: { 'Fn::GetAtt': [logicalId(stack.timers.schedulerRole), 'Arn'] },
      [ENV.restartFunctionArn]: { 'Fn::GetAtt': [logicalId(stack.handlers.restart), 'Arn'] },
      [ENV.scheduleDeadLetterArn]: { 'Fn::GetAtt': [logicalId(stack.timers.deadLetterQueue), 'Arn'] },
      [ENV.exitDeadLetterQueueUrl]: { Ref: logicalId(stack.bus.exitDeadLetterQueue) },
      [ENV.initialBackoff]: '10s',
      [ENV.maxBackoff]: '5m',
      [ENV.resetAfter]: '10m',
      [ENV.jitter]: '0',
      [ENV.precision]: 'second',
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
    });
    expect(environment(stack.handlers.sync)).toMatchObject({ [ENV.recoveryGrace]: '2m30s', [ENV.dispatchLease]: '1m', [ENV.backOffEventInterval]: '5m' });
    expect(exit[ENV.backOffEventInterval]).toBe('5m');
  });

  it('parks failed async invocations: exit and restart retry twice into their dead-letter queues, sync never retries', () => {
    expect(functionProps(stack.handlers.exit).DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [logicalId(stack.bus.exitDeadLetterQueue), 'Arn'] } });
    expect(functionProps(stack.handlers.restart).DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [logicalId(stack.timers.deadLetterQueue), 'Arn'] } });
    const configs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig')).map((config) => [
      config.Properties.FunctionName.Ref,
      config.Properties.MaximumRetryAttempts,
    ]);
    expect(configs.sort()).toEqual(
      [
        [logicalId(stack.handlers.exit), 2],
        [logicalId(stack.handlers.restart), 2],
        [logicalId(stack.handlers.sync), 0],
      ].sort(),
    );
  });

  it('bundles each handler locally as minified ESM with a require banner and a source map, and the bundle runs', () => {
    const assets = readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
    expect(assets.length).toBeGreaterThan(0);
    for (const asset of assets) {
      const bundle = join(assembly.directory, asset, 'index.mjs');
      expect(readFileSync(bundle, 'utf8').startsWith(ESM_REQUIRE_BANNER)).toBe(true);
      expect(existsSync(`${bundle}.map`)).toBe(true);
      // The fixture reaches a Node built-in through CommonJS `require`: it only runs if the banner works.
      const output = execFileSync(
        process.execPath,
        ['--input-type=module', '-e', `const m = await import(${JSON.stringify(pathToFileURL(bundle).href)}); console.log(JSON.stringify(await m.handler({})));`],
        { encoding: 'utf8' },
      );
      expect(JSON.parse(output)).toEqual({ statusCode: 200, body: JSON.stringify({ received: true, platform: process.platform }) });
    }
  });
});

describe('RestartSchedulerStack cdk-nag', () => {
  it('passes AwsSolutionsChecks with no unacknowledged finding', () => {
    expect(new AwsSolutionsChecks(app).validateScope(app).violations).toEqual([]);
  });

  it('acknowledges exactly the findings that remain, each with a written reason', () => {
    // The same checks with acknowledgments ignored: what the stack would be flagged for.
    const raw = new AwsSolutionsChecks(app);
    (raw as unknown as { isAcknowledged: () => boolean }).isAcknowledged = () => false;
    const findings = raw.validateScope(app).violations.map((violation) => violation.ruleName);
    const group = `<${logicalId(stack.timers.scheduleGroup)}>`;
    expect(findings.sort()).toEqual(
      [
        'AwsSolutions-L1',
        `AwsSolutions-IAM5[Resource::${arn('logs', `log-group:<${logicalId(stack.handlers.logGroup)}>:log-stream:*`)}]`,
        `AwsSolutions-IAM5[Resource::${arn('scheduler', `schedule/${group}/*`)}]`,
      ].sort(),
    );
    const acknowledgments = stack.node
      .findAll()
      .flatMap((construct) => construct.node.metadata.filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY))
      .flatMap((entry) => Object.entries(entry.data as Record<string, string>));
    expect(acknowledgments.length).toBeGreaterThan(0);
    for (const [id, reason] of acknowledgments) {
      expect(findings).toContain(id.replace(/^annotation::/i, ''));
      expect(reason.length).toBeGreaterThan(60);
    }
  });
});

describe('RestartSchedulerStack settings', () => {
  it('refuses a bad context value with an error naming the key, before creating anything', () => {
    const badApp = new App({ context: { [CONTEXT_KEYS.maxBackoff]: 'five minutes' } });
    expect(() => new RestartSchedulerStack(badApp, 'Bad', { entries: FIXTURE_ENTRIES })).toThrow(ConfigError);
    expect(() => new RestartSchedulerStack(badApp, 'Bad', { entries: FIXTURE_ENTRIES })).toThrow(
      `CDK context ${CONTEXT_KEYS.maxBackoff}: invalid duration "five minutes"`,
    );
    expect(badApp.node.children).toHaveLength(0);
  });
});
