import { createHash } from 'node:crypto';
import { DescribeTaskDefinitionCommand, DescribeTasksCommand, ECSClient, RunTaskCommand, StopTaskCommand } from '@aws-sdk/client-ecs';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { clientTokenOf, SdkEcsTasks } from '../../lib/adapters/ecs/tasks.ts';
import { DeliveryError } from '../../lib/ports.ts';

const client = new ECSClient({ region: 'us-west-2' });
const ecs = mockClient(client);
const tasks = new SdkEcsTasks(client);
afterEach(() => ecs.reset());

const launch = { idempotencyKey: 'web-0_default__app_#1767268800000.3', startedBy: 'restart-scheduler/worker-0a1b2c3d/3' };

describe('SdkEcsTasks.runTask', () => {
  it('sends the stored input for one task, with startedBy and the clientToken of the idempotency key', async () => {
    ecs.on(RunTaskCommand).resolves({ tasks: [{ taskArn: 'arn:task/1' }], failures: [] });
    const input = {
      cluster: 'work',
      taskDefinition: 'worker:3',
      capacityProviderStrategy: [{ capacityProvider: 'FARGATE_SPOT', weight: 1 }],
      networkConfiguration: { awsvpcConfiguration: { subnets: ['subnet-1'], assignPublicIp: 'ENABLED' as const } },
      platformVersion: '1.4.0',
    };
    expect(await tasks.runTask(input, launch)).toBe('arn:task/1');
    expect(ecs.commandCalls(RunTaskCommand).map((call) => call.args[0].input)).toEqual([
      { ...input, count: 1, startedBy: launch.startedBy, clientToken: createHash('sha256').update(launch.idempotencyKey).digest('hex') },
    ]);
  });

  it('derives a clientToken ECS accepts: 64 characters of ASCII 33–126, the same for the same key', () => {
    const token = clientTokenOf(launch.idempotencyKey);
    expect(token).toMatch(/^[\x21-\x7E]{64}$/);
    expect(clientTokenOf(launch.idempotencyKey)).toBe(token);
    expect(clientTokenOf(`${launch.idempotencyKey}x`)).not.toBe(token);
  });

  it.each([
    ['RESOURCE:MEMORY', true],
    ['RESOURCE:CPU', true],
    ['AGENT', true],
    ['Capacity is unavailable at this time. Please try again later or in a different availability zone', true],
    ['MISSING', false],
    ['ATTRIBUTE', false],
  ])('reads failures[] %s as retryable: %s', async (reason, retryable) => {
    ecs.on(RunTaskCommand).resolves({ tasks: [], failures: [{ arn: 'arn:cluster/work', reason }] });
    await expect(tasks.runTask({ cluster: 'work', taskDefinition: 'worker' }, launch)).rejects.toMatchObject({ name: 'DeliveryError', retryable, code: reason });
  });

  it.each([
    ['ThrottlingException', true],
    ['ServerException', true],
    ['InvalidParameterException', false],
    ['AccessDeniedException', false],
    ['ClusterNotFoundException', false],
  ])('reads %s as retryable: %s', async (name, retryable) => {
    ecs.on(RunTaskCommand).rejects(Object.assign(new Error('no'), { name }));
    const error = await tasks.runTask({ cluster: 'work', taskDefinition: 'worker' }, launch).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeliveryError);
    expect(error).toMatchObject({ retryable, code: name, message: `ECS ${name}: no` });
  });
});

describe('SdkEcsTasks', () => {
  it('describes a task definition: containers are essential unless they say otherwise', async () => {
    ecs.on(DescribeTaskDefinitionCommand).resolves({ taskDefinition: { family: 'worker', revision: 7, containerDefinitions: [{ name: 'app' }, { name: 'sidecar', essential: false }, { name: 'init', essential: true }] } });
    expect(await tasks.describeTaskDefinition('worker')).toEqual({ family: 'worker', revision: 7, essentialContainers: ['app', 'init'] });
    expect(ecs.commandCalls(DescribeTaskDefinitionCommand)[0]!.args[0].input).toEqual({ taskDefinition: 'worker' });
  });

  it('stops a task with its reason, and describes tasks', async () => {
    ecs.on(StopTaskCommand).resolves({});
    ecs.on(DescribeTasksCommand).resolves({ tasks: [{ taskArn: 'arn:task/1', lastStatus: 'STOPPED', stopCode: 'UserInitiated' }], failures: [{ arn: 'arn:task/2', reason: 'MISSING' }] });
    await tasks.stopTask('work', 'arn:task/1', 'why');
    expect(ecs.commandCalls(StopTaskCommand)[0]!.args[0].input).toEqual({ cluster: 'work', task: 'arn:task/1', reason: 'why' });
    expect(await tasks.describeTasks('work', ['arn:task/1', 'arn:task/2'])).toEqual([{ taskArn: 'arn:task/1', lastStatus: 'STOPPED', stopCode: 'UserInitiated' }]);
    expect(await tasks.describeTasks('work', [])).toEqual([]);
  });
});
