import { eventRecord, formatPod, pickRef, type ContainerState, type PendingRestart } from '../core/index.ts';
import { BUS_DETAIL_TYPES, type RestartRequest } from '../ports.ts';
import { errorDetails, pauseAfterConflict, WriteContentionError, type ServiceDeps } from './deps.ts';

export type FireOutcome =
  /** Published now. */
  | 'Dispatched'
  /** Published now by the sync, after its timer was lost or its claimer died. */
  | 'Recovered'
  /** Called early: the remainder was handed to the fine stage. */
  | 'Deferred'
  /** Already published (a duplicate callback). */
  | 'AlreadyDispatched'
  /** Another caller holds a live claim on it right now. */
  | 'InFlight'
  /** Superseded by a newer exit, or the entry was reset or collected. */
  | 'Stale';

export interface FireOptions {
  /** Set by the sync: the restart is overdue and its timer presumed lost. */
  readonly recovered?: boolean;
}

/**
 * Dispatches one restart (key + restart count), never before its instant and
 * exactly once, by conditional state transitions on the container's item:
 *
 *   waiting ──claim──▶ dispatching ──publish, then mark──▶ dispatched
 *
 * The claim makes concurrent callbacks (Scheduler and SQS deliver at least
 * once) race on one conditional write, so only one publishes. A claim expires
 * after `dispatchLeaseMs`: if its holder died before publishing, the sync takes
 * it over. If publishing fails the claim is released and the error surfaces,
 * so the callback is retried.
 */
export async function fireRestart(
  deps: ServiceDeps,
  ref: { readonly key: string; readonly restartCount: number },
  options: FireOptions = {},
): Promise<FireOutcome> {
  for (let attempt = 1; attempt <= deps.config.maxWriteAttempts; attempt++) {
    const current = await deps.store.get(ref.key);
    // Read after the store answers: "never early" is judged when we decide.
    const now = deps.clock.now();
    const restart = current?.value.restart;
    if (!current || !restart || restart.restartCount !== ref.restartCount) return 'Stale';
    if (restart.status === 'dispatched') return 'AlreadyDispatched';
    if (restart.status === 'dispatching' && now < (restart.claimedAt ?? 0) + deps.config.dispatchLeaseMs) return 'InFlight';
    if (now < restart.restartAt) {
      await deps.timer.defer({ key: ref.key, restartCount: restart.restartCount, restartAt: restart.restartAt }, now);
      return 'Deferred';
    }

    const claimed: ContainerState = { ...current.value, restart: { ...restart, status: 'dispatching', claimedAt: now }, updatedAt: now };
    const claim = await deps.store.put(claimed, current.version);
    if (!claim.written) {
      await pauseAfterConflict(deps, attempt);
      continue;
    }

    const recovered = options.recovered === true;
    try {
      await deps.sink.publish([{ detailType: BUS_DETAIL_TYPES.restartRequested, detail: { ...restartRequest(claimed, restart, now, recovered) } }]);
    } catch (error) {
      // Hand the restart back so the retried callback (or the sync) can claim it.
      await deps.store.put(current.value, claim.version).catch((releaseError: unknown) => {
        deps.log.warn('releasing a dispatch claim failed; it expires on its own', { key: ref.key, ...errorDetails(releaseError) });
      });
      throw error;
    }

    // Recorded once the bus has it, before the mark: a crash between the two
    // must not lose the record of a restart that did go out.
    const message = `Restarted container=${claimed.container} pod=${formatPod(claimed)} (restart ${restart.restartCount})`;
    deps.sink.record([
      eventRecord(recovered ? 'RestartRecovered' : 'Restarted', claimed, now, {
        restartCount: restart.restartCount,
        restartAt: restart.restartAt,
        latenessMs: now - restart.restartAt,
        ...(claimed.backoff ? { backoffMs: claimed.backoff.backoffMs } : {}),
        message: recovered ? `${message}, recovered by the sync` : message,
      }),
    ]);

    const dispatched: PendingRestart = { ...restart, status: 'dispatched', claimedAt: now, dispatchedAt: now, ...(recovered ? { recovered } : {}) };
    const { reason: _reason, ...withoutReason } = claimed;
    const marked = await deps.store.put({ ...withoutReason, state: 'Running', message, restart: dispatched, updatedAt: now }, claim.version);
    if (!marked.written) {
      // A newer exit replaced the item between claim and mark. The restart was
      // published all the same; the newer decision stands.
      deps.log.warn('container changed while its restart was dispatched', { key: ref.key, restartCount: ref.restartCount });
    }
    return recovered ? 'Recovered' : 'Dispatched';
  }
  throw new WriteContentionError(ref.key, deps.config.maxWriteAttempts);
}

function restartRequest(state: ContainerState, restart: PendingRestart, now: number, recovered: boolean): RestartRequest {
  return {
    restartId: `${state.key}#${restart.restartCount}`,
    key: state.key,
    ...pickRef(state),
    restartCount: restart.restartCount,
    restartAt: new Date(restart.restartAt).toISOString(),
    firedAt: new Date(now).toISOString(),
    recovered,
  };
}
