import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME, type MetricName } from '../ports.ts';

export interface ObservabilityProps {
  /** The handlers, by name, for their errors and durations. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** Dead-letter queues, by name: any message in one is an alarm. */
  readonly deadLetterQueues: Readonly<Record<string, sqs.IQueue>>;
  /** The fine stage, for its depth and age on the dashboard. */
  readonly fineStageQueue?: sqs.IQueue;
  /**
   * p99 restart lateness (ms) above which the lateness alarm fires.
   * @default 10000
   */
  readonly latenessThresholdMs?: number;
  /**
   * Where alarms (and their recoveries) are sent.
   * @default none: alarms show in the console and on the dashboard only
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Restarts have targets (webhooks, ECS): alarm on any that was not delivered.
   * @default false
   */
  readonly restartTargets?: boolean;
  /**
   * @default a name CloudFormation generates
   */
  readonly dashboardName?: string;
}

/**
 * The service's metrics as Powertools publishes them (EMF): namespace
 * RestartScheduler, the one `service` dimension.
 */
export function serviceMetric(name: MetricName, statistic: string, period = Duration.minutes(1), label?: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { service: SERVICE_NAME },
    statistic,
    period,
    ...(label ? { label } : {}),
  });
}

/** The dashboard and the alarms (DESIGN §2: metrics, dashboard, alarms). */
export class Observability extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    const latenessThresholdMs = props.latenessThresholdMs ?? 10_000;
    const alarms: cloudwatch.Alarm[] = [];

    for (const [name, queue] of Object.entries(props.deadLetterQueues)) {
      alarms.push(
        new cloudwatch.Alarm(this, `${name}DeadLetters`, {
          alarmDescription: `restart-scheduler: messages in the ${name} dead-letter queue (inspect, fix, then redrive)`,
          metric: queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1) }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    for (const [name, fn] of Object.entries(props.functions)) {
      alarms.push(
        new cloudwatch.Alarm(this, `${name}Errors`, {
          alarmDescription: `restart-scheduler: the ${name} handler failed invocations`,
          metric: fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    alarms.push(
      new cloudwatch.Alarm(this, 'RestartLatenessP99', {
        alarmDescription: `restart-scheduler: p99 restart lateness above ${latenessThresholdMs} ms for 10 minutes`,
        metric: serviceMetric('RestartLateness', 'p99', Duration.minutes(5)),
        threshold: latenessThresholdMs,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        // Two periods in a row, so one cold start does not page anyone.
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.restartTargets) {
      alarms.push(
        new cloudwatch.Alarm(this, 'RestartsFailed', {
          alarmDescription: 'restart-scheduler: restarts that their webhook or ECS target did not take after every retry (RestartFailed records)',
          metric: serviceMetric('RestartsFailed', 'Sum', Duration.minutes(5)),
          threshold: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          evaluationPeriods: 1,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
    if (props.alarmTopic) {
      const action = new actions.SnsAction(props.alarmTopic);
      for (const alarm of alarms) {
        alarm.addAlarmAction(action);
        alarm.addOkAction(action);
      }
    }
    this.alarms = alarms;

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      ...(props.dashboardName ? { dashboardName: props.dashboardName } : {}),
      defaultInterval: Duration.hours(3),
    });
    const functions = Object.entries(props.functions);
    const deadLetterQueues = Object.entries(props.deadLetterQueues);
    const graph = (title: string, left: cloudwatch.IMetric[], extra: Partial<cloudwatch.GraphWidgetProps> = {}) =>
      new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, ...extra });

    this.dashboard.addWidgets(
      graph('Exits received', [
        serviceMetric('ExitsReceived', 'Sum', undefined, 'exits'),
        serviceMetric('ExitEventsRejected', 'Sum', undefined, 'rejected on the bus (dead-lettered)'),
      ]),
      graph('Restarts', [
        serviceMetric('RestartsScheduled', 'Sum', undefined, 'scheduled'),
        serviceMetric('RestartsDispatched', 'Sum', undefined, 'dispatched'),
        serviceMetric('RestartsRecovered', 'Sum', undefined, 'recovered by the sync'),
        serviceMetric('RestartsFailed', 'Sum', undefined, 'not delivered to their target'),
      ]),
    );
    this.dashboard.addWidgets(
      // Counted from the table's state index by every sync run, not from the log.
      graph('Containers in CrashLoopBackOff', [serviceMetric('ContainersInCrashLoopBackOff', 'Maximum', undefined, 'containers (counted in the table)')]),
      graph(
        'Restart lateness (ms)',
        [
          serviceMetric('RestartLateness', 'p50', undefined, 'p50'),
          serviceMetric('RestartLateness', 'p99', undefined, 'p99'),
          serviceMetric('RestartLateness', 'Maximum', undefined, 'max'),
        ],
        { leftAnnotations: [{ value: latenessThresholdMs, label: 'p99 alarm threshold' }] },
      ),
    );
    this.dashboard.addWidgets(
      graph('Write conflicts and timer failures', [
        serviceMetric('WriteConflicts', 'Sum', undefined, 'write conflicts'),
        serviceMetric('TimerFailures', 'Sum', undefined, 'timer failures'),
      ]),
      graph(
        'Handler errors',
        functions.map(([name, fn]) => fn.metricErrors({ statistic: 'Sum', period: Duration.minutes(1), label: name })),
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Dead-letter queue depth',
        deadLetterQueues.map(([name, queue]) =>
          queue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(1), label: name }),
        ),
      ),
      graph(
        'Handler duration p99 (ms)',
        functions.map(([name, fn]) => fn.metricDuration({ statistic: 'p99', period: Duration.minutes(1), label: name })),
      ),
    );
    if (props.fineStageQueue) {
      this.dashboard.addWidgets(
        graph('Fine stage', [
          props.fineStageQueue.metric('ApproximateNumberOfMessagesDelayed', { statistic: 'Maximum', label: 'waiting out a delay' }),
          props.fineStageQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', label: 'due, not yet taken' }),
          props.fineStageQueue.metricApproximateNumberOfMessagesNotVisible({ statistic: 'Maximum', label: 'in flight' }),
        ]),
        new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 12, height: 6 }),
      );
    } else {
      this.dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms, width: 24, height: 6 }));
    }
  }

  /** A console link to the dashboard. */
  get dashboardUrl(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards/dashboard/${this.dashboard.dashboardName}`;
  }
}
