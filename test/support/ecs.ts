/**
 * ECS under test: the workload table on the harness's dynalite, the ECS API
 * mocked at the SDK boundary (aws-sdk-client-mock), and stopped-task events
 * built from the documentation-shaped fixtures.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { DescribeTaskDefinitionCommand, ECSClient, RunTaskCommand, StopTaskCommand, type RunTaskCommandInput } from '@aws-sdk/client-ecs';
import type { EventBridgeEvent } from 'aws-lambda';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { SdkEcsTasks } from '../../lib/adapters/ecs/tasks.ts';
import { DynamoWorkloadStore, workloadTableInput } from '../../lib/adapters/ecs/workload-store.ts';
import type { LambdaDeps } from '../../lambdas/wiring.ts';
import { restartWorkloadTask, type EcsDeps } from '../../lib/services/ecs-workloads.ts';
import { acquireDynalite, releaseDynalite, type Harness } from './pipeline.ts';

export type EcsFixture = 'exit-1' | 'oom' | 'failed-to-start' | 'user-initiated' | 'service-task';

/** One fixture event, parsed afresh (tests may change it). */
export function ecsFixture(name: EcsFixture): EventBridgeEvent<'ECS Task State Change', Record<string, unknown>> {
  return JSON.parse(readFileSync(new URL(`../fixtures/ecs/${name}.json`, import.meta.url), 'utf8'));
}

export const CLUSTER_ARN = 'arn:aws:ecs:us-west-2:111122223333:cluster/work';
export const TASK_DEFINITION_ARN = 'arn:aws:ecs:us-west-2:111122223333:task-definition/worker:3';

/** A task of the `exit-1` fixture's shape, stopped as told. */
export function stoppedTask(options: {
  taskArn: string;
  startedBy: string;
  startedAt?: number;
  stoppedAt: number;
  exitCode?: number;
  reason?: string;
  version?: number;
  stopCode?: string;
  taskDefinitionArn?: string;
}): EventBridgeEvent<'ECS Task State Change', Record<string, unknown>> {
  const event = ecsFixture('exit-1');
  const detail = event.detail as Record<string, unknown> & { containers: Record<string, unknown>[] };
  const iso = (ms: number) => new Date(ms).toISOString();
  const container = { ...detail.containers[0]!, taskArn: options.taskArn, exitCode: options.exitCode ?? 1, ...(options.reason ? { reason: options.reason } : {}) };
  return {
    ...event,
    id: randomUUID(),
    time: iso(options.stoppedAt),
    resources: [options.taskArn],
    detail: {
      ...detail,
      taskArn: options.taskArn,
      startedBy: options.startedBy,
      taskDefinitionArn: options.taskDefinitionArn ?? TASK_DEFINITION_ARN,
      containers: [container],
      ...(options.startedAt !== undefined ? { startedAt: iso(options.startedAt) } : {}),
      stoppingAt: iso(options.stoppedAt - 200),
      executionStoppedAt: iso(options.stoppedAt - 100),
      stoppedAt: iso(options.stoppedAt),
      version: options.version ?? 5,
      stopCode: options.stopCode ?? 'EssentialContainerExited',
    },
  };
}

export interface EcsHarness {
  readonly deps: EcsDeps;
  readonly ecs: AwsClientStub<ECSClient>;
  /** The mocked client itself, for a runtime to be given. */
  readonly client: ECSClient;
  readonly tableName: string;
  /** RunTask inputs in order, with the harness clock's time of each call. */
  readonly runTasks: { readonly at: number; readonly input: RunTaskCommandInput; readonly taskArn: string }[];
  /** What the Lambda handlers need for ECS: the ECS deps and the deliver handler's targets. */
  lambdaExtra(): Pick<LambdaDeps, 'ecs' | 'delivery'>;
  close(): Promise<void>;
}

/** Task ids RunTask hands out: the 32 hex digits of a counter. */
export function taskArnOf(n: number): string {
  return `arn:aws:ecs:us-west-2:111122223333:task/work/${n.toString(16).padStart(32, '0')}`;
}

/**
 * ECS on a pipeline harness. RunTask starts a task per new clientToken (a
 * repeated token answers with the same task, as ECS does); DescribeTaskDefinition
 * describes `worker:3` with an essential `worker` and a non-essential `log-router`.
 */
export async function createEcsHarness(h: Harness): Promise<EcsHarness> {
  const local = await acquireDynalite();
  const tableName = `workloads-${randomUUID()}`;
  await ensureTable(local.client, tableName, workloadTableInput(tableName));
  const client = new ECSClient({ region: 'us-west-2' });
  const ecs = mockClient(client);
  const runTasks: EcsHarness['runTasks'][number][] = [];
  const byToken = new Map<string, string>();
  ecs.on(DescribeTaskDefinitionCommand).resolves({
    taskDefinition: { family: 'worker', revision: 3, containerDefinitions: [{ name: 'worker', essential: true }, { name: 'log-router', essential: false }] },
  });
  ecs.on(RunTaskCommand).callsFake((input: RunTaskCommandInput) => {
    const known = byToken.get(input.clientToken!);
    const taskArn = known ?? taskArnOf(byToken.size + 1);
    if (!known) byToken.set(input.clientToken!, taskArn);
    runTasks.push({ at: h.clock.now(), input, taskArn });
    return { tasks: [{ taskArn, lastStatus: 'PROVISIONING', startedBy: input.startedBy }], failures: [] };
  });
  ecs.on(StopTaskCommand).resolves({ task: { lastStatus: 'STOPPED' } });
  const deps: EcsDeps = {
    workloads: new DynamoWorkloadStore({ client: local.client, tableName }),
    tasks: new SdkEcsTasks(client),
    clock: h.clock,
    random: () => 0x0a1b2c3d / 0x1_0000_0000,
    log: h.deps.log,
    sleep: h.deps.sleep!,
  };
  return {
    deps,
    ecs,
    client,
    tableName,
    runTasks,
    lambdaExtra: () => ({
      ecs: deps,
      delivery: { targets: { ecs: { deliver: (request) => restartWorkloadTask(deps, request) } }, sink: h.deps.sink, clock: h.clock, log: h.deps.log, sleep: h.deps.sleep! },
    }),
    close: async () => {
      ecs.restore();
      await releaseDynalite();
    },
  };
}
