import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { EVENT_RECORD_SCHEMA } from '../core/index.ts';

/** Stands for the container key in the timeline query; replace it before running. */
export const CONTAINER_KEY_PLACEHOLDER = 'REPLACE_WITH_CONTAINER_KEY';

export interface EventQuery {
  /** Shown after the folder in the Logs Insights console. */
  readonly title: string;
  readonly queryString: string;
}

/** Selects event records among the other lines of the shared log group. */
const EVENT_RECORDS = `filter schema = "${EVENT_RECORD_SCHEMA}"`;

/**
 * The saved Logs Insights queries over the event records (DESIGN §4), as
 * plain strings so other tools can run the same queries.
 */
export function eventQueries(options: { lateRestartMs: number }): readonly EventQuery[] {
  return [
    {
      title: 'Containers in CrashLoopBackOff now',
      // A container is in back-off while its latest event says a restart is pending.
      queryString: [
        EVENT_RECORDS,
        '| stats latest(type) as lastType, latest(restartCount) as restarts, latest(backoffMs) as backoffMs, ' +
          'latest(restartAt) as nextRestartAt, latest(message) as lastMessage, max(@timestamp) as lastEventAt ' +
          'by key, namespace, pod, container',
        '| filter lastType in ["RestartScheduled", "BackOff"]',
        '| sort lastEventAt desc',
        '| limit 1000',
      ].join('\n'),
    },
    {
      title: 'Restarts per container over time',
      queryString: [
        `${EVENT_RECORDS} and type in ["Restarted", "RestartRecovered"]`,
        '| stats count(*) as restarts by bin(5m), key',
      ].join('\n'),
    },
    {
      title: 'Top crashing workloads',
      queryString: [
        `${EVENT_RECORDS} and type = "Exited"`,
        '| stats count(*) as exits, count_distinct(key) as containers, max(restartCount) as maxRestartCount by namespace, pod, container',
        '| sort exits desc',
        '| limit 20',
      ].join('\n'),
    },
    {
      title: "One container's timeline",
      queryString: [
        'fields @timestamp, type, restartCount, exitCode, reason, decision, delayMs, backoffMs, restartAt, latenessMs, message',
        `| ${EVENT_RECORDS} and key = "${CONTAINER_KEY_PLACEHOLDER}"`,
        '| sort @timestamp asc',
        '| limit 10000',
      ].join('\n'),
    },
    {
      title: 'Recovered or late restarts',
      queryString: [
        'fields @timestamp, type, key, restartCount, restartAt, latenessMs, message',
        `| ${EVENT_RECORDS} and (type = "RestartRecovered" or (type = "Restarted" and latenessMs > ${options.lateRestartMs}))`,
        '| sort latenessMs desc',
        '| limit 1000',
      ].join('\n'),
    },
    {
      title: 'Handler errors',
      queryString: [
        'fields @timestamp, function_name, message, error.name, error.message',
        '| filter level = "ERROR"',
        '| sort @timestamp desc',
        '| limit 200',
      ].join('\n'),
    },
  ];
}

export interface EventQueriesProps {
  /** The shared log group the handlers write event records to. */
  readonly logGroup: logs.ILogGroup;
  /**
   * The folder the queries are saved in (the part of the name before `/`).
   * @default 'restart-scheduler'
   */
  readonly folder?: string;
  /**
   * Lateness above which a dispatched restart counts as late.
   * @default 10000 (10 s)
   */
  readonly lateRestartMs?: number;
}

/** Logs Insights saved queries (AWS::Logs::QueryDefinition) on the shared log group. */
export class EventQueries extends Construct {
  readonly definitions: readonly logs.CfnQueryDefinition[];

  constructor(scope: Construct, id: string, props: EventQueriesProps) {
    super(scope, id);
    const folder = props.folder ?? 'restart-scheduler';
    this.definitions = eventQueries({ lateRestartMs: props.lateRestartMs ?? 10_000 }).map(
      (query) =>
        new logs.CfnQueryDefinition(this, query.title.replace(/[^A-Za-z0-9]/g, ''), {
          name: `${folder}/${query.title}`,
          queryString: query.queryString,
          logGroupNames: [props.logGroup.logGroupName],
        }),
    );
  }
}
