import { delayWaitingRestart, eventRecord, formatPod, restartIdOf, targetKind, type ContainerState, type EventRecord, type PendingRestart } from '../core/index.ts';
import { BUS_DETAIL_TYPES, type KeptRestart, type RestartOutbox, type RestartRequest, type Versioned } from '../ports.ts';
import { budgetPort, errorDetails, pauseAfterConflict, waitUntil, WriteContentionError, type ServiceDeps } from './deps.ts';

export type FireOutcome =
  /** Published now. */
  | 'Dispatched'
  /** Published now by the sync, after its timer was lost or its claimer died. */
  | 'Recovered'
  /** Called early: the remainder was handed to the fine stage. */
  | 'Deferred'
  /** Already published (a duplicate callback). */
  | 'AlreadyDispatched'
  /**
   * Another caller holds a live claim on it right now: handed to the fine
   * stage for the instant the claim expires, to take over if its holder died.
   */
  | 'InFlight'
  /** Superseded by a newer exit, or the entry was reset or collected. */
  | 'Stale'
  /** Due, but its namespace's restart budget gave it a later slot: handed to the fine stage for that instant. */
  | 'DelayedByBudget';

export interface FireOptions {
  /** Set by the sync: the restart is overdue and its timer presumed lost. */
  readonly recovered?: boolean;
  /**
   * A consistent read of the container the caller has just made (the sync
   * reads each overdue item to judge it), used in place of the first
   * attempt's read; a conflicting write reads again.
   */
  readonly prefetched?: Versioned<ContainerState>;
}

/**
 * Dispatches one restart (key + restart count), never before its instant and
 * exactly once, by conditional state transitions on the container's item
 * (a callback at most `inlineWaitMs` early waits for the instant after its
 * read; an earlier one is handed back to the timer):
 *
 *   waiting ──claim──▶ dispatching ──publish, then mark──▶ dispatched
 *
 * The claim makes concurrent callbacks (Scheduler and SQS deliver at least
 * once) race on one conditional write, so only one publishes. A claim expires
 * after `dispatchLeaseMs`: if its holder died before publishing, the next
 * callback after that takes it over. A callback that finds a live claim is
 * that next callback: it hands itself to the fine stage for the instant the
 * claim expires (by then the claim is either marked dispatched or dead), so a
 * takeover never waits for the sync. Each such callback becomes one deferral,
 * never more, so duplicates cannot multiply. If publishing fails the claim is
 * released and the error surfaces, so the callback is retried.
 *
 * Where the restart log is an outbox (the local runtime) there is no claim:
 * the restart is written dispatched in one conditional write bound to its
 * publish (`writeDispatched`), and of racing callbacks only one write lands.
 *
 * In a namespace with a restart budget, a due restart that holds no slot yet
 * takes one before it is claimed (restarts become due in time order, which is
 * what the budget's GCRA needs). A later slot moves the restart there: written
 * back waiting, recorded as delayed, and handed to the fine stage. The slot
 * is kept across the write's retries, and a restart that holds one never
 * takes another, so duplicate callbacks cost at most one slot each.
 */
export async function fireRestart(
  deps: ServiceDeps,
  ref: { readonly key: string; readonly restartCount: number },
  options: FireOptions = {},
): Promise<FireOutcome> {
  let slotAt: number | undefined;
  for (let attempt = 1; attempt <= deps.config.maxWriteAttempts; attempt++) {
    const current = attempt === 1 && options.prefetched ? options.prefetched : await deps.store.get(ref.key);
    // Read after the store answers: "never early" is judged when we decide.
    let now = deps.clock.now();
    const restart = current?.value.restart;
    if (!current || !restart || restart.restartCount !== ref.restartCount) return 'Stale';
    if (restart.status === 'dispatched') return 'AlreadyDispatched';
    // Not yet: called early, or another caller holds a live claim. Either way
    // the callback hands itself to the fine stage for the first instant it can
    // act. For a claim that matters: on SQS the visibility timeout equals the
    // lease, so the redelivery after a claimer died lands inside its claim, and
    // acknowledged without a successor it would leave the restart to the sync.
    const dueAt = actionableAt(restart, deps.config.dispatchLeaseMs);
    if (now < dueAt && dueAt - now > deps.config.inlineWaitMs) {
      await deps.timer.defer({ key: ref.key, restartCount: restart.restartCount, restartAt: dueAt }, now);
      return restart.status === 'dispatching' ? 'InFlight' : 'Deferred';
    }
    // Close enough: wait here, so the claim follows the instant at once. What
    // was read may change meanwhile; the claim is conditional on its version.
    if (now < dueAt) now = await waitUntil(deps, dueAt);

    let due = current.value;
    const budget = restart.status === 'waiting' && restart.budgetDelayMs === undefined ? budgetPort(deps, due.namespace) : undefined;
    if (budget) {
      slotAt ??= await budget.port.reserve(due.namespace, budget.budget, now);
      const slotted = delayWaitingRestart(due, slotAt, now);
      if (slotted.event) {
        const written = await deps.store.put(slotted.state, current.version);
        if (!written.written) {
          await pauseAfterConflict(deps, attempt);
          continue;
        }
        deps.sink.record([slotted.event]);
        await deps.timer.defer({ key: ref.key, restartCount: restart.restartCount, restartAt: slotted.state.restart!.restartAt }, now);
        return 'DelayedByBudget';
      }
      due = slotted.state;
    }

    const recovered = options.recovered === true;
    if (deps.restartOutbox) {
      if (await writeDispatched(deps, deps.restartOutbox, due, current.version, now, { recovered })) return recovered ? 'Recovered' : 'Dispatched';
      await pauseAfterConflict(deps, attempt);
      continue;
    }
    const claimed: ContainerState = { ...due, restart: { ...due.restart!, status: 'dispatching', claimedAt: now }, updatedAt: now };
    const claim = await deps.store.put(claimed, current.version);
    if (!claim.written) {
      await pauseAfterConflict(deps, attempt);
      continue;
    }
    await dispatchClaimed(deps, { state: claimed, version: claim.version, release: due }, { recovered });
    return recovered ? 'Recovered' : 'Dispatched';
  }
  throw new WriteContentionError(ref.key, deps.config.maxWriteAttempts);
}

/** A restart this caller has claimed: the state it wrote, its version, and what to write back if publishing fails. */
export interface ClaimedRestart {
  /** The stored state with `restart.status = 'dispatching'` and this caller's `claimedAt`. */
  readonly state: ContainerState;
  readonly version: number;
  /** The state to restore when publishing fails, so that a retry can claim the restart again. */
  readonly release: ContainerState;
}

/**
 * The second half of the exactly-once transition, shared by every path that
 * claims a restart (a timer callback, the sync, and an exit whose restart is
 * due at once, which writes its decision already claimed):
 *
 *   dispatching ──publish, then mark──▶ dispatched
 *
 * If publishing fails the claim is released and the error surfaces, so the
 * caller can hand the restart to a retry.
 *
 * The restart's target (webhook, ECS) is not called here: the bus event names
 * it (`detail.target`) and delivery is driven from that event — on AWS by a
 * rule on the bus (an API destination, or the deliver handler's RunTask),
 * locally by the runtime's durable restart log. So the exactly-once state
 * transition stays one publish, the exit handler's hot path makes no extra
 * call, and a crash between publish and delivery loses nothing: the event is
 * on the bus (or in the log) and its delivery is retried from there.
 */
export async function dispatchClaimed(deps: ServiceDeps, claim: ClaimedRestart, options: FireOptions = {}): Promise<void> {
  const claimed = claim.state;
  const restart = claimed.restart!;
  const now = restart.claimedAt!;
  const recovered = options.recovered === true;
  const request = restartRequest(claimed, restart, now, recovered, deps);
  try {
    await deps.sink.publish([{ detailType: BUS_DETAIL_TYPES.restartRequested, detail: { ...request } }]);
  } catch (error) {
    // Hand the restart back so the retried callback (or the sync) can claim it.
    await deps.store.put(claim.release, claim.version).catch((releaseError: unknown) => {
      deps.log.warn('releasing a dispatch claim failed; it expires on its own', { key: claimed.key, ...errorDetails(releaseError) });
    });
    throw error;
  }

  // Recorded once the bus has it, before the mark: a crash between the two
  // must not lose the record of a restart that did go out.
  const dispatched: PendingRestart = { ...restart, status: 'dispatched', claimedAt: now, dispatchedAt: now, ...(recovered ? { recovered } : {}) };
  deps.sink.record([restartedRecord(claimed, dispatched, request)]);
  await markDispatched(deps, claimed, claim.version, dispatched);
}

/**
 * Dispatches a due restart in one step through the restart outbox: the
 * container is written with the restart already dispatched, conditional on
 * the version read, and the outbox publishes the restart if and only if that
 * write lands. Exactly once without a claim: of racing callers only one write
 * lands, and a loser's restart is dropped (its retry reads it dispatched).
 * One write, where the claim path takes two. `due` holds the restart, due by
 * `now`; `events` (an exit's decision records) are recorded before the
 * restart's, once the write has landed.
 */
export async function writeDispatched(
  deps: ServiceDeps,
  outbox: RestartOutbox,
  due: ContainerState,
  expectedVersion: number | undefined,
  now: number,
  options: { readonly events?: readonly EventRecord[]; readonly recovered?: boolean } = {},
): Promise<boolean> {
  const recovered = options.recovered === true;
  const restart: PendingRestart = { ...due.restart!, status: 'dispatched', claimedAt: now, dispatchedAt: now, ...(recovered ? { recovered } : {}) };
  const state = dispatchedState(due, restart);
  const request = restartRequest(state, restart, now, recovered, deps);
  const written = await outbox.publishWith(request, () => deps.store.put(state, expectedVersion));
  if (!written.written) return false;
  if (options.events) deps.sink.record(options.events);
  deps.sink.record([restartedRecord(state, restart, request)]);
  return true;
}

/**
 * Settles the restarts the outbox kept ahead of a write whose outcome it
 * never learnt (the process died between the two, or the write failed): each
 * is published if its container's item holds it dispatched (the write
 * landed), dropped otherwise. Strictly that restart: an item already past it
 * (a later exit) means the workload ran again since, which needs no restart,
 * whereas one the planner superseded before it went out must not be sent.
 */
export async function settleRestartOutbox(deps: ServiceDeps): Promise<{ readonly published: number; readonly dropped: number }> {
  let published = 0;
  let dropped = 0;
  const outbox = deps.restartOutbox;
  if (!outbox) return { published, dropped };
  for (const request of outbox.unsettled()) {
    const state = (await deps.store.get(request.key))?.value;
    const restart = state?.restart;
    const landed =
      state !== undefined &&
      restart?.status === 'dispatched' &&
      restart.restartCount === request.restartCount &&
      restartIdOf(state.key, state.createdAt, restart.restartCount) === request.restartId;
    if (landed) deps.sink.record([restartedRecord(state, restart, request)]);
    await outbox.settle(request.restartId, landed);
    if (landed) published++;
    else dropped++;
  }
  return { published, dropped };
}

/** The `Restarted` (or `RestartRecovered`) record of a restart that went out. */
function restartedRecord(state: ContainerState, restart: PendingRestart, request: KeptRestart): EventRecord {
  const message = restartedMessage(state, restart);
  return eventRecord(request.recovered ? 'RestartRecovered' : 'Restarted', state, restart.dispatchedAt!, {
    restartCount: restart.restartCount,
    restartId: request.restartId,
    restartAt: restart.restartAt,
    latenessMs: restart.dispatchedAt! - restart.restartAt,
    ...(request.target !== 'bus' ? { target: request.target } : {}),
    ...(state.backoff ? { backoffMs: state.backoff.backoffMs } : {}),
    message: request.recovered ? `${message}, recovered by the sync` : message,
  });
}

function restartedMessage(state: ContainerState, restart: PendingRestart): string {
  return `Restarted container=${state.container} pod=${formatPod(state)} (restart ${restart.restartCount})`;
}

/** The container once `restart` has gone out: running again, with the dispatch recorded. */
function dispatchedState(base: ContainerState, restart: PendingRestart): ContainerState {
  const { reason: _reason, ...running } = base;
  return { ...running, state: 'Running', message: restartedMessage(base, restart), restart, updatedAt: restart.dispatchedAt! };
}

/**
 * The first instant a callback can act on `restart`: its instant, or for a
 * claimed one, when the claim expires (a live claim is left to its holder).
 */
export function actionableAt(restart: PendingRestart, dispatchLeaseMs: number): number {
  return restart.status === 'dispatching' ? Math.max(restart.restartAt, (restart.claimedAt ?? 0) + dispatchLeaseMs) : restart.restartAt;
}

/**
 * Records that the restart went out. It has: from here on nothing may throw,
 * or the retried callback would find a live claim, and the sync would publish
 * the restart again once the claim expired. A failed write is retried (re-read,
 * and written only while the restart is still the one this call claimed); only
 * a store that stays down leaves the claim to expire — the documented window.
 */
async function markDispatched(deps: ServiceDeps, claimed: ContainerState, claimVersion: number, dispatched: PendingRestart): Promise<void> {
  let base = claimed;
  let version = claimVersion;
  for (let attempt = 1; attempt <= deps.config.maxWriteAttempts; attempt++) {
    try {
      if ((await deps.store.put(dispatchedState(base, dispatched), version)).written) return;
    } catch (error) {
      deps.log.warn('recording a dispatched restart failed; retrying', { key: claimed.key, restartCount: dispatched.restartCount, ...errorDetails(error) });
    }
    await pauseAfterConflict(deps, attempt);
    const current = await deps.store.get(claimed.key).catch(() => undefined);
    const still = current?.value.restart;
    // Marked after all (the failed write had landed), replaced by a newer exit,
    // or reset: the restart went out either way, and nothing is left to record.
    if (!current || still?.restartCount !== dispatched.restartCount || still.status !== 'dispatching' || still.claimedAt !== claimed.restart?.claimedAt) return;
    base = current.value;
    version = current.version;
  }
  deps.log.error('could not record a dispatched restart; its claim will expire and the sync may publish it again', { key: claimed.key, restartCount: dispatched.restartCount });
}

function restartRequest(state: ContainerState, restart: PendingRestart, now: number, recovered: boolean, deps: ServiceDeps): RestartRequest {
  return {
    restartId: restartIdOf(state.key, state.createdAt, restart.restartCount),
    key: state.key,
    namespace: state.namespace,
    pod: state.pod,
    podUid: state.podUid || null,
    container: state.container,
    containerHash: state.containerHash || null,
    restartCount: restart.restartCount,
    restartAt: new Date(restart.restartAt).toISOString(),
    firedAt: new Date(now).toISOString(),
    recovered,
    // The exit's own target, else its namespace's, else the bus alone.
    target: targetKind(state.restartTarget ?? deps.config.namespaces[state.namespace]?.restartTarget),
  };
}
