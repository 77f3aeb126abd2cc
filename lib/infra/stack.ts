import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { BackoffTable } from './backoff-table.ts';
import { EcsWorkloads } from './ecs-workloads.ts';
import { EventQueries } from './event-queries.ts';
import { EventsBus } from './events-bus.ts';
import { Handlers, HANDLER_TIMEOUTS, type HandlerEntries } from './handlers.ts';
import { Ingress } from './ingress.ts';
import { Observability } from './observability.ts';
import { RestartDelivery } from './restart-delivery.ts';
import { RestartTimers } from './restart-timers.ts';
import { readDeploySettings, type DeploySettings } from './settings.ts';
import { SyncSchedule } from './sync-schedule.ts';

export interface RestartSchedulerStackProps extends StackProps {
  /**
   * Service and deployment settings.
   * @default read from CDK context (cdk.json, `-c restart-scheduler:…=…`) and checked
   */
  readonly settings?: DeploySettings;
  /**
   * Handler source files.
   * @default lambdas/exit.ts, lambdas/restart.ts, lambdas/sync.ts, lambdas/deliver.ts
   */
  readonly entries?: HandlerEntries;
  /**
   * Where alarms are sent.
   * @default none
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Encryption at rest of the back-off table.
   * @default dynamodb.TableEncryption.AWS_MANAGED
   */
  readonly tableEncryption?: dynamodb.TableEncryption;
}

/**
 * The whole service on AWS (DESIGN §2): ingress (HTTP API and bus rule), the
 * handlers, the back-off table, the two-stage restart timer, the sync
 * schedule, the bus, and the queries, dashboard and alarms to watch it.
 */
export class RestartSchedulerStack extends Stack {
  readonly settings: DeploySettings;
  readonly table: BackoffTable;
  readonly timers: RestartTimers;
  readonly bus: EventsBus;
  readonly handlers: Handlers;
  readonly sync: SyncSchedule;
  readonly ingress: Ingress;
  readonly queries: EventQueries;
  readonly observability: Observability;
  /** Present when `restart-scheduler:ecs` is set. */
  readonly ecs?: EcsWorkloads;
  /** Present when restarts have targets: a webhook namespace, or ECS workloads. */
  readonly delivery?: RestartDelivery;

  constructor(scope: Construct, id: string, props: RestartSchedulerStackProps = {}) {
    // Checked before anything is created, so a bad context value fails the synth with its key named.
    const settings = props.settings ?? readDeploySettings((key) => scope.node.tryGetContext(key));
    super(scope, id, {
      description: 'restart-scheduler: kubelet CrashLoopBackOff restart semantics for any workload',
      ...props,
    });
    this.settings = settings;
    const retainData = settings.removalPolicy;

    this.table = new BackoffTable(this, 'Table', {
      removalPolicy: retainData,
      ...(props.tableEncryption ? { encryption: props.tableEncryption } : {}),
    });
    this.timers = new RestartTimers(this, 'Timers', { restartHandlerTimeout: HANDLER_TIMEOUTS.restart, removalPolicy: retainData });
    this.bus = new EventsBus(this, 'Events', { archiveRetention: Duration.days(settings.archiveRetentionDays) });
    if (settings.ecs) this.ecs = new EcsWorkloads(this, 'Ecs', { ...settings.ecs, removalPolicy: retainData });
    if (this.ecs || Object.keys(settings.webhooks).length > 0) {
      this.delivery = new RestartDelivery(this, 'Delivery', { bus: this.bus, webhooks: settings.webhooks });
    }
    this.handlers = new Handlers(this, 'Handlers', {
      table: this.table,
      timers: this.timers,
      bus: this.bus,
      settings,
      ...(this.ecs ? { ecs: this.ecs } : {}),
      ...(this.delivery ? { delivery: this.delivery } : {}),
      ...(props.entries ? { entries: props.entries } : {}),
      logRetention: settings.logRetention,
      logRemovalPolicy: retainData,
    });
    this.sync = new SyncSchedule(this, 'Sync', { handler: this.handlers.sync });
    this.ingress = new Ingress(this, 'Ingress', {
      handler: this.handlers.exit,
      accessLogRetention: settings.logRetention,
      accessLogRemovalPolicy: retainData,
      ecsRoutes: this.ecs !== undefined,
    });
    this.queries = new EventQueries(this, 'Queries', {
      logGroup: this.handlers.logGroup,
      folder: this.stackName,
      lateRestartMs: settings.latenessAlarmThresholdMs,
    });
    this.observability = new Observability(this, 'Observability', {
      functions: { Exit: this.handlers.exit, Restart: this.handlers.restart, Sync: this.handlers.sync, ...(this.handlers.deliver ? { Deliver: this.handlers.deliver } : {}) },
      deadLetterQueues: { Callback: this.timers.deadLetterQueue, ExitEvent: this.bus.exitDeadLetterQueue },
      restartTargets: this.delivery !== undefined,
      fineStageQueue: this.timers.fineStageQueue,
      latenessThresholdMs: settings.latenessAlarmThresholdMs,
      ...(props.alarmTopic ? { alarmTopic: props.alarmTopic } : {}),
    });

    new CfnOutput(this, 'ApiUrl', { description: 'HTTP API base URL (SigV4, service execute-api)', value: this.ingress.url });
    new CfnOutput(this, 'EventBusName', { description: 'Bus for Container Exited events in, restart requests out', value: this.bus.eventBusName });
    new CfnOutput(this, 'TableName', { description: 'Back-off table', value: this.table.tableName });
    new CfnOutput(this, 'LogGroupName', { description: 'Shared log group of the handlers (event records)', value: this.handlers.logGroup.logGroupName });
    new CfnOutput(this, 'DashboardName', { description: 'CloudWatch dashboard', value: this.observability.dashboard.dashboardName });
    if (this.ecs) new CfnOutput(this, 'WorkloadTableName', { description: 'ECS workload registrations', value: this.ecs.tableName });
    new CfnOutput(this, 'DashboardUrl', { description: 'CloudWatch dashboard in the console', value: this.observability.dashboardUrl });
  }
}
