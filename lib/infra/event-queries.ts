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

/** What the "Handler errors" query shows of each error line. */
export const HANDLER_ERROR_FIELDS = ['function_name', 'message', 'error', 'errorMessage'] as const;

/** Selects event records among the other lines of the shared log group. */
const EVENT_RECORDS = `filter schema = "${EVENT_RECORD_SCHEMA}"`;

/**
 * The saved Logs Insights queries over the event records (DESIGN §4), as
 * plain strings so other tools can run the same queries.
 */
export function eventQueries(options: { lateRestartMs: number }): readonly EventQuery[] {
  return [
    {
      // Which containers are in CrashLoopBackOff now is the table's to say
      // (`restart-scheduler status --state CrashLoopBackOff`, a Query on its
      // state index; the dashboard's count comes from there too): the log has
      // one BackOff record per wait, not one per minute. This shows the series.
      title: 'BackOff events',
      queryString: [
        `${EVENT_RECORDS} and type = "BackOff"`,
        '| stats latest(count) as count, latest(firstTimestamp) as firstTimestamp, latest(lastTimestamp) as lastTimestamp, ' +
          'latest(restartCount) as restarts, latest(restartAt) as nextRestartAt, latest(message) as lastMessage ' +
          'by key, namespace, pod, container',
        '| sort lastTimestamp desc',
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
      // The fields every handler's error lines carry: Powertools' own (the
      // logger is given each invocation's context) and `errorDetails`.
      queryString: [
        `fields @timestamp, ${HANDLER_ERROR_FIELDS.join(', ')}`,
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
