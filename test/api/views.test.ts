import { describe, expect, it } from 'vitest';
import { resolveBackoffPolicy, type ContainerState, type Decision } from '../../lib/core/index.ts';
import { toContainerView, toDecisionView } from '../../lib/api/views.ts';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

const WAITING: ContainerState = {
  key: 'web-0_default_uid-1_app_',
  namespace: 'default',
  pod: 'web-0',
  podUid: 'uid-1',
  container: 'app',
  backoff: { backoffMs: 40_000, lastUpdate: NOW + 20_000 },
  restartCount: 3,
  state: 'CrashLoopBackOff',
  reason: 'CrashLoopBackOff',
  message: 'back-off 20s restarting failed container=app pod=web-0_default(uid-1)',
  lastExit: { exitCode: 1, reason: 'Error', startedAt: NOW - 5_000, finishedAt: NOW, exitId: 'e-3' },
  recentExitIds: ['e-3'],
  restart: { restartCount: 3, restartAt: NOW + 20_000, status: 'waiting' },
  policy: resolveBackoffPolicy(),
  createdAt: NOW - 60_000,
  updatedAt: NOW,
};

describe('toContainerView', () => {
  it('shows a container waiting in CrashLoopBackOff with its next restart', () => {
    expect(toContainerView(WAITING, NOW)).toEqual({
      key: 'web-0_default_uid-1_app_',
      namespace: 'default',
      pod: 'web-0',
      podUid: 'uid-1',
      container: 'app',
      state: 'CrashLoopBackOff',
      reason: 'CrashLoopBackOff',
      restartCount: 3,
      lastExit: { exitCode: 1, reason: 'Error', startedAt: iso(NOW - 5_000), finishedAt: iso(NOW) },
      backoffMs: 40_000,
      nextRestartAt: iso(NOW + 20_000),
      message: 'back-off 20s restarting failed container=app pod=web-0_default(uid-1)',
      createdAt: iso(NOW - 60_000),
      updatedAt: iso(NOW),
    });
  });

  it('shows the exit on the service’s clock, and the reported finishedAt beside it when the workload’s clock was off', () => {
    const placed = { ...WAITING, lastExit: { ...WAITING.lastExit!, reportedFinishedAt: NOW - 600_000, reportedStartedAt: NOW - 605_000 } };
    expect(toContainerView(placed, NOW).lastExit).toEqual({
      exitCode: 1,
      reason: 'Error',
      startedAt: iso(NOW - 5_000),
      finishedAt: iso(NOW),
      reportedFinishedAt: iso(NOW - 600_000),
    });
    const onTime = { ...WAITING, lastExit: { ...WAITING.lastExit!, reportedFinishedAt: NOW } };
    expect(toContainerView(onTime, NOW).lastExit).not.toHaveProperty('reportedFinishedAt');
  });

  it('still shows a restart being dispatched as next', () => {
    const view = toContainerView({ ...WAITING, restart: { restartCount: 3, restartAt: NOW, status: 'dispatching', claimedAt: NOW } }, NOW);
    expect(view.nextRestartAt).toBe(iso(NOW));
    expect(view).not.toHaveProperty('lastRestartAt');
  });

  it('shows a dispatched restart as the last restart, with none pending', () => {
    const view = toContainerView(
      { ...WAITING, state: 'Running', restart: { restartCount: 3, restartAt: NOW + 20_000, status: 'dispatched', dispatchedAt: NOW + 20_004 } },
      NOW + 30_000,
    );
    expect(view.nextRestartAt).toBeNull();
    expect(view.lastRestartAt).toBe(iso(NOW + 20_004));
  });

  it('falls back to the due instant when a dispatched restart has no dispatch time', () => {
    const view = toContainerView({ ...WAITING, restart: { restartCount: 3, restartAt: NOW + 20_000, status: 'dispatched' } }, NOW);
    expect(view.lastRestartAt).toBe(iso(NOW + 20_000));
  });

  it('shows back-off 0 once the entry has expired (the next crash restarts at once)', () => {
    const lastUpdate = WAITING.backoff!.lastUpdate;
    const resetAfter = WAITING.policy.resetAfterMs;
    // Exactly resetAfter does not expire (strictly greater, as in client-go).
    expect(toContainerView(WAITING, lastUpdate + resetAfter).backoffMs).toBe(40_000);
    expect(toContainerView(WAITING, lastUpdate + resetAfter + 1).backoffMs).toBe(0);
  });

  it('omits what the state does not have', () => {
    const bare: ContainerState = {
      key: 'p_ns__c_',
      namespace: 'ns',
      pod: 'p',
      container: 'c',
      restartCount: 0,
      state: 'Running',
      recentExitIds: [],
      policy: resolveBackoffPolicy(),
      createdAt: NOW,
      updatedAt: NOW,
    };
    const view = toContainerView(bare, NOW);
    expect(view).toEqual({
      key: 'p_ns__c_',
      namespace: 'ns',
      pod: 'p',
      container: 'c',
      state: 'Running',
      restartCount: 0,
      backoffMs: 0,
      nextRestartAt: null,
      createdAt: iso(NOW),
      updatedAt: iso(NOW),
    });
    expect(Object.values(view)).not.toContain(undefined);
  });
});

describe('toDecisionView', () => {
  const scheduled: Decision = {
    key: 'web-0_default__app_',
    decision: 'RestartScheduled',
    restartAt: NOW + 10_000,
    delayMs: 10_000,
    restartCount: 2,
    backoffMs: 20_000,
    state: 'CrashLoopBackOff',
    reason: 'CrashLoopBackOff',
    message: 'back-off 10s restarting failed container=app pod=web-0_default',
  };

  it('writes restartAt as ISO-8601', () => {
    expect(toDecisionView(scheduled)).toEqual({ ...scheduled, restartAt: iso(NOW + 10_000) });
  });

  it('keeps a null restartAt and omits an absent reason', () => {
    const { reason: _reason, ...withoutReason } = scheduled;
    const view = toDecisionView({ ...withoutReason, decision: 'NoRestart', restartAt: null, state: 'Terminated' });
    expect(view.restartAt).toBeNull();
    expect(view).not.toHaveProperty('reason');
  });
});
