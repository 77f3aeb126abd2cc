import type { Random } from './backoff.ts';
import type { ContainerPhase, ContainerState } from './model.ts';
import { planExit } from './planner.ts';
import type { BackoffPolicy } from './policy.ts';

export interface TimelineStep {
  /** 1-based restart number. */
  readonly restart: number;
  /** Offsets in ms from the first start. */
  readonly finishedAt: number;
  readonly restartAt: number;
  readonly delayMs: number;
  /** The back-off the next crash will get. */
  readonly backoffMs: number;
  /** The container's state right after the exit. */
  readonly state: ContainerPhase;
}

/**
 * The restart timeline `policy` gives a container that runs `runsMs[i]` after
 * each (re)start and then fails, each exit handled the moment it happens (an
 * ideal sync loop). Times are offsets from the first start.
 */
export function simulateTimeline(policy: BackoffPolicy, runsMs: readonly number[], random?: Random): TimelineStep[] {
  const steps: TimelineStep[] = [];
  let state: ContainerState | undefined;
  let startedAt = 0;
  runsMs.forEach((runMs, index) => {
    const finishedAt = startedAt + runMs;
    const exit = { namespace: 'default', pod: 'simulated', container: 'app', exitCode: 1, startedAt, finishedAt, exitId: `exit-${index}` };
    const plan = planExit(state, exit, { policy, now: finishedAt, ...(random ? { random } : {}) });
    const { restartAt, delayMs, backoffMs, state: phase } = plan.decision;
    steps.push({ restart: index + 1, finishedAt, restartAt: restartAt!, delayMs, backoffMs, state: phase });
    state = plan.next;
    startedAt = restartAt!;
  });
  return steps;
}
