/**
 * An ECS workload crash-looping through the real handlers: `ecs run` over
 * the API, every stopped task an `ECS Task State Change` to the exit handler,
 * every restart a `Container Restart Requested` routed as the stack's rule
 * routes it (target ecs) to the deliver handler, which calls RunTask. The
 * store is a real dynalite, ECS, EventBridge, Scheduler and SQS are mocked at
 * the SDK boundary, and time is a manual clock.
 */
import { createHash } from 'node:crypto';
import { RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { CreateScheduleCommand } from '@aws-sdk/client-scheduler';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyStructuredResultV2, EventBridgeEvent, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHandler as createDeliverHandler } from '../../lambdas/deliver.ts';
import { createHandler as createExitHandler } from '../../lambdas/exit.ts';
import { createHandler as createRestartHandler } from '../../lambdas/restart.ts';
import type { Decision } from '../../lib/core/index.ts';
import { restartPattern } from '../../lib/infra/restart-delivery.ts';
import type { WorkloadView } from '../../lib/api/workloads.ts';
import { createEcsHarness, ecsFixture, stoppedTask, taskArnOf, type EcsHarness } from '../support/ecs.ts';
import { httpEvent, lambdaDeps } from '../support/lambda.ts';
import { assertDocumentedResponse } from '../support/openapi.ts';
import { createHarness, T0, type Harness } from '../support/pipeline.ts';

const RUN_TASK_INPUT = {
  cluster: 'work',
  taskDefinition: 'worker',
  launchType: 'FARGATE',
  networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-0123abcd'], securityGroups: ['sg-0123abcd'], assignPublicIp: 'DISABLED' } },
} as const;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
/** How long each task runs before its container exits 1. */
const RUN_MS = 2_000;

let h: Harness;
let e: EcsHarness;
let exit: ReturnType<typeof createExitHandler>;
let restart: ReturnType<typeof createRestartHandler>;
let deliver: ReturnType<typeof createDeliverHandler>;
let routed = 0;

beforeEach(async () => {
  h = await createHarness();
  h.clock.set(T0);
  e = await createEcsHarness(h);
  const { deps } = lambdaDeps(h, e.lambdaExtra());
  exit = createExitHandler(deps);
  restart = createRestartHandler(deps);
  deliver = createDeliverHandler(deps);
  routed = 0;
});
afterEach(async () => {
  await e.close();
  await h.close();
});

/** A request to the API through the exit handler, its answer checked against the OpenAPI document. */
async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = (await exit(httpEvent(method, path, body === undefined ? {} : { body: JSON.stringify(body) }))) as APIGatewayProxyStructuredResultV2;
  const json = JSON.parse(response.body!) as Record<string, unknown>;
  assertDocumentedResponse(method, path, response.statusCode!, (response.headers as Record<string, string>)['content-type'], json, 'router');
  return { status: response.statusCode!, body: json };
}

async function runWorkload(body: Record<string, unknown> = { runTask: RUN_TASK_INPUT }): Promise<WorkloadView> {
  const response = await api('POST', '/v1/ecs/workloads', body);
  expect(response.status).toBe(201);
  return response.body as unknown as WorkloadView;
}

/** Does a restart detail match the stack's ECS rule (`detail.target = ecs`)? */
function matchesEcsRule(detail: Record<string, unknown>): boolean {
  const pattern = restartPattern({ target: ['ecs'] }) as { detail: { target: string[] } };
  return pattern.detail.target.includes(detail.target as string);
}

/** What EventBridge does with the restart events published so far: the ECS rule invokes the deliver handler. */
async function routeBus(): Promise<unknown[]> {
  const outcomes: unknown[] = [];
  const published = h.restartRequests();
  for (const detail of published.slice(routed)) {
    if (matchesEcsRule(detail)) {
      outcomes.push(await deliver({ version: '0', id: 'e', 'detail-type': 'Container Restart Requested', source: 'restart-scheduler', account: '1', time: '', region: 'us-west-2', resources: [], detail } as EventBridgeEvent<string, unknown>));
    }
  }
  routed = published.length;
  return outcomes;
}

/** The callback the timer was armed with (the fine stage's message, or the schedule's input). */
function armedCallback(): { key: string; restartCount: number; restartAt: number } {
  const messages = h.sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input.MessageBody!);
  const schedules = h.scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input.Target!.Input!);
  return JSON.parse([...messages, ...schedules].at(-1)!);
}

/** A task's STOPPED event goes to the exit handler; a due restart goes out; returns the decision. */
async function taskStops(options: Parameters<typeof stoppedTask>[0]): Promise<Decision | { ignored: string }> {
  const outcome = (await exit(stoppedTask(options))) as { decision: Decision } | { ignored: string };
  if ('ignored' in outcome) return outcome;
  const { decision } = outcome;
  if (decision.decision === 'RestartScheduled') {
    // The timer calls the restart handler back at the instant.
    const callback = armedCallback();
    expect(callback).toEqual({ key: decision.key, restartCount: decision.restartCount, restartAt: decision.restartAt });
    h.clock.set(decision.restartAt!);
    const body = JSON.stringify(callback);
    await restart({ Records: [{ messageId: 'm', receiptHandle: 'r', body, attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: 'arn', awsRegion: 'us-west-2' }] } as unknown as SQSEvent);
  }
  await routeBus();
  return decision;
}

describe('an ECS workload crash-looping through the handlers', () => {
  it('restarts a task that exits 1 every time with RunTask at 0, 10 s, 20 s, 40 s, 80 s, 160 s, 300 s, 300 s after each exit', async () => {
    const workload = await runWorkload();
    expect(workload).toMatchObject({ id: 'worker-0a1b2c3d', namespace: 'ecs', status: 'running', family: 'worker', restartCount: 0, taskArn: taskArnOf(1) });
    const timeline: { exit: string; decision: string; runTask: string; afterExit: string }[] = [];

    for (let run = 0; run < 8; run++) {
      const started = e.runTasks.at(-1)!;
      const stoppedAt = started.at + RUN_MS;
      h.clock.set(stoppedAt);
      const decision = (await taskStops({ taskArn: started.taskArn, startedBy: started.input.startedBy!, startedAt: started.at + 500, stoppedAt })) as Decision;
      const next = e.runTasks.at(-1)!;
      expect(e.runTasks).toHaveLength(run + 2);
      timeline.push({ exit: new Date(stoppedAt).toISOString(), decision: decision.decision, runTask: new Date(next.at).toISOString(), afterExit: `${(next.at - stoppedAt) / 1_000} s` });
    }

    const delays = e.runTasks.slice(1).map((call, index) => call.at - (e.runTasks[index]!.at + RUN_MS));
    expect(delays).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
    // Each RunTask exactly: the stored input, one task, the restart count in startedBy, the restart's id as clientToken.
    const key = `${workload.id}_ecs__worker_3`;
    expect(e.runTasks.map((call) => call.input)).toEqual([
      { ...RUN_TASK_INPUT, count: 1, startedBy: `restart-scheduler/${workload.id}/0`, clientToken: sha256(`${workload.id}#start`) },
      ...Array.from({ length: 8 }, (_, index) => ({
        ...RUN_TASK_INPUT,
        count: 1,
        startedBy: `restart-scheduler/${workload.id}/${index + 1}`,
        clientToken: sha256(`${key}#${T0 + RUN_MS}.${index + 1}`),
      })),
    ]);
    for (const call of e.runTasks) expect(call.input.clientToken).toHaveLength(64);
    const status = (await e.deps.workloads.get(workload.id))!.value;
    expect(status).toMatchObject({ restartCount: 8, taskArn: taskArnOf(9), containerKey: key });
    if (process.env.ECS_CRASH_LOOP_REPORT) console.table(timeline);
  });

  it('decides the same STOPPED event delivered twice once: one restart, one RunTask', async () => {
    const workload = await runWorkload();
    const started = e.runTasks.at(-1)!;
    h.clock.set(started.at + RUN_MS);
    const event = stoppedTask({ taskArn: started.taskArn, startedBy: started.input.startedBy!, startedAt: started.at + 500, stoppedAt: started.at + RUN_MS });
    const first = (await exit(event)) as { decision: Decision };
    await routeBus();
    const again = (await exit(event)) as { decision: Decision };
    // ECS also sends later changes of the stopped task (a higher version): the restart count in startedBy says it is the same run.
    const later = (await exit({ ...event, detail: { ...event.detail, version: 7 } })) as { decision: Decision };
    await routeBus();
    expect([first.decision.decision, again.decision.decision, later.decision.decision]).toEqual(['RestartNow', 'Duplicate', 'Duplicate']);
    expect(e.runTasks.map((call) => call.input.startedBy)).toEqual([`restart-scheduler/${workload.id}/0`, `restart-scheduler/${workload.id}/1`]);
  });

  it('backs a task that failed to start off like a crash, with its reason and exit code 128', async () => {
    await runWorkload();
    const first = e.runTasks.at(-1)!;
    h.clock.set(first.at + RUN_MS);
    await taskStops({ taskArn: first.taskArn, startedBy: first.input.startedBy!, startedAt: first.at + 500, stoppedAt: first.at + RUN_MS });
    const second = e.runTasks.at(-1)!;
    const fixture = ecsFixture('failed-to-start');
    h.clock.set(second.at + 30_000);
    const outcome = (await exit({
      ...fixture,
      time: new Date(h.clock.now()).toISOString(),
      detail: { ...fixture.detail, taskArn: second.taskArn, startedBy: second.input.startedBy, stoppedAt: new Date(h.clock.now()).toISOString() },
    })) as { decision: Decision };
    expect(outcome.decision).toMatchObject({ decision: 'RestartScheduled', delayMs: 10_000, restartCount: 2 });
    const stored = (await h.store.get(outcome.decision.key))!.value;
    expect(stored.lastExit).toMatchObject({ exitCode: 128, reason: expect.stringMatching(/^CannotPullContainerError: /) });
  });

  it('reports an OOM kill as OOMKilled', async () => {
    await runWorkload();
    const started = e.runTasks.at(-1)!;
    h.clock.set(started.at + RUN_MS);
    const decision = (await taskStops({ taskArn: started.taskArn, startedBy: started.input.startedBy!, stoppedAt: started.at + RUN_MS, exitCode: 137, reason: 'OutOfMemoryError: Container killed due to memory usage' })) as Decision;
    expect((await h.store.get(decision.key))!.value.lastExit).toMatchObject({ exitCode: 137, reason: 'OOMKilled' });
  });

  it.each([
    ['a user stopped it (UserInitiated)', 'user-initiated', 'stopped on purpose (UserInitiated)'],
    ['a service scheduler stopped a service task', 'service-task', 'not started by restart-scheduler'],
  ] as const)('never restarts a task when %s', async (_case, fixture, because) => {
    await runWorkload();
    const outcome = await exit(ecsFixture(fixture));
    expect(outcome).toEqual({ ignored: because });
    expect(e.runTasks).toHaveLength(1);
    expect(h.restartRequests()).toEqual([]);
  });

  it('never restarts a task of a service even when its startedBy looks like ours', async () => {
    const workload = await runWorkload();
    const started = e.runTasks.at(-1)!;
    const event = stoppedTask({ taskArn: started.taskArn, startedBy: started.input.startedBy!, stoppedAt: started.at + RUN_MS });
    expect(await exit({ ...event, detail: { ...event.detail, group: 'service:worker' } })).toEqual({ ignored: 'a task of service:worker: its service replaces it' });
    expect(workload.id).toBe('worker-0a1b2c3d');
    expect(e.runTasks).toHaveLength(1);
  });

  it('stops a workload like deleting a pod: StopTask, the back-off forgotten, the waiting restart and later exits start nothing', async () => {
    const workload = await runWorkload();
    // Two crashes: the second restart waits out 10 s.
    let started = e.runTasks.at(-1)!;
    h.clock.set(started.at + RUN_MS);
    await taskStops({ taskArn: started.taskArn, startedBy: started.input.startedBy!, startedAt: started.at + 500, stoppedAt: started.at + RUN_MS });
    started = e.runTasks.at(-1)!;
    h.clock.set(started.at + RUN_MS);
    const waiting = (await exit(stoppedTask({ taskArn: started.taskArn, startedBy: started.input.startedBy!, startedAt: started.at + 500, stoppedAt: started.at + RUN_MS }))) as { decision: Decision };
    expect(waiting.decision.decision).toBe('RestartScheduled');

    const stop = await api('DELETE', `/v1/ecs/workloads/${workload.id}`);
    expect(stop).toMatchObject({ status: 200, body: { id: workload.id, status: 'stopped' } });
    expect(e.ecs.commandCalls(StopTaskCommand).map((call) => call.args[0].input)).toEqual([{ cluster: 'work', task: started.taskArn, reason: 'restart-scheduler ecs stop' }]);
    expect(await h.store.get(waiting.decision.key)).toBeUndefined();

    // The waiting restart's timer fires: nothing to restart.
    h.clock.set(waiting.decision.restartAt!);
    expect(await restart({ key: waiting.decision.key, restartCount: waiting.decision.restartCount, restartAt: waiting.decision.restartAt })).toEqual({ outcome: 'Stale' });
    // The task's own STOPPED event is ignored, and a restart published before the stop is skipped by the target.
    expect(await exit(stoppedTask({ taskArn: started.taskArn, startedBy: started.input.startedBy!, stoppedAt: h.clock.now(), stopCode: 'UserInitiated' }))).toEqual({ ignored: `workload ${workload.id} is stopped` });
    const stale = { ...h.restartRequests().at(-1)!, restartCount: 2, restartId: 'late' };
    expect(await deliver({ 'detail-type': 'Container Restart Requested', detail: stale } as EventBridgeEvent<string, unknown>)).toMatchObject({ outcome: 'Skipped', detail: `workload ${workload.id} is stopped` });
    expect(e.runTasks).toHaveLength(2);
  });

  it('retries RunTask failures[] and throttling with back-off, with the same clientToken, and starts one task', async () => {
    const workload = await runWorkload();
    const started = e.runTasks.at(-1)!;
    let calls = 0;
    const tokens: string[] = [];
    e.ecs.on(RunTaskCommand).callsFake((input) => {
      tokens.push(input.clientToken);
      calls++;
      if (calls === 1) return { tasks: [], failures: [{ reason: 'RESOURCE:MEMORY' }] };
      if (calls === 2) throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException', $retryable: { throttling: true } });
      return { tasks: [{ taskArn: taskArnOf(2) }], failures: [] };
    });
    h.clock.set(started.at + RUN_MS);
    await exit(stoppedTask({ taskArn: started.taskArn, startedBy: started.input.startedBy!, stoppedAt: started.at + RUN_MS }));
    const [outcome] = await routeBus();
    expect(outcome).toEqual({ outcome: 'Delivered', attempts: 3, detail: taskArnOf(2) });
    expect(new Set(tokens).size).toBe(1);
    expect((await e.deps.workloads.get(workload.id))!.value).toMatchObject({ restartCount: 1, taskArn: taskArnOf(2) });
  });

  it('ends a RunTask that keeps failing in RestartFailed: the invocation fails (Lambda retries it), then the dead-lettered delivery is recorded', async () => {
    await runWorkload();
    const started = e.runTasks.at(-1)!;
    e.ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ reason: 'RESOURCE:CPU', detail: 'no container instance met all of its requirements' }] });
    h.clock.set(started.at + RUN_MS);
    await exit(stoppedTask({ taskArn: started.taskArn, startedBy: started.input.startedBy!, stoppedAt: started.at + RUN_MS }));
    await expect(routeBus()).rejects.toThrow('RunTask failed: RESOURCE:CPU (no container instance met all of its requirements)');
    expect(h.records.filter((record) => record.type === 'RestartFailed')).toEqual([]);

    // Lambda's retries fail too; the event lands in the delivery-failure queue, the deliver handler's event source.
    const detail = h.restartRequests().at(-1)!;
    const dead = {
      messageId: 'dlq-1',
      body: JSON.stringify({ 'detail-type': 'Container Restart Requested', source: 'restart-scheduler', detail }),
      messageAttributes: { ErrorCode: { stringValue: '200', dataType: 'String' }, ErrorMessage: { stringValue: 'RunTask failed: RESOURCE:CPU', dataType: 'String' } },
    };
    expect(await deliver({ Records: [dead] } as unknown as SQSEvent)).toEqual({ batchItemFailures: [] });
    expect(h.records.filter((record) => record.type === 'RestartFailed')).toEqual([
      expect.objectContaining({ key: detail.key, restartId: detail.restartId, restartCount: 1, target: 'ecs', reason: '200', message: expect.stringContaining('RunTask failed: RESOURCE:CPU') }),
    ]);
    expect(h.metrics).toContainEqual({ name: 'RestartsFailed', value: 1 });
  });

  it('ends a RunTask that ECS rejects for good in RestartFailed at once', async () => {
    await runWorkload();
    const started = e.runTasks.at(-1)!;
    e.ecs.on(RunTaskCommand).rejects(Object.assign(new Error('No Container Instances were found in your cluster.'), { name: 'InvalidParameterException' }));
    h.clock.set(started.at + RUN_MS);
    await exit(stoppedTask({ taskArn: started.taskArn, startedBy: started.input.startedBy!, stoppedAt: started.at + RUN_MS }));
    const [outcome] = await routeBus();
    expect(outcome).toMatchObject({ outcome: 'Failed', attempts: 1, code: 'InvalidParameterException' });
    expect(h.records.filter((record) => record.type === 'RestartFailed')).toHaveLength(1);
  });
});

describe('the ECS workload routes', () => {
  it('lists workloads with their latest task status from DescribeTasks', async () => {
    const { DescribeTasksCommand } = await import('@aws-sdk/client-ecs');
    e.ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: taskArnOf(1), lastStatus: 'RUNNING' }] });
    const workload = await runWorkload({ namespace: 'batch', runTask: RUN_TASK_INPUT, restartPolicy: 'OnFailure', backoffPolicy: { initialBackoff: '1s' } });
    const response = await api('GET', '/v1/ecs/workloads');
    expect(response.body).toEqual({
      items: [expect.objectContaining({ id: workload.id, namespace: 'batch', status: 'running', lastStatus: 'RUNNING', taskArn: taskArnOf(1), restart: expect.objectContaining({ restartPolicy: 'OnFailure' }) })],
    });
    expect(e.ecs.commandCalls(DescribeTasksCommand).map((call) => call.args[0].input)).toEqual([{ cluster: 'work', tasks: [taskArnOf(1)] }]);
  });

  it.each([
    ['no RunTask input', {}, 'runTask'],
    ['a bad subnet', { runTask: { ...RUN_TASK_INPUT, networkConfiguration: { awsvpcConfiguration: { subnets: ['nope'] } } } }, 'runTask.networkConfiguration.awsvpcConfiguration.subnets.0'],
    ['a launch type and a capacity provider', { runTask: { ...RUN_TASK_INPUT, capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT' }] } }, 'runTask.capacityProviderStrategy'],
    ['an unknown field', { runTask: RUN_TASK_INPUT, tags: {} }, 'tags'],
  ])('rejects a registration with %s (400, nothing started)', async (_case, body, path) => {
    const response = await api('POST', '/v1/ecs/workloads', body);
    expect(response.status).toBe(400);
    expect((response.body.issues as { path: string }[]).map((issue) => issue.path)).toContain(path);
    expect(e.runTasks).toEqual([]);
  });

  it('answers 400 when ECS will not run the task, and leaves the registration stopped', async () => {
    e.ecs.on(RunTaskCommand).rejects(Object.assign(new Error('User is not authorized to perform ecs:RunTask'), { name: 'AccessDeniedException' }));
    const response = await api('POST', '/v1/ecs/workloads', { runTask: RUN_TASK_INPUT });
    expect(response.status).toBe(400);
    expect(response.body.issues).toEqual([{ path: 'runTask', message: expect.stringContaining('AccessDeniedException') }]);
    expect((await e.deps.workloads.list()).items.map((workload) => workload.status)).toEqual(['stopped']);
  });

  it('answers 404 for a workload it does not know', async () => {
    expect((await api('DELETE', '/v1/ecs/workloads/worker-ffffffff')).status).toBe(404);
    expect((await api('GET', '/v1/ecs/workloads/worker-ffffffff')).status).toBe(404);
    expect((await api('GET', '/v1/ecs/workloads/not_an_id')).status).toBe(400);
  });
});
