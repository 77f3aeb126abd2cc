/**
 * ECS workloads in the local runtime: there is no local ECS, so the runtime
 * calls ECS through the SDK at the endpoint it is given; here the SDK is
 * mocked (aws-sdk-client-mock). The CLI registers, lists and stops a
 * workload over HTTP; a restart of the workload is a RunTask.
 */
import { DescribeTasksCommand, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RestartSchedulerClient } from '../../lib/client/client.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { cli } from '../support/cli.ts';
import { createEcsHarness, type EcsHarness } from '../support/ecs.ts';
import { createHarness, type Harness } from '../support/pipeline.ts';

let h: Harness;
let e: EcsHarness;
let runtime: LocalRuntime;
beforeEach(async () => {
  // The harness gives the mocked ECS client (and its RunTask log); the runtime is real, in memory.
  h = await createHarness();
  e = await createEcsHarness(h);
  const client = e.client;
  runtime = await startLocalRuntime({ port: 0, inMemory: true, ecs: { client }, log: { warn: () => undefined, error: () => undefined } });
});
afterEach(async () => {
  await runtime.close();
  await e.close();
  await h.close();
});

describe('ECS workloads in the local runtime', () => {
  it('registers with `ecs run`, restarts the workload with RunTask when it exits, lists and stops it', async () => {
    const run = await cli('ecs', 'run', '--endpoint', runtime.url, '--cluster', 'work', '--task-definition', 'worker', '--launch-type', 'FARGATE', '--subnets', 'subnet-01,subnet-02', '--security-groups', 'sg-01', '--initial-backoff', '1s');
    expect(run).toMatchObject({ code: 0, out: expect.stringMatching(/^worker-[0-9a-f]{8}$/) });
    const id = run.out;
    expect(e.ecs.commandCalls(RunTaskCommand)[0]!.args[0].input).toMatchObject({
      cluster: 'work',
      taskDefinition: 'worker',
      launchType: 'FARGATE',
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-01', 'subnet-02'], securityGroups: ['sg-01'], assignPublicIp: 'DISABLED' } },
      startedBy: `restart-scheduler/${id}/0`,
    });

    // Its exit, as the ECS mapping would report it: the restart goes to ECS.
    const client = new RestartSchedulerClient({ endpoint: runtime.url });
    const decision = await client.postExit({ namespace: 'ecs', pod: id, container: 'worker', containerHash: '3', exitCode: 1, finishedAt: Date.now(), restartCount: 0, restartTarget: 'ecs' });
    expect(decision.decision).toBe('RestartNow');
    await runtime.deliveries.settled();
    await expect.poll(() => e.ecs.commandCalls(RunTaskCommand).length).toBe(2);
    expect(e.ecs.commandCalls(RunTaskCommand)[1]!.args[0].input.startedBy).toBe(`restart-scheduler/${id}/1`);
    expect(runtime.deliveries.outcome(decision.restartId!)).toMatchObject({ outcome: 'Delivered', attempts: 1 });

    e.ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: e.runTasks.at(-1)!.taskArn, lastStatus: 'RUNNING' }] });
    const list = await cli('ecs', 'list', '--endpoint', runtime.url);
    expect(list.out.split('\n')).toEqual([
      expect.stringMatching(/^ID\s+NAMESPACE\s+STATUS\s+TASK\s+RESTARTS\s+TASK DEFINITION\s+CLUSTER\s+AGE$/),
      expect.stringMatching(new RegExp(`^${id}\\s+ecs\\s+Running\\s+RUNNING\\s+1\\s+worker\\s+work\\s+\\d+s$`)),
    ]);

    const stop = await cli('ecs', 'stop', id, '--endpoint', runtime.url);
    expect(stop).toMatchObject({ code: 0, out: expect.stringContaining(`stopped ${id}`) });
    expect(e.ecs.commandCalls(StopTaskCommand)).toHaveLength(1);
    expect(await cli('ecs', 'stop', 'worker-ffffffff', '--endpoint', runtime.url)).toMatchObject({ code: 1, err: expect.stringContaining('no workload worker-ffffffff') });
  });

  it('refuses flags that exclude each other before calling anything', async () => {
    expect(await cli('ecs', 'run', '--endpoint', runtime.url, '--cluster', 'work', '--task-definition', 'worker', '--launch-type', 'FARGATE', '--capacity-provider', 'FARGATE_SPOT')).toMatchObject({
      code: 2,
      err: expect.stringContaining('--launch-type and --capacity-provider exclude each other'),
    });
    expect(e.runTasks).toEqual([]);
  });
});

describe('a local runtime without ECS', () => {
  it('answers the ECS routes with 404, saying how to enable them', async () => {
    const plain = await startLocalRuntime({ port: 0, inMemory: true });
    try {
      const run = await cli('ecs', 'list', '--endpoint', plain.url);
      expect(run).toMatchObject({ code: 1, err: expect.stringContaining('--ecs-endpoint') });
    } finally {
      await plain.close();
    }
  });
});
