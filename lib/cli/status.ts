/**
 * `restart-scheduler status`: the containers the service knows, as a table
 * like `kubectl get pods`, or the raw `ContainerView` array with `--json`.
 */
import { Option, type Command } from 'commander';
import type { ContainerView } from '../api/views.ts';
import { CONTAINER_PHASES, formatDuration } from '../core/index.ts';
import { addConnectionOptions, callApi, connect, type ConnectionFlags } from './connection.ts';
import type { CliIo } from './io.ts';
import { formatTable } from './table.ts';

interface StatusFlags extends ConnectionFlags {
  readonly namespace?: string;
  readonly state?: string;
  readonly wide?: boolean;
  readonly json?: boolean;
}

export const STATUS_COLUMNS = ['NAMESPACE', 'POD', 'CONTAINER', 'STATE', 'RESTARTS', 'LAST EXIT', 'BACKOFF', 'NEXT RESTART', 'AGE'] as const;

export function registerStatus(program: Command, io: CliIo): void {
  const command = program
    .command('status')
    .description('list containers: state, restarts, last exit, back-off and next restart (like kubectl get pods)')
    .option('--namespace <namespace>', 'only this namespace')
    .addOption(new Option('--state <state>', 'only containers in this state').choices(CONTAINER_PHASES))
    .option('--wide', 'add the container key and the status message')
    .option('--json', 'print the ContainerView array as JSON');
  addConnectionOptions(command).action(async (flags: StatusFlags) => {
    const connection = connect(flags);
    const containers = await callApi(connection, async () => {
      const all: ContainerView[] = [];
      let cursor: string | undefined;
      do {
        const page = await connection.client.listContainers({
          ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
          ...(flags.state !== undefined ? { state: flags.state } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
        });
        all.push(...page.items);
        cursor = page.cursor;
      } while (cursor);
      return all;
    });
    if (flags.json) {
      io.out(JSON.stringify(containers, null, 2));
      return;
    }
    if (containers.length === 0) {
      io.err(`No containers found${flags.namespace ? ` in namespace ${flags.namespace}` : ''}${flags.state ? ` in state ${flags.state}` : ''}.`);
      return;
    }
    io.out(renderStatus(containers, Date.now(), { wide: flags.wide === true }));
  });
}

/** The status table, sorted by namespace, pod and container. */
export function renderStatus(containers: readonly ContainerView[], now: number, options: { wide?: boolean } = {}): string {
  const sorted = [...containers].sort((a, b) => compare(a.namespace, b.namespace) || compare(a.pod, b.pod) || compare(a.container, b.container) || compare(a.key, b.key));
  const headers: string[] = [...STATUS_COLUMNS, ...(options.wide ? ['KEY', 'MESSAGE'] : [])];
  return formatTable(
    headers,
    sorted.map((view) => [
      view.namespace,
      view.pod,
      view.container,
      view.state === 'Terminated' && view.reason ? `Terminated (${view.reason})` : view.state,
      view.lastRestartAt ? `${view.restartCount} (${humanDuration(now - Date.parse(view.lastRestartAt))} ago)` : String(view.restartCount),
      view.lastExit ? `${view.lastExit.reason ?? (view.lastExit.exitCode === 0 ? 'Completed' : 'Error')} (${view.lastExit.exitCode}) ${humanDuration(now - Date.parse(view.lastExit.finishedAt))} ago` : '-',
      view.backoffMs > 0 ? formatDuration(view.backoffMs) : '-',
      view.nextRestartAt ? countdown(Date.parse(view.nextRestartAt) - now) : '-',
      humanDuration(now - Date.parse(view.createdAt)),
      ...(options.wide ? [view.key, view.message ?? ''] : []),
    ]),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * kubectl's age format (apimachinery `duration.HumanDuration`): `45s`,
 * `3m2s`, `15m`, `120m`, `3h`, `7h30m`, `20h`, `5d`, `3d4h`, `2y`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1_000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(seconds / 3_600);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    return days === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/**
 * Time until an instant: `in 400ms`, `in 8s`, `in 4m10s`; `now` once it is
 * due. Under a minute it rounds up, so a countdown never reads "in 0s"
 * while something is still pending.
 */
export function countdown(ms: number): string {
  if (ms <= 0) return 'now';
  if (ms < 1_000) return `in ${Math.ceil(ms)}ms`;
  if (ms < 10_000) return `in ${formatDuration(Math.ceil(ms / 100) * 100)}`;
  if (ms < 120_000) return `in ${Math.ceil(ms / 1_000)}s`;
  return `in ${humanDuration(ms)}`;
}
