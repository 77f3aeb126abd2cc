import { describe, expect, it } from 'vitest';
import { exitOfStoppedTask, ignoredBecause, parseTaskStateChange, START_FAILURE_EXIT_CODE, type TaskStateChange } from '../../lib/api/ecs-events.ts';
import { parseStartedBy, startedByOf, STARTED_BY_MAX_LENGTH, type EcsWorkload } from '../../lib/ports.ts';
import { ecsFixture, type EcsFixture } from '../support/ecs.ts';

const workload: EcsWorkload = {
  id: 'worker-0a1b2c3d',
  namespace: 'ecs',
  runTask: { cluster: 'work', taskDefinition: 'worker' },
  family: 'worker',
  essentialContainers: ['worker'],
  exit: { restartPolicy: 'OnFailure', maxRestarts: 50 },
  status: 'running',
  restartCount: 0,
  createdAt: 0,
  updatedAt: 0,
};

function task(name: EcsFixture, change: (detail: Record<string, unknown>) => void = () => undefined): TaskStateChange {
  const event = ecsFixture(name);
  change(event.detail);
  const parsed = parseTaskStateChange(event.detail);
  if (!parsed.ok) throw new Error(parsed.problem);
  return parsed.task;
}

const RECEIVED = Date.parse('2020-01-23T17:58:15Z');

describe('exitOfStoppedTask', () => {
  it('maps a task whose essential container exited 1 to its exit event', () => {
    expect(exitOfStoppedTask(task('exit-1'), workload, 0, RECEIVED)).toEqual({
      exit: {
        namespace: 'ecs',
        pod: 'worker-0a1b2c3d',
        container: 'worker',
        containerHash: '3',
        exitCode: 1,
        startedAt: Date.parse('2020-01-23T17:57:58.103Z'),
        finishedAt: Date.parse('2020-01-23T17:58:14.552Z'),
        exitId: 'arn:aws:ecs:us-west-2:111122223333:task/work/c13b4cb40f1f4fe4a2971f76ae5a47ad#6',
        restartCount: 0,
        restartTarget: 'ecs',
        restartPolicy: 'OnFailure',
        maxRestarts: 50,
      },
    });
  });

  it('reports an OOM kill as OOMKilled, with the code the container exited with', () => {
    expect(exitOfStoppedTask(task('oom'), workload, 2, RECEIVED)).toMatchObject({ exit: { exitCode: 137, reason: 'OOMKilled', restartCount: 2 } });
  });

  it('backs a task that failed to start off like a crash: exit code 128, its reason, no start time', () => {
    const mapped = exitOfStoppedTask(task('failed-to-start'), workload, 1, RECEIVED);
    expect(mapped).toMatchObject({ exit: { exitCode: START_FAILURE_EXIT_CODE, container: 'worker', restartCount: 1, reason: expect.stringMatching(/^CannotPullContainerError: pull image manifest has been retried 5 time/) } });
    const exit = (mapped as { exit: { reason: string; startedAt?: number } }).exit;
    expect(exit.reason.length).toBeLessThanOrEqual(128);
    expect(exit.startedAt).toBeUndefined();
  });

  it('takes the reason from the task when the container has none and the stop was not its exit', () => {
    const spot = task('exit-1', (detail) => {
      detail.stopCode = 'SpotInterruption';
      detail.stoppedReason = 'Your Spot Task was interrupted.';
      (detail.containers as Record<string, unknown>[])[0]!.exitCode = undefined;
    });
    expect(exitOfStoppedTask(spot, workload, 0, RECEIVED)).toMatchObject({ exit: { exitCode: 128, reason: 'Your Spot Task was interrupted.' } });
  });

  it.each([
    ['stopped by a user (UserInitiated)', 'user-initiated', 'stopped on purpose (UserInitiated)'],
    ['a service task', 'service-task', 'a task of service:worker: its service replaces it'],
  ] as const)('ignores a task %s', (_case, fixture, because) => {
    expect(exitOfStoppedTask(task(fixture), workload, 0, RECEIVED)).toEqual({ ignored: because });
  });

  it('ignores a change that is not the stop', () => {
    expect(ignoredBecause(task('exit-1', (detail) => void (detail.lastStatus = 'DEPROVISIONING')))).toBe('lastStatus is DEPROVISIONING, not STOPPED');
  });

  it('gives the same exit id to the same event twice, and a later version another', () => {
    const once = exitOfStoppedTask(task('exit-1'), workload, 0, RECEIVED);
    const twice = exitOfStoppedTask(task('exit-1'), workload, 0, RECEIVED);
    const later = exitOfStoppedTask(task('exit-1', (detail) => void (detail.version = 7)), workload, 0, RECEIVED);
    expect(once).toEqual(twice);
    expect((later as { exit: { exitId: string } }).exit.exitId).toMatch(/#7$/);
  });

  it('blames the essential container that failed, not the sidecar ECS stopped after it', () => {
    const twoContainers = task('exit-1', (detail) => {
      const [app] = detail.containers as Record<string, unknown>[];
      detail.containers = [
        { ...app, name: 'log_router', exitCode: 143 },
        { ...app, name: 'worker', exitCode: 2 },
      ];
    });
    expect(exitOfStoppedTask(twoContainers, { ...workload, essentialContainers: ['worker', 'log_router'] }, 0, RECEIVED)).toMatchObject({ exit: { container: 'worker', exitCode: 2 } });
    // An ECS name with `_` (the container key's separator) becomes `-`.
    expect(exitOfStoppedTask(twoContainers, { ...workload, essentialContainers: ['log_router'] }, 0, RECEIVED)).toMatchObject({ exit: { container: 'log-router', exitCode: 143 } });
  });

  it('keeps the exit id within 128 characters for a task of a cluster with a long name', () => {
    const long = task('exit-1', (detail) => void (detail.taskArn = `arn:aws:ecs:us-west-2:111122223333:task/${'c'.repeat(200)}/c13b4cb40f1f4fe4a2971f76ae5a47ad`));
    expect(exitOfStoppedTask(long, workload, 0, RECEIVED)).toMatchObject({ exit: { exitId: 'c13b4cb40f1f4fe4a2971f76ae5a47ad#6' } });
  });

  it('falls back to the event time when the task carries no stop time', () => {
    const timeless = task('exit-1', (detail) => {
      delete detail.stoppedAt;
      delete detail.executionStoppedAt;
      delete detail.stoppingAt;
    });
    expect(exitOfStoppedTask(timeless, workload, 0, RECEIVED)).toMatchObject({ exit: { finishedAt: RECEIVED } });
  });
});

describe('parseTaskStateChange', () => {
  it('names what is missing from a detail that is no task', () => {
    expect(parseTaskStateChange({ lastStatus: 'STOPPED' })).toEqual({ ok: false, problem: expect.stringContaining('taskArn') });
  });
});

describe('startedBy', () => {
  it('round-trips a workload id and restart count, within ECS limits', () => {
    const startedBy = startedByOf('w'.repeat(64), 2_147_483_647);
    expect(startedBy.length).toBeLessThanOrEqual(STARTED_BY_MAX_LENGTH);
    expect(startedBy).toMatch(/^[A-Za-z0-9/_-]+$/);
    expect(parseStartedBy(startedBy)).toEqual({ workloadId: 'w'.repeat(64), restartCount: 2_147_483_647 });
  });

  it.each([undefined, 'ecs-svc/9223370545345641169', 'restart-scheduler/', 'restart-scheduler/id', 'restart-scheduler/id/x', 'restart-scheduler/-id/1', 'restart-scheduler/id/1/2', 'restart-scheduler/id/99999999999'])(
    'reads %s as not started by the service',
    (startedBy) => {
      expect(parseStartedBy(startedBy)).toBeUndefined();
    },
  );
});
