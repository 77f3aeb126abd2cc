/**
 * The services replayed with a manual clock against workloads whose clocks are
 * wrong or coarse: restarts are never early in real time, never lost, and
 * counted exactly, whatever the workload's clock says.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveBackoffPolicy, type BackoffPolicy } from '../../lib/core/index.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { createHarness, T0, type Harness } from '../support/pipeline.ts';
import { playWorkload, type ObservedExit, type WorkloadRun } from '../support/workload.ts';

const KUBELET = resolveBackoffPolicy();
const MINUTE = 60_000;
const SKEWS: readonly [string, number][] = [
  ['-1h', -60 * MINUTE],
  ['-10m', -10 * MINUTE],
  ['-1s', -1_000],
  ['0', 0],
  ['+1s', 1_000],
  ['+4m', 4 * MINUTE],
  ['+5m', 5 * MINUTE],
];
/** Each exit reaches the service 20 ms after the crash. */
const LAG_MS = 20;

const PATTERNS: readonly [string, (skewMs: number) => WorkloadRun[]][] = [
  ['a crash loop', (skewMs) => Array.from({ length: 8 }, () => ({ runMs: 1_000, skewMs, reportLagMs: LAG_MS }))],
  [
    'a stable run, then crashes',
    (skewMs) => [1_000, 1_000, 11 * MINUTE, 1_000, 1_000, 1_000].map((runMs) => ({ runMs, skewMs, reportLagMs: LAG_MS })),
  ],
  [
    'a skewed report followed by correct ones',
    (skewMs) => Array.from({ length: 7 }, (_, index) => ({ runMs: 1_000, skewMs: index === 1 ? skewMs : 0, reportLagMs: LAG_MS })),
  ],
];

function sameReport(a: ObservedExit, b: ObservedExit): boolean {
  return a.reported.finishedAt === b.reported.finishedAt && a.reported.startedAt === b.reported.startedAt;
}

/** The checks every scenario must pass: each new exit restarted once, never early, counted exactly. */
function expectNeverEarlyNeverLost(observed: readonly ObservedExit[], runs: number, slackMs: number): void {
  expect(observed).toHaveLength(runs);
  for (const exit of observed) {
    const where = `exit #${exit.index} ${JSON.stringify({ reported: exit.reported, decision: exit.decision.decision })}`;
    expect(exit.decision.decision, where).toMatch(/^Restart(Now|Scheduled)$/);
    expect(exit.decision.restartCount, where).toBe(exit.index + 1);
    expect(exit.outcome, where).toBe('Dispatched');
    expect(exit.dispatchedAt!, where).toBeGreaterThanOrEqual(exit.earliestAllowedAt);
    // …and no later than the report's own trip (and the timestamps' unit) makes unavoidable.
    expect(exit.dispatchedAt! - exit.earliestAllowedAt, where).toBeLessThanOrEqual(slackMs);
  }
}

describe('workload clocks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
  });
  afterAll(async () => {
    await h.close();
  });

  /** A fresh container for each scenario, on the shared harness. */
  let pods = 0;
  const nextRef = () => ({ namespace: 'skew', pod: `p${++pods}`, container: 'app' });

  describe.each([
    ['without restartCount', false],
    ['with restartCount', true],
  ])('%s', (_name, reportRestartCount) => {
    describe.each(PATTERNS)('%s', (_pattern, runsFor) => {
      it.each(SKEWS)('with the workload’s clock %s: never early in real time, never lost, restart counts exact', async (_skew, skewMs) => {
        h.clock.set(T0);
        const runs = runsFor(skewMs);
        const observed = await playWorkload({ deps: h.deps, clock: h.clock, policy: KUBELET, reportRestartCount, ref: nextRef() }, runs);
        expectNeverEarlyNeverLost(observed, runs.length, LAG_MS);
      });
    });
  });

  it('gives a clock 10 minutes behind kubelet’s delays 0, 10s, 20s, 40s… in real time', async () => {
    h.clock.set(T0);
    const observed = await playWorkload(
      { deps: h.deps, clock: h.clock, policy: KUBELET, ref: nextRef() },
      Array.from({ length: 6 }, () => ({ runMs: 1_000, skewMs: -10 * MINUTE })),
    );
    expect(observed.map((exit) => exit.dispatchedAt! - exit.realFinishedAt)).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000]);
    expect(observed.map((exit) => exit.decision.delayMs)).toEqual([0, 10_000, 20_000, 40_000, 80_000, 160_000]);
  });

  it('keeps restarting a container whose clock ran 4 minutes ahead once', async () => {
    h.clock.set(T0);
    const runs = [0, 4 * MINUTE, 0, 0, 0].map((skewMs) => ({ runMs: 1_000, skewMs }));
    const observed = await playWorkload({ deps: h.deps, clock: h.clock, policy: KUBELET, ref: nextRef() }, runs);
    expect(observed.map((exit) => exit.decision.decision)).toEqual(['RestartNow', 'RestartScheduled', 'RestartScheduled', 'RestartScheduled', 'RestartScheduled']);
    expect(observed.map((exit) => exit.dispatchedAt! - exit.realFinishedAt)).toEqual([0, 10_000, 20_000, 40_000, 80_000]);
  });

  describe('whole-second timestamps', () => {
    const reduced = resolveBackoffPolicy({ preset: 'reduced' });
    /** Crashes within the second it started in, many times over: whole-second reports cannot tell these runs apart. */
    const quickCrashes = (count: number): WorkloadRun[] => Array.from({ length: count }, () => ({ runMs: 100, reportLagMs: 5 }));

    it('with restartCount, never stall, and never restart early by the rounding', async () => {
      h.clock.set(T0 + 200);
      const observed = await playWorkload(
        { deps: h.deps, clock: h.clock, policy: reduced, resolutionMs: 1_000, reportRestartCount: true, ref: nextRef() },
        quickCrashes(10),
      );
      expectNeverEarlyNeverLost(observed, 10, 1_000);
    });

    it('without restartCount, tell exits apart by their seconds; only an identical report is a Duplicate', async () => {
      // Runs of 1.5 s: every report names a second its predecessor did not.
      h.clock.set(T0 + 200);
      const observed = await playWorkload(
        { deps: h.deps, clock: h.clock, policy: reduced, resolutionMs: 1_000, ref: nextRef() },
        Array.from({ length: 8 }, () => ({ runMs: 1_500, reportLagMs: 5 })),
      );
      expectNeverEarlyNeverLost(observed, 8, 1_000);
    });

    it('answers a repeat of the same report as a Duplicate that restarts nothing, with and without restartCount', async () => {
      for (const reportRestartCount of [false, true]) {
        h.clock.set(T0 + 200);
        const ref = nextRef();
        const runs = reportRestartCount ? quickCrashes(2) : [{ runMs: 1_500 }, { runMs: 1_500 }];
        const [, second] = await playWorkload({ deps: h.deps, clock: h.clock, policy: reduced, resolutionMs: 1_000, reportRestartCount, ref }, runs);
        expect(second!.outcome).toBe('Dispatched');
        h.resetAwsCalls();
        const requestsBefore = h.restartRequests().length;
        h.clock.advance(3_000);
        const repeat = await handleExit(h.deps, second!.reported);
        expect(repeat).toMatchObject({ decision: 'Duplicate', restartCount: 2 });
        expect(h.awsCalls()).toEqual([]);
        expect(h.restartRequests()).toHaveLength(requestsBefore);
      }
    });

    it('without restartCount, cannot tell two runs inside one second apart: an identical report is taken for a repeat', async () => {
      // The documented limit that restartCount lifts: the second exit repeats the
      // first one's (startedAt, finishedAt) to the second.
      h.clock.set(T0 + 200);
      const observed = await playWorkload(
        { deps: h.deps, clock: h.clock, policy: reduced, resolutionMs: 1_000, ref: nextRef() },
        [{ runMs: 0, reportLagMs: 5 }, { runMs: 100, reportLagMs: 5 }],
      );
      expect(observed.map((exit) => exit.decision.decision)).toEqual(['RestartNow', 'Duplicate']);
    });
  });

  describe('properties', () => {
    interface Scenario {
      readonly policy: BackoffPolicy;
      readonly resolutionMs: number;
      readonly reportRestartCount: boolean;
      readonly reportStartedAt: boolean;
      readonly runs: WorkloadRun[];
    }
    const skewArb = fc.oneof(
      fc.constant(0),
      fc.integer({ min: -2 * 3_600_000, max: 5 * MINUTE }),
      fc.integer({ min: -5_000, max: 5_000 }),
    );
    const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
      policy: fc
        .record({ initial: fc.integer({ min: 1, max: 20_000 }), max: fc.integer({ min: 1, max: 300_000 }) })
        .map(({ initial, max }) => resolveBackoffPolicy({ initial, max })),
      resolutionMs: fc.constantFrom(1, 10, 1_000),
      reportRestartCount: fc.boolean(),
      reportStartedAt: fc.boolean(),
      runs: fc.array(
        fc.record({
          runMs: fc.oneof(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 599_000, max: 601_000 }), fc.integer({ min: 0, max: 20 * MINUTE })),
          skewMs: skewArb,
          reportLagMs: fc.integer({ min: 0, max: 50 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
    });

    /**
     * Without startedAt nothing measures a run free of skew: a clock ahead by
     * no more than the report's own trip reads as correct, and a run at the
     * reset threshold can then reset the back-off. The README names this
     * window; the properties leave it out (with startedAt it does not exist).
     */
    const outsideTheDocumentedWindow = (scenario: Scenario) =>
      scenario.reportStartedAt || scenario.runs.every((run) => (run.skewMs ?? 0) <= 0 || (run.skewMs ?? 0) > (run.reportLagMs ?? 0));

    it('restarts every new run’s exit exactly once, counted exactly, never early in real time by more than an undetectable skew', async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (scenario) => {
          fc.pre(outsideTheDocumentedWindow(scenario));
          h.clock.set(T0 + 123);
          const observed = await playWorkload({ deps: h.deps, clock: h.clock, ref: nextRef(), ...scenario }, scenario.runs);
          const ended = observed.at(-1)!;
          const previous = observed.at(-2);
          if (observed.length < scenario.runs.length || ended.decision.decision === 'Duplicate') {
            // Only a report the service cannot tell from the one before (the same
            // times, no restartCount) stops the loop, as a Duplicate.
            expect(ended.decision.decision).toBe('Duplicate');
            expect(scenario.reportRestartCount).toBe(false);
            expect(sameReport(ended, previous!)).toBe(true);
            observed.pop();
          }
          for (const exit of observed) {
            const run = scenario.runs[exit.index]!;
            const where = `exit #${exit.index}`;
            expect(exit.decision.restartCount, where).toBe(exit.index + 1);
            expect(exit.outcome, where).toBe('Dispatched');
            // Never before the exit reached the service…
            expect(exit.dispatchedAt!, where).toBeGreaterThanOrEqual(exit.arrivedAt);
            // …nor before kubelet's instant, but by the part of a clock running
            // behind that the timestamps' unit hides (a clock behind by less than
            // their resolution reads as a correct one).
            const hidden = Math.min(Math.max(0, -(run.skewMs ?? 0)), scenario.resolutionMs > 1 ? 2 * scenario.resolutionMs : 0);
            expect(exit.dispatchedAt! + hidden, where).toBeGreaterThanOrEqual(exit.earliestAllowedAt);
          }
        }),
        { numRuns: 40 },
      );
      // A deadline against a hang only: the runs take a few seconds on an idle machine.
    }, 180_000);

    it('replays the counterexample that once reset a back-off early: a late report, a clock behind, no startedAt', async () => {
      h.clock.set(T0 + 123);
      const policy = resolveBackoffPolicy({ initial: 1, max: 2 });
      const observed = await playWorkload({ deps: h.deps, clock: h.clock, ref: nextRef(), policy, reportStartedAt: false }, [
        { runMs: 0 },
        { runMs: 599_952, skewMs: -599_953, reportLagMs: 49 },
        { runMs: 0 },
      ]);
      for (const exit of observed) expect(exit.dispatchedAt!, `exit #${exit.index}`).toBeGreaterThanOrEqual(exit.earliestAllowedAt);
      expect(observed.map((exit) => exit.decision.delayMs)).toEqual([0, 1, 2]);
    });

    it('with millisecond timestamps and a prompt start, is never early in real time at all', async () => {
      await fc.assert(
        fc.asyncProperty(scenarioArb, async (scenario) => {
          fc.pre(outsideTheDocumentedWindow(scenario));
          h.clock.set(T0 + 123);
          const observed = await playWorkload({ deps: h.deps, clock: h.clock, ref: nextRef(), ...scenario, resolutionMs: 1 }, scenario.runs);
          for (const exit of observed) {
            if (exit.dispatchedAt === undefined) continue;
            expect(exit.dispatchedAt, `exit #${exit.index}`).toBeGreaterThanOrEqual(exit.earliestAllowedAt);
          }
        }),
        { numRuns: 40 },
      );
    }, 180_000);
  });
});
