/**
 * Validation of restart targets (`restartTarget`, DESIGN §4), shared by the
 * exit event schema and the namespace defaults parser. A webhook's URL and
 * headers are checked here once; header values may be secrets, so no message
 * ever echoes one.
 */
import { TARGET_KINDS, type RestartTargetSpec, type TargetKind, type WebhookSpec } from '../core/index.ts';
import { isLoopbackHost } from '../local/loopback.ts';
import * as z from '../zod.ts';

/**
 * Where a webhook URL is delivered from. `aws`: an EventBridge API
 * destination, which calls HTTPS endpoints only. `local`: the local runtime,
 * which also posts to plain HTTP on a loopback address (a receiver on the
 * same machine), never to plain HTTP elsewhere.
 */
export type WebhookRules = 'aws' | 'local';

const WEBHOOK_URL_MAX_LENGTH = 2_048;
const MAX_WEBHOOK_HEADERS = 20;
const WEBHOOK_HEADER_VALUE_MAX_LENGTH = 512;
/** RFC 9110 token characters. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
/** Visible ASCII, spaces and tabs: no line breaks, no control characters. */
const HEADER_VALUE = /^[\t\x20-\x7E]*$/;
/**
 * Headers the delivery sets itself, or that belong to the connection: a
 * webhook may not set them (`Idempotency-Key` carries the `restartId`).
 */
const RESERVED_HEADERS = new Set(['content-length', 'content-type', 'host', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'trailer', 'upgrade', 'expect', 'idempotency-key']);
const RESERVED_PREFIXES = ['x-amz-', 'proxy-'];

/** What is wrong with a webhook URL under `rules`, or undefined. */
export function webhookUrlProblem(url: string, rules: WebhookRules): string | undefined {
  if (url.length > WEBHOOK_URL_MAX_LENGTH) return `must be at most ${WEBHOOK_URL_MAX_LENGTH} characters`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL such as https://hooks.example.com/restart';
  }
  if (parsed.username || parsed.password) return 'must not carry credentials; send them in a header';
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol === 'http:') {
    if (rules === 'local' && isLoopbackHost(parsed.hostname)) return undefined;
    return rules === 'aws'
      ? 'must be https:// (EventBridge API destinations call HTTPS endpoints only)'
      : 'must be https://, or http:// on a loopback address (127.0.0.1, ::1, localhost)';
  }
  return 'must be an https:// URL';
}

function headersProblems(headers: Record<string, unknown>): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const names = Object.keys(headers);
  if (names.length > MAX_WEBHOOK_HEADERS) return [{ path: '', message: `must hold at most ${MAX_WEBHOOK_HEADERS} headers, got ${names.length}` }];
  const seen = new Set<string>();
  for (const name of names) {
    const lower = name.toLowerCase();
    const value = headers[name];
    // The path names the header; the message never shows its value.
    if (!HEADER_NAME.test(name)) problems.push({ path: name.slice(0, 64), message: 'is not a valid header name (letters, digits and !#$%&\'*+.^_`|~-, at most 128)' });
    else if (RESERVED_HEADERS.has(lower) || RESERVED_PREFIXES.some((prefix) => lower.startsWith(prefix))) problems.push({ path: name, message: 'is set by the delivery itself and cannot be given' });
    else if (seen.has(lower)) problems.push({ path: name, message: 'is given twice (header names are case-insensitive)' });
    else if (typeof value !== 'string') problems.push({ path: name, message: 'must be a string' });
    else if (value.length > WEBHOOK_HEADER_VALUE_MAX_LENGTH) problems.push({ path: name, message: `must be at most ${WEBHOOK_HEADER_VALUE_MAX_LENGTH} characters` });
    else if (!HEADER_VALUE.test(value)) problems.push({ path: name, message: 'must hold only visible ASCII characters, spaces and tabs (no line breaks)' });
    seen.add(lower);
  }
  return problems;
}

function webhookSchema(rules: WebhookRules) {
  return z.strictObject(
    {
      url: z.string({ error: 'required: the URL to POST each restart to' }).check(
        z.superRefine((url, ctx) => {
          const problem = webhookUrlProblem(url, rules);
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        }),
      ),
      headers: z.optional(
        z.pipe(
          z.record(z.string(), z.unknown(), { error: 'expected an object of header names to values' }).check(
            z.superRefine((headers, ctx) => {
              for (const problem of headersProblems(headers)) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path ? [problem.path] : [] });
            }),
          ),
          z.transform((headers) => headers as Record<string, string>),
        ),
      ),
    },
    { error: (issue) => (issue.input === undefined ? 'required: { "url": "https://…", "headers": {…} }' : 'expected { "url": "https://…", "headers": {…} }') },
  );
}

const KIND_HINT = 'must be "bus", "ecs", "webhook" or { "webhook": { "url": "https://…", "headers": {…} } }';

/**
 * A restart target: `"bus"`, `"ecs"`, `"webhook"` (the namespace's) or
 * `{"webhook": {url, headers}}` with the URL checked under `rules`.
 */
export function restartTargetSchema(rules: WebhookRules) {
  const spec = z.strictObject({ webhook: webhookSchema(rules) }, { error: KIND_HINT });
  return z.pipe(
    z.unknown(),
    z.transform((value, ctx): RestartTargetSpec => {
      if (typeof value === 'string') {
        if ((TARGET_KINDS as readonly string[]).includes(value)) return value as TargetKind;
        ctx.issues.push({ code: 'custom', message: KIND_HINT, input: value });
        return z.NEVER;
      }
      const parsed = spec.safeParse(value, { reportInput: true });
      if (parsed.success) return { webhook: withoutEmptyHeaders(parsed.data.webhook) };
      for (const issue of parsed.error.issues) ctx.issues.push(issue as never);
      return z.NEVER;
    }),
  );
}

function withoutEmptyHeaders(webhook: { url: string; headers?: Record<string, string> | undefined }): WebhookSpec {
  return { url: webhook.url, ...(webhook.headers && Object.keys(webhook.headers).length > 0 ? { headers: webhook.headers } : {}) };
}

/** The fields of a target object, for typo hints. */
export const TARGET_FIELDS = { target: ['webhook'], webhook: ['url', 'headers'] } as const;
