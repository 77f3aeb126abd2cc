/**
 * Every HTTP route against the real store (DESIGN §6: "bad input gets a clear
 * 4xx and writes nothing; no 5xx for any input"): the router and the service
 * backend over dynalite, with Scheduler, SQS and EventBridge mocked at the SDK.
 *
 * Every request is checked the same way: never a 5xx; a 4xx has `error` and a
 * non-empty `message` (a 400 also `issues`, each with a path and a message),
 * echoes no huge input, and leaves the table exactly as it was (compared item
 * by item) with no outbound AWS call. After an accepted request the table is
 * put back to its seed, so every request meets the same store.
 *
 * Bodies are built as JSON text, not with JSON.stringify, so that they can
 * hold what a serializer never writes: duplicate keys, NaN and Infinity
 * literals, 1e400, -0, and nesting thousands deep.
 */
import { DeleteItemCommand, PutItemCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiRequest, type ApiResponse } from '../../lib/api/router.ts';
import { documentedRequest } from '../support/openapi.ts';
import { formatPath } from '../../lib/api/exits.ts';
import { API_ERRORS, type ApiErrorBody } from '../../lib/api/protocol.ts';
import type { ApiBackend } from '../../lib/api/backend.ts';
import { resolveBackoffPolicy } from '../../lib/core/index.ts';
import { LocalEventLog } from '../../lib/local/event-log.ts';
import type { LocalDynamo } from '../../lib/local/dynalite.ts';
import { createServiceBackend } from '../../lib/services/backend.ts';
import { fireRestart } from '../../lib/services/fire-restart.ts';
import { handleExit } from '../../lib/services/handle-exit.ts';
import { acquireDynalite, createHarness, exitOf, releaseDynalite, T0, type Harness } from '../support/pipeline.ts';

const NOW = T0;
const MAX_SKEW_MS = 5 * 60_000;
const RUNS = 200;

/** The seeded containers: one running, one in CrashLoopBackOff, one terminated. */
const RUNNING_KEY = 'web-0_default_uid-1_app_';
const WAITING_KEY = 'web-1_default_uid-1_app_';
const TERMINATED_KEY = 'job-0_batch__main_';
const SEED_KEYS = [RUNNING_KEY, WAITING_KEY, TERMINATED_KEY];

const STATUS_ERRORS: Record<number, string> = {
  400: 'ValidationError',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  413: 'PayloadTooLarge',
  415: 'UnsupportedMediaType',
};

// ---------------------------------------------------------------------------
// JSON text with what serializers never write

type Entry = readonly [key: string, text: string];

/** An object written entry by entry: keys may repeat, values are raw JSON text. */
function objectText(entries: readonly Entry[]): string {
  return `{${entries.map(([key, text]) => `${JSON.stringify(key)}:${text}`).join(',')}}`;
}

const json = (value: unknown): string => JSON.stringify(value);

function validExitEntries(overrides: Record<string, unknown> = {}): Entry[] {
  const fields: Record<string, unknown> = {
    namespace: 'default',
    pod: 'fuzz-0',
    podUid: 'uid-9',
    container: 'app',
    exitCode: 1,
    startedAt: NOW - 60_000,
    finishedAt: NOW - 1_000,
    exitId: 'exit-1',
    ...overrides,
  };
  return Object.entries(fields).map(([key, value]) => [key, json(value)]);
}

const validExitText = (overrides: Record<string, unknown> = {}) => objectText(validExitEntries(overrides));

const INT32_EDGES = ['2147483647', '2147483648', '-2147483648', '-2147483649', '4294967296', '9007199254740993', '-0', '0.0', '1.5', '1e0', '1E2', '1e400', '-1e400', '1e-400', '"1"', '0x10', 'NaN', 'Infinity', '-Infinity'];
const TIMESTAMPS = [
  '0',
  '-1',
  '-0',
  '1e400',
  '1.5',
  String(NOW),
  String(NOW + MAX_SKEW_MS),
  String(NOW + MAX_SKEW_MS + 1),
  '253402300800000',
  '8640000000000000',
  '8640000000000001',
  '"1970-01-01T00:00:00Z"',
  '"1969-12-31T23:59:59.999Z"',
  '"10000-01-01T00:00:00Z"',
  '"+010000-01-01T00:00:00Z"',
  '"9999-12-31T23:59:59Z"',
  '"2024-02-29T12:00:00Z"',
  '"2023-02-29T12:00:00Z"',
  '"2024-05-01T24:00:00Z"',
  '"2024-05-01T12:00:60Z"',
  '"2024-05-01T12:00:00"',
  '"2024-05-01T12:00:00.123456789+14:00"',
  '"2024-05-01T12:00:00-23:59"',
  '"2024-05-01 12:00:00Z"',
  '" 2024-05-01T12:00:00Z"',
  `"${NOW}"`,
  '""',
];
/** Names that look plausible and are not `[A-Za-z0-9.-]` starting alphanumeric. */
const UNICODE_NAMES = ['wéb', 'web\u0000', '\u202eweb', 'ｗｅｂ', 'web😀', 'İ', 'ß', 'wеb' /* Cyrillic е */, 'web\n', '\ud800', 'web\u200b', '-web', '.web', 'a_b', 'a/b', 'a b', '٣'];
const HUGE_LENGTHS = [129, 1_000, 65_537, 200_000, 300_000];

function nestedArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

function nestedObjects(depth: number): string {
  return '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
}

/** A JSON text for one field: edges, odd timestamps, unicode, huge strings, deep nesting, wrong types. */
const oddValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...INT32_EDGES),
  fc.constantFrom(...TIMESTAMPS),
  fc.constantFrom(...UNICODE_NAMES).map(json),
  fc.constantFrom(...HUGE_LENGTHS).map((length) => json('x'.repeat(length))),
  fc.constantFrom(10, 100, 1_000, 5_000).chain((depth) => fc.constantFrom(nestedArrays(depth), nestedObjects(depth))),
  fc.jsonValue({ maxDepth: 2 }).map(json),
  fc.string({ unit: 'grapheme', maxLength: 40 }).map(json),
  fc.string({ unit: 'binary', maxLength: 40 }).map(json),
  fc.constantFrom('null', 'true', '[]', '{}', '""'),
);

const EXIT_FIELDS = ['namespace', 'pod', 'podUid', 'container', 'containerHash', 'exitCode', 'reason', 'startedAt', 'finishedAt', 'exitId', 'restartPolicy', 'restartPolicyRules', 'maxRestarts', 'backoffPolicy'];
const REQUIRED = ['namespace', 'pod', 'container', 'exitCode', 'finishedAt'];
const ODD_KEYS = fc.oneof(fc.constantFrom('__proto__', 'constructor', 'toString', 'exitcode', 'ExitCode', 'a.b', '', 'x'.repeat(300)), fc.constantFrom(...UNICODE_NAMES), fc.string({ maxLength: 12 }));

type Mutation =
  | { readonly op: 'replace'; readonly field: string; readonly text: string }
  | { readonly op: 'duplicateLast'; readonly field: string; readonly text: string }
  | { readonly op: 'duplicateFirst'; readonly field: string; readonly text: string }
  | { readonly op: 'remove'; readonly field: string }
  | { readonly op: 'add'; readonly field: string; readonly text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), field: fc.constantFrom(...EXIT_FIELDS), text: oddValue }),
  fc.record({ op: fc.constant('duplicateLast' as const), field: fc.constantFrom(...EXIT_FIELDS), text: oddValue }),
  fc.record({ op: fc.constant('duplicateFirst' as const), field: fc.constantFrom(...EXIT_FIELDS), text: oddValue }),
  fc.record({ op: fc.constant('remove' as const), field: fc.constantFrom(...REQUIRED) }),
  fc.record({ op: fc.constant('add' as const), field: ODD_KEYS, text: oddValue }),
);

/** A valid exit with a few mutations, and the fields they touched. */
const mutatedExit = fc
  .tuple(fc.constantFrom('fuzz-0', 'fuzz-1', 'web-0', 'web-1'), fc.array(mutation, { minLength: 0, maxLength: 3 }))
  .map(([pod, mutations]) => {
    let entries = validExitEntries({ pod, exitId: `exit-${pod}` });
    for (const change of mutations) {
      switch (change.op) {
        case 'replace':
          entries = entries.some(([key]) => key === change.field)
            ? entries.map(([key, text]) => [key, key === change.field ? change.text : text] as const)
            : [...entries, [change.field, change.text]];
          break;
        case 'duplicateLast':
          entries = [...entries, [change.field, change.text]];
          break;
        case 'duplicateFirst':
          entries = [[change.field, change.text], ...entries];
          break;
        case 'remove':
          entries = entries.filter(([key]) => key !== change.field);
          break;
        case 'add':
          entries = [...entries, [change.field, change.text]];
          break;
      }
    }
    return { text: objectText(entries), touched: new Set(mutations.map((change) => change.field)) };
  });

// ---------------------------------------------------------------------------

describe('HTTP routes over the real store', () => {
  let h: Harness;
  let dynamo: LocalDynamo;
  /** The AWS backend: no event log (records are in CloudWatch Logs). */
  let awsBackend: ApiBackend;
  /** The local runtime's backend: with the event log behind GET /v1/events. */
  let localBackend: ApiBackend;
  let seed: Record<string, AttributeValue>[];
  const reported: unknown[] = [];
  const tally = new Map<number, number>();

  beforeAll(async () => {
    dynamo = await acquireDynalite();
    h = await createHarness({ shards: 1 });
    await handleExit(h.deps, exitOf(NOW - 120_000));
    await fireRestart(h.deps, { key: RUNNING_KEY, restartCount: 1 });
    await handleExit(h.deps, exitOf(NOW - 120_000, { pod: 'web-1' }));
    await fireRestart(h.deps, { key: WAITING_KEY, restartCount: 1 });
    await handleExit(h.deps, exitOf(NOW - 1_000, { pod: 'web-1', backoffPolicy: resolveBackoffPolicy({ initial: '5m', max: '5m' }) }));
    await handleExit(h.deps, { namespace: 'batch', pod: 'job-0', container: 'main', exitCode: 0, finishedAt: NOW - 5_000, restartPolicy: 'OnFailure' });
    seed = await h.dump();
    expect(seed.map((item) => item.pk?.S).sort()).toEqual([...SEED_KEYS].sort());
    const eventLog = new LocalEventLog();
    // The harness captures the log lines, which carry the log's `schema` tag; the
    // runtime's event log holds the records themselves (what GET /v1/events answers).
    eventLog.record(h.records.map((logged) => {
      const { schema: _schema, ...record } = logged as typeof logged & { schema?: string };
      return record;
    }));
    // An unexpected error reaches reportError before a 500: keep them to show in a failure.
    const deps = { ...h.deps, log: { ...h.deps.log, error: (message: string, details?: Record<string, unknown>) => void reported.push({ message, ...details }) } };
    awsBackend = createServiceBackend(deps);
    localBackend = createServiceBackend(deps, { listEvents: async (query) => eventLog.query(query) });
  });
  afterAll(async () => {
    console.log(`route fuzz: responses by status ${JSON.stringify(Object.fromEntries([...tally].sort(([a], [b]) => a - b)))}`);
    await h.close();
    await releaseDynalite();
  });

  /** Puts the table back to its seed after a request that was allowed to write. */
  async function restoreSeed(): Promise<void> {
    const current = await h.dump();
    const byKey = new Map(seed.map((item) => [item.pk!.S!, item]));
    for (const item of current) {
      const key = item.pk!.S!;
      const original = byKey.get(key);
      if (!original) await dynamo.client.send(new DeleteItemCommand({ TableName: h.tableName, Key: { pk: { S: key } } }));
      else if (JSON.stringify(original) !== JSON.stringify(item)) await dynamo.client.send(new PutItemCommand({ TableName: h.tableName, Item: original }));
    }
    for (const [key, item] of byKey) {
      if (!current.some((found) => found.pk?.S === key)) await dynamo.client.send(new PutItemCommand({ TableName: h.tableName, Item: item }));
    }
  }

  /** Every 4xx names its problem in the documented body. */
  function expectNamedProblem(response: ApiResponse): void {
    const body = response.body as ApiErrorBody;
    expect(response.headers['content-type']).toBe('application/json');
    expect(API_ERRORS).toContain(body.error);
    expect(body.error).toBe(STATUS_ERRORS[response.status]);
    expect(typeof body.message).toBe('string');
    expect(body.message.trim()).not.toBe('');
    // The answer never echoes a huge input back.
    expect(JSON.stringify(body).length).toBeLessThan(64 * 1024);
    if (response.status === 400) {
      expect(body.issues?.length).toBeGreaterThan(0);
      for (const issue of body.issues ?? []) {
        expect(typeof issue.path).toBe('string');
        expect(issue.message.trim()).not.toBe('');
      }
    }
    if (response.status === 405) expect(response.headers.allow).toMatch(/^[A-Z]+(, [A-Z]+)*$/);
  }

  /**
   * Sends one request and checks what every request must satisfy. A rejected
   * request leaves every item as it was and calls no AWS service.
   */
  async function send(request: ApiRequest, backend: ApiBackend = awsBackend): Promise<ApiResponse> {
    const before = await h.dump();
    const awsCallsBefore = h.awsCalls().length;
    const reportedBefore = reported.length;
    const response = await documentedRequest(request, backend);
    tally.set(response.status, (tally.get(response.status) ?? 0) + 1);
    expect(response.status, `${request.method} ${request.path}: ${JSON.stringify(response.body)} ${JSON.stringify(reported.slice(reportedBefore))}`).toBeLessThan(500);
    // The transport writes the body with JSON.stringify: it must serialise.
    expect(() => JSON.stringify(response.body)).not.toThrow();
    if (response.status >= 400) {
      expectNamedProblem(response);
      expect(await h.dump()).toEqual(before);
      expect(h.awsCalls().length).toBe(awsCallsBefore);
    } else {
      await restoreSeed();
    }
    return response;
  }

  const post = (body: string | Uint8Array | undefined, contentType: string | undefined = 'application/json'): ApiRequest => ({
    method: 'POST',
    path: '/v1/exits',
    query: {},
    headers: contentType === undefined ? {} : { 'content-type': contentType },
    ...(body === undefined ? {} : { body }),
  });

  const issuesOf = (response: ApiResponse) => (response.body as ApiErrorBody).issues ?? [];

  // -------------------------------------------------------------------------
  describe('POST /v1/exits, generated', () => {
    it('answers mutated exit events with 200 or a 4xx naming only the fields that were changed', async () => {
      await fc.assert(
        fc.asyncProperty(mutatedExit, async ({ text, touched }) => {
          const response = await send(post(text));
          expect([200, 400, 413, 415]).toContain(response.status);
          if (response.status !== 400) return;
          // Temporal checks compare two fields: a change to one may be reported at the other.
          const blamable = new Set([...touched, ...(touched.has('startedAt') || touched.has('finishedAt') ? ['startedAt', 'finishedAt'] : [])]);
          for (const issue of issuesOf(response)) {
            const named = [...blamable].some((field) => issue.path === formatPath([field]) || issue.path.startsWith(`${formatPath([field])}.`));
            expect(named, `${issue.path}: ${issue.message} (changed: ${[...touched].join(', ')})`).toBe(true);
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('answers batches of mutated exits, naming each bad event by index', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(mutatedExit, { minLength: 1, maxLength: 4 }), async (exits) => {
          const response = await send(post(objectText([['events', `[${exits.map((exit) => exit.text).join(',')}]`]])));
          expect([200, 400, 413, 415]).toContain(response.status);
          if (response.status === 200) {
            expect((response.body as { results: unknown[] }).results).toHaveLength(exits.length);
          } else if (response.status === 400) {
            for (const issue of issuesOf(response)) {
              const index = Number(/^events\.(\d+)/.exec(issue.path)?.[1]);
              expect(index, issue.path).toBeLessThan(exits.length);
              expect(exits[index]!.touched.size, `${issue.path} blames an untouched event`).toBeGreaterThan(0);
            }
          }
        }),
        { numRuns: RUNS },
      );
    });

    it('answers any JSON value, any text and any bytes under any content type without a 5xx, writing nothing when rejected', async () => {
      const body = fc.oneof(
        fc.jsonValue({ maxDepth: 4 }).map(json),
        fc.string({ unit: 'grapheme', maxLength: 200 }),
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.constant(`\uFEFF${validExitText()}`),
        fc.constant(validExitText()),
        fc.constant(Buffer.from(validExitText(), 'utf16le')),
        fc.constant(undefined),
      );
      /** Content types, and whether the route reads the body as JSON under them. */
      const contentType = fc.constantFrom<[string | undefined, boolean]>(
        ['application/json', true],
        ['application/json; charset=utf-8', true],
        ['application/json; charset="UTF-8"', true],
        ['APPLICATION/JSON', true],
        ['application/cloudevents+json', true],
        ['application/json;;;', true],
        [undefined, true],
        ['application/json; charset=latin1', false],
        ['application/json; charset=utf-16', false],
        ['text/plain', false],
        ['text/json', false],
        ['application/x-www-form-urlencoded', false],
        ['multipart/form-data; boundary=----x', false],
        ['application/xml', false],
        ['', false],
        [';', false],
        ['application/jsonx', false],
      );
      await fc.assert(
        fc.asyncProperty(body, contentType, async (text, [type, readsJson]) => {
          const response = await send(post(text, type));
          expect([200, 400, 413, 415]).toContain(response.status);
          if (!readsJson) expect(response.status).toBe(415);
        }),
        { numRuns: RUNS },
      );
    });
  });

  // -------------------------------------------------------------------------
  describe('POST /v1/exits, raw bodies', () => {
    it.each([
      ['a duplicate key whose last value is invalid', 400, 'exitCode', `{"namespace":"default","pod":"fuzz-0","container":"app","exitCode":1,"exitCode":"x","finishedAt":${NOW}}`],
      ['NaN', 415, undefined, validExitText().replace('"exitCode":1', '"exitCode":NaN')],
      ['Infinity', 415, undefined, validExitText().replace('"exitCode":1', '"exitCode":Infinity')],
      ['-Infinity', 415, undefined, validExitText().replace(`"finishedAt":${NOW - 1_000}`, '"finishedAt":-Infinity')],
      ['1e400 as exitCode', 400, 'exitCode', validExitText().replace('"exitCode":1', '"exitCode":1e400')],
      ['-1e400 as finishedAt', 400, 'finishedAt', validExitText().replace(`"finishedAt":${NOW - 1_000}`, '"finishedAt":-1e400')],
      ['1e400 as maxRestarts', 400, 'maxRestarts', validExitText({ maxRestarts: 0 }).replace('"maxRestarts":0', '"maxRestarts":1e400')],
      ['a 10,000-deep array', 400, '', nestedArrays(10_000)],
      ['a 100,000-deep array (200 KB)', 400, '', nestedArrays(100_000)],
      ['10,000-deep objects in a field', 400, 'backoffPolicy.a', objectText([...validExitEntries(), ['backoffPolicy', nestedObjects(10_000)]])],
      ['10,000-deep arrays in a batch', 400, 'events.0', objectText([['events', nestedArrays(10_000)]])],
      ['a 300 KB reason', 413, undefined, validExitText({ reason: 'r'.repeat(300_000) })],
      ['a 300 KB string body', 413, undefined, json('s'.repeat(300_000))],
      ['a 250 KB reason (under the body limit)', 400, 'reason', validExitText({ reason: 'r'.repeat(250_000) })],
      ['a 250 KB exitId', 400, 'exitId', validExitText({ exitId: 'e'.repeat(250_000) })],
      ['a 250 KB pod name', 400, 'pod', validExitText({ pod: 'p'.repeat(250_000) })],
      ['an unknown 250 KB key', 400, `${'k'.repeat(64)}…`, objectText([...validExitEntries(), ['k'.repeat(250_000), '1']])],
      ['exitCode 2^31', 400, 'exitCode', validExitText({ exitCode: 2 ** 31 })],
      ['exitCode -2^31 - 1', 400, 'exitCode', validExitText({ exitCode: -(2 ** 31) - 1 })],
      ['exitCode 1.5', 400, 'exitCode', validExitText({ exitCode: 1.5 })],
      ['exitCode "1"', 400, 'exitCode', validExitText({ exitCode: '1' })],
      ['a rule exit code 2^31', 400, 'restartPolicyRules.0.exitCodes.values.0', validExitText({ restartPolicyRules: [{ action: 'Restart', exitCodes: { operator: 'In', values: [2 ** 31] } }] })],
      ['finishedAt -1', 400, 'finishedAt', validExitText({ startedAt: null, finishedAt: -1 })],
      ['finishedAt in year 10000 (ISO)', 400, 'finishedAt', validExitText({ finishedAt: '10000-01-01T00:00:00Z' })],
      ['finishedAt in year 10000 (+ISO)', 400, 'finishedAt', validExitText({ finishedAt: '+010000-01-01T00:00:00Z' })],
      ['finishedAt in year 10000 (epoch ms)', 400, 'finishedAt', validExitText({ finishedAt: 253_402_300_800_000 })],
      ['finishedAt beyond Date (8.64e15 + 1)', 400, 'finishedAt', validExitText({ finishedAt: 8.64e15 + 1 })],
      ['finishedAt 5 min + 1 ms ahead', 400, 'finishedAt', validExitText({ finishedAt: NOW + MAX_SKEW_MS + 1 })],
      ['finishedAt Feb 30', 400, 'finishedAt', validExitText({ finishedAt: '2024-02-30T00:00:00Z' })],
      ['finishedAt without an offset', 400, 'finishedAt', validExitText({ finishedAt: '2024-05-01T12:00:00' })],
      ['startedAt negative', 400, 'startedAt', validExitText({ startedAt: -5 })],
      ['startedAt after finishedAt', 400, 'startedAt', validExitText({ startedAt: NOW })],
      ['an empty body', 400, '', ''],
      ['whitespace only', 400, '', ' \n\t '],
      // JavaScript's trim() counts U+FEFF as white space: a lone BOM is an empty body.
      ['a BOM and nothing else', 400, '', '\uFEFF'],
      ['a BOM and broken JSON', 415, undefined, '\uFEFF{"namespace":'],
      ['two BOMs', 415, undefined, `\uFEFF\uFEFF${validExitText()}`],
      ['trailing garbage', 415, undefined, `${validExitText()}x`],
      ['two JSON documents', 415, undefined, `${validExitText()}${validExitText()}`],
      ['a JSON comment', 415, undefined, `/* c */${validExitText()}`],
      ['single quotes', 415, undefined, validExitText().replaceAll('"', "'")],
    ] as const)('rejects %s with %i (issue at %j) and writes nothing', async (_label, status, path, body) => {
      const response = await send(post(body));
      expect(response.status).toBe(status);
      if (path !== undefined) expect(issuesOf(response).map((issue) => issue.path)).toContain(path);
    });

    it.each(UNICODE_NAMES.flatMap((name) => ['namespace', 'pod', 'container'].map((field) => [field, name] as const)))(
      'rejects %s %j (not [A-Za-z0-9.-]) with 400 naming the field',
      async (field, name) => {
        const response = await send(post(validExitText({ [field]: name })));
        expect(response.status).toBe(400);
        expect(issuesOf(response).map((issue) => issue.path)).toContain(field);
      },
    );

    it.each([
      ['podUid', 'uïd'],
      ['containerHash', 'häsh'],
      ['exitId', 'exït'],
      ['exitId', 'tab\there'],
      ['podUid', 'uid.with.dots'],
    ])('rejects %s %j with 400 naming the field', async (field, value) => {
      const response = await send(post(validExitText({ [field]: value })));
      expect(response.status).toBe(400);
      expect(issuesOf(response).map((issue) => issue.path)).toContain(field);
    });

    it.each([
      ['exitCode 2^31 - 1', validExitText({ exitCode: 2 ** 31 - 1 })],
      ['exitCode -2^31', validExitText({ exitCode: -(2 ** 31) })],
      ['exitCode -0', validExitText().replace('"exitCode":1', '"exitCode":-0')],
      ['exitCode 1e-400 (0)', validExitText().replace('"exitCode":1', '"exitCode":1e-400')],
      ['exitCode 1.0', validExitText().replace('"exitCode":1', '"exitCode":1.0')],
      ['finishedAt 0 (the epoch), no startedAt', validExitText({ startedAt: null, finishedAt: 0 })],
      ['finishedAt -0', validExitText({ startedAt: null }).replace(`"finishedAt":${NOW - 1_000}`, '"finishedAt":-0')],
      ['finishedAt exactly 5 min ahead', validExitText({ finishedAt: NOW + MAX_SKEW_MS })],
      ['a leading BOM (text)', `\uFEFF${validExitText()}`],
      ['a leading BOM (bytes)', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(validExitText())])],
      ['a lone surrogate in reason', validExitText({ reason: '\ud800 broken' })],
      ['NUL and RTL override in reason', validExitText({ reason: 'a\u0000b\u202ec' })],
      ['a reason of 128 emoji code units', validExitText({ reason: '😀'.repeat(64) })],
      ['a batch of 100', objectText([['events', `[${Array.from({ length: 100 }, (_, index) => validExitText({ pod: `pod-${index}` })).join(',')}]`]])],
    ] as const)('accepts %s and stores it', async (_label, body) => {
      const before = await h.dump();
      const response = await documentedRequest(post(body), awsBackend);
      expect(response.status, JSON.stringify(response.body)).toBe(200);
      expect((await h.dump()).length).toBeGreaterThan(before.length);
      await restoreSeed();
    });

    it('reads a duplicate key as JSON.parse does: the last one wins, with the effect of a body holding only that one', async () => {
      const firstInvalid = `{"namespace":"default","pod":"fuzz-0","container":"app","exitCode":"x","exitCode":7,"finishedAt":${NOW}}`;
      const response = await send(post(firstInvalid));
      expect(response.status).toBe(200);
      const lastOnly = await send(post(`{"namespace":"default","pod":"fuzz-0","container":"app","exitCode":7,"finishedAt":${NOW}}`));
      expect(response.body).toEqual(lastOnly.body);
    });

    it.each([
      ['text/plain'],
      ['application/x-www-form-urlencoded'],
      ['multipart/form-data; boundary=----x'],
      ['application/json; charset=latin1'],
      ['application/xml'],
    ])('rejects a valid exit sent as %s with 415 and writes nothing', async (type) => {
      const response = await send(post(validExitText(), type));
      expect(response.status).toBe(415);
      expect((response.body as ApiErrorBody).message).toMatch(/not supported/);
    });

    it('accepts a valid exit without a Content-Type (curl -d sends none by default with --data-binary @-)', async () => {
      expect((await send(post(validExitText(), undefined))).status).toBe(200);
    });
  });

  // -------------------------------------------------------------------------
  describe('every route and method', () => {
    const ROUTES = {
      '/v1/exits': ['POST'],
      '/v1/containers': ['GET'],
      [`/v1/containers/${RUNNING_KEY}`]: ['GET', 'DELETE'],
      '/v1/events': ['GET'],
    } as Record<string, string[]>;
    const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

    it.each(Object.entries(ROUTES).flatMap(([path, allowed]) => METHODS.filter((method) => !allowed.includes(method)).map((method) => [method, path, allowed] as const)))(
      'answers %s %s with 405 and an Allow header, writing nothing',
      async (method, path, allowed) => {
        for (const backend of [awsBackend, localBackend]) {
          const response = await send({ method, path, query: {}, headers: { 'content-type': 'application/json' }, body: validExitText() }, backend);
          expect(response.status).toBe(405);
          expect(response.headers.allow).toBe(allowed.join(', '));
        }
      },
    );

    it('answers generated methods, paths, queries and bodies on every route without a 5xx, writing nothing when rejected', async () => {
      const keySegment = fc.oneof(
        fc.constantFrom(...SEED_KEYS, 'nope_default__app_', encodeURIComponent('wéb_default__app_'), '%', '%E0%A4%A', '%00', '..', 'a_b', '_____', `${'p'.repeat(129)}_default__app_`, 'x'.repeat(5_000)),
        fc.string({ maxLength: 30 }).map(encodeURIComponent),
        fc.string({ unit: 'grapheme', maxLength: 20 }),
      );
      const path = fc.oneof(
        fc.constantFrom('/v1/exits', '/v1/containers', '/v1/events', '/v1/exits/', '/v1/containers/', '/', '', '/v1', '/v2/exits', '/V1/EXITS', '//v1/exits', '/v1//containers'),
        keySegment.map((segment) => `/v1/containers/${segment}`),
        keySegment.map((segment) => `/v1/containers/${segment}/extra`),
      );
      const queryValue = fc.oneof(
        fc.string({ maxLength: 20 }),
        fc.constantFrom('0', '1', '1000', '1001', '-1', '1e3', '01', ' 5', 'NaN', 'default', 'Running', 'CrashLoopBackOff', 'Terminated', 'running', 'Exited', 'BackOff', RUNNING_KEY, '1h', '0s', '-1h', '1970-01-01T00:00:00Z', '10000-01-01T00:00:00Z', '99999999999999999999', 'wéb', 'x'.repeat(5_000), ''),
      );
      const query = fc.dictionary(fc.constantFrom('namespace', 'state', 'limit', 'type', 'key', 'since', '__proto__', 'constructor', 'x'), queryValue, { maxKeys: 3 });
      const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'get', 'delete', 'toString', '__proto__', '');
      const body = fc.option(fc.oneof(mutatedExit.map((exit) => exit.text), fc.string({ maxLength: 50 })), { nil: undefined });
      await fc.assert(
        fc.asyncProperty(method, path, query, body, fc.boolean(), async (verb, target, parameters, text, local) => {
          await send(
            { method: verb, path: target, query: parameters, headers: { 'content-type': 'application/json' }, ...(text === undefined ? {} : { body: text }) },
            local ? localBackend : awsBackend,
          );
        }),
        { numRuns: RUNS },
      );
    });

    it('answers GET and DELETE on a well-formed key that is not stored with 404, writing nothing', async () => {
      for (const method of ['GET', 'DELETE']) {
        const response = await send({ method, path: '/v1/containers/nope_default__app_', query: {}, headers: {} });
        expect(response.status).toBe(404);
      }
    });

    it('resets a stored container with DELETE (the one write outside POST /v1/exits)', async () => {
      const response = await documentedRequest({ method: 'DELETE', path: `/v1/containers/${RUNNING_KEY}`, query: {}, headers: {} }, awsBackend);
      expect(response).toMatchObject({ status: 200, body: { key: RUNNING_KEY, reset: true } });
      expect(await h.rawItem(RUNNING_KEY)).toBeUndefined();
      await restoreSeed();
    });
  });

  // -------------------------------------------------------------------------
  describe('GET /v1/containers cursors', () => {
    const encoded = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

    it.each([
      ['not base64url JSON', 'abc'],
      ['base64url of text', Buffer.from('hello').toString('base64url')],
      ['a JSON array', encoded([1, 2])],
      ['a JSON object that is not a key', encoded({ a: 1 })],
      ['a key with an empty string', encoded({ pk: { S: '' } })],
      ['a key of the wrong type', encoded({ pk: { N: '1' } })],
      ['a key with an unknown attribute type', encoded({ pk: { X: 'a' } })],
      ['a key with extra attributes', encoded({ pk: { S: RUNNING_KEY }, other: { S: 'x' } })],
      ['a key longer than DynamoDB allows (2,048 bytes)', encoded({ pk: { S: 'k'.repeat(2_100) } })],
      ['4,000 characters', 'A'.repeat(4_000)],
    ])('answers a cursor that is %s with 400 naming cursor, never a 5xx', async (_label, cursor) => {
      const response = await send({ method: 'GET', path: '/v1/containers', query: { cursor }, headers: {} });
      expect(response.status).toBe(400);
      expect(issuesOf(response).map((issue) => issue.path)).toEqual(['cursor']);
    });

    it('pages through the containers with the cursor it hands out', async () => {
      const first = await send({ method: 'GET', path: '/v1/containers', query: { limit: '1' }, headers: {} });
      const page = first.body as { items: { key: string }[]; cursor?: string };
      expect(page.items).toHaveLength(1);
      expect(page.cursor).toBeDefined();
      const second = await send({ method: 'GET', path: '/v1/containers', query: { limit: '5', cursor: page.cursor! }, headers: {} });
      const keys = [...page.items, ...(second.body as { items: { key: string }[] }).items].map((item) => item.key);
      expect(new Set(keys).size).toBe(keys.length);
    });

    it('answers generated cursors without a 5xx', async () => {
      const cursor = fc.oneof(
        fc.string({ maxLength: 60 }),
        fc.jsonValue({ maxDepth: 3 }).map(encoded),
        fc.record({ pk: fc.dictionary(fc.constantFrom('S', 'N', 'B', 'M', 'L', 'NULL', 'BOOL', 'SS'), fc.jsonValue({ maxDepth: 1 }), { minKeys: 1, maxKeys: 2 }) }).map(encoded),
      );
      await fc.assert(
        fc.asyncProperty(cursor, fc.constantFrom(undefined, '1', '2', '1000'), async (value, limit) => {
          await send({ method: 'GET', path: '/v1/containers', query: { cursor: value, ...(limit ? { limit } : {}) }, headers: {} });
        }),
        { numRuns: RUNS },
      );
    });
  });
});
