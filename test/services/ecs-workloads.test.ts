import { RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RestartRequest } from '../../lib/ports.ts';
import { registerWorkload, restartWorkloadTask, stopWorkload } from '../../lib/services/ecs-workloads.ts';
import { createEcsHarness, taskArnOf, type EcsHarness } from '../support/ecs.ts';
import { createHarness, type Harness } from '../support/pipeline.ts';

let h: Harness;
let e: EcsHarness;
beforeEach(async () => {
  h = await createHarness();
  e = await createEcsHarness(h);
});
afterEach(async () => {
  await e.close();
  await h.close();
});

const registration = { namespace: 'ecs', runTask: { cluster: 'work', taskDefinition: 'worker' }, exit: {} };
const restartOf = (id: string, restartCount: number): RestartRequest => ({
  restartId: `${id}_ecs__worker_3#1.${restartCount}`,
  key: `${id}_ecs__worker_3`,
  namespace: 'ecs',
  pod: id,
  podUid: null,
  container: 'worker',
  containerHash: '3',
  restartCount,
  restartAt: new Date(h.clock.now()).toISOString(),
  firedAt: new Date(h.clock.now()).toISOString(),
  recovered: false,
  target: 'ecs',
});

describe('registerWorkload', () => {
  it('describes the task definition, records its essential containers, and starts restart 0', async () => {
    const workload = await registerWorkload(e.deps, registration);
    expect(workload).toMatchObject({ id: 'worker-0a1b2c3d', family: 'worker', essentialContainers: ['worker'], status: 'running', restartCount: 0, taskArn: taskArnOf(1) });
    expect(e.runTasks.map((call) => call.input.startedBy)).toEqual(['restart-scheduler/worker-0a1b2c3d/0']);
  });

  it('picks another id when one is taken', async () => {
    const first = await registerWorkload(e.deps, registration);
    let draws = 0;
    const second = await registerWorkload({ ...e.deps, random: () => (draws++ === 0 ? 0x0a1b2c3d / 0x1_0000_0000 : 0.5) }, registration);
    expect([first.id, second.id]).toEqual(['worker-0a1b2c3d', 'worker-80000000']);
  });
});

describe('restartWorkloadTask', () => {
  it('stops the task it started when the workload was stopped in between', async () => {
    const workload = await registerWorkload(e.deps, registration);
    // `ecs stop` lands while RunTask is in flight.
    e.ecs.on(RunTaskCommand).callsFake(async () => {
      await stopWorkload({ ...e.deps, service: h.deps }, workload.id);
      return { tasks: [{ taskArn: taskArnOf(2) }] };
    });
    expect(await restartWorkloadTask(e.deps, restartOf(workload.id, 1))).toEqual({ status: 'skipped', detail: `workload ${workload.id} was stopped while ${taskArnOf(2)} started; stopped it` });
    expect(e.ecs.commandCalls(StopTaskCommand).map((call) => call.args[0].input.task)).toEqual([taskArnOf(1), taskArnOf(2)]);
  });

  it('keeps the newer task on record when an older restart is delivered again late', async () => {
    const workload = await registerWorkload(e.deps, registration);
    await restartWorkloadTask(e.deps, restartOf(workload.id, 2));
    // The late repeat carries its own clientToken: ECS answers with its task, nothing new is recorded.
    expect(await restartWorkloadTask(e.deps, restartOf(workload.id, 1))).toMatchObject({ status: 'delivered' });
    expect((await e.deps.workloads.get(workload.id))!.value).toMatchObject({ restartCount: 2, taskArn: taskArnOf(2) });
  });

  it('starts one task for a restart delivered twice (the same clientToken)', async () => {
    const workload = await registerWorkload(e.deps, registration);
    const once = await restartWorkloadTask(e.deps, restartOf(workload.id, 1));
    const twice = await restartWorkloadTask(e.deps, restartOf(workload.id, 1));
    expect(once).toEqual(twice);
    expect(new Set(e.runTasks.slice(1).map((call) => call.taskArn))).toEqual(new Set([taskArnOf(2)]));
  });

  it('skips a workload it does not know', async () => {
    expect(await restartWorkloadTask(e.deps, restartOf('gone-1', 1))).toEqual({ status: 'skipped', detail: 'no workload gone-1' });
    expect(e.runTasks).toEqual([]);
  });
});

describe('stopWorkload', () => {
  it('is harmless twice, and answers undefined for an unknown workload', async () => {
    const workload = await registerWorkload(e.deps, registration);
    const deps = { ...e.deps, service: h.deps };
    expect(await stopWorkload(deps, workload.id)).toMatchObject({ status: 'stopped' });
    expect(await stopWorkload(deps, workload.id)).toMatchObject({ status: 'stopped' });
    expect(e.ecs.commandCalls(StopTaskCommand)).toHaveLength(1);
    expect(await stopWorkload(deps, 'nope-1')).toBeUndefined();
  });
});
