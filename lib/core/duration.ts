/**
 * Durations in the forms people type for restart policies: "200ms", "10s",
 * "1m30s", "5m", "1h". Everything inside the project is whole milliseconds.
 */

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
};

const COMPONENT = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

export class DurationError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid duration ${JSON.stringify(input)}: ${reason}`);
    this.name = 'DurationError';
  }
}

/**
 * Parses a duration such as "1m30s" into milliseconds. A bare "0" is
 * accepted (as Go's time.ParseDuration does); any other number needs a unit.
 * Sub-millisecond remainders are rejected rather than rounded, so a typo such
 * as "1.5ms" does not silently become a different policy.
 */
export function parseDuration(input: string): number {
  const text = input.trim();
  if (text === '') throw new DurationError(input, 'empty; expected e.g. "10s", "1m30s", "200ms"');
  if (text === '0') return 0;
  let total = 0;
  let position = 0;
  while (position < text.length) {
    COMPONENT.lastIndex = position;
    const match = COMPONENT.exec(text);
    if (!match) {
      throw new DurationError(input, 'expected a sequence of <number><unit> with units ms, s, m, h (e.g. "1m30s")');
    }
    const [, amount, unit] = match as unknown as [string, string, string];
    total += Number(amount) * (UNIT_MS[unit] as number);
    position = COMPONENT.lastIndex;
  }
  const rounded = Math.round(total);
  if (Math.abs(total - rounded) > 1e-6) throw new DurationError(input, 'finer than a millisecond');
  if (!Number.isSafeInteger(rounded)) throw new DurationError(input, 'too large');
  return rounded;
}

/**
 * Formats milliseconds compactly, dropping zero components: 200 → "200ms",
 * 90000 → "1m30s", 300000 → "5m", 1500 → "1.5s". `parseDuration` reads
 * every string this returns back to the same value.
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`cannot format duration ${ms}`);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${ms}ms`;
  const hours = Math.floor(ms / UNIT_MS.h!);
  const minutes = Math.floor((ms % UNIT_MS.h!) / UNIT_MS.m!);
  const secondsMs = ms % UNIT_MS.m!;
  let out = '';
  if (hours) out += `${hours}h`;
  if (minutes) out += `${minutes}m`;
  if (secondsMs) out += `${trimFraction(secondsMs / 1_000)}s`;
  return out;
}

/**
 * Go's `time.Duration.String()` for whole milliseconds: "40s", "5m0s",
 * "1m20s", "1h0m0s", "200ms". kubelet writes its back-off messages with it
 * ("back-off 5m0s restarting failed container=…"), so messages that quote
 * kubelet use this form rather than `formatDuration`.
 */
export function goDurationString(ms: number): string {
  if (ms < 0) return `-${goDurationString(-ms)}`;
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${ms}ms`;
  const hours = Math.floor(ms / UNIT_MS.h!);
  const minutes = Math.floor((ms % UNIT_MS.h!) / UNIT_MS.m!);
  const seconds = trimFraction((ms % UNIT_MS.m!) / 1_000);
  if (hours) return `${hours}h${minutes}m${seconds}s`;
  if (minutes) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}

function trimFraction(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3).replace(/0+$/, '');
}
