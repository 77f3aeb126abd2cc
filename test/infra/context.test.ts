/**
 * The stack built from non-default CDK context: every setting reaches the
 * resources and handlers it governs. Synthesized once, with the fixture entry.
 */
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENV } from '../../lib/config.ts';
import { CONTEXT_KEYS, DEFAULT_LATENESS_THRESHOLD_MS } from '../../lib/infra/settings.ts';
import { RestartSchedulerStack } from '../../lib/infra/stack.ts';
import { FIXTURE_ENTRIES, grants, logicalId, statementsByRole } from './support.ts';

const namespaceDefaults = { batch: { initialBackoff: '1s', maxBackoff: '1m', restartPolicy: 'OnFailure', restartBudget: { perSecond: 50, burst: 100 } } };

let stack: RestartSchedulerStack;
let template: Template;
/** The same stack without any context: what the handlers are granted when no namespace has a budget. */
let plain: RestartSchedulerStack;
let plainTemplate: Template;

beforeAll(() => {
  const app = new App({
    context: {
      [CONTEXT_KEYS.initialBackoff]: '2s',
      [CONTEXT_KEYS.maxBackoff]: '2m',
      [CONTEXT_KEYS.resetAfter]: '15m',
      [CONTEXT_KEYS.jitter]: '0.1',
      [CONTEXT_KEYS.precision]: 'minute',
      [CONTEXT_KEYS.shards]: '4',
      [CONTEXT_KEYS.entryRetention]: '2h',
      [CONTEXT_KEYS.recoveryGrace]: '3m',
      [CONTEXT_KEYS.dispatchLease]: '90s',
      [CONTEXT_KEYS.logRetentionDays]: '7',
      [CONTEXT_KEYS.removalPolicy]: 'destroy',
      [CONTEXT_KEYS.archiveRetentionDays]: '90',
      [CONTEXT_KEYS.namespaceDefaults]: namespaceDefaults,
    },
  });
  stack = new RestartSchedulerStack(app, 'Configured', { entries: FIXTURE_ENTRIES });
  template = Template.fromStack(stack);
  plain = new RestartSchedulerStack(new App(), 'Configured', { entries: FIXTURE_ENTRIES });
  plainTemplate = Template.fromStack(plain);
});

describe('RestartSchedulerStack with context settings', () => {
  const variables = (handler: 'exit' | 'restart' | 'sync') =>
    (template.toJSON().Resources[logicalId(stack.handlers[handler])].Properties.Environment as { Variables: Record<string, unknown> }).Variables;

  it('hands the policy, precision, shards, retention and namespace defaults to every handler', () => {
    for (const handler of ['exit', 'restart', 'sync'] as const) {
      expect(variables(handler)).toMatchObject({
        [ENV.initialBackoff]: '2s',
        [ENV.maxBackoff]: '2m',
        [ENV.resetAfter]: '15m',
        [ENV.jitter]: '0.1',
        [ENV.precision]: 'minute',
        [ENV.shards]: '4',
        [ENV.retention]: '2h',
        [ENV.namespaceDefaults]: JSON.stringify(namespaceDefaults),
      });
    }
    expect(variables('sync')).toMatchObject({ [ENV.recoveryGrace]: '3m', [ENV.dispatchLease]: '1m30s' });
    expect(variables('restart')).toMatchObject({ [ENV.dispatchLease]: '1m30s' });
  });

  it('lets the exit, restart and sync handlers take restart-budget slots, and nothing more: UpdateItem on budget items only', () => {
    const roleOf = (of: RestartSchedulerStack, handler: 'exit' | 'restart' | 'sync') => logicalId(of.handlers[handler].role!);
    const table = `<${logicalId(stack.table.table)}.Arn>`;
    for (const handler of ['exit', 'restart', 'sync'] as const) {
      const statements = statementsByRole(template).get(roleOf(stack, handler))!;
      expect(statements.filter((statement) => statement.actions.includes('dynamodb:UpdateItem'))).toEqual([
        {
          sid: 'TakeRestartBudgetSlots',
          effect: 'Allow',
          actions: ['dynamodb:UpdateItem'],
          resources: [table],
          condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['budget#*'] } },
        },
      ]);
      // Everything else is what a stack without a budget grants.
      expect(grants(statements).filter((grant) => grant !== `dynamodb:UpdateItem ${table}`)).toEqual(grants(statementsByRole(plainTemplate).get(roleOf(plain, handler))!));
      expect(grants(statementsByRole(plainTemplate).get(roleOf(plain, handler))!).some((grant) => grant.startsWith('dynamodb:UpdateItem'))).toBe(false);
    }
  });

  it('deletes the table and log groups with the stack, and keeps logs for the configured days', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.map((group) => [group.DeletionPolicy, group.Properties.RetentionInDays])).toEqual([
      ['Delete', 7],
      ['Delete', 7],
    ]);
  });

  it('archives bus events for the configured days', () => {
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 90 });
  });

  it('raises the lateness alarm and the late-restart query to the minute-precision default', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'RestartLateness', Threshold: DEFAULT_LATENESS_THRESHOLD_MS.minute });
    const queries = Object.values(template.findResources('AWS::Logs::QueryDefinition')).map((query) => query.Properties.QueryString as string);
    expect(queries.some((query) => query.includes(`latenessMs > ${DEFAULT_LATENESS_THRESHOLD_MS.minute}`))).toBe(true);
  });
});
