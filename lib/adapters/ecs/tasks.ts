/**
 * `EcsTasks` on the ECS API (the AWS SDK client, pointed at AWS or at any
 * endpoint the local runtime is given). Every failure becomes a
 * `DeliveryError` that says whether retrying can help: throttling, server
 * errors and a lack of capacity can; a bad parameter or a missing permission
 * cannot.
 */
import { createHash } from 'node:crypto';
import {
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  RunTaskCommand,
  StopTaskCommand,
  type ECSClient,
  type Failure,
  type RunTaskCommandInput,
} from '@aws-sdk/client-ecs';
import { isTransientError } from '../../transient.ts';
import { DeliveryError, type EcsRunTaskInput, type EcsTaskDefinition, type EcsTasks, type EcsTaskStatus } from '../../ports.ts';

/**
 * The RunTask `clientToken` for an idempotency key (a restart's `restartId`):
 * its SHA-256 in hex, 64 characters, ECS's limit (ASCII 33–126).
 * Deterministic, so a repeated delivery of one restart launches one task.
 */
export function clientTokenOf(idempotencyKey: string): string {
  return createHash('sha256').update(idempotencyKey).digest('hex');
}

/**
 * `failures[]` reasons of RunTask that mean "not now" (no room on the
 * cluster, an agent disconnected, no Fargate capacity) rather than "never"
 * (`MISSING`, `ATTRIBUTE`, `LOCATION`: the request names something that does not fit).
 */
function retryableFailure(failure: Failure): boolean {
  const reason = failure.reason ?? '';
  return reason.startsWith('RESOURCE') || reason === 'AGENT' || /capacity/i.test(reason);
}

export class SdkEcsTasks implements EcsTasks {
  constructor(private readonly client: ECSClient) {}

  async describeTaskDefinition(taskDefinition: string): Promise<EcsTaskDefinition> {
    const response = await this.call(() => this.client.send(new DescribeTaskDefinitionCommand({ taskDefinition })));
    const definition = response.taskDefinition;
    if (!definition?.family || definition.revision === undefined) throw new DeliveryError(`ECS described no task definition ${taskDefinition}`, false, 'MISSING');
    return {
      family: definition.family,
      revision: definition.revision,
      // `essential` defaults to true in a container definition.
      essentialContainers: (definition.containerDefinitions ?? []).filter((container) => container.essential !== false && container.name).map((container) => container.name!),
    };
  }

  async runTask(input: EcsRunTaskInput, launch: { readonly idempotencyKey: string; readonly startedBy: string }): Promise<string> {
    const request: RunTaskCommandInput = {
      cluster: input.cluster,
      taskDefinition: input.taskDefinition,
      count: 1,
      startedBy: launch.startedBy,
      clientToken: clientTokenOf(launch.idempotencyKey),
      ...(input.launchType ? { launchType: input.launchType } : {}),
      ...(input.capacityProviderStrategy ? { capacityProviderStrategy: input.capacityProviderStrategy.map((item) => ({ ...item })) } : {}),
      ...(input.networkConfiguration
        ? {
            networkConfiguration: {
              awsvpcConfiguration: {
                subnets: [...input.networkConfiguration.awsvpcConfiguration.subnets],
                ...(input.networkConfiguration.awsvpcConfiguration.securityGroups
                  ? { securityGroups: [...input.networkConfiguration.awsvpcConfiguration.securityGroups] }
                  : {}),
                ...(input.networkConfiguration.awsvpcConfiguration.assignPublicIp
                  ? { assignPublicIp: input.networkConfiguration.awsvpcConfiguration.assignPublicIp }
                  : {}),
              },
            },
          }
        : {}),
      ...(input.platformVersion ? { platformVersion: input.platformVersion } : {}),
    };
    const response = await this.call(() => this.client.send(new RunTaskCommand(request)));
    const taskArn = response.tasks?.[0]?.taskArn;
    if (taskArn) return taskArn;
    const failure = response.failures?.[0];
    if (failure) {
      const reason = failure.reason ?? 'unknown';
      throw new DeliveryError(`RunTask failed: ${reason}${failure.detail ? ` (${failure.detail})` : ''}`, retryableFailure(failure), reason);
    }
    throw new DeliveryError('RunTask started no task and reported no failure', true, 'NoTask');
  }

  async stopTask(cluster: string, taskArn: string, reason: string): Promise<void> {
    await this.call(() => this.client.send(new StopTaskCommand({ cluster, task: taskArn, reason })));
  }

  async describeTasks(cluster: string, taskArns: readonly string[]): Promise<EcsTaskStatus[]> {
    if (taskArns.length === 0) return [];
    const response = await this.call(() => this.client.send(new DescribeTasksCommand({ cluster, tasks: [...taskArns] })));
    return (response.tasks ?? []).flatMap((task) =>
      task.taskArn
        ? [
            {
              taskArn: task.taskArn,
              lastStatus: task.lastStatus ?? 'UNKNOWN',
              ...(task.stopCode ? { stopCode: task.stopCode } : {}),
              ...(task.stoppedReason ? { stoppedReason: task.stoppedReason } : {}),
            },
          ]
        : [],
    );
  }

  private async call<T>(send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      if (error instanceof DeliveryError) throw error;
      // The SDK has retried throttling and server errors a few times already; the caller retries them again, with back-off.
      const name = error instanceof Error ? error.name : 'Error';
      throw new DeliveryError(`ECS ${name}: ${error instanceof Error ? error.message : String(error)}`, isTransientError(error), name);
    }
  }
}
