/**
 * Faults at every step of the pipeline (DESIGN §6, Reliability): a
 * crash-looping container is driven through seven restarts — immediate ones
 * through the SQS fine stage, the 160 s and 300 s ones through a Scheduler
 * schedule — while a fault is injected at one point of the hot path, the
 * restart callback, or the sync. The cloud around the services behaves as AWS
 * documents it: Scheduler fires anywhere in the minute of its `at()`, SQS and
 * Scheduler deliver at least once (every timer here is delivered twice), a
 * failed callback is retried (SQS after the 60 s visibility timeout, up to 5
 * receives; Scheduler up to 11 attempts), the client retries a failed exit
 * report with the same exitId, and the sync runs every minute.
 *
 * At the end, for every decided restart: exactly one `Container Restart
 * Requested` was accepted by the bus, none is missing, none was dispatched
 * before its instant, and the store agrees. Where exactly-once cannot hold —
 * the process dies, or loses the answer, after the bus accepted the restart
 * but before the dispatched mark is stored (the documented window; consumers
 * deduplicate on restartId) — the row says so and the weaker property is
 * asserted: at most one extra delivery, with the same restartId.
 */
import { ConflictException, ServiceQuotaExceededException, ThrottlingException } from '@aws-sdk/client-scheduler';
import { ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../lib/core/index.ts';
import { fireRestart, type FireOutcome } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { sync } from '../../lib/services/sync.ts';
import {
  claimsDispatch,
  FaultInjector,
  injectDynamoFaults,
  marksDispatched,
  publishesRestart,
  putItemMarksDispatched,
  putsRestartEvent,
  SimulatedCloud,
  withFaults,
  type BusEntry,
  type FaultRule,
  type TimerDelivery,
} from '../support/faults.ts';
import { acquireDynalite, createHarness, exitOf, releaseDynalite, T0, type Harness } from '../support/pipeline.ts';
import type { LocalDynamo } from '../../lib/local/dynalite.ts';
import { formatTable } from '../../lib/cli/table.ts';

/** Restarts each scenario drives: delays 0, 10 s, 20 s, 40 s, 80 s (fine stage), 160 s, 300 s (schedules). */
const RESTARTS = 7;
const KUBELET_DELAYS_MS = [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000];
/** The AWS deployment's sync period (DESIGN §2: every minute). */
const SYNC_PERIOD_MS = 60_000;
/** The fine stage's visibility timeout (six times the 10 s handler timeout) and its receives before the DLQ. */
const SQS_VISIBILITY_MS = 60_000;
const SQS_MAX_RECEIVES = 5;
/** Scheduler retries a failed invocation (MaximumRetryAttempts 10); modelled a minute apart. */
const SCHEDULER_RETRY_MS = 60_000;
const SCHEDULER_MAX_ATTEMPTS = 11;
/** The client's retries of a failed exit report, same exitId, backing off from 1 s. */
const EXIT_MAX_ATTEMPTS = 8;
/** Every armed timer is delivered again this long after the original (at-least-once). */
const DUPLICATE_AFTER_MS = 3_000;
const KEY = 'web-0_default_uid-1_app_';

const throttled = () => new ThrottlingException({ message: 'Rate exceeded', Message: 'Rate exceeded', $metadata: {} });
const quotaExceeded = () => new ServiceQuotaExceededException({ message: 'Schedules quota exceeded', Message: 'Schedules quota exceeded', $metadata: {} });
const conflict = () => new ConflictException({ message: 'Schedule already exists', Message: 'Schedule already exists', $metadata: {} });
const provisionedThroughput = () => new ProvisionedThroughputExceededException({ message: 'Throughput exceeds the provisioned rate', $metadata: {} });
const sqsDown = () => Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $metadata: { httpStatusCode: 503 } });
const busDown = () => Object.assign(new Error('Internal failure'), { name: 'InternalException', $metadata: { httpStatusCode: 500 } });

/** Every restart's arming fails, so the sync has every restart to recover (for faults inside the sync). */
const ARMING_FAILS: FaultRule = { label: 'arming fails', point: 'timer.arm', phase: 'before', activity: 'exit', times: 99, error: sqsDown };

interface Row {
  readonly name: string;
  readonly faults: readonly FaultRule[];
  /** The documented window: the bus accepted a restart its dispatcher could not mark. */
  readonly window?: boolean;
  /** No fault: a control row, which must be on time. */
  readonly control?: boolean;
  /** Index shards (the sync reads each one). @default 1 */
  readonly shards?: number;
  /** Time from each callback's delivery to its claim (see `WorldOptions`). @default 0 */
  readonly callbackLatencyMs?: number;
  /**
   * A claimer that died is taken over within one lease: no restart later than
   * the lease plus, twice (the dying claim and the takeover), the callback
   * latency and the fine stage's whole-second rounding.
   */
  readonly withinLease?: boolean;
}

const ROWS: readonly Row[] = [
  { name: 'no fault (duplicate deliveries only)', faults: [], control: true },

  // The hot path: handleExit.
  { name: 'exit: crash after the read', faults: [{ point: 'store.get', phase: 'after', kind: 'crash', activity: 'exit' }] },
  { name: 'exit: crash before the write', faults: [{ point: 'store.put', phase: 'before', kind: 'crash', activity: 'exit' }] },
  { name: 'exit: crash after the write (decision stored, timer never armed)', faults: [{ point: 'store.put', phase: 'after', kind: 'crash', activity: 'exit' }] },
  { name: 'exit: crash before arming the timer', faults: [{ point: 'timer.arm', phase: 'before', kind: 'crash', activity: 'exit' }] },
  { name: 'exit: crash after arming the timer', faults: [{ point: 'timer.arm', phase: 'after', kind: 'crash', activity: 'exit' }] },
  { name: 'exit: arming the timer fails (error handled)', faults: [{ point: 'timer.arm', phase: 'before', activity: 'exit' }] },
  // An immediate restart (restart 1) is written claimed and published by the exit's own handling.
  { name: 'exit: crash after the claimed write of an immediate restart', faults: [{ point: 'store.put', phase: 'after', kind: 'crash', activity: 'exit', restarts: [1], call: 1 }] },
  { name: 'exit: crash before publishing an immediate restart', faults: [{ point: 'sink.publish', phase: 'before', kind: 'crash', activity: 'exit', where: publishesRestart }] },
  { name: 'exit: publishing an immediate restart fails (claim released, fine stage)', faults: [{ point: 'sink.publish', phase: 'before', activity: 'exit', where: publishesRestart }] },
  {
    name: 'exit: publishing an immediate restart fails, and so does the fine stage',
    faults: [
      { point: 'sink.publish', phase: 'before', activity: 'exit', where: publishesRestart },
      { point: 'timer.arm', phase: 'before', activity: 'exit', restarts: [1], error: sqsDown },
    ],
  },
  {
    name: 'exit: crash after the bus accepted an immediate restart, before the mark',
    faults: [{ point: 'sink.publish', phase: 'after', kind: 'crash', activity: 'exit', where: publishesRestart }],
    window: true,
  },
  {
    name: 'exit: the dispatched mark of an immediate restart fails',
    faults: [{ point: 'store.put', phase: 'before', kind: 'crash', activity: 'exit', where: marksDispatched }],
    window: true,
  },

  // The restart callback: fireRestart.
  { name: 'dispatch: crash after the read', faults: [{ point: 'store.get', phase: 'after', kind: 'crash', activity: 'fire' }] },
  { name: 'dispatch: crash before the claim', faults: [{ point: 'store.put', phase: 'before', kind: 'crash', activity: 'fire', call: 1 }] },
  { name: 'dispatch: crash after the claim', faults: [{ point: 'store.put', phase: 'after', kind: 'crash', activity: 'fire', call: 1 }] },
  { name: 'dispatch: crash before publishing', faults: [{ point: 'sink.publish', phase: 'before', kind: 'crash', activity: 'fire', where: publishesRestart }] },
  { name: 'dispatch: publishing fails (claim released)', faults: [{ point: 'sink.publish', phase: 'before', activity: 'fire', where: publishesRestart }] },
  {
    name: 'dispatch: crash after the bus accepted, before the mark',
    faults: [{ point: 'sink.publish', phase: 'after', kind: 'crash', activity: 'fire', where: publishesRestart }],
    window: true,
  },
  {
    name: 'dispatch: publish answered an error after the bus accepted',
    faults: [{ point: 'sink.publish', phase: 'after', activity: 'fire', where: publishesRestart }],
    window: true,
  },
  {
    name: 'dispatch: the dispatched mark fails',
    faults: [{ point: 'store.put', phase: 'before', kind: 'crash', activity: 'fire', where: marksDispatched }],
    window: true,
  },
  { name: 'dispatch: crash after the dispatched mark', faults: [{ point: 'store.put', phase: 'after', kind: 'crash', activity: 'fire', where: marksDispatched }] },
  // SQS's visibility timeout equals the lease and counts from the delivery, so
  // with any time between delivery and claim the redelivery after the claimer
  // died (and the at-least-once copy) find the claim still live.
  {
    name: 'dispatch: crash after the claim, redelivered inside the lease',
    faults: [{ point: 'store.put', phase: 'after', kind: 'crash', activity: 'fire', call: 1 }],
    callbackLatencyMs: 2_000,
    withinLease: true,
  },
  {
    name: 'dispatch: crash before publishing, redelivered inside the lease',
    faults: [{ point: 'sink.publish', phase: 'before', kind: 'crash', activity: 'fire', where: publishesRestart }],
    callbackLatencyMs: 2_000,
    withinLease: true,
  },
  { name: 'dispatch: crash before handing an early callback to the fine stage', faults: [{ point: 'timer.defer', phase: 'before', kind: 'crash', activity: 'fire' }] },
  { name: 'dispatch: crash after handing an early callback to the fine stage', faults: [{ point: 'timer.defer', phase: 'after', kind: 'crash', activity: 'fire' }] },

  // The sync, with every timer failing so that it has every restart to recover.
  {
    name: 'sync: crash mid-run (between shards) in 40% of runs',
    faults: [ARMING_FAILS, { point: 'store.listWaiting', phase: 'before', kind: 'crash', activity: 'sync', call: 2, chance: 0.4 }],
    shards: 2,
  },
  { name: 'sync: crash after the recovery read, three runs', faults: [ARMING_FAILS, { point: 'store.get', phase: 'after', kind: 'crash', activity: 'sync', times: 3 }] },
  { name: 'sync: crash after the recovery claim, twice per restart', faults: [ARMING_FAILS, { point: 'store.put', phase: 'after', kind: 'crash', activity: 'sync', where: claimsDispatch, times: 2 }] },
  { name: 'sync: crash before publishing a recovery, twice per restart', faults: [ARMING_FAILS, { point: 'sink.publish', phase: 'before', kind: 'crash', activity: 'sync', where: publishesRestart, times: 2 }] },
  {
    name: 'sync: crash after the bus accepted a recovery, before the mark',
    faults: [ARMING_FAILS, { point: 'sink.publish', phase: 'after', kind: 'crash', activity: 'sync', where: publishesRestart }],
    window: true,
  },

  // AWS errors at the SDK boundary.
  { name: 'Scheduler ThrottlingException on CreateSchedule', faults: [{ point: 'CreateSchedule', phase: 'before', times: 99, error: throttled }] },
  { name: 'Scheduler ServiceQuotaExceededException on CreateSchedule', faults: [{ point: 'CreateSchedule', phase: 'before', times: 99, error: quotaExceeded }] },
  { name: 'Scheduler ConflictException: schedule created, answer lost', faults: [{ point: 'CreateSchedule', phase: 'after', times: 99, error: conflict }] },
  // Schedule names derive from key + restart count, which start over after a reset or an expired
  // entry: a stale, unfired schedule can hold the name, and the conflict is taken as "already armed".
  { name: 'Scheduler ConflictException: name held, nothing armed', faults: [{ point: 'CreateSchedule', phase: 'before', times: 99, error: conflict }] },
  { name: 'SQS SendMessage fails when arming', faults: [{ point: 'SendMessage', phase: 'before', activity: 'exit', times: 99, error: sqsDown }] },
  { name: 'SQS SendMessage sent, answer lost, when arming', faults: [{ point: 'SendMessage', phase: 'after', activity: 'exit', times: 99, error: sqsDown }] },
  { name: 'SQS SendMessage fails when deferring', faults: [{ point: 'SendMessage', phase: 'before', activity: 'fire', times: 2, error: sqsDown }] },
  { name: 'EventBridge PutEvents rejected', faults: [{ point: 'PutEvents', phase: 'before', activity: 'fire', where: putsRestartEvent, error: busDown }] },
  { name: 'EventBridge FailedEntryCount once (sink retries)', faults: [{ point: 'PutEvents', phase: 'before', activity: 'fire', where: putsRestartEvent, failEntries: true }] },
  { name: 'EventBridge FailedEntryCount on every attempt', faults: [{ point: 'PutEvents', phase: 'before', activity: 'fire', where: putsRestartEvent, failEntries: true, times: 3 }] },
  {
    name: 'EventBridge PutEvents accepted, answer lost',
    faults: [{ point: 'PutEvents', phase: 'after', activity: 'fire', where: putsRestartEvent, error: busDown }],
    window: true,
  },
  { name: 'DynamoDB throttled: GetItem in exit', faults: [{ point: 'GetItem', phase: 'before', activity: 'exit', times: 2, error: provisionedThroughput }] },
  { name: 'DynamoDB throttled: PutItem in exit', faults: [{ point: 'PutItem', phase: 'before', activity: 'exit', times: 2, error: provisionedThroughput }] },
  { name: 'DynamoDB throttled after the PutItem landed, in exit', faults: [{ point: 'PutItem', phase: 'after', activity: 'exit', error: provisionedThroughput }] },
  { name: 'DynamoDB throttled: GetItem in dispatch', faults: [{ point: 'GetItem', phase: 'before', activity: 'fire', times: 2, error: provisionedThroughput }] },
  { name: 'DynamoDB throttled: claim PutItem', faults: [{ point: 'PutItem', phase: 'before', activity: 'fire', call: 1, error: provisionedThroughput }] },
  { name: 'DynamoDB throttled after the claim landed', faults: [{ point: 'PutItem', phase: 'after', activity: 'fire', call: 1, error: provisionedThroughput }] },
  // The mark is retried after the bus accepted the restart: a throttled mark is not a window.
  { name: 'DynamoDB throttled: dispatched-mark PutItem', faults: [{ point: 'PutItem', phase: 'before', activity: 'fire', where: putItemMarksDispatched, error: provisionedThroughput }] },
  { name: 'DynamoDB throttled after the dispatched mark landed', faults: [{ point: 'PutItem', phase: 'after', activity: 'fire', where: putItemMarksDispatched, error: provisionedThroughput }] },
  { name: 'DynamoDB throttled: Query in 40% of sync runs', faults: [ARMING_FAILS, { point: 'Query', phase: 'before', activity: 'sync', call: 1, chance: 0.4, error: provisionedThroughput }] },
  { name: 'DynamoDB throttled: recovery claim in sync, twice per restart', faults: [ARMING_FAILS, { point: 'PutItem', phase: 'before', activity: 'sync', times: 2, error: provisionedThroughput }] },
];

/** How long each run of the container lasts: short, and longer than a redelivery or a lease. */
const RUNS_MS = [1_000, 90_000] as const;

// ---------------------------------------------------------------------------
// The simulated world

type WorldEvent =
  | { readonly kind: 'exit'; readonly restart: number; readonly attempt: number; readonly startedAt: number; readonly finishedAt: number }
  | { readonly kind: 'callback'; readonly delivery: TimerDelivery; readonly attempt: number }
  | { readonly kind: 'sync' };

interface WorldOptions {
  readonly runMs: number;
  /** Attempts the client makes at reporting one exit. */
  readonly exitAttempts?: number;
  /**
   * Time from a callback's first delivery to its first store call (a cold
   * start); retries run warm. SQS's visibility timeout (equal to the lease)
   * and Scheduler's retries count from the delivery, so the redelivery after
   * a claimer died lands this long before its claim expires. @default 0
   */
  readonly callbackLatencyMs?: number;
}

interface WorldResult {
  /** The answer to each exit, by the restart count it decided. */
  readonly decisions: Map<number, Decision>;
  /** When each exit happened, by the restart count it decided. */
  readonly finishedAt: Map<number, number>;
  readonly restartRequests: BusEntry[];
  readonly exitRetries: number;
  readonly lostExits: number[];
  readonly callbackFailures: number;
  readonly deadLettered: number;
  readonly syncFailures: number;
  readonly outcomes: Partial<Record<FireOutcome, number>>;
}

function fnv(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index++) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return hash >>> 0;
}

/**
 * Drives a container through `RESTARTS` crashes: it exits `runMs` after each
 * restart the bus accepted (the orchestrator deduplicates on restartId), until
 * the last restart is dispatched and the sync has had time past the grace
 * period and the lease to recover anything left behind.
 */
async function runCrashLoop(h: Harness, dynamo: LocalDynamo, faults: FaultInjector, options: WorldOptions): Promise<WorldResult> {
  const { runMs, exitAttempts = EXIT_MAX_ATTEMPTS, callbackLatencyMs = 0 } = options;
  const queue: { at: number; seq: number; event: WorldEvent }[] = [];
  let seq = 0;
  const push = (at: number, event: WorldEvent) => {
    queue.push({ at, seq: seq++, event });
    queue.sort((a, b) => a.at - b.at || a.seq - b.seq);
  };
  const deps = withFaults(h.deps, faults);
  const { recoveryGraceMs, dispatchLeaseMs } = h.deps.config;
  const removeDynamoFaults = injectDynamoFaults(dynamo.client, h.tableName, faults);
  const cloud = new SimulatedCloud(h, faults, (delivery) => push(delivery.at, { kind: 'callback', delivery, attempt: 1 }), {
    duplicateAfterMs: DUPLICATE_AFTER_MS,
    scheduleSpreadMs: (name) => fnv(name) % 60_000,
  });

  const decisions = new Map<number, Decision>();
  const finishedAt = new Map<number, number>();
  const restarted = new Set<string>();
  const lostExits: number[] = [];
  const outcomes: Partial<Record<FireOutcome, number>> = {};
  let exitRetries = 0;
  let callbackFailures = 0;
  let deadLettered = 0;
  let syncFailures = 0;
  let seen = 0;
  let lastRestartAt = T0;

  push(T0, { kind: 'exit', restart: 1, attempt: 1, startedAt: T0 - runMs, finishedAt: T0 });
  push(T0 + SYNC_PERIOD_MS / 2, { kind: 'sync' });
  const settleMs = recoveryGraceMs + dispatchLeaseMs + 3 * SYNC_PERIOD_MS;
  const hardLimit = T0 + 6 * 3_600_000;

  try {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const { at, event } = next;
      if (at > hardLimit) throw new Error(`the scenario did not settle within 6 h of simulated time: ${restarted.size} of ${RESTARTS} restarts dispatched`);
      const settled = restarted.size === RESTARTS && !queue.some((pending) => pending.event.kind !== 'sync') && at >= lastRestartAt + settleMs;
      if (settled) break;
      h.clock.set(Math.max(h.clock.now(), at));
      const now = h.clock.now();

      if (event.kind === 'exit') {
        finishedAt.set(event.restart, event.finishedAt);
        const exit = exitOf(event.finishedAt, { exitId: `exit-${event.restart}`, startedAt: event.startedAt });
        const result = await faults.during({ activity: 'exit', restart: event.restart }, () => handleExit(deps, exit));
        if (result.ok) {
          if (!decisions.has(event.restart)) decisions.set(event.restart, result.value);
        } else if (event.attempt < exitAttempts) {
          exitRetries++;
          push(now + Math.min(1_000 * 2 ** (event.attempt - 1), 30_000), { ...event, attempt: event.attempt + 1 });
        } else {
          lostExits.push(event.restart);
        }
      } else if (event.kind === 'callback') {
        const { callback, via } = event.delivery;
        // A first delivery starts cold; a retry finds the function warm. `now`
        // stays the delivery: the retry clocks below count from it.
        if (event.attempt === 1) h.clock.advance(callbackLatencyMs);
        const result = await faults.during({ activity: 'fire', restart: callback.restartCount }, () =>
          fireRestart(deps, { key: callback.key, restartCount: callback.restartCount }),
        );
        if (result.ok) {
          outcomes[result.value] = (outcomes[result.value] ?? 0) + 1;
        } else {
          callbackFailures++;
          const maxAttempts = via === 'queue' ? SQS_MAX_RECEIVES : SCHEDULER_MAX_ATTEMPTS;
          if (event.attempt < maxAttempts) push(now + (via === 'queue' ? SQS_VISIBILITY_MS : SCHEDULER_RETRY_MS), { ...event, attempt: event.attempt + 1 });
          else deadLettered++;
        }
      } else {
        const result = await faults.during({ activity: 'sync' }, () => sync(deps));
        if (!result.ok || result.value.failures > 0) syncFailures++;
        push(now + SYNC_PERIOD_MS, { kind: 'sync' });
      }

      // The orchestrator restarts the container on each new restartId; it crashes again runMs later.
      for (const entry of cloud.restartRequests().slice(seen)) {
        const { restartId, restartCount, firedAt } = entry.detail as { restartId: string; restartCount: number; firedAt: string };
        if (restarted.has(restartId)) continue;
        restarted.add(restartId);
        lastRestartAt = Date.parse(firedAt);
        if (restartCount < RESTARTS) {
          const startedAt = Date.parse(firedAt);
          push(startedAt + runMs, { kind: 'exit', restart: restartCount + 1, attempt: 1, startedAt, finishedAt: startedAt + runMs });
        }
      }
      seen = cloud.restartRequests().length;
    }
  } finally {
    faults.enabled = false;
    removeDynamoFaults();
  }
  return { decisions, finishedAt, restartRequests: cloud.restartRequests(), exitRetries, lostExits, callbackFailures, deadLettered, syncFailures, outcomes };
}

// ---------------------------------------------------------------------------
// What must hold at the end

interface Expectations {
  /** At most one extra delivery per restart, same restartId (the documented window). */
  readonly window?: boolean;
  /** The delays must be exactly kubelet's 0, 10 s, … 300 s (no reset on the way). */
  readonly kubeletDelays?: boolean;
  /** Largest lateness accepted, in ms. */
  readonly maxLatenessMs: number;
}

interface Verdict {
  readonly delivered: number;
  readonly extra: number;
  readonly recovered: number;
  readonly maxLatenessMs: number;
  readonly outcome: string;
}

/** Checks the end state; returns what the summary shows (after the checks pass, or with the failure's cause). */
async function verify(h: Harness, world: WorldResult, expectations: Expectations, record: (verdict: Verdict) => void): Promise<void> {
  const byRestart = new Map<number, BusEntry[]>();
  for (const entry of world.restartRequests) {
    const count = entry.detail.restartCount as number;
    byRestart.set(count, [...(byRestart.get(count) ?? []), entry]);
  }
  const lateness = world.restartRequests.map((entry) => Date.parse(entry.detail.firedAt as string) - Date.parse(entry.detail.restartAt as string));
  const perRestart = [...byRestart.values()].map((entries) => entries.length);
  const extra = perRestart.reduce((sum, count) => sum + count - 1, 0);
  const verdict = {
    delivered: world.restartRequests.length,
    extra,
    recovered: world.restartRequests.filter((entry) => entry.detail.recovered === true).length,
    maxLatenessMs: Math.max(0, ...lateness),
  };
  const outcome =
    world.lostExits.length > 0 || byRestart.size !== RESTARTS
      ? 'LOST'
      : lateness.some((ms) => ms < 0)
        ? 'EARLY'
        : Math.max(...perRestart) === 1
          ? 'exactly once'
          : expectations.window && Math.max(...perRestart) === 2
            ? `≤1 extra per restart (${extra} extra)`
            : `FAIL: ${Math.max(...perRestart)} deliveries of one restart`;
  record({ ...verdict, outcome });

  expect(world.lostExits, 'exit reports that failed on every retry').toEqual([]);

  // Every exit decided, each as kubelet's back-off decides it given when the exits happened.
  const counts = Array.from({ length: RESTARTS }, (_, index) => index + 1);
  expect([...world.decisions.keys()].sort((a, b) => a - b)).toEqual(counts);
  const { initialMs, maxMs, resetAfterMs } = h.deps.config.policy;
  let backoffMs: number | undefined;
  let lastUpdate = 0;
  for (const restartCount of counts) {
    const decision = world.decisions.get(restartCount)!;
    const finished = world.finishedAt.get(restartCount)!;
    const reset = backoffMs === undefined || finished - lastUpdate > resetAfterMs;
    const delayMs = reset ? 0 : backoffMs!;
    backoffMs = reset ? initialMs : Math.min(2 * backoffMs!, maxMs);
    expect(decision, `decision for restart ${restartCount}`).toMatchObject({ key: KEY, restartCount, delayMs });
    expect(decision.restartAt).toBeGreaterThanOrEqual(finished + delayMs);
    if (expectations.kubeletDelays) expect(delayMs).toBe(KUBELET_DELAYS_MS[restartCount - 1]);
    lastUpdate = decision.restartAt!;
  }

  // None missing, none for a restart never decided.
  expect([...byRestart.keys()].sort((a, b) => a - b)).toEqual(counts);
  for (const [restartCount, entries] of byRestart) {
    const decision = world.decisions.get(restartCount)!;
    expect(entries.length, `deliveries of restart ${restartCount}`).toBeLessThanOrEqual(expectations.window ? 2 : 1);
    for (const { detail } of entries) {
      // A repeated delivery is the same restart: consumers deduplicate on restartId.
      expect(detail).toMatchObject({ restartId: decision.restartId, key: KEY, restartCount, restartAt: new Date(decision.restartAt!).toISOString() });
      // Never early.
      expect(Date.parse(detail.firedAt as string), `restart ${restartCount} fired before its instant`).toBeGreaterThanOrEqual(decision.restartAt!);
    }
  }
  expect(verdict.maxLatenessMs).toBeLessThanOrEqual(expectations.maxLatenessMs);
  // What the harness's sink saw published is a subset of what the bus accepted (it misses answers lost after acceptance).
  const accepted = new Set(world.restartRequests.map((entry) => `${entry.detail.restartId as string}@${entry.detail.firedAt as string}`));
  for (const detail of h.restartRequests()) expect(accepted).toContain(`${detail.restartId as string}@${detail.firedAt as string}`);

  // The store agrees: the last restart dispatched, nothing left waiting.
  const final = await h.store.get(KEY);
  expect(final?.value).toMatchObject({
    restartCount: RESTARTS,
    state: 'Running',
    restart: { restartCount: RESTARTS, status: 'dispatched', restartAt: world.decisions.get(RESTARTS)!.restartAt },
  });
  expect(final!.value.restart!.dispatchedAt).toBeGreaterThanOrEqual(final!.value.restart!.restartAt);
  expect(await sync(h.deps)).toMatchObject({ overdue: 0, recovered: 0, failures: 0, failedShards: [] });
}

// ---------------------------------------------------------------------------
// Summary

interface Summary extends Verdict {
  readonly row: string;
  readonly outcomes: Partial<Record<FireOutcome, number>>;
  readonly runMs: number;
  readonly faultHits: number;
  readonly exitRetries: number;
  readonly callbackFailures: number;
  readonly deadLettered: number;
  readonly syncFailures: number;
}

/** Short names for the table: Dispatched, AlreadyDispatched, Deferred, InFlight, Stale. */
const CALLBACK_OUTCOMES: [FireOutcome, string][] = [
  ['Dispatched', 'D'],
  ['AlreadyDispatched', 'AD'],
  ['Deferred', 'Df'],
  ['InFlight', 'IF'],
  ['Stale', 'St'],
];

function printSummary(title: string, summaries: readonly Summary[]): void {
  const columns: [string, (s: Summary) => string][] = [
    ['row', (s) => s.row],
    ['run', (s) => `${s.runMs / 1_000}s`],
    ['faults hit', (s) => String(s.faultHits)],
    ['delivered', (s) => String(s.delivered)],
    ['extra', (s) => String(s.extra)],
    ['recovered', (s) => String(s.recovered)],
    ['max late', (s) => `${(s.maxLatenessMs / 1_000).toFixed(1)}s`],
    ['exit retries', (s) => String(s.exitRetries)],
    ['callback fails', (s) => String(s.callbackFailures)],
    ['callback outcomes', (s) => CALLBACK_OUTCOMES.map(([outcome, short]) => `${short}${s.outcomes[outcome] ?? 0}`).join(' ')],
    ['DLQ', (s) => String(s.deadLettered)],
    ['sync fails', (s) => String(s.syncFailures)],
    ['outcome', (s) => s.outcome],
  ];
  console.log(`${title}\n${formatTable(columns.map(([heading]) => heading.toUpperCase()), summaries.map((s) => columns.map(([, cell]) => cell(s))))}`);
}

function summarise(row: string, runMs: number, faults: FaultInjector, world: WorldResult, verdict: Verdict): Summary {
  return {
    row,
    runMs,
    outcomes: world.outcomes,
    faultHits: faults.hits.length,
    exitRetries: world.exitRetries,
    callbackFailures: world.callbackFailures,
    deadLettered: world.deadLettered,
    syncFailures: world.syncFailures,
    ...verdict,
  };
}

// ---------------------------------------------------------------------------

/**
 * The hooks both fault suites share: one dynalite for the file, a fresh
 * harness per test (closed after it), and the summary table printed at the end.
 */
function faultSuite(title: string) {
  let current: Harness | undefined;
  const suite = {
    dynamo: undefined as unknown as LocalDynamo,
    summaries: [] as Summary[],
    async harness(options: Parameters<typeof createHarness>[0]): Promise<Harness> {
      current = await createHarness(options);
      return current;
    },
  };
  beforeAll(async () => {
    suite.dynamo = await acquireDynalite();
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  afterAll(async () => {
    await releaseDynalite();
    if (suite.summaries.length > 0) printSummary(title, suite.summaries);
  });
  return suite;
}

describe('the pipeline under injected faults', () => {
  const suite = faultSuite('Fault table: one crash-looping container, 7 restarts per row');

  const cases = ROWS.flatMap((row) =>
    RUNS_MS.map((runMs) => ({
      ...row,
      runMs,
      title: `${row.name}, runs of ${runMs / 1_000}s: ${row.window ? 'at most one extra delivery, same restartId (the documented window); none lost, none early' : 'exactly once, none lost, none early'}${row.withinLease ? ', taken over within one lease' : ''}`,
    })),
  );

  // By name, not `$title`: interpolated values are cut at 40 characters, and rows differ further on.
  it.each(cases.map((row) => [row.title, row] as const))('%s', async (_title, { name, faults: rules, window, control, shards, callbackLatencyMs = 0, withinLease, runMs }) => {
    const h = await suite.harness({ shards: shards ?? 1 });
    const faults = new FaultInjector(rules);
    const world = await runCrashLoop(h, suite.dynamo, faults, { runMs, callbackLatencyMs });
    const { recoveryGraceMs, dispatchLeaseMs } = h.deps.config;
    await verify(
      h,
      world,
      {
        ...(window ? { window } : {}),
        kubeletDelays: true,
        // On time, or late only by what recovery costs: the grace period, a lease, and a few sync periods of failures.
        maxLatenessMs: control
          ? 999
          : withinLease
            ? dispatchLeaseMs + 2 * (callbackLatencyMs + 1_000)
            : recoveryGraceMs + dispatchLeaseMs + 4 * SYNC_PERIOD_MS,
      },
      (verdict) => suite.summaries.push(summarise(name + (window ? ' [window]' : ''), runMs, faults, world, verdict)),
    );
    // Every fault of the row really happened (a row whose fault never fires proves nothing).
    const fired = new Set(faults.hits.map((hit) => hit.ruleIndex));
    expect(rules.map((_, index) => fired.has(index))).toEqual(rules.map(() => true));
    expect(world.deadLettered, 'callbacks sent to a dead-letter queue').toBe(0);
  });
});

/**
 * Every point at once, each call failing with a small seeded probability —
 * everything except the documented window (a lost answer after the bus
 * accepted, or a failed dispatched mark), so exactly-once must hold.
 */
const STORM_RULES = (chance: number): FaultRule[] => [
  { point: 'store.get', phase: 'before', kind: 'crash', chance },
  { point: 'store.get', phase: 'after', kind: 'crash', chance },
  { point: 'store.put', phase: 'before', kind: 'crash', chance, where: (args) => !marksDispatched(args) },
  { point: 'store.put', phase: 'after', kind: 'crash', chance },
  { point: 'store.listWaiting', phase: 'before', kind: 'crash', chance },
  { point: 'timer.arm', phase: 'before', kind: 'crash', chance },
  { point: 'timer.arm', phase: 'after', kind: 'crash', chance },
  { point: 'timer.defer', phase: 'before', kind: 'crash', chance },
  { point: 'timer.defer', phase: 'after', kind: 'crash', chance },
  { point: 'sink.publish', phase: 'before', kind: 'crash', chance },
  { point: 'sink.publish', phase: 'before', chance },
  { point: 'CreateSchedule', phase: 'before', chance, error: throttled },
  { point: 'CreateSchedule', phase: 'before', chance, error: quotaExceeded },
  { point: 'CreateSchedule', phase: 'after', chance, error: conflict },
  { point: 'SendMessage', phase: 'before', chance, error: sqsDown },
  { point: 'SendMessage', phase: 'after', chance, error: sqsDown },
  { point: 'PutEvents', phase: 'before', chance, failEntries: true },
  { point: 'PutEvents', phase: 'before', chance, error: busDown },
  { point: 'GetItem', phase: 'before', chance, error: provisionedThroughput },
  { point: 'GetItem', phase: 'after', chance, error: provisionedThroughput },
  { point: 'PutItem', phase: 'before', chance, error: provisionedThroughput, where: (args) => !putItemMarksDispatched(args) },
  { point: 'PutItem', phase: 'after', chance, error: provisionedThroughput },
  { point: 'Query', phase: 'before', chance, error: provisionedThroughput },
];

describe('the pipeline under a seeded storm of faults at every point', () => {
  const suite = faultSuite('Fault storms: every point fails with probability 3% per rule');

  it.each([1, 2, 3, 4, 5, 6, 7, 8].flatMap((seed) => RUNS_MS.map((runMs) => ({ seed, runMs }))))(
    'seed $seed, runs of $runMs ms: exactly once, none lost, none early',
    async ({ seed, runMs }) => {
      const h = await suite.harness({ shards: 2 });
      const faults = new FaultInjector(STORM_RULES(0.03), seed);
      // The reporter keeps retrying: a storm must not make the test lose the exit itself.
      const world = await runCrashLoop(h, suite.dynamo, faults, { runMs, exitAttempts: 30 });
      await verify(h, world, { maxLatenessMs: 3_600_000 }, (verdict) => suite.summaries.push(summarise(`seed ${seed}`, runMs, faults, world, verdict)));
      expect(faults.hits.length).toBeGreaterThan(0);
    },
  );
});
