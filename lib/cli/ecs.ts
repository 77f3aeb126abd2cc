/**
 * `restart-scheduler ecs run | list | stop`: ECS tasks that the service
 * starts and restarts itself, with kubelet's back-off, and nothing to change
 * in the workload. `run` registers a task's RunTask input and starts it
 * (`startedBy = restart-scheduler/<id>/0`); each time a task stops, the
 * deployment's ECS rule reports the exit and the restart is the same RunTask,
 * when its back-off says so. `stop` is deleting a pod: the task is stopped and
 * never started again.
 */
import { Option, type Command } from 'commander';
import type { WorkloadView } from '../api/workloads.ts';
import { addConnectionOptions, callApi, connect, type ConnectionFlags } from './connection.ts';
import { flagParser, UsageError } from './errors.ts';
import { addRestartOptions, restartFields, type RestartFlags } from './exit.ts';
import type { CliIo } from './io.ts';
import { readAllPages } from '../client/client.ts';
import { compareStrings, humanDuration } from '../client/format.ts';
import { formatTable } from './table.ts';

interface RunFlags extends ConnectionFlags, RestartFlags {
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly subnets?: string[];
  readonly securityGroups?: string[];
  readonly assignPublicIp?: boolean;
  readonly launchType?: 'FARGATE' | 'EC2' | 'EXTERNAL';
  readonly capacityProvider?: string;
  readonly platformVersion?: string;
  readonly namespace?: string;
  readonly json?: boolean;
}

interface ListFlags extends ConnectionFlags {
  readonly json?: boolean;
}

export const WORKLOAD_COLUMNS = ['ID', 'NAMESPACE', 'STATUS', 'TASK', 'RESTARTS', 'TASK DEFINITION', 'CLUSTER', 'AGE'] as const;

export function registerEcs(program: Command, io: CliIo): void {
  const ecs = program.command('ecs').description('ECS tasks the service starts and restarts itself, with kubelet back-off');

  const run = ecs
    .command('run')
    .description('register a task (its RunTask input), start it, and print its workload id')
    .requiredOption('--cluster <cluster>', 'cluster name or ARN')
    .requiredOption('--task-definition <definition>', 'family (its latest revision at every restart), family:revision, or ARN')
    .option('--subnets <ids>', 'awsvpc subnets, comma-separated', flagParser('--subnets', parseList))
    .option('--security-groups <ids>', 'awsvpc security groups, comma-separated', flagParser('--security-groups', parseList))
    .option('--assign-public-ip', 'give the task a public IP (awsvpc)')
    .addOption(new Option('--launch-type <type>', 'launch type').choices(['FARGATE', 'EC2', 'EXTERNAL']))
    .option('--capacity-provider <name>', 'run on this capacity provider instead of a launch type')
    .option('--platform-version <version>', 'Fargate platform version (default LATEST)')
    .option('--namespace <namespace>', 'namespace of its exits and restarts (default: ecs)');
  addRestartOptions(run);
  run.option('--json', 'print the workload as JSON');
  addConnectionOptions(run).action(async (flags: RunFlags) => {
    if (flags.launchType && flags.capacityProvider) throw new UsageError('--launch-type and --capacity-provider exclude each other (RunTask takes one)');
    if ((flags.securityGroups || flags.assignPublicIp) && !flags.subnets) throw new UsageError('--security-groups and --assign-public-ip need --subnets (awsvpc networking)');
    const connection = connect(flags);
    const view = await callApi(connection, () => connection.client.runEcsWorkload(registrationOf(flags)));
    if (flags.json) {
      io.out(JSON.stringify(view, null, 2));
      return;
    }
    // The id alone on stdout, so that `ID=$(restart-scheduler ecs run …)` works.
    io.out(view.id);
    io.err(`started ${view.id} in namespace ${view.namespace}: ${view.taskArn ?? 'no task'}; its restarts follow the back-off (restart-scheduler status --namespace ${view.namespace})`);
  });

  const list = ecs.command('list').description('the registered workloads and the state of their latest task').option('--json', 'print the workloads as JSON');
  addConnectionOptions(list).action(async (flags: ListFlags) => {
    const connection = connect(flags);
    const workloads = await callApi(connection, () => readAllPages((cursor) => connection.client.listEcsWorkloads(cursor)));
    if (flags.json) io.out(JSON.stringify(workloads, null, 2));
    else if (workloads.length === 0) io.err('No ECS workloads. Start one with `restart-scheduler ecs run --cluster … --task-definition …`.');
    else io.out(renderWorkloads(workloads, Date.now()));
  });

  const stop = ecs.command('stop').description('stop a workload for good: its task is stopped and never restarted (like deleting a pod)').argument('<id>', 'the workload id');
  addConnectionOptions(stop).action(async (id: string, flags: ConnectionFlags) => {
    const connection = connect(flags);
    const view = await callApi(connection, () => connection.client.stopEcsWorkload(id));
    if (!view) throw new Error(`no workload ${id} (restart-scheduler ecs list shows them)`);
    io.out(`stopped ${view.id}${view.taskArn ? ` (task ${view.taskArn})` : ''}: it will not be restarted`);
  });
}

/** The registration the flags describe, in the shape `POST /v1/ecs/workloads` takes. */
export function registrationOf(flags: RunFlags): Record<string, unknown> {
  return {
    ...(flags.namespace !== undefined ? { namespace: flags.namespace } : {}),
    runTask: {
      cluster: flags.cluster,
      taskDefinition: flags.taskDefinition,
      ...(flags.launchType ? { launchType: flags.launchType } : {}),
      ...(flags.capacityProvider ? { capacityProviderStrategy: [{ capacityProvider: flags.capacityProvider }] } : {}),
      ...(flags.subnets
        ? {
            networkConfiguration: {
              awsvpcConfiguration: {
                subnets: flags.subnets,
                ...(flags.securityGroups ? { securityGroups: flags.securityGroups } : {}),
                assignPublicIp: flags.assignPublicIp ? 'ENABLED' : 'DISABLED',
              },
            },
          }
        : {}),
      ...(flags.platformVersion ? { platformVersion: flags.platformVersion } : {}),
    },
    ...restartFields(flags),
  };
}

export function renderWorkloads(workloads: readonly WorkloadView[], now: number): string {
  return formatTable(
    WORKLOAD_COLUMNS,
    [...workloads]
      .sort((a, b) => compareStrings(a.id, b.id))
      .map((view) => [
        view.id,
        view.namespace,
        view.status === 'stopped' ? 'Stopped' : 'Running',
        view.lastStatus ?? (view.taskArn ? 'unknown' : '-'),
        String(view.restartCount),
        view.taskDefinition,
        view.cluster,
        humanDuration(now - Date.parse(view.createdAt)),
      ]),
  );
}

function parseList(value: string): string[] {
  const items = value.split(',').map((item) => item.trim()).filter(Boolean);
  if (items.length === 0) throw new Error('expected a comma-separated list');
  return items;
}
