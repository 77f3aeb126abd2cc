/**
 * Per-key exponential back-off with the exact semantics of client-go's
 * `flowcontrol.Backoff` (util/flowcontrol/backoff.go), which kubelet uses for
 * CrashLoopBackOff. Times are Unix epoch milliseconds; the clock and the
 * source of randomness are injected so that the type does no I/O.
 */

/** Reads the current time in epoch milliseconds. */
export interface Clock {
  now(): number;
}

/** Returns a number in [0, 1), like Math.random or Go's rand.Float64. */
export type Random = () => number;

/** One key's back-off: client-go's `backoffEntry`. */
export interface BackoffEntry {
  /** The back-off that the next wait will use, in ms. */
  readonly backoffMs: number;
  /** When `next` last moved this entry, in epoch ms. */
  readonly lastUpdate: number;
}

/** The numbers that drive a back-off; see `resolveBackoffPolicy` for defaults. */
export interface BackoffParameters {
  readonly initialMs: number;
  readonly maxMs: number;
  /**
   * A run longer than this (strictly) resets the back-off, and an entry idle
   * longer than this is collected. client-go's default is 2 × max; kubelet
   * (≥ 1.32) sets a flat 10 minutes for every initial and max.
   */
  readonly resetAfterMs: number;
  /** 0 disables jitter (kubelet's behaviour). */
  readonly jitterFactor: number;
}

/**
 * client-go's `hasExpired`. Strictly greater: a container that ran for exactly
 * `resetAfter` has not proven itself stable, so a crash at that instant still
 * doubles the back-off (kubelet compares with `>`, and the conformance vectors
 * pin that edge).
 */
export function hasExpired(eventTime: number, lastUpdate: number, resetAfterMs: number): boolean {
  return eventTime - lastUpdate > resetAfterMs;
}

/**
 * client-go's jitter: `time.Duration(rand.Float64() * factor * float64(delay))`.
 * The Go conversion truncates towards zero, hence Math.trunc.
 */
export function jitterMs(delayMs: number, params: BackoffParameters, random: Random | undefined): number {
  if (!random || params.jitterFactor <= 0) return 0;
  return Math.trunc(random() * params.jitterFactor * delayMs);
}

/**
 * client-go's `Next` for a single entry: starts over at `initial` when there is
 * no entry or it has expired relative to `eventTime`, otherwise doubles (plus
 * jitter) and caps at max. `lastUpdate` becomes `now`.
 */
export function nextEntry(
  entry: BackoffEntry | undefined,
  eventTime: number,
  now: number,
  params: BackoffParameters,
  random?: Random,
): BackoffEntry {
  if (!entry || hasExpired(eventTime, entry.lastUpdate, params.resetAfterMs)) {
    // client-go adds jitter to the initial back-off too, and does not cap it.
    return { backoffMs: params.initialMs + jitterMs(params.initialMs, params, random), lastUpdate: now };
  }
  const doubled = entry.backoffMs * 2 + jitterMs(entry.backoffMs, params, random);
  return { backoffMs: Math.min(doubled, params.maxMs), lastUpdate: now };
}

/** client-go's `IsInBackOffSince` for a single entry. */
export function isEntryInBackOffSince(
  entry: BackoffEntry | undefined,
  eventTime: number,
  now: number,
  params: BackoffParameters,
): boolean {
  if (!entry || hasExpired(eventTime, entry.lastUpdate, params.resetAfterMs)) return false;
  return now - eventTime < entry.backoffMs;
}

/** The keyed back-off type, shaped like client-go's `flowcontrol.Backoff`. */
export class Backoff {
  private readonly entries = new Map<string, BackoffEntry>();

  constructor(
    readonly params: BackoffParameters,
    private readonly clock: Clock,
    private readonly random?: Random,
  ) {}

  /** The current back-off for `id`, or 0 when there is no entry. */
  get(id: string): number {
    return this.entries.get(id)?.backoffMs ?? 0;
  }

  /** Moves `id` to its next back-off step (see `nextEntry`). */
  next(id: string, eventTime: number): void {
    this.entries.set(id, nextEntry(this.entries.get(id), eventTime, this.clock.now(), this.params, this.random));
  }

  /** Forgets `id` entirely. */
  reset(id: string): void {
    this.entries.delete(id);
  }

  /** True while less than the back-off has elapsed since `eventTime`. */
  isInBackOffSince(id: string, eventTime: number): boolean {
    return isEntryInBackOffSince(this.entries.get(id), eventTime, this.clock.now(), this.params);
  }

  /** True while `eventTime` is less than the back-off after the last update. */
  isInBackOffSinceUpdate(id: string, eventTime: number): boolean {
    const entry = this.entries.get(id);
    if (!entry || hasExpired(eventTime, entry.lastUpdate, this.params.resetAfterMs)) return false;
    return eventTime - entry.lastUpdate < entry.backoffMs;
  }

  /** Drops every entry that has expired as of now. */
  gc(): void {
    const now = this.clock.now();
    for (const [id, entry] of this.entries) {
      if (hasExpired(now, entry.lastUpdate, this.params.resetAfterMs)) this.entries.delete(id);
    }
  }

  /** The ids that still hold an entry, sorted. */
  ids(): string[] {
    return [...this.entries.keys()].sort();
  }

  /** The raw entry, for persisting it elsewhere. */
  entry(id: string): BackoffEntry | undefined {
    return this.entries.get(id);
  }
}
