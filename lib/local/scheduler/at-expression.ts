/**
 * One-time schedule expressions, `at(yyyy-mm-ddThh:mm:ss)`, read as a wall-clock
 * time in an IANA time zone and turned into the instant they name.
 */

const AT_EXPRESSION = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/;

export interface WallTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
}

/** Years the endpoint accepts: earlier ones cannot be a useful one-time schedule and trip up Intl's calendars. */
const MIN_YEAR = 1970;
const MAX_YEAR = 9999;

/**
 * Parses `at(yyyy-mm-ddThh:mm:ss)` strictly: exactly that shape, and a real
 * calendar date and time (no 30 February, no 24:00:00, no leap seconds).
 * Returns the reason on failure.
 */
export function parseAtExpression(expression: string): WallTime | string {
  const match = AT_EXPRESSION.exec(expression);
  if (!match) return 'must have the form at(yyyy-mm-ddThh:mm:ss)';
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (year < MIN_YEAR || year > MAX_YEAR) return `year ${year} is outside ${MIN_YEAR}-${MAX_YEAR}`;
  if (month < 1 || month > 12) return `month ${month} is not 01-12`;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return `day ${day} does not exist in ${year}-${pad(month)}`;
  if (hour > 23) return `hour ${hour} is not 00-23`;
  if (minute > 59) return `minute ${minute} is not 00-59`;
  if (second > 59) return `second ${second} is not 00-59`;
  return { year, month, day, hour, minute, second };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Renders an instant as the `at()` expression for UTC (used by tests and callers building expressions). */
export function atExpressionUtc(instantMs: number): string {
  return `at(${new Date(instantMs).toISOString().slice(0, 19)})`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Whether `Intl` knows the zone (IANA names such as `Europe/Paris`, `UTC`, `Etc/GMT+5`). */
export function isKnownTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone);
    return true;
  } catch {
    return false;
  }
}

function wallToUtcMs(wall: WallTime): number {
  return Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
}

/** The zone's offset from UTC (ms, east positive) at `instantMs`. */
function offsetAt(instantMs: number, timeZone: string): number {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(new Date(instantMs))) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  const wallAsUtc = Date.UTC(
    fields.year ?? 0,
    (fields.month ?? 1) - 1,
    fields.day ?? 1,
    fields.hour ?? 0,
    fields.minute ?? 0,
    fields.second ?? 0,
  );
  return wallAsUtc - Math.floor(instantMs / 1000) * 1000;
}

const DAY_MS = 86_400_000;

/**
 * The instant at which clocks in `timeZone` show `wall`. A wall time that
 * occurs twice (clocks going back) resolves to the first occurrence; one that
 * does not occur (clocks going forward) to the instant as far past the gap as
 * the wall time is past its start — e.g. 02:30 on a spring-forward night in
 * New York runs at 03:30 local time. (The same rule as Temporal's
 * `disambiguation: 'compatible'`.)
 */
export function zonedWallTimeToInstant(wall: WallTime, timeZone: string): number {
  const wallMs = wallToUtcMs(wall);
  if (timeZone === 'UTC') return wallMs;
  // Zone rules change at most once in any two days, so the offsets a day either
  // side are the only candidates.
  const offsetBefore = offsetAt(wallMs - DAY_MS, timeZone);
  const offsetAfter = offsetAt(wallMs + DAY_MS, timeZone);
  const candidates = [wallMs - offsetBefore, wallMs - offsetAfter].filter(
    (instant) => instant + offsetAt(instant, timeZone) === wallMs,
  );
  if (candidates.length > 0) return Math.min(...candidates);
  return wallMs - offsetBefore;
}
