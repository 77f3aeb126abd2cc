import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ENV, parseNamespaceDefaults } from '../config.ts';
import { formatDuration } from '../core/index.ts';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../ports.ts';
import type { BackoffTable } from './backoff-table.ts';
import { LOCK_FILE, PROJECT_ROOT, handlerBundling } from './bundling.ts';
import type { EcsWorkloads } from './ecs-workloads.ts';
import type { EventsBus } from './events-bus.ts';
import type { RestartDelivery } from './restart-delivery.ts';
import type { RestartTimers } from './restart-timers.ts';
import { acknowledgeNag, acknowledgeWildcardResource } from './nag.ts';
import { policyEnvironment, type HandlerSettings } from './handler-settings.ts';

export type HandlerName = 'exit' | 'restart' | 'sync' | 'deliver';

/** The source file of each handler; each exports `handler`. The deliver handler exists only with restart targets. */
export type HandlerEntries = Readonly<Record<Exclude<HandlerName, 'deliver'>, string>> & { readonly deliver?: string };

export const DEFAULT_HANDLER_ENTRIES: HandlerEntries = {
  exit: `${PROJECT_ROOT}lambdas/exit.ts`,
  restart: `${PROJECT_ROOT}lambdas/restart.ts`,
  sync: `${PROJECT_ROOT}lambdas/sync.ts`,
  deliver: `${PROJECT_ROOT}lambdas/deliver.ts`,
};

export interface HandlersProps {
  readonly table: BackoffTable;
  readonly timers: RestartTimers;
  readonly bus: EventsBus;
  readonly settings: HandlerSettings;
  /**
   * ECS workloads: the exit handler serves their routes and their task state
   * changes, the deliver handler restarts them.
   * @default none
   */
  readonly ecs?: EcsWorkloads;
  /**
   * Restart targets (webhooks, ECS): creates the deliver handler.
   * @default none
   */
  readonly delivery?: RestartDelivery;
  /**
   * Handler source files (tests point them at fixtures).
   * @default DEFAULT_HANDLER_ENTRIES (lambdas/exit.ts, lambdas/restart.ts, lambdas/sync.ts)
   */
  readonly entries?: HandlerEntries;
  /**
   * Retention of the shared log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the shared log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
  /**
   * Memory of each function. More memory is more CPU, which shortens cold starts.
   * @default 512
   */
  readonly memorySize?: number;
  /**
   * Powertools log level.
   * @default 'INFO'
   */
  readonly logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
}

/** Timeouts sized for each handler's work: a few calls for exit and restart, a pass over every shard's due work for sync. */
export const HANDLER_TIMEOUTS: Readonly<Record<HandlerName, Duration>> = {
  exit: Duration.seconds(10),
  restart: Duration.seconds(10),
  sync: Duration.seconds(60),
  // A few RunTask attempts with back-off (AWS_DELIVERY_RETRY), or a batch of failed deliveries to record.
  deliver: Duration.seconds(30),
};

/**
 * The three Lambda handlers, their execution roles (each granted exactly the
 * calls its handler makes), and the one log group they all write JSON lines to.
 */
export class Handlers extends Construct {
  readonly logGroup: logs.LogGroup;
  readonly exit: NodejsFunction;
  readonly restart: NodejsFunction;
  readonly sync: NodejsFunction;
  /** Restart targets: ECS RunTask, and `RestartFailed` for deliveries that failed every retry. */
  readonly deliver?: NodejsFunction;

  constructor(scope: Construct, id: string, props: HandlersProps) {
    super(scope, id);
    const { table, timers, bus, settings } = props;
    const entries = props.entries ?? DEFAULT_HANDLER_ENTRIES;
    const bundling = handlerBundling();

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    const policy = policyEnvironment(settings.policy);
    const stored = {
      [ENV.tableName]: table.tableName,
      [ENV.shards]: String(settings.shards),
      [ENV.retention]: formatDuration(settings.entryRetentionMs),
    };
    const outbound = {
      [ENV.fineStageQueueUrl]: timers.fineStageQueue.queueUrl,
      [ENV.eventBusName]: bus.eventBusName,
    };
    const decisions = {
      [ENV.initialBackoff]: policy.initial,
      [ENV.maxBackoff]: policy.max,
      [ENV.resetAfter]: policy.resetAfter,
      [ENV.jitter]: policy.jitter,
      ...(settings.namespaceDefaultsJson ? { [ENV.namespaceDefaults]: settings.namespaceDefaultsJson } : {}),
      [ENV.precision]: settings.precision,
    };
    const lease = { [ENV.dispatchLease]: formatDuration(settings.dispatchLeaseMs) };
    const workloads: Record<string, string> = props.ecs ? { [ENV.workloadTableName]: props.ecs.tableName } : {};
    // The exit handler records a wait's first BackOff, the sync its repeats.
    const backOffEvents = { [ENV.backOffEventInterval]: formatDuration(settings.backOffEventIntervalMs) };

    const create = (name: HandlerName, description: string, environment: Record<string, string>, extra: Partial<lambda.FunctionProps> = {}) => {
      const entry = entries[name];
      if (!entry) throw new Error(`no entry for the ${name} handler`);
      const role = new iam.Role(this, `${capitalize(name)}Role`, {
        description: `Execution role of the restart-scheduler ${name} handler`,
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      });
      this.allowLogging(role);
      return new NodejsFunction(this, `${capitalize(name)}Function`, {
        description,
        entry,
        handler: 'handler',
        projectRoot: PROJECT_ROOT,
        depsLockFilePath: LOCK_FILE,
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? 512,
        timeout: HANDLER_TIMEOUTS[name],
        role,
        logGroup: this.logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        bundling,
        environment: {
          ...environment,
          POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
          POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
          POWERTOOLS_LOG_LEVEL: props.logLevel ?? 'INFO',
          // Stack traces point into the TypeScript sources through the bundle's source map.
          NODE_OPTIONS: '--enable-source-maps',
        },
        ...extra,
      });
    };

    // The restart handler comes first: the exit handler's environment names it.
    this.restart = create(
      'restart',
      'Dispatches a due restart exactly once (called by Scheduler and the SQS fine stage)',
      { ...stored, ...outbound, ...decisions, ...lease },
      {
        // Scheduler invokes asynchronously: Lambda retries a failing callback,
        // then parks it with the other failed callbacks. The sync re-dispatches
        // it in any case once it is overdue.
        retryAttempts: 2,
        deadLetterQueue: timers.deadLetterQueue,
      },
    );

    this.exit = create(
      'exit',
      'Decides each container exit: API Gateway POST /v1/exits, container status, and Container Exited bus events',
      {
        ...stored,
        ...outbound,
        ...decisions,
        ...backOffEvents,
        [ENV.scheduleGroup]: timers.scheduleGroupName,
        [ENV.schedulerRoleArn]: timers.schedulerRole.roleArn,
        [ENV.restartFunctionArn]: this.restart.functionArn,
        [ENV.scheduleDeadLetterArn]: timers.deadLetterQueue.queueArn,
        [ENV.exitDeadLetterQueueUrl]: bus.exitDeadLetterQueue.queueUrl,
        ...workloads,
      },
      {
        // Bus events arrive asynchronously; one that fails every retry is kept, not dropped.
        retryAttempts: 2,
        deadLetterQueue: bus.exitDeadLetterQueue,
      },
    );

    this.sync = create(
      'sync',
      'Every minute: overdue restarts re-dispatched, BackOff repeats of long waits, expired entries collected, containers in CrashLoopBackOff counted',
      {
        ...stored,
        ...outbound,
        ...decisions,
        ...lease,
        ...backOffEvents,
        [ENV.recoveryGrace]: formatDuration(settings.recoveryGraceMs),
      },
      {
        // The next run starts within a minute; retrying a failed run would only overlap it.
        retryAttempts: 0,
        maxEventAge: Duration.seconds(60),
      },
    );

    // Exactly the calls each handler makes (DESIGN §3).
    // The container listing queries the state and namespace indexes (and the
    // expiry index, which holds every item, for a listing of everything) and
    // reads its page by key; the exit path itself uses no index (a batch of
    // exits reads its containers by key at once, BatchGetItem too).
    table.grant(this.exit, {
      table: ['GetItem', 'BatchGetItem', 'PutItem', 'DeleteItem'],
      indexes: { actions: ['Query'], names: ['byState', 'byNamespace', 'expiry'] },
    });
    timers.grantCreateSchedules(this.exit);
    timers.grantSendToFineStage(this.exit);
    bus.grantPutEvents(this.exit);
    bus.grantSendExitDeadLetters(this.exit);

    table.grant(this.restart, { table: ['GetItem', 'PutItem'] });
    timers.grantSendToFineStage(this.restart);
    timers.connectRestartFunction(this.restart);
    bus.grantPutEvents(this.restart);

    table.grant(this.sync, {
      table: ['GetItem', 'PutItem', 'DeleteItem'],
      indexes: { actions: ['Query'], names: ['waiting', 'backOffRepeats', 'expiry', 'byState'] },
    });
    timers.grantSendToFineStage(this.sync);
    bus.grantPutEvents(this.sync);

    // Restart budgets: an exit whose restart is due now, a timer callback and
    // the sync's recovery each take a slot before dispatching. Only granted when
    // some namespace has a budget (a namespace without one makes no such call).
    if (hasRestartBudget(settings)) {
      for (const fn of [this.exit, this.restart, this.sync]) table.grantBudgetReservations(fn);
    }

    bus.routeExitsTo(this.exit);

    if (props.ecs) {
      props.ecs.grantManage(this.exit);
      props.ecs.routeTaskChangesTo(this.exit, bus.exitDeadLetterQueue);
    }
    if (props.delivery) {
      this.deliver = create(
        'deliver',
        'Delivers restarts to ECS (RunTask) and records deliveries that failed every retry as RestartFailed',
        { ...stored, ...outbound, ...decisions, ...workloads },
        {
          // The bus rule invokes asynchronously: Lambda retries a failed delivery
          // twice (the same clientToken: one task), then parks it with the failed ones.
          retryAttempts: 2,
          deadLetterQueue: props.delivery.failedDeliveries,
        },
      );
      if (props.ecs) props.ecs.grantRestart(this.deliver);
      props.delivery.connectDeliverFunction(this.deliver, { ecs: props.ecs !== undefined });
    }

    for (const fn of this.all) {
      acknowledgeNag(
        fn,
        'AwsSolutions-L1',
        'The handlers target nodejs22.x, the runtime the project is built and tested for (esbuild target node22); ' +
          'Lambda supports it until 2027, and moving to a newer runtime is a tested upgrade of its own.',
      );
    }
  }

  get all(): readonly NodejsFunction[] {
    return [this.exit, this.restart, this.sync, ...(this.deliver ? [this.deliver] : [])];
  }

  /**
   * Writing to the shared log group. Lambda names each log stream when an
   * execution environment starts, so the grant names the group's streams,
   * which is as narrow as CloudWatch Logs resources go.
   */
  private allowLogging(role: iam.Role): void {
    const streams = Stack.of(this).formatArn({
      service: 'logs',
      resource: 'log-group',
      resourceName: `${this.logGroup.logGroupName}:log-stream:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteSharedLogGroup',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [streams],
      }),
    );
    acknowledgeWildcardResource(
      role,
      streams,
      "Lambda creates a log stream per execution environment with a name chosen at run time; the grant is limited to the shared log group's streams.",
    );
  }
}

/** Whether any namespace's defaults set a `restartBudget`. */
export function hasRestartBudget(settings: Pick<HandlerSettings, 'namespaceDefaultsJson'>): boolean {
  return Object.values(parseNamespaceDefaults('namespaceDefaults', settings.namespaceDefaultsJson)).some((defaults) => defaults.restartBudget !== undefined);
}

function capitalize(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}
