import type { ProfileSummary } from './profile.ts';

/** Messages between the benchmark and the runtime it drives (runtime-child.ts), over IPC. */

export type ChildRequest =
  | { readonly type: 'raw'; readonly id: number; readonly concurrency: number; readonly durationMs: number; readonly prefix: string }
  | { readonly type: 'counters'; readonly id: number }
  | { readonly type: 'memory'; readonly id: number }
  | { readonly type: 'profile-start'; readonly id: number }
  | { readonly type: 'profile-stop'; readonly id: number }
  | { readonly type: 'stop'; readonly id: number };

export interface RawRunResult {
  /** Pairs whose conditional write succeeded. */
  readonly pairs: number;
  readonly conflicts: number;
  readonly elapsedMs: number;
  /** One per pair: read + write, as the caller saw it. */
  readonly latenciesMs: number[];
  /** CPU time of the runtime process during the run (user + system). */
  readonly cpuMs: number;
}

export interface RuntimeCounters {
  readonly exitsReceived: number;
  readonly restartsDispatched: number;
  readonly restartsRecovered: number;
  /** Conditional writes that lost a race and were retried. */
  readonly writeConflicts: number;
  /** Items the raw pairs wrote (warm-ups included). */
  readonly rawItems: number;
  /** Calls of the runtime's store, by method (each one DynamoDB request). */
  readonly storeCalls: Record<string, number>;
  readonly heapUsedMb: number;
  readonly rssMb: number;
}

/** The runtime's memory after a full garbage collection, MiB. */
export interface LiveMemory {
  readonly heapUsedMb: number;
  /** Buffers and other memory outside the JS heap (dynalite's stored items are Buffers). */
  readonly arrayBuffersMb: number;
  readonly rssMb: number;
}

export type ChildResponse =
  | { readonly type: 'raw'; readonly id: number; readonly result: RawRunResult }
  | { readonly type: 'counters'; readonly id: number; readonly counters: RuntimeCounters; readonly cpuMs: number }
  | { readonly type: 'profile'; readonly id: number; readonly summary: ProfileSummary }
  | { readonly type: 'memory'; readonly id: number; readonly memory: LiveMemory }
  | { readonly type: 'stopped'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string };
