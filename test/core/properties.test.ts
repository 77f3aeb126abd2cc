/**
 * Properties of the exit planner over generated policies and crash timelines.
 * Each timeline is a container that runs for a while after every (re)start,
 * crashes, and has its exit handled some time later (never before it happened).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  planExit,
  resolveBackoffPolicy,
  type BackoffPolicy,
  type ContainerState,
  type Decision,
  type EventType,
  type Random,
} from '../../lib/core/index.ts';

const NUM_RUNS = 300;
const T0 = 1_767_225_600_000;

interface Step {
  /** How long the container ran after its last (re)start before it crashed. */
  readonly runMs: number;
  /** How long after the crash its exit was handled. */
  readonly lagMs: number;
}

interface Observed {
  readonly runMs: number;
  readonly finishedAt: number;
  readonly now: number;
  /** The stored back-off before this exit (undefined for the first exit). */
  readonly previousBackoffMs: number | undefined;
  readonly decision: Decision;
  readonly eventTypes: readonly EventType[];
}

/** Policies as users write them; KEP-5593 lowers initial when max is below it. */
function policyArb(jitter: fc.Arbitrary<number> = fc.constant(0)): fc.Arbitrary<BackoffPolicy> {
  return fc
    .record({
      initial: fc.integer({ min: 1, max: 60_000 }),
      max: fc.integer({ min: 1, max: 600_000 }),
      resetAfter: fc.option(fc.integer({ min: 1, max: 1_800_000 }), { nil: undefined }),
      jitterFactor: jitter,
    })
    .map(({ initial, max, resetAfter, jitterFactor }) =>
      resolveBackoffPolicy({ initial, max, jitterFactor, ...(resetAfter !== undefined ? { resetAfter } : {}) }),
    );
}

/** Run lengths: zero, short, right around resetAfter, and anything up to well past it. */
function runArb(resetAfterMs: number): fc.Arbitrary<number> {
  return fc.oneof(
    fc.constant(0),
    fc.integer({ min: 0, max: 5_000 }),
    fc.integer({ min: -2, max: 2 }).map((offset) => Math.max(0, resetAfterMs + offset)),
    fc.integer({ min: 0, max: 2 * resetAfterMs + 10 }),
  );
}

/** Mostly handled as it happens; sometimes late, occasionally very late. */
const lagArb: fc.Arbitrary<number> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5_000 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 1_200_000 }) },
);

function scenarioArb(policies: fc.Arbitrary<BackoffPolicy>, capRunsAtResetAfter = false) {
  return policies.chain((policy) =>
    fc.record({
      policy: fc.constant(policy),
      steps: fc.array(
        fc.record({
          runMs: runArb(policy.resetAfterMs).map((run) => (capRunsAtResetAfter ? Math.min(run, policy.resetAfterMs) : run)),
          lagMs: lagArb,
        }),
        { minLength: 1, maxLength: 30 },
      ),
    }),
  );
}

/** Plays the timeline through planExit, carrying the stored state from exit to exit. */
function play(policy: BackoffPolicy, steps: readonly Step[], random?: Random): Observed[] {
  const observed: Observed[] = [];
  let stored: ContainerState | undefined;
  let startedAt = T0;
  steps.forEach(({ runMs, lagMs }, index) => {
    const finishedAt = startedAt + runMs;
    const now = finishedAt + lagMs;
    const exit = { namespace: 'prop', pod: 'pod', container: 'app', exitCode: 1, startedAt, finishedAt, exitId: `exit-${index}` };
    const plan = planExit(stored, exit, { policy, now, ...(random ? { random } : {}) });
    // Every exit in these timelines is new and restarts (Always, no limit).
    expect(plan.next).toBeDefined();
    expect(plan.decision.restartAt).not.toBeNull();
    observed.push({
      runMs,
      finishedAt,
      now,
      previousBackoffMs: stored?.backoff?.backoffMs,
      decision: plan.decision,
      eventTypes: plan.events.map((event) => event.type),
    });
    stored = plan.next;
    startedAt = plan.decision.restartAt!;
  });
  return observed;
}

/** Cycles through generated doubles in [0, 1), standing in for Math.random. */
function cycling(values: readonly number[]): Random {
  let index = 0;
  return () => values[index++ % values.length]!;
}

describe('planner properties', () => {
  it('within a crash streak (every run ≤ resetAfter) delays never decrease and never exceed max', () => {
    fc.assert(
      fc.property(scenarioArb(policyArb(), true), ({ policy, steps }) => {
        const delays = play(policy, steps).map((step) => step.decision.delayMs);
        expect(delays[0]).toBe(0);
        delays.forEach((delay, index) => {
          expect(delay).toBeLessThanOrEqual(policy.maxMs);
          if (index > 0) {
            expect(delay).toBeGreaterThanOrEqual(delays[index - 1]!);
            // Nothing in a streak resets: every restart after the first waits.
            expect(delay).toBeGreaterThanOrEqual(policy.initialMs);
          }
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never restarts before finishedAt + the back-off in force, nor before the exit is handled', () => {
    fc.assert(
      fc.property(scenarioArb(policyArb()), ({ policy, steps }) => {
        for (const step of play(policy, steps)) {
          const stillInForce = step.previousBackoffMs !== undefined && step.runMs <= policy.resetAfterMs;
          const inForceMs = stillInForce ? step.previousBackoffMs! : 0;
          const { restartAt, delayMs } = step.decision;
          expect(delayMs).toBe(inForceMs);
          expect(restartAt!).toBeGreaterThanOrEqual(step.finishedAt + inForceMs);
          expect(restartAt!).toBeGreaterThanOrEqual(step.now);
          // …and no later than that: kubelet restarts at the first instant it may.
          expect(restartAt).toBe(Math.max(step.now, step.finishedAt + inForceMs));
          expect(step.decision.decision).toBe(restartAt! > step.now ? 'RestartScheduled' : 'RestartNow');
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('resets the back-off after, and only after, a run longer than resetAfter', () => {
    fc.assert(
      fc.property(scenarioArb(policyArb()), ({ policy, steps }) => {
        play(policy, steps).forEach((step, index) => {
          const resets = step.decision.delayMs === 0 && step.decision.backoffMs === policy.initialMs;
          if (index === 0) {
            expect(resets).toBe(true);
            return;
          }
          const ranLongEnough = step.runMs > policy.resetAfterMs;
          expect(resets).toBe(ranLongEnough);
          expect(step.eventTypes.includes('BackoffReset')).toBe(ranLongEnough);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('with jitter factor f, keeps every back-off within [b, b + f·b] of its jitter-free step b', () => {
    const jitterFactor = fc.oneof(fc.constantFrom(0, 0.1, 0.5, 1), fc.double({ min: 0, max: 1, noNaN: true }));
    const draws = fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(scenarioArb(policyArb(jitterFactor)), draws, ({ policy, steps }, values) => {
        const f = policy.jitterFactor;
        const observed = play(policy, steps, cycling(values));
        observed.forEach((step, index) => {
          const startsOver = index === 0 || step.runMs > policy.resetAfterMs;
          const previous = observed[index - 1]?.decision.backoffMs;
          const b = startsOver ? policy.initialMs : Math.min(2 * previous!, policy.maxMs);
          // b + f·b rather than b·(1 + f): the same float steps as the jitter itself, so no rounding slack is needed.
          expect(step.decision.backoffMs).toBeGreaterThanOrEqual(b);
          expect(step.decision.backoffMs).toBeLessThanOrEqual(b + f * b);
          // The delay of restart n+1 is the entry's back-off after restart n.
          expect(step.decision.delayMs).toBe(startsOver ? 0 : previous);
        });
      }),
      { numRuns: NUM_RUNS },
    );
  });
});
