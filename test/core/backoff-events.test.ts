import { describe, expect, it } from 'vitest';
import { backOffRecord, backOffRepeatAt, enterBackOff, repeatBackOff, type ContainerState } from '../../lib/core/index.ts';

const T0 = 1_767_225_600_000;
const MESSAGE = 'Back-off 1h0m0s restarting failed container=app pod=web-0_default(uid)';
const HOUR = 3_600_000;
const INTERVAL = 300_000;

function waiting(overrides: Partial<ContainerState> = {}): ContainerState {
  return {
    key: 'web-0_default_uid_app_',
    namespace: 'default',
    pod: 'web-0',
    podUid: 'uid',
    container: 'app',
    restartCount: 3,
    state: 'CrashLoopBackOff',
    recentExitIds: [],
    restart: { restartCount: 3, restartAt: T0 + 3_600_000, status: 'waiting' },
    policy: { initialMs: 10_000, maxMs: 3_600_000, resetAfterMs: 600_000, jitterFactor: 0 },
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

describe('enterBackOff', () => {
  it.each([
    ['no series yet (a first wait, or the first after a reset)', undefined, 1, T0],
    ['the same back-off (the same message)', { restartCount: 2, delayMs: HOUR, count: 4, firstTimestamp: T0 - 9_000_000, lastTimestamp: T0 - 3_600_000 }, 5, T0 - 9_000_000],
    ['another back-off', { restartCount: 2, delayMs: 40_000, count: 4, firstTimestamp: T0 - 9_000_000, lastTimestamp: T0 - 60_000 }, 1, T0],
  ] as const)('with %s: count %i', (_name, previous, count, firstTimestamp) => {
    const series = enterBackOff(previous, { restartCount: 3, restartAt: T0 + 3_600_000, delayMs: HOUR }, T0, INTERVAL);
    expect(series).toEqual({ restartCount: 3, delayMs: HOUR, count, firstTimestamp, lastTimestamp: T0, nextRepeatAt: T0 + INTERVAL });
  });

  it('asks for no repeat when the restart comes first (or exactly then)', () => {
    expect(enterBackOff(undefined, { restartCount: 1, restartAt: T0 + INTERVAL, delayMs: HOUR }, T0, INTERVAL)).not.toHaveProperty('nextRepeatAt');
  });
});

describe('repeatBackOff', () => {
  it('counts the repeat, moves lastTimestamp, keeps firstTimestamp, and asks for the next until the restart', () => {
    let series = enterBackOff(undefined, { restartCount: 3, restartAt: T0 + 1_000_000, delayMs: HOUR }, T0, INTERVAL);
    const instants: number[] = [];
    while (series.nextRepeatAt !== undefined) {
      instants.push(series.nextRepeatAt);
      series = repeatBackOff(series, T0 + 1_000_000, series.nextRepeatAt, INTERVAL);
    }
    expect(instants).toEqual([T0 + 300_000, T0 + 600_000, T0 + 900_000]);
    expect(series).toEqual({ restartCount: 3, delayMs: HOUR, count: 4, firstTimestamp: T0, lastTimestamp: T0 + 900_000 });
  });

  it('spaces a late repeat from when it was recorded, never closer than the interval', () => {
    const series = enterBackOff(undefined, { restartCount: 3, restartAt: T0 + 3_600_000, delayMs: HOUR }, T0, INTERVAL);
    const late = repeatBackOff(series, T0 + 3_600_000, T0 + 420_000, INTERVAL);
    expect(late.nextRepeatAt).toBe(T0 + 420_000 + INTERVAL);
  });
});

describe('backOffRepeatAt', () => {
  const series = { restartCount: 3, delayMs: HOUR, count: 1, firstTimestamp: T0, lastTimestamp: T0, nextRepeatAt: T0 + INTERVAL };

  it.each([
    ['waiting in the wait it was recorded in', {}, T0 + INTERVAL],
    ['claimed for dispatch', { restart: { restartCount: 3, restartAt: T0 + 3_600_000, status: 'dispatching' as const, claimedAt: T0 } }, undefined],
    ['dispatched', { restart: { restartCount: 3, restartAt: T0 + 3_600_000, status: 'dispatched' as const }, state: 'Running' as const }, undefined],
    ['in a newer wait', { restart: { restartCount: 4, restartAt: T0 + 3_600_000, status: 'waiting' as const } }, undefined],
    ['terminated', { state: 'Terminated' as const }, undefined],
  ])('%s: %s', (_name, overrides, expected) => {
    expect(backOffRepeatAt(waiting({ backOffEvent: series, ...overrides }))).toBe(expected);
  });
});

describe('backOffRecord', () => {
  it('says the series in the record: count, first and last instants, kubelet’s message for its back-off', () => {
    const series = { restartCount: 3, delayMs: HOUR, count: 7, firstTimestamp: T0, lastTimestamp: T0 + 1_800_000 };
    expect(backOffRecord(waiting({ lastDecision: { key: 'k', decision: 'RestartScheduled', restartAt: T0, delayMs: 3_600_000, restartCount: 3, backoffMs: 3_600_000, state: 'CrashLoopBackOff', message: '' } }), series)).toMatchObject({
      type: 'BackOff',
      time: new Date(T0 + 1_800_000).toISOString(),
      reason: 'CrashLoopBackOff',
      restartCount: 3,
      delayMs: 3_600_000,
      count: 7,
      firstTimestamp: new Date(T0).toISOString(),
      lastTimestamp: new Date(T0 + 1_800_000).toISOString(),
      message: MESSAGE,
    });
  });
});
