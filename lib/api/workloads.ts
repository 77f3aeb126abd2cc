/**
 * The ECS workload routes' request and response shapes:
 * `POST /v1/ecs/workloads` registers a workload (its RunTask input, and how
 * it restarts) and starts it; `GET` lists them or shows one; `DELETE` stops
 * one for good.
 */
import type { RestartPolicyRule } from '../core/index.ts';
import { WORKLOAD_ID_PATTERN, type EcsRunTaskInput, type EcsTaskStatus, type EcsWorkload, type WorkloadExitSettings, type WorkloadRegistration, type WorkloadStatus } from '../ports.ts';
import * as z from '../zod.ts';
import { exitSettingsSchema, nameSchema, toIssues } from './exits.ts';
import type { Issue } from './protocol.ts';

/** A cluster name (1–255 of letters, digits, `-` and `_`) or a cluster ARN. */
const CLUSTER = /^(?:[A-Za-z0-9_-]{1,255}|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/[A-Za-z0-9_-]{1,255})$/;
/** `family`, `family:revision`, or a task definition ARN. */
const TASK_DEFINITION = /^(?:[A-Za-z0-9_-]{1,255}(?::\d{1,10})?|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:task-definition\/[A-Za-z0-9_-]{1,255}:\d{1,10})$/;

const runTaskSchema = z
  .strictObject(
    {
      cluster: z
        .string({ error: 'required: a cluster name or ARN' })
        .check(z.regex(CLUSTER, { error: 'must be a cluster name (letters, digits, - and _) or a cluster ARN' })),
      taskDefinition: z
        .string({ error: 'required: family, family:revision or a task definition ARN' })
        .check(z.regex(TASK_DEFINITION, { error: 'must be family, family:revision or a task definition ARN' })),
      launchType: z.optional(z.enum(['FARGATE', 'EC2', 'EXTERNAL'], { error: 'must be FARGATE, EC2 or EXTERNAL' })),
      capacityProviderStrategy: z.optional(
        z
          .array(
            z.strictObject({
              capacityProvider: z.string().check(z.minLength(1), z.maxLength(255)),
              weight: z.optional(z.number().check(z.int(), z.gte(0), z.lte(1_000))),
              base: z.optional(z.number().check(z.int(), z.gte(0), z.lte(100_000))),
            }),
          )
          .check(z.minLength(1), z.maxLength(20)),
      ),
      networkConfiguration: z.optional(
        z.strictObject({
          awsvpcConfiguration: z.strictObject({
            subnets: z.array(z.string().check(z.regex(/^subnet-[0-9a-f]{1,32}$/, { error: 'must be a subnet id (subnet-…)' }))).check(z.minLength(1), z.maxLength(16)),
            securityGroups: z.optional(z.array(z.string().check(z.regex(/^sg-[0-9a-f]{1,32}$/, { error: 'must be a security group id (sg-…)' }))).check(z.maxLength(5))),
            assignPublicIp: z.optional(z.enum(['ENABLED', 'DISABLED'])),
          }),
        }),
      ),
      platformVersion: z.optional(z.string().check(z.regex(/^[A-Z0-9.]{1,16}$/, { error: 'must be a platform version such as LATEST or 1.4.0' }))),
    },
    { error: 'expected the RunTask input: { "cluster", "taskDefinition", … }' },
  )
  .check(
    z.superRefine((input, ctx) => {
      if (input.launchType && input.capacityProviderStrategy) {
        ctx.addIssue({ code: 'custom', message: 'give launchType or capacityProviderStrategy, not both (RunTask takes one)', path: ['capacityProviderStrategy'] });
      }
    }),
  );

/** The body of `POST /v1/ecs/workloads`. */
export const workloadRegistrationSchema = z.extend(exitSettingsSchema, {
  namespace: z.nullish(nameSchema),
  runTask: runTaskSchema,
});

export type RegistrationResult = { readonly ok: true; readonly registration: WorkloadRegistration } | { readonly ok: false; readonly issues: Issue[] };

/** Validates a registration; the namespace defaults to `defaultNamespace`. */
export function parseWorkloadRegistration(json: unknown, defaultNamespace: string): RegistrationResult {
  const parsed = workloadRegistrationSchema.safeParse(json, { reportInput: true });
  if (!parsed.success) return { ok: false, issues: toIssues(parsed.error.issues) };
  const { namespace, runTask, restartPolicy, restartPolicyRules, maxRestarts, backoffPolicy } = parsed.data;
  const exit: WorkloadExitSettings = {
    ...(restartPolicy ? { restartPolicy } : {}),
    ...(restartPolicyRules && restartPolicyRules.length > 0 ? { restartPolicyRules: restartPolicyRules as RestartPolicyRule[] } : {}),
    ...(maxRestarts != null ? { maxRestarts } : {}),
    ...(backoffPolicy ? { backoffPolicy } : {}),
  };
  return { ok: true, registration: { namespace: namespace ?? defaultNamespace, runTask: runTask as EcsRunTaskInput, exit } };
}

/** Why `id` is not a workload id, or undefined. */
export function workloadIdProblem(id: string): string | undefined {
  return WORKLOAD_ID_PATTERN.test(id) ? undefined : 'must be a workload id: 1 to 64 letters, digits and -, starting with a letter or digit';
}

/** A workload as the API shows it (responses.ts `workloadViewSchema` documents it; the API tests hold responses to it). */
export interface WorkloadView {
  readonly id: string;
  readonly namespace: string;
  readonly status: WorkloadStatus;
  readonly cluster: string;
  readonly taskDefinition: string;
  readonly family: string;
  /** The latest task started for it. */
  readonly taskArn?: string;
  /** That task's status in ECS (`RUNNING`, `STOPPED`, …), when the listing asked ECS. */
  readonly lastStatus?: string;
  readonly stopCode?: string;
  /** The restart count of its latest task (0: the first run). */
  readonly restartCount: number;
  /** The container key of its latest restart (`status`, `events --key`). */
  readonly containerKey?: string;
  readonly runTask: EcsRunTaskInput;
  readonly restart: WorkloadExitSettings;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export function toWorkloadView(workload: EcsWorkload, task?: EcsTaskStatus): WorkloadView {
  return {
    id: workload.id,
    namespace: workload.namespace,
    status: workload.status,
    cluster: workload.runTask.cluster,
    taskDefinition: workload.runTask.taskDefinition,
    family: workload.family,
    ...(workload.taskArn ? { taskArn: workload.taskArn } : {}),
    ...(task ? { lastStatus: task.lastStatus, ...(task.stopCode ? { stopCode: task.stopCode } : {}) } : {}),
    restartCount: workload.restartCount,
    ...(workload.containerKey ? { containerKey: workload.containerKey } : {}),
    runTask: workload.runTask,
    restart: workload.exit,
    createdAt: new Date(workload.createdAt).toISOString(),
    updatedAt: new Date(workload.updatedAt).toISOString(),
  };
}
