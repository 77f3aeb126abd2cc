/**
 * `restart-scheduler status`: the containers the service knows, as a table
 * like `kubectl get pods`, or the raw `ContainerView` array with `--json`.
 */
import { Option, type Command } from 'commander';
import type { ContainerView } from '../api/views.ts';
import { readAllPages } from '../client/client.ts';
import { byName, statusCells } from '../client/format.ts';
import { CONTAINER_PHASES } from '../core/index.ts';
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
    const containers = await callApi(connection, () =>
      readAllPages((cursor) =>
        connection.client.listContainers({
          ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
          ...(flags.state !== undefined ? { state: flags.state } : {}),
          ...(cursor !== undefined ? { cursor } : {}),
        }),
      ),
    );
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
  const sorted = [...containers].sort(byName);
  const headers: string[] = [...STATUS_COLUMNS, ...(options.wide ? ['KEY', 'MESSAGE'] : [])];
  return formatTable(
    headers,
    sorted.map((view) => {
      const cells = statusCells(view, now);
      return [
        view.namespace,
        view.pod,
        view.container,
        cells.state,
        cells.restarts,
        cells.lastExit,
        cells.backoff,
        cells.nextRestart,
        cells.age,
        ...(options.wide ? [view.key, view.message ?? ''] : []),
      ];
    }),
  );
}
