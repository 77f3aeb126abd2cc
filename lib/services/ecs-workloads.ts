/**
 * ECS workloads the service starts and restarts itself (`restart-scheduler
 * ecs run | list | stop`): a registration holds a task's RunTask input; the
 * service starts it with `startedBy = restart-scheduler/<id>/0`; each stopped
 * task becomes an exit event (`handleTaskStateChange`), and each restart is
 * the same RunTask again (`restartWorkloadTask`, the `ecs` restart target),
 * with the restart's id as its `clientToken`. Stopping a workload is deleting
 * a pod: its task is stopped, its back-off entry forgotten, and nothing
 * starts it again.
 */
import type { Clock, Decision, DeliveryRetryPolicy, Random } from '../core/index.ts';
import { exitOfStoppedTask, parseTaskStateChange } from '../api/ecs-events.ts';
import {
  DeliveryError,
  parseStartedBy,
  startedByOf,
  type DeliveryReceipt,
  type EcsTasks,
  type EcsTaskStatus,
  type EcsWorkload,
  type RestartRequest,
  type WorkloadRegistration,
  type WorkloadStore,
} from '../ports.ts';
import { DeliveryAttemptsFailed, withDeliveryRetries } from './deliver-restart.ts';
import { errorDetails, sleepOf, type OperationalLog, type ServiceDeps } from './deps.ts';
import { handleExit } from './handle-exit.ts';
import { resetContainer } from './reset-container.ts';

export interface EcsDeps {
  readonly workloads: WorkloadStore;
  readonly tasks: EcsTasks;
  readonly clock: Clock;
  /** Picks the random part of a new workload's id. */
  readonly random: Random;
  readonly log: OperationalLog;
  /** @default setTimeout-based */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** The namespace of a workload registered without one. */
export const DEFAULT_ECS_NAMESPACE = 'ecs';

/** How the first RunTask of `ecs run` is retried before the request gives up (a client is waiting). */
const START_RETRIES: DeliveryRetryPolicy = { maxAttempts: 3, initialDelayMs: 500, maxDelayMs: 2_000 };
/** Conditional writes of a registration before giving up on contention. */
const WRITE_ATTEMPTS = 5;

/** ECS refused to start the workload: the request names something ECS will not run (a 400 to the caller). */
export class WorkloadRejectedError extends Error {
  override readonly name = 'WorkloadRejectedError';
}

/**
 * Registers a workload and starts its first task. The task definition is
 * described first (it must exist; its essential containers are remembered),
 * then the registration is written, then RunTask: a registration whose task
 * never started is left `stopped`, and the error says why.
 */
export async function registerWorkload(deps: EcsDeps, registration: WorkloadRegistration): Promise<EcsWorkload> {
  const definition = await rejectPermanent(() => deps.tasks.describeTaskDefinition(registration.runTask.taskDefinition));
  const now = deps.clock.now();
  let workload: EcsWorkload | undefined;
  let version = 0;
  for (let attempt = 1; !workload && attempt <= WRITE_ATTEMPTS; attempt++) {
    const candidate: EcsWorkload = {
      id: workloadId(definition.family, deps.random),
      namespace: registration.namespace,
      runTask: registration.runTask,
      family: definition.family,
      essentialContainers: definition.essentialContainers,
      exit: registration.exit,
      status: 'running',
      restartCount: 0,
      createdAt: now,
      updatedAt: now,
    };
    const written = await deps.workloads.put(candidate, undefined);
    if (written.written) {
      workload = candidate;
      version = written.version;
    }
  }
  if (!workload) throw new Error(`could not find a free workload id for family ${definition.family}`);

  let taskArn: string;
  try {
    const started = await withDeliveryRetries(START_RETRIES, sleepOf(deps), () =>
      deps.tasks.runTask(workload.runTask, { idempotencyKey: `${workload.id}#start`, startedBy: startedByOf(workload.id, 0) }),
    );
    taskArn = started.value;
  } catch (error) {
    await deps.workloads.put({ ...workload, status: 'stopped', updatedAt: deps.clock.now() }, version).catch(() => undefined);
    if (error instanceof DeliveryAttemptsFailed) {
      if (!error.error.retryable) throw new WorkloadRejectedError(error.error.message);
      throw error.error;
    }
    throw error;
  }
  const started: EcsWorkload = { ...workload, taskArn, updatedAt: deps.clock.now() };
  // A conflict here means a `stop` came first: it found no task to stop, so this one is stopped now.
  if (!(await deps.workloads.put(started, version)).written) {
    await deps.tasks.stopTask(workload.runTask.cluster, taskArn, 'restart-scheduler: the workload was stopped while it started');
    return (await deps.workloads.get(workload.id))?.value ?? { ...started, status: 'stopped' };
  }
  return started;
}

/** A registration and the state of its latest task, as `ecs list` shows it. */
export interface WorkloadStatusReport {
  readonly workload: EcsWorkload;
  /** The latest task's status; absent when ECS no longer knows it (stopped tasks are kept about an hour). */
  readonly task?: EcsTaskStatus;
}

/** Every registration (a page at a time), with its latest task's status from ECS: one DescribeTasks per cluster. */
export async function listWorkloads(deps: EcsDeps, cursor?: string): Promise<{ items: WorkloadStatusReport[]; cursor?: string }> {
  const page = await deps.workloads.list(cursor);
  const byCluster = new Map<string, string[]>();
  for (const workload of page.items) {
    if (workload.taskArn) byCluster.set(workload.runTask.cluster, [...(byCluster.get(workload.runTask.cluster) ?? []), workload.taskArn]);
  }
  const statuses = new Map<string, EcsTaskStatus>();
  for (const [cluster, arns] of byCluster) {
    for (let start = 0; start < arns.length; start += 100) {
      try {
        for (const status of await deps.tasks.describeTasks(cluster, arns.slice(start, start + 100))) statuses.set(status.taskArn, status);
      } catch (error) {
        // The listing stands without it: the registrations are what it lists.
        deps.log.warn('describing the tasks of a cluster failed', { cluster, ...errorDetails(error) });
      }
    }
  }
  const items = page.items.map((workload) => {
    const task = workload.taskArn ? statuses.get(workload.taskArn) : undefined;
    return { workload, ...(task ? { task } : {}) };
  });
  return { items, ...(page.cursor !== undefined ? { cursor: page.cursor } : {}) };
}

/**
 * `ecs stop`: like deleting a pod. The registration is marked stopped first
 * (so no restart starts it again: the `ecs` target checks, and stops a task
 * that it started in between), then its task is stopped and its back-off
 * entry forgotten (a restart still waiting finds nothing to restart).
 * Undefined when there is no such workload; stopping one twice is harmless.
 */
export async function stopWorkload(deps: EcsDeps & { readonly service: ServiceDeps }, id: string): Promise<EcsWorkload | undefined> {
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    const found = await deps.workloads.get(id);
    if (!found) return undefined;
    if (found.value.status === 'stopped') return found.value;
    const stopped: EcsWorkload = { ...found.value, status: 'stopped', updatedAt: deps.clock.now() };
    if (!(await deps.workloads.put(stopped, found.version)).written) continue;
    if (stopped.taskArn) {
      try {
        await deps.tasks.stopTask(stopped.runTask.cluster, stopped.taskArn, 'restart-scheduler ecs stop');
      } catch (error) {
        // A task ECS no longer knows is stopped already; the registration is what keeps it from restarting.
        if (!(error instanceof DeliveryError) || error.retryable) throw error;
        deps.log.warn('stopping the task of a stopped workload failed', { id, taskArn: stopped.taskArn, ...errorDetails(error) });
      }
    }
    if (stopped.containerKey) await resetContainer(deps.service, stopped.containerKey);
    return stopped;
  }
  throw new Error(`gave up stopping workload ${id} after ${WRITE_ATTEMPTS} conflicting writes`);
}

/**
 * The `ecs` restart target: RunTask with the workload's stored input, the
 * restart's id as idempotency key (`clientToken`), and the restart count in
 * `startedBy`. A workload stopped (or forgotten) since is skipped; one stopped
 * while its task was starting has that task stopped again.
 */
export async function restartWorkloadTask(deps: EcsDeps, request: RestartRequest): Promise<DeliveryReceipt> {
  const found = await deps.workloads.get(request.pod);
  if (!found) return { status: 'skipped', detail: `no workload ${request.pod}` };
  if (found.value.status === 'stopped') return { status: 'skipped', detail: `workload ${request.pod} is stopped` };
  const taskArn = await deps.tasks.runTask(found.value.runTask, { idempotencyKey: request.restartId, startedBy: startedByOf(found.value.id, request.restartCount) });

  let current = found;
  for (let attempt = 1; attempt <= WRITE_ATTEMPTS; attempt++) {
    if (current.value.status === 'stopped') {
      await deps.tasks.stopTask(current.value.runTask.cluster, taskArn, 'restart-scheduler: the workload was stopped while its restart started');
      return { status: 'skipped', detail: `workload ${request.pod} was stopped while ${taskArn} started; stopped it` };
    }
    // A late repeat of an older restart leaves the newer task on record.
    if (current.value.restartCount > request.restartCount) return { status: 'delivered', detail: taskArn };
    const next: EcsWorkload = { ...current.value, taskArn, restartCount: request.restartCount, containerKey: request.key, updatedAt: deps.clock.now() };
    if ((await deps.workloads.put(next, current.version)).written) return { status: 'delivered', detail: taskArn };
    const reread = await deps.workloads.get(request.pod);
    if (!reread) return { status: 'delivered', detail: taskArn };
    current = reread;
  }
  deps.log.warn('could not record the task of a restarted workload', { id: request.pod, taskArn });
  return { status: 'delivered', detail: taskArn };
}

export type TaskStateChangeOutcome = { readonly decision: Decision } | { readonly ignored: string };

/**
 * One `ECS Task State Change` event: a stopped task of a running workload
 * becomes an exit event and is decided like any other. Everything else (a
 * task the service did not start, a deliberate stop, a workload stopped since)
 * is ignored, with the reason.
 */
export async function handleTaskStateChange(
  deps: { readonly ecs: EcsDeps; readonly service: ServiceDeps },
  event: { readonly detail: unknown; readonly time?: string },
): Promise<TaskStateChangeOutcome> {
  const parsed = parseTaskStateChange(event.detail);
  if (!parsed.ok) return { ignored: `not a task state change: ${parsed.problem}` };
  const started = parseStartedBy(parsed.task.startedBy ?? undefined);
  if (!started) return { ignored: 'not started by restart-scheduler' };
  const found = await deps.ecs.workloads.get(started.workloadId);
  if (!found) return { ignored: `no workload ${started.workloadId}` };
  if (found.value.status === 'stopped') return { ignored: `workload ${started.workloadId} is stopped` };
  const receivedAt = event.time ? Date.parse(event.time) : Number.NaN;
  const mapped = exitOfStoppedTask(parsed.task, found.value, started.restartCount, Number.isFinite(receivedAt) ? receivedAt : deps.service.clock.now());
  if ('ignored' in mapped) return mapped;
  return { decision: await handleExit(deps.service, mapped.exit) };
}

/** `<family>-<8 hex>`: recognisable, and fit for a pod name and for `startedBy`. */
function workloadId(family: string, random: Random): string {
  const stem = family.replace(/[^A-Za-z0-9-]/g, '-').replace(/^-+/, '').slice(0, 40).replace(/-+$/, '') || 'workload';
  const suffix = Math.floor(random() * 0x1_0000_0000).toString(16).padStart(8, '0');
  return `${stem}-${suffix}`;
}

async function rejectPermanent<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof DeliveryError && !error.retryable) throw new WorkloadRejectedError(error.message);
    throw error;
  }
}
