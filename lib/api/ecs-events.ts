/**
 * ECS task state changes (EventBridge `aws.ecs` / `ECS Task State Change`,
 * the detail of which is the ECS `Task` object with ISO-8601 times) as exit
 * events, so that an ECS task the service started needs nothing in its
 * workload to be restarted with kubelet's back-off:
 *
 * - pod = the workload id (from `startedBy = restart-scheduler/<id>/<n>`);
 * - container = the essential container that stopped the task;
 * - containerHash = the task definition revision: a new revision is a new
 *   container spec, and starts its back-off afresh, as in kubelet;
 * - exitCode and reason from that container (`OutOfMemoryError…` → `OOMKilled`);
 * - startedAt / finishedAt from the task; exitId = `taskArn#version` (ECS
 *   and EventBridge deliver an event more than once; `version` tells a repeat
 *   from a later change); restartCount = the `<n>` of `startedBy`;
 * - a task that failed to start (`TaskFailedToStart`, e.g.
 *   `CannotPullContainerError`) backs off like a crash, with exit code 128
 *   (what Kubernetes reports for a container that could not start) and its reason;
 * - stops by a user (`UserInitiated`) or a service scheduler
 *   (`ServiceSchedulerInitiated`), and service tasks (`group: service:…`),
 *   are not exits to restart: they are ignored.
 */
import type { ExitEvent } from '../core/index.ts';
import type { EcsWorkload } from '../ports.ts';
import * as z from '../zod.ts';
import { EXIT_ID_MAX_LENGTH, NAME_MAX_LENGTH, REASON_MAX_LENGTH, parseInstant } from './exits.ts';

export const ECS_EVENT_SOURCE = 'aws.ecs';
export const ECS_TASK_STATE_CHANGE = 'ECS Task State Change';

/** The exit code of a task that failed to start: Kubernetes reports 128 (`StartError`) for a container that never ran. */
export const START_FAILURE_EXIT_CODE = 128;

/** Stop codes that end a task on purpose: a restart would undo what someone asked for. */
const DELIBERATE_STOP_CODES = ['UserInitiated', 'ServiceSchedulerInitiated'] as const;

const optionalString = z.nullish(z.string());

const containerSchema = z.looseObject({
  name: z.string().check(z.minLength(1)),
  exitCode: z.nullish(z.number().check(z.int())),
  reason: optionalString,
  lastStatus: optionalString,
});

/** The fields of a `Task` this mapping reads; ECS adds others, and may add more. */
const taskStateChangeSchema = z.looseObject({
  taskArn: z.string().check(z.minLength(1)),
  clusterArn: z.string().check(z.minLength(1)),
  taskDefinitionArn: z.string().check(z.minLength(1)),
  lastStatus: z.string(),
  version: z.number().check(z.int(), z.gte(0)),
  startedBy: optionalString,
  group: optionalString,
  stopCode: optionalString,
  stoppedReason: optionalString,
  createdAt: optionalString,
  startedAt: optionalString,
  stoppingAt: optionalString,
  stoppedAt: optionalString,
  executionStoppedAt: optionalString,
  containers: z._default(z.array(containerSchema), []),
});

export type TaskStateChange = z.infer<typeof taskStateChangeSchema>;

export type TaskStateChangeResult = { readonly ok: true; readonly task: TaskStateChange } | { readonly ok: false; readonly problem: string };

/** Reads the detail of an `ECS Task State Change` event. */
export function parseTaskStateChange(detail: unknown): TaskStateChangeResult {
  const parsed = taskStateChangeSchema.safeParse(detail);
  if (parsed.success) return { ok: true, task: parsed.data };
  return { ok: false, problem: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(detail)'}: ${issue.message}`).join('; ') };
}

/** Why a task change is not an exit to restart, or undefined when it is one. */
export function ignoredBecause(task: TaskStateChange): string | undefined {
  if (task.lastStatus !== 'STOPPED') return `lastStatus is ${task.lastStatus}, not STOPPED`;
  if (task.group?.startsWith('service:')) return `a task of ${task.group}: its service replaces it`;
  if (task.stopCode && (DELIBERATE_STOP_CODES as readonly string[]).includes(task.stopCode)) return `stopped on purpose (${task.stopCode})`;
  return undefined;
}

export type StoppedTaskExit = { readonly exit: ExitEvent } | { readonly ignored: string };

/**
 * The exit event of a stopped task of `workload`, whose `startedBy` carried
 * `restartCount`; or why there is none. `receivedAt` (the event's own time)
 * stands in for `finishedAt` when the task carries no stop time.
 */
export function exitOfStoppedTask(task: TaskStateChange, workload: EcsWorkload, restartCount: number, receivedAt: number): StoppedTaskExit {
  const ignored = ignoredBecause(task);
  if (ignored) return { ignored };
  const revision = /:(\d+)$/.exec(task.taskDefinitionArn)?.[1];
  const failedToStart = task.stopCode === 'TaskFailedToStart';
  const container = stoppingContainer(task, workload.essentialContainers);
  const finished = [task.stoppedAt, task.executionStoppedAt, task.stoppingAt].map(instantOf).find((ms) => ms !== undefined) ?? receivedAt;
  const started = failedToStart ? undefined : instantOf(task.startedAt);
  const oom = container?.reason?.startsWith('OutOfMemoryError') === true;
  const exitCode = failedToStart || container?.exitCode == null ? START_FAILURE_EXIT_CODE : container.exitCode;
  const reason = oom ? 'OOMKilled' : (container?.reason ?? (task.stopCode !== 'EssentialContainerExited' ? task.stoppedReason : undefined) ?? undefined);
  const exitId = `${task.taskArn}#${task.version}`;
  return {
    exit: {
      namespace: workload.namespace,
      pod: workload.id,
      container: containerName(container?.name ?? workload.essentialContainers[0] ?? 'task'),
      ...(revision ? { containerHash: revision } : {}),
      exitCode,
      ...(reason ? { reason: truncate(reason, REASON_MAX_LENGTH) } : {}),
      ...(started !== undefined && started <= finished ? { startedAt: started } : {}),
      finishedAt: finished,
      // A task ARN names its cluster, up to 255 characters: past the exit id's
      // limit, the task id (unique on its own) stands in for the ARN.
      exitId: exitId.length <= EXIT_ID_MAX_LENGTH ? exitId : `${task.taskArn.split('/').at(-1)}#${task.version}`,
      restartCount,
      restartTarget: 'ecs',
      ...workload.exit,
    },
  };
}

/**
 * The essential container that stopped the task. When one essential
 * container exits, ECS stops the others (SIGTERM, then SIGKILL after the stop
 * timeout), so among the essential ones the likeliest culprit is, in order:
 * the one killed for memory, one that failed with a code a stop signal does
 * not explain, any that failed, any that exited.
 */
function stoppingContainer(task: TaskStateChange, essential: readonly string[]): TaskStateChange['containers'][number] | undefined {
  const named = task.containers.filter((container) => essential.includes(container.name));
  const candidates = named.length > 0 ? named : task.containers;
  const signalled = (code: number) => code === 137 || code === 143;
  return (
    candidates.find((container) => container.reason?.startsWith('OutOfMemoryError')) ??
    candidates.find((container) => container.exitCode != null && container.exitCode !== 0 && !signalled(container.exitCode)) ??
    candidates.find((container) => container.exitCode != null && container.exitCode !== 0) ??
    candidates.find((container) => container.exitCode != null) ??
    candidates[0]
  );
}

/** ECS container names allow `_`, which a container key uses as its separator. */
function containerName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9.-]/g, '-').replace(/^[^A-Za-z0-9]+/, '');
  return (cleaned || 'task').slice(0, NAME_MAX_LENGTH);
}

function instantOf(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const parsed = parseInstant(value);
  return parsed.ok ? parsed.ms : undefined;
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
