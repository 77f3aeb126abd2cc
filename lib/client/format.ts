/**
 * How a container's status reads, as `kubectl get pods` writes it: shared by
 * the CLI's status table and the web console, so both say the same thing.
 * No I/O and no Node APIs: the console bundles it for the browser.
 */
import type { ContainerView } from '../api/views.ts';
import { formatDuration } from '../core/duration.ts';
import { terminationReason } from '../core/planner.ts';

/** The status columns of one container at `now`. */
export interface StatusCells {
  /** `Running`, `CrashLoopBackOff`, or `Terminated (Completed)`. */
  readonly state: string;
  /** `3`, or `3 (5s ago)` once a restart was dispatched. */
  readonly restarts: string;
  /** `Error (1) 5s ago`, or `-`. */
  readonly lastExit: string;
  readonly backoff: string;
  /** `in 4.2s`, `now`, or `-` when no restart is pending. */
  readonly nextRestart: string;
  readonly age: string;
}

export function statusCells(view: ContainerView, now: number): StatusCells {
  return {
    state: view.state === 'Terminated' && view.reason ? `Terminated (${view.reason})` : view.state,
    restarts: view.lastRestartAt ? `${view.restartCount} (${humanDuration(now - Date.parse(view.lastRestartAt))} ago)` : String(view.restartCount),
    lastExit: view.lastExit ? `${terminationReason(view.lastExit)} (${view.lastExit.exitCode}) ${humanDuration(now - Date.parse(view.lastExit.finishedAt))} ago` : '-',
    backoff: view.backoffMs > 0 ? formatDuration(view.backoffMs) : '-',
    nextRestart: view.nextRestartAt ? countdown(Date.parse(view.nextRestartAt) - now) : '-',
    age: humanDuration(now - Date.parse(view.createdAt)),
  };
}

/** Orders containers by namespace, pod, container (and key, for pods with several UIDs). */
export function byName(a: ContainerView, b: ContainerView): number {
  return compareStrings(a.namespace, b.namespace) || compareStrings(a.pod, b.pod) || compareStrings(a.container, b.container) || compareStrings(a.key, b.key);
}

/** Orders two strings by UTF-16 code units, as `Array.prototype.sort` does by default: the same in every locale. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * kubectl's age format (apimachinery `duration.HumanDuration`): `45s`,
 * `3m2s`, `15m`, `120m`, `3h`, `7h30m`, `20h`, `5d`, `3d4h`, `2y`.
 */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1_000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(seconds / 3_600);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.trunc(hours / 24) % 365;
    return days === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${days}d`;
  }
  return `${Math.trunc(hours / 24 / 365)}y`;
}

/**
 * Time until an instant: `in 400ms`, `in 8s`, `in 4m10s`; `now` once it is
 * due. Under a minute it rounds up, so a countdown never reads "in 0s"
 * while something is still pending.
 */
export function countdown(ms: number): string {
  if (ms <= 0) return 'now';
  if (ms < 1_000) return `in ${Math.ceil(ms)}ms`;
  if (ms < 10_000) return `in ${formatDuration(Math.ceil(ms / 100) * 100)}`;
  if (ms < 120_000) return `in ${Math.ceil(ms / 1_000)}s`;
  return `in ${humanDuration(ms)}`;
}
