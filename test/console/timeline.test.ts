import { describe, expect, it } from 'vitest';
import { buildTimeline, chartData } from '../../lib/console/timeline.ts';
import { eventRecord, type EventRecord } from '../../lib/core/index.ts';

const ref = { namespace: 'default', pod: 'web-0', container: 'app' };
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** The records one crash-and-restart produces: exit, the scheduled wait (if any), the dispatch. */
function crash(at: number, restartCount: number, delayMs: number, exitCode = 1): EventRecord[] {
  const restartAt = at + delayMs;
  return [
    eventRecord('Exited', ref, at, { exitCode, restartCount: restartCount - 1, message: 'exited' }),
    ...(delayMs > 0 ? [eventRecord('RestartScheduled', ref, at, { restartCount, delayMs, restartAt, message: 'Back-off' })] : []),
    eventRecord('Restarted', ref, restartAt + 2, { restartCount, restartAt, message: 'Restarted' }),
  ];
}

describe('buildTimeline', () => {
  it('pairs each exit with its back-off wait and its restart', () => {
    const timeline = buildTimeline([...crash(T0, 1, 0), ...crash(T0 + 100, 2, 1_000, 137), ...crash(T0 + 1_200, 3, 2_000)]);
    expect(timeline.steps.map((step) => [step.exitCode, step.restartCount, step.delayMs, step.restartedAt !== undefined])).toEqual([
      [1, 1, 0, true],
      [137, 2, 1_000, true],
      [1, 3, 2_000, true],
    ]);
    expect(timeline).toMatchObject({ exits: 3, restarts: 3, longestWaitMs: 2_000 });
  });

  it('counts a pending restart as not yet restarted, and an exit that ended the container as terminated', () => {
    const pending = buildTimeline([...crash(T0, 1, 0), ...crash(T0 + 100, 2, 1_000).slice(0, 2)]);
    expect(pending).toMatchObject({ exits: 2, restarts: 1 });
    const ended = buildTimeline([...crash(T0, 1, 0), eventRecord('Exited', ref, T0 + 50, { exitCode: 0, restartCount: 1, message: 'exited' }), eventRecord('Terminated', ref, T0 + 50, { message: 'terminated' })]);
    expect(ended.steps.at(-1)).toMatchObject({ exitCode: 0, terminated: true, restartedAt: undefined });
  });

  it('starts the restart count again after a reset on request, without mixing the two runs', () => {
    const records = [...crash(T0, 1, 0), ...crash(T0 + 100, 2, 1_000), eventRecord('BackoffReset', ref, T0 + 2_000, { restartCount: 2, message: 'reset' }), ...crash(T0 + 3_000, 1, 0)];
    const timeline = buildTimeline(records);
    expect(timeline.steps.map((step) => [step.restartCount, step.delayMs, step.restartedAt! - step.exitAt])).toEqual([
      [1, 0, 2],
      [2, 1_000, 1_002],
      [1, 0, 2],
    ]);
  });
});

describe('chartData', () => {
  it('draws each wait as one segment at its height, apart from the next, with x ascending', () => {
    const { columns, exitCodes } = chartData(buildTimeline([...crash(T0, 1, 0), ...crash(T0 + 100, 2, 1_000, 137), ...crash(T0 + 1_200, 3, 2_000)]));
    const [x, wait, restart, exit] = columns;
    expect([...x].sort((a, b) => a - b)).toEqual(x);
    expect(exit.filter((value) => value !== null)).toEqual([0, 1, 2]);
    expect(restart.filter((value) => value !== null)).toEqual([0, 1, 2]);
    expect([...exitCodes.values()]).toEqual([1, 137, 1]);
    // Runs of non-null waits: one per scheduled restart, each at one height.
    const runs: number[][] = [];
    wait.forEach((value, index) => {
      if (value === null) return;
      if (index === 0 || wait[index - 1] === null) runs.push([]);
      runs.at(-1)!.push(value);
    });
    expect(runs.map((run) => [...new Set(run)])).toEqual([[1], [2]]);
  });
});
