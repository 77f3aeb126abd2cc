/**
 * Validation of exit events (DESIGN §4, `POST /v1/exits`) into the core's
 * `ExitEvent`. Total over any JSON value: every problem becomes an issue
 * naming its field, nothing throws, and every bad field is reported at once.
 * The HTTP route and the EventBridge input ("Container Exited") share it.
 */
import {
  BACKOFF_PRESET_NAMES,
  containerKey,
  formatDuration,
  parseContainerKey,
  parseDuration,
  PolicyError,
  resolveBackoffPolicy,
  RESTART_POLICIES,
  type BackoffPolicy,
  type BackoffPolicyInput,
  type BackoffPresetName,
  type ExitEvent,
  type RestartPolicyRule,
} from '../core/index.ts';
import * as z from '../zod.ts';
import { API_LIMITS, type ApiLimits, type Issue } from './protocol.ts';
import { restartTargetSchema, TARGET_FIELDS } from './targets.ts';

export const INT32_MIN = -2_147_483_648;
export const INT32_MAX = 2_147_483_647;
export const NAME_MAX_LENGTH = 128;
export const ID_MAX_LENGTH = 64;
export const REASON_MAX_LENGTH = 128;
export const EXIT_ID_MAX_LENGTH = 128;
export const MAX_RESTART_POLICY_RULES = 20;
export const MAX_RULE_EXIT_CODES = 255;
export const MAX_RESTARTS_LIMIT = 1_000_000;
/** Longer than any container key (five parts at their longest and four separators): refused before it is parsed. */
export const MAX_KEY_LENGTH = 4 * NAME_MAX_LENGTH + 2 * ID_MAX_LENGTH + 4;
/**
 * The longest back-off duration accepted. Far beyond any sensible back-off,
 * and it keeps `finishedAt + backoff` well inside what a Date can represent.
 */
export const MAX_POLICY_DURATION_MS = 7 * 24 * 3_600_000;
/** The longest duration string worth parsing ("1h2m3s4ms" is 9). */
const DURATION_MAX_LENGTH = 64;
/** The longest instant string worth parsing (nanosecond fractions and an offset fit well within). */
const INSTANT_MAX_LENGTH = 64;
/** `Date` cannot represent instants beyond ±8.64e15 ms. */
const MAX_DATE_MS = 8.64e15;

/** Namespace, pod and container names: `[A-Za-z0-9.-]`, starting alphanumeric (the empty case is reported as such). */
const NAME_PATTERN = /^(?:[A-Za-z0-9][A-Za-z0-9.-]*)?$/;
/** Pod UIDs and container hashes. */
const ID_PATTERN = /^[A-Za-z0-9-]*$/;
const PRINTABLE_ASCII = /^[\x20-\x7E]*$/;

export const RULE_ACTIONS = ['Restart', 'DoNotRestart'] as const;
export const RULE_OPERATORS = ['In', 'NotIn'] as const;

// ---------------------------------------------------------------------------
// Messages

/** A short description of a JSON value for messages; never echoes a long string. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
    case 'boolean':
      return String(value);
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

function typeError(expected: string) {
  return (issue: { readonly input?: unknown }) =>
    issue.input === undefined ? 'required' : `expected ${expected}, got ${describeValue(issue.input)}`;
}

function oneOf(values: readonly string[]) {
  return (issue: { readonly input?: unknown }) => {
    if (issue.input === undefined) return 'required';
    const list = `must be one of ${values.join(', ')}`;
    if (typeof issue.input !== 'string') return `${list}, got ${describeValue(issue.input)}`;
    const lower = issue.input.toLowerCase();
    const match = values.find((value) => value.toLowerCase() === lower);
    return match ? `${list} (did you mean ${JSON.stringify(match)}?)` : list;
  };
}

// ---------------------------------------------------------------------------
// Field schemas (exported for the query parameters, which share the rules)

export const nameSchema = z
  .string({ error: typeError('a string') })
  .check(
    z.minLength(1, { error: 'must not be empty' }),
    z.maxLength(NAME_MAX_LENGTH, { error: `must be at most ${NAME_MAX_LENGTH} characters` }),
    z.regex(NAME_PATTERN, { error: "must contain only letters, digits, '.' and '-', and start with a letter or digit" }),
  );

export const idSchema = z
  .string({ error: typeError('a string') })
  .check(
    z.maxLength(ID_MAX_LENGTH, { error: `must be at most ${ID_MAX_LENGTH} characters` }),
    z.regex(ID_PATTERN, { error: "must contain only letters, digits and '-'" }),
  );

function integerSchema(min: number, max: number, what: string) {
  return z.number({ error: typeError('an integer') }).check(
    z.superRefine((value, ctx) => {
      if (!Number.isInteger(value)) ctx.addIssue({ code: 'custom', message: `must be an integer, got ${value}` });
      else if (value < min || value > max) ctx.addIssue({ code: 'custom', message: `must be ${what}, got ${value}` });
    }),
    z.meta({ type: 'integer', minimum: min, maximum: max }),
  );
}

export const int32Schema = integerSchema(INT32_MIN, INT32_MAX, `an int32 (${INT32_MIN} to ${INT32_MAX})`);

/**
 * An array whose length is checked before its elements are, so an oversized
 * array costs one issue rather than one per element.
 */
function boundedArray<T extends z.ZodMiniType>(element: T, min: number, max: number, what: string) {
  // A transform ahead of the array (a preprocess), so that the JSON Schema of
  // the input is the array of elements.
  return z
    .pipe(
      z.transform((items: unknown, ctx) => {
        if (Array.isArray(items) && (items.length < min || items.length > max)) {
          const range = min === 0 ? `at most ${max}` : `${min} to ${max}`;
          ctx.issues.push({ code: 'custom', message: `must hold ${range} ${what}, got ${items.length}`, input: items });
        }
        return items;
      }),
      z.array(element, { error: typeError('an array') }),
    )
    .check(z.meta({ minItems: min, maxItems: max }));
}

export type MillisecondsResult = { readonly ok: true; readonly ms: number } | { readonly ok: false; readonly message: string };

const INSTANT_HINT = 'an ISO-8601 date-time with a UTC offset (e.g. "2024-05-01T12:00:00Z") or epoch milliseconds';
// Calendar date, time with optional seconds and fraction, and a mandatory
// offset: an instant without one would depend on the sender's time zone.
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;

/** Reads an instant: an ISO-8601 string with an offset, or non-negative epoch milliseconds. */
export function parseInstant(value: unknown): MillisecondsResult {
  if (value === undefined) return { ok: false, message: 'required' };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { ok: false, message: `epoch milliseconds must be a whole number, got ${value}` };
    if (value < 0) return { ok: false, message: `must not be before 1970-01-01T00:00:00Z, got ${value}` };
    if (value > MAX_DATE_MS) return { ok: false, message: `is beyond the largest representable instant, got ${value}` };
    return { ok: true, ms: value };
  }
  if (typeof value !== 'string') return { ok: false, message: `expected ${INSTANT_HINT}, got ${describeValue(value)}` };
  const match = value.length <= INSTANT_MAX_LENGTH ? ISO_INSTANT.exec(value) : null;
  if (!match) return { ok: false, message: `expected ${INSTANT_HINT}` };
  const [, year, month, day, hour, minute, second = '0', fraction = '', zulu, sign, offsetHour = '0', offsetMinute = '0'] = match;
  const y = Number(year);
  const mo = Number(month);
  const d = Number(day);
  const h = Number(hour);
  const mi = Number(minute);
  const s = Number(second);
  const oh = Number(offsetHour);
  const om = Number(offsetMinute);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || h > 23 || mi > 59 || s > 59 || (!zulu && (oh > 23 || om > 59))) {
    return { ok: false, message: `${JSON.stringify(value)} is not a valid date and time` };
  }
  // Digits beyond the millisecond are dropped (never rounded up into a later instant).
  const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
  const offsetMs = zulu ? 0 : (sign === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, ms);
  const epochMs = date.getTime() - offsetMs;
  if (epochMs < 0) return { ok: false, message: `must not be before 1970-01-01T00:00:00Z, got ${JSON.stringify(value)}` };
  return { ok: true, ms: epochMs };
}

/**
 * The unit an instant was written in: 1000 ms for an ISO-8601 string without a
 * fraction of a second (whole seconds, as container runtimes and Kubernetes
 * report them), 100 for one digit, 10 for two, 1 for milliseconds or finer and
 * for epoch milliseconds.
 */
export function instantResolutionMs(value: unknown): number {
  if (typeof value !== 'string' || value.length > INSTANT_MAX_LENGTH) return 1;
  const match = ISO_INSTANT.exec(value);
  if (!match) return 1;
  const digits = (match[7] ?? '').length;
  return 10 ** Math.max(0, 3 - digits);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const;

function daysInMonth(year: number, month: number): number {
  return month === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month - 1] ?? 0);
}

function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/**
 * A field read into milliseconds by `parse`, whose complaint becomes the
 * field's issue. (Wrapped in `.nullish()` it is optional, null counting as absent.)
 */
function millisecondsSchema(parse: (value: unknown) => MillisecondsResult) {
  const accepted = ACCEPTED_FORMS.get(parse);
  if (!accepted) throw new Error('no JSON Schema for this reader');
  return z
    .pipe(
      z.unknown(),
      z.transform((value, ctx) => {
        const result = parse(value);
        if (result.ok) return result.ms;
        ctx.issues.push({ code: 'custom', message: result.message, input: value });
        return z.NEVER;
      }),
    )
    .check(z.meta(accepted));
}

/** A back-off duration: a string such as "10s" or "1m30s", or a number of milliseconds; from 1 ms to 7 days. */
export function parseDurationValue(value: unknown): MillisecondsResult {
  let ms: number;
  if (typeof value === 'string') {
    if (value.length > DURATION_MAX_LENGTH) return { ok: false, message: `must be at most ${DURATION_MAX_LENGTH} characters` };
    try {
      ms = parseDuration(value);
    } catch (error) {
      return { ok: false, message: (error as Error).message };
    }
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) return { ok: false, message: `must be a whole number of milliseconds, got ${value}` };
    ms = value;
  } else {
    return { ok: false, message: `expected a duration such as "10s" or a number of milliseconds, got ${describeValue(value)}` };
  }
  const shown = typeof value === 'string' ? JSON.stringify(value) : value;
  if (ms < 1) return { ok: false, message: `must be at least 1ms, got ${shown}` };
  if (ms > MAX_POLICY_DURATION_MS) return { ok: false, message: `must be at most ${formatDuration(MAX_POLICY_DURATION_MS)}, got ${shown}` };
  return { ok: true, ms };
}

/** What each reader accepts, as JSON Schema for the OpenAPI document (a transform has none of its own). */
const ACCEPTED_FORMS = new Map<(value: unknown) => MillisecondsResult, z.core.JSONSchemaMeta>([
  [
    parseInstant,
    {
      description: INSTANT_HINT,
      oneOf: [
        { type: 'string', format: 'date-time', maxLength: INSTANT_MAX_LENGTH },
        { type: 'integer', minimum: 0, maximum: MAX_DATE_MS },
      ],
    },
  ],
  [
    parseDurationValue,
    {
      description: `A duration from 1ms to ${formatDuration(MAX_POLICY_DURATION_MS)}: a string such as "10s" or "1m30s", or milliseconds.`,
      oneOf: [
        { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m|h))+$', maxLength: DURATION_MAX_LENGTH },
        { type: 'integer', minimum: 1, maximum: MAX_POLICY_DURATION_MS },
      ],
    },
  ],
]);

/** Where each `resolveBackoffPolicy` field is in the request. */
const POLICY_FIELD_PATHS: Record<string, keyof z.input<typeof backoffPolicyFields>> = {
  preset: 'preset',
  initial: 'initialBackoff',
  max: 'maxBackoff',
  resetAfter: 'resetAfter',
  jitterFactor: 'jitter',
};

const backoffPolicyFields = z.strictObject(
  {
    preset: z.nullish(z.enum(BACKOFF_PRESET_NAMES as [BackoffPresetName, ...BackoffPresetName[]], { error: oneOf(BACKOFF_PRESET_NAMES) })),
    initialBackoff: z.nullish(millisecondsSchema(parseDurationValue)),
    maxBackoff: z.nullish(millisecondsSchema(parseDurationValue)),
    resetAfter: z.nullish(millisecondsSchema(parseDurationValue)),
    jitter: z.nullish(
      z
        .number({ error: typeError('a number between 0 and 1') })
        .check(z.gte(0, { error: 'must be between 0 and 1' }), z.lte(1, { error: 'must be between 0 and 1' })),
    ),
  },
  { error: typeError('a back-off policy object') },
);

/** The workload's back-off policy, resolved as the core does (preset, KEP-5593 rule, reset threshold). */
const backoffPolicySchema = z.pipe(
  backoffPolicyFields,
  z.transform((fields, ctx): BackoffPolicy | undefined => {
  const input: BackoffPolicyInput = {
    ...(fields.preset != null ? { preset: fields.preset } : {}),
    ...(fields.initialBackoff != null ? { initial: fields.initialBackoff } : {}),
    ...(fields.maxBackoff != null ? { max: fields.maxBackoff } : {}),
    ...(fields.resetAfter != null ? { resetAfter: fields.resetAfter } : {}),
    ...(fields.jitter != null ? { jitterFactor: fields.jitter } : {}),
  };
  // An empty policy states no preference: the namespace's or the service's default applies.
  if (Object.keys(input).length === 0) return undefined;
  try {
    return resolveBackoffPolicy(input);
  } catch (error) {
    // The fields were checked one by one above; what remains is about the
    // policy as a whole, reported at the field the core names.
    const field = error instanceof PolicyError ? POLICY_FIELD_PATHS[error.field] : undefined;
    const message = error instanceof PolicyError ? error.message.replace(`${error.field}: `, '') : 'is not a valid back-off policy';
    ctx.issues.push({ code: 'custom', message, input: fields, ...(field ? { path: [field] } : {}) });
    return z.NEVER;
  }
  }),
);

const ruleSchema = z.strictObject(
  {
    action: z.enum(RULE_ACTIONS, { error: oneOf(RULE_ACTIONS) }),
    exitCodes: z.strictObject(
      {
        operator: z.enum(RULE_OPERATORS, { error: oneOf(RULE_OPERATORS) }),
        values: boundedArray(int32Schema, 1, MAX_RULE_EXIT_CODES, 'exit codes'),
      },
      { error: typeError('an object { operator, values }') },
    ),
  },
  { error: typeError('a rule object { action, exitCodes }') },
);

const printableSchema = (max: number) =>
  z
    .string({ error: typeError('a string') })
    .check(z.maxLength(max, { error: `must be at most ${max} characters` }), z.regex(PRINTABLE_ASCII, { error: 'must contain only printable ASCII characters' }));

export const exitEventSchema = z.strictObject(
  {
    namespace: nameSchema,
    pod: nameSchema,
    podUid: z.nullish(idSchema),
    container: nameSchema,
    containerHash: z.nullish(idSchema),
    exitCode: int32Schema,
    reason: z.nullish(z.string({ error: typeError('a string') }).check(z.maxLength(REASON_MAX_LENGTH, { error: `must be at most ${REASON_MAX_LENGTH} characters` }))),
    startedAt: z.nullish(millisecondsSchema(parseInstant)),
    finishedAt: millisecondsSchema(parseInstant),
    exitId: z.nullish(printableSchema(EXIT_ID_MAX_LENGTH)),
    restartCount: z.nullish(integerSchema(0, INT32_MAX, `an integer from 0 to ${INT32_MAX}`)),
    restartPolicy: z.nullish(z.enum(RESTART_POLICIES, { error: oneOf(RESTART_POLICIES) })),
    restartPolicyRules: z.nullish(boundedArray(ruleSchema, 0, MAX_RESTART_POLICY_RULES, 'rules')),
    maxRestarts: z.nullish(integerSchema(0, MAX_RESTARTS_LIMIT, `between 0 and ${MAX_RESTARTS_LIMIT}`)),
    backoffPolicy: z.nullish(backoffPolicySchema),
    // Per-exit webhooks are posted by the local runtime, which may post to loopback over plain HTTP.
    restartTarget: z.nullish(restartTargetSchema('local')),
  },
  { error: typeError('an exit event object') },
);

/** The fields each object of an exit event knows, by path pattern (`*` for an index), for typo hints. */
const KNOWN_FIELDS: Record<string, readonly string[]> = {
  '': Object.keys(exitEventSchema.shape),
  backoffPolicy: Object.keys(backoffPolicyFields.shape),
  'restartPolicyRules.*': Object.keys(ruleSchema.shape),
  'restartPolicyRules.*.exitCodes': Object.keys(ruleSchema.shape.exitCodes.shape),
  restartTarget: TARGET_FIELDS.target,
  'restartTarget.webhook': TARGET_FIELDS.webhook,
};

/** The exit event fields, in the order the API documents them. */
export const EXIT_EVENT_FIELDS: readonly string[] = Object.keys(exitEventSchema.shape);

/** The fields that say how a container restarts (what `exit`'s restart flags set): an ECS workload registers them once. */
export const exitSettingsSchema = z.pick(exitEventSchema, { restartPolicy: true, restartPolicyRules: true, maxRestarts: true, backoffPolicy: true });

// ---------------------------------------------------------------------------
// Issues

const PATH_SEGMENT_MAX = 64;

/** `['events', 3, 'finishedAt']` → `events.3.finishedAt`; absurdly long keys are shortened. */
export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((segment) => {
      const text = typeof segment === 'symbol' ? segment.toString() : String(segment);
      return text.length > PATH_SEGMENT_MAX ? `${text.slice(0, PATH_SEGMENT_MAX)}…` : text;
    })
    .join('.');
}

function unknownFieldMessage(path: readonly PropertyKey[], key: string): string {
  const pattern = path.map((segment) => (typeof segment === 'number' ? '*' : String(segment))).join('.');
  const suggestion = closestName(key, KNOWN_FIELDS[pattern] ?? []);
  return suggestion ? `unknown field (did you mean ${JSON.stringify(suggestion)}?)` : 'unknown field';
}

/** A known name within edit distance 2 of `key` (or equal ignoring case), for typo hints. */
function closestName(key: string, known: readonly string[]): string | undefined {
  if (key.length > PATH_SEGMENT_MAX) return undefined;
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = name.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, name);
    if (distance <= 2 && (!best || distance < best.distance)) best = { name, distance };
  }
  return best?.name;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** Zod's issues as the API reports them: one per field, unknown keys one each. */
export function toIssues(zodIssues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): Issue[] {
  const issues: Issue[] = [];
  for (const issue of zodIssues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        issues.push({ path: formatPath([...prefix, ...issue.path, key]), message: unknownFieldMessage(issue.path, key) });
      }
    } else {
      issues.push({ path: formatPath([...prefix, ...issue.path]), message: issue.message });
    }
  }
  return issues;
}

// ---------------------------------------------------------------------------
// Exit events

export type ExitPayloadResult =
  | { readonly ok: true; readonly events: ExitEvent[]; readonly batch: boolean }
  | { readonly ok: false; readonly issues: Issue[] };

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads one own property: a JSON `__proto__` key is an own property, never the prototype. */
function ownField(object: Record<string, unknown>, name: string): unknown {
  return Object.hasOwn(object, name) ? object[name] : undefined;
}

/**
 * Checks that need the clock or two fields at once. They run on the raw
 * input whatever else is wrong with it, so one response names every problem.
 */
function temporalIssues(raw: unknown, now: number, maxFutureSkewMs: number): Issue[] {
  if (!isPlainObject(raw)) return [];
  const issues: Issue[] = [];
  const finished = parseInstant(ownField(raw, 'finishedAt'));
  const startedValue = ownField(raw, 'startedAt');
  const started = startedValue === undefined || startedValue === null ? undefined : parseInstant(startedValue);
  if (finished.ok && finished.ms > now + maxFutureSkewMs) {
    issues.push({
      path: 'finishedAt',
      message: `is ${formatDuration(finished.ms - now)} in the future (${new Date(finished.ms).toISOString()}); at most ${formatDuration(maxFutureSkewMs)} of clock skew is allowed`,
    });
  }
  if (finished.ok && started?.ok && started.ms > finished.ms) {
    issues.push({ path: 'startedAt', message: `must not be after finishedAt (${new Date(finished.ms).toISOString()})` });
  }
  return issues;
}

/** Validates one exit event; issue paths are relative to it. */
export function parseExitEvent(
  raw: unknown,
  now: number,
  limits: Partial<Pick<ApiLimits, 'maxFutureSkewMs' | 'exitWebhooks'>> = {},
): { readonly ok: true; readonly event: ExitEvent } | { readonly ok: false; readonly issues: Issue[] } {
  const parsed = exitEventSchema.safeParse(raw, { reportInput: true });
  const issues = [
    ...(parsed.success ? [] : toIssues(parsed.error.issues)),
    ...temporalIssues(raw, now, limits.maxFutureSkewMs ?? API_LIMITS.maxFutureSkewMs),
  ];
  if (parsed.success && typeof parsed.data.restartTarget === 'object' && parsed.data.restartTarget && !(limits.exitWebhooks ?? API_LIMITS.exitWebhooks)) {
    issues.push({
      path: 'restartTarget.webhook',
      message: "an exit event cannot name its own webhook here: on AWS a webhook is an API destination the stack creates for a namespace (set the namespace's restartTarget); the local runtime accepts one",
    });
  }
  if (!parsed.success || issues.length > 0) return { ok: false, issues };
  const fields = parsed.data;
  const resolutionMs = Math.max(
    instantResolutionMs(ownField(raw as Record<string, unknown>, 'finishedAt')),
    fields.startedAt != null ? instantResolutionMs(ownField(raw as Record<string, unknown>, 'startedAt')) : 1,
  );
  // Optional fields are omitted when absent (and an empty string or null counts as absent).
  const event: ExitEvent = {
    namespace: fields.namespace,
    pod: fields.pod,
    ...(fields.podUid ? { podUid: fields.podUid } : {}),
    container: fields.container,
    ...(fields.containerHash ? { containerHash: fields.containerHash } : {}),
    exitCode: fields.exitCode,
    ...(fields.reason ? { reason: fields.reason } : {}),
    ...(fields.startedAt != null ? { startedAt: fields.startedAt } : {}),
    finishedAt: fields.finishedAt,
    ...(resolutionMs > 1 ? { timestampResolutionMs: resolutionMs } : {}),
    ...(fields.exitId ? { exitId: fields.exitId } : {}),
    ...(fields.restartCount != null ? { restartCount: fields.restartCount } : {}),
    ...(fields.restartPolicy ? { restartPolicy: fields.restartPolicy } : {}),
    ...(fields.restartPolicyRules && fields.restartPolicyRules.length > 0
      ? { restartPolicyRules: fields.restartPolicyRules as RestartPolicyRule[] }
      : {}),
    ...(fields.maxRestarts != null ? { maxRestarts: fields.maxRestarts } : {}),
    ...(fields.backoffPolicy ? { backoffPolicy: fields.backoffPolicy } : {}),
    ...(fields.restartTarget ? { restartTarget: fields.restartTarget } : {}),
  };
  return { ok: true, event };
}

type PayloadLimits = Partial<Pick<ApiLimits, 'maxBatch' | 'maxFutureSkewMs' | 'exitWebhooks'>>;

/** A payload in the batch form, `{ "events": ... }`; anything else is read as one exit event. */
function isBatch(json: unknown): json is Record<string, unknown> {
  return isPlainObject(json) && Object.hasOwn(json, 'events');
}

/** A payload that is not a batch: one exit event (an array is neither). */
function parseSingle(json: unknown, now: number, limits: PayloadLimits): ReturnType<typeof parseExitEvent> {
  if (Array.isArray(json)) return { ok: false, issues: [{ path: '', message: 'expected an exit event object or { "events": [...] }, got an array' }] };
  return parseExitEvent(json, now, limits);
}

/**
 * A batch read once. `ownIssues` are the batch's own problems (fields besides
 * `events`, `events` not an array of 1 to `maxBatch` events); `items` each
 * event judged on its own, when `events` is such an array; `issues` all of
 * them, with paths from the payload (`events.3.finishedAt`), in that order.
 */
function parseBatch(
  json: Record<string, unknown>,
  now: number,
  limits: PayloadLimits,
): { readonly ownIssues: readonly Issue[]; readonly items?: ExitPayloadItem[]; readonly issues: Issue[] } {
  const maxBatch = limits.maxBatch ?? API_LIMITS.maxBatch;
  const ownIssues: Issue[] = Object.keys(json)
    .filter((key) => key !== 'events')
    .map((key) => ({ path: formatPath([key]), message: 'unknown field (a batch is { "events": [...] })' }));
  const list = json.events;
  if (!Array.isArray(list)) {
    ownIssues.push({ path: 'events', message: `expected an array of exit events, got ${describeValue(list)}` });
    return { ownIssues, issues: ownIssues };
  }
  if (list.length < 1 || list.length > maxBatch) {
    ownIssues.push({ path: 'events', message: `must hold 1 to ${maxBatch} exit events, got ${list.length}` });
    return { ownIssues, issues: ownIssues };
  }
  const items: ExitPayloadItem[] = list.map((input: unknown) => ({ input, ...parseExitEvent(input, now, limits) }));
  const eventIssues = items.flatMap((item, index) =>
    item.ok ? [] : item.issues.map((issue) => ({ path: `events.${index}${issue.path ? `.${issue.path}` : ''}`, message: issue.message })),
  );
  return { ownIssues, items, issues: [...ownIssues, ...eventIssues] };
}

/**
 * Validates an exit payload: one exit event, or `{ "events": [...] }` with 1
 * to `maxBatch` events. Issue paths name the field (`events.3.finishedAt`).
 */
export function parseExitPayload(json: unknown, now: number, limits: PayloadLimits = {}): ExitPayloadResult {
  if (!isBatch(json)) {
    const single = parseSingle(json, now, limits);
    return single.ok ? { ok: true, events: [single.event], batch: false } : single;
  }
  const batch = parseBatch(json, now, limits);
  if (batch.issues.length > 0 || !batch.items) return { ok: false, issues: batch.issues };
  return { ok: true, events: batch.items.flatMap((item) => (item.ok ? [item.event] : [])), batch: true };
}

/** One event of an exit payload, judged on its own, with the input it was read from. */
export type ExitPayloadItem = { readonly input: unknown } & (
  | { readonly ok: true; readonly event: ExitEvent }
  | { readonly ok: false; readonly issues: Issue[] }
);

export type ExitPayloadItems =
  /** Each event of a batch in order (`batch`), or the one event of a single-event payload. */
  | { readonly ok: true; readonly batch: boolean; readonly items: ExitPayloadItem[] }
  /** A batch that cannot be taken apart: not an array of 1 to `maxBatch` events, or with fields besides `events`. */
  | { readonly ok: false; readonly issues: Issue[] };

/**
 * Validates an exit payload event by event, for the bus, where nobody reads a
 * reply and one bad event must not cost the others their decision (the HTTP
 * route uses `parseExitPayload`: a bad batch is a 400 as a whole). Issue paths
 * are relative to each event; a payload that is not a batch at all is one
 * item, with its issues.
 */
export function parseExitPayloadItems(json: unknown, now: number, limits: PayloadLimits = {}): ExitPayloadItems {
  if (!isBatch(json)) return { ok: true, batch: false, items: [{ input: json, ...parseSingle(json, now, limits) }] };
  const batch = parseBatch(json, now, limits);
  // Taken apart only when every problem lies inside an event. `events` itself
  // (not an array, too long) and fields beside it are the batch's own: the
  // batch is refused whole, with every issue as `parseExitPayload` gives them.
  if (batch.ownIssues.length > 0 || !batch.items) return { ok: false, issues: batch.issues };
  return { ok: true, batch: true, items: batch.items };
}

// ---------------------------------------------------------------------------
// Container keys

/**
 * Why `key` is not a container key (`{pod}_{namespace}_{podUid}_{container}_{containerHash}`
 * with each part valid), or undefined when it is one.
 */
export function containerKeyProblem(key: string): string | undefined {
  const shape = 'expected a container key {pod}_{namespace}_{podUid}_{container}_{containerHash}';
  if (key.length > MAX_KEY_LENGTH) return `${shape}; too long`;
  const ref = parseContainerKey(key);
  if (!ref) return shape;
  const parts: [string, z.ZodMiniType, string | undefined][] = [
    ['pod', nameSchema, ref.pod],
    ['namespace', nameSchema, ref.namespace],
    ['podUid', idSchema, ref.podUid],
    ['container', nameSchema, ref.container],
    ['containerHash', idSchema, ref.containerHash],
  ];
  for (const [part, schema, value] of parts) {
    if (value === undefined) continue;
    const result = schema.safeParse(value);
    if (!result.success) return `${shape}; its ${part} ${result.error.issues[0]?.message ?? 'is invalid'}`;
  }
  // parseContainerKey drops nothing a valid key holds, so a valid key round-trips.
  if (containerKey(ref) !== key) return shape;
  return undefined;
}
