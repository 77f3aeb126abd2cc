import { describe, expect, it } from 'vitest';
import { containerKey, resolveBackoffPolicy } from '../../lib/core/index.ts';
import { containerKeyProblem, parseExitPayload, parseExitPayloadItems, parseInstant, EXIT_EVENT_FIELDS } from '../../lib/api/exits.ts';
import { parseSince } from '../../lib/api/queries.ts';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const BASE = { namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: NOW - 1_000 };

function single(fields: Record<string, unknown>) {
  const result = parseExitPayload({ ...BASE, ...fields }, NOW);
  if (!result.ok) throw new Error(`unexpected issues: ${JSON.stringify(result.issues)}`);
  expect(result.batch).toBe(false);
  expect(result.events).toHaveLength(1);
  return result.events[0]!;
}

describe('parseExitPayload', () => {
  it('produces the core ExitEvent with times as epoch ms and absent fields omitted', () => {
    const event = single({ finishedAt: '2024-05-01T11:59:00.000Z' });
    expect(event).toEqual({ namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: NOW - 60_000 });
    // Omitted, not present-but-undefined.
    expect(Object.keys(event).sort()).toEqual(['container', 'exitCode', 'finishedAt', 'namespace', 'pod']);
  });

  it('keeps every field the event carries', () => {
    const rules = [{ action: 'DoNotRestart', exitCodes: { operator: 'In', values: [0, 143] } }];
    const event = single({
      podUid: 'a1b2-c3',
      containerHash: 'f00d',
      reason: 'OOMKilled',
      startedAt: '2024-05-01T11:00:00Z',
      exitId: 'exit #1: "quoted"',
      restartCount: 4,
      restartPolicy: 'OnFailure',
      restartPolicyRules: rules,
      maxRestarts: 0,
    });
    expect(event).toEqual({
      ...BASE,
      podUid: 'a1b2-c3',
      containerHash: 'f00d',
      reason: 'OOMKilled',
      startedAt: NOW - 3_600_000,
      // startedAt came in whole seconds: the event says so.
      timestampResolutionMs: 1_000,
      exitId: 'exit #1: "quoted"',
      restartCount: 4,
      restartPolicy: 'OnFailure',
      restartPolicyRules: rules,
      maxRestarts: 0,
    });
  });

  it.each([
    ['the kubelet preset by default', { maxBackoff: '1m' }, { initialMs: 10_000, maxMs: 60_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['the reduced preset', { preset: 'reduced' }, { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['durations in ms', { initialBackoff: 500, maxBackoff: 4_000, resetAfter: 600_000, jitter: 0.25 }, { initialMs: 500, maxMs: 4_000, resetAfterMs: 600_000, jitterFactor: 0.25 }],
    ['the KEP-5593 rule (max below initial lowers initial)', { initialBackoff: '20s', maxBackoff: '5s' }, { initialMs: 5_000, maxMs: 5_000, resetAfterMs: 600_000, jitterFactor: 0 }],
    ['the longest durations (7 days)', { initialBackoff: '168h', maxBackoff: 604_800_000, resetAfter: '168h' }, { initialMs: 604_800_000, maxMs: 604_800_000, resetAfterMs: 604_800_000, jitterFactor: 0 }],
    ['a compound duration', { initialBackoff: '1m30s', maxBackoff: '1h' }, { initialMs: 90_000, maxMs: 3_600_000, resetAfterMs: 600_000, jitterFactor: 0 }],
  ])('resolves a back-off policy with %s', (_name, backoffPolicy, expected) => {
    expect(single({ backoffPolicy }).backoffPolicy).toEqual(expected);
  });

  it('resolves the policy exactly as the core does', () => {
    expect(single({ backoffPolicy: { preset: 'reduced', maxBackoff: '30s' } }).backoffPolicy).toEqual(
      resolveBackoffPolicy({ preset: 'reduced', max: '30s' }),
    );
  });

  it('reads an empty back-off policy as no policy, so the namespace default still applies', () => {
    expect(single({ backoffPolicy: {} })).not.toHaveProperty('backoffPolicy');
  });

  it('reads an empty rule list as no rules', () => {
    expect(single({ restartPolicyRules: [] })).not.toHaveProperty('restartPolicyRules');
  });

  it('recognises a batch and keeps its order', () => {
    const result = parseExitPayload({ events: [{ ...BASE, pod: 'b' }, { ...BASE, pod: 'a' }] }, NOW);
    expect(result).toEqual({ ok: true, batch: true, events: [expect.objectContaining({ pod: 'b' }), expect.objectContaining({ pod: 'a' })] });
  });

  it('reports the messages users read', () => {
    const result = parseExitPayload(
      { ...BASE, exitCode: 2_147_483_648, finishedAt: NOW + 6 * 60_000, namespace: 'a_b', restartPolicy: 'onfailure', backoffPolicy: { initialBackoff: '5x' } },
      NOW,
    );
    expect(result).toEqual({
      ok: false,
      issues: expect.arrayContaining([
        { path: 'exitCode', message: 'must be an int32 (-2147483648 to 2147483647), got 2147483648' },
        { path: 'finishedAt', message: 'is 6m in the future (2024-05-01T12:06:00.000Z); at most 5m of clock skew is allowed' },
        { path: 'namespace', message: "must contain only letters, digits, '.' and '-', and start with a letter or digit" },
        { path: 'restartPolicy', message: 'must be one of Always, OnFailure, Never (did you mean "OnFailure"?)' },
        { path: 'backoffPolicy.initialBackoff', message: expect.stringContaining('invalid duration "5x"') },
      ]),
    });
  });

  it('says "required" for a missing field', () => {
    expect(parseExitPayload({ ...BASE, pod: undefined }, NOW)).toEqual({ ok: false, issues: [{ path: 'pod', message: 'required' }] });
  });

  it('takes the skew allowance from its limits', () => {
    expect(parseExitPayload({ ...BASE, finishedAt: NOW + 2_000 }, NOW, { maxFutureSkewMs: 1_000 }).ok).toBe(false);
    expect(parseExitPayload({ ...BASE, finishedAt: NOW + 2_000 }, NOW, { maxFutureSkewMs: 2_000 }).ok).toBe(true);
  });

  it('documents its fields in order', () => {
    expect(EXIT_EVENT_FIELDS).toEqual([
      'namespace',
      'pod',
      'podUid',
      'container',
      'containerHash',
      'exitCode',
      'reason',
      'startedAt',
      'finishedAt',
      'exitId',
      'restartCount',
      'restartPolicy',
      'restartPolicyRules',
      'maxRestarts',
      'backoffPolicy',
    ]);
  });

  it.each([
    ['whole seconds', { finishedAt: '2024-05-01T11:59:59Z' }, 1_000],
    ['tenths', { finishedAt: '2024-05-01T11:59:59.5Z' }, 100],
    ['hundredths', { finishedAt: '2024-05-01T11:59:59.25Z' }, 10],
    ['milliseconds', { finishedAt: '2024-05-01T11:59:59.250Z' }, undefined],
    ['nanoseconds', { finishedAt: '2024-05-01T11:59:59.250000001Z' }, undefined],
    ['epoch milliseconds, even on a whole second', { finishedAt: NOW - 1_000 }, undefined],
    ['a coarser startedAt', { startedAt: '2024-05-01T11:59:00Z', finishedAt: '2024-05-01T11:59:59.250Z' }, 1_000],
  ])('tells the core the timestamps’ resolution: %s → %s ms', (_name, fields, resolution) => {
    expect(single(fields).timestampResolutionMs).toBe(resolution);
  });

  it.each([
    [0, true],
    [7, true],
    [2_147_483_647, true],
    [-1, false],
    [1.5, false],
    ['3', false],
  ])('accepts restartCount %j: %s', (restartCount, ok) => {
    const result = parseExitPayload({ ...BASE, restartCount }, NOW);
    expect(result.ok).toBe(ok);
    if (result.ok) expect(result.events[0]!.restartCount).toBe(restartCount);
    else expect(result.issues.map((issue) => issue.path)).toEqual(['restartCount']);
  });

  it('does not let a __proto__ key reach the event or Object.prototype', () => {
    const json = JSON.parse(`{"__proto__":{"polluted":true},${JSON.stringify(BASE).slice(1)}`) as unknown;
    const result = parseExitPayload(json, NOW);
    expect(result.ok).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseExitPayloadItems', () => {
  const bad = { ...BASE, exitCode: 'x', pod: '' };

  it('judges each event of a batch on its own, in order, with issue paths relative to the event', () => {
    const result = parseExitPayloadItems({ events: [BASE, bad, { ...BASE, pod: 'web-1' }] }, NOW);
    if (!result.ok) throw new Error('expected items');
    expect(result.batch).toBe(true);
    expect(result.items.map((item) => item.ok)).toEqual([true, false, true]);
    expect(result.items[1]).toEqual({
      ok: false,
      input: bad,
      issues: [
        { path: 'pod', message: 'must not be empty' },
        { path: 'exitCode', message: 'expected an integer, got a string' },
      ],
    });
    expect(result.items[2]).toMatchObject({ ok: true, event: { pod: 'web-1' }, input: { ...BASE, pod: 'web-1' } });
  });

  it('agrees with parseExitPayload on a valid payload, batch or single', () => {
    for (const payload of [BASE, { events: [BASE, { ...BASE, pod: 'web-1' }] }]) {
      const whole = parseExitPayload(payload, NOW);
      const items = parseExitPayloadItems(payload, NOW);
      if (!whole.ok || !items.ok) throw new Error('expected both to accept it');
      expect(items.batch).toBe(whole.batch);
      expect(items.items.map((item) => (item.ok ? item.event : undefined))).toEqual(whole.events);
    }
  });

  it('reads a payload that is not a batch as one item with its issues', () => {
    expect(parseExitPayloadItems(bad, NOW)).toMatchObject({ ok: true, batch: false, items: [{ ok: false, input: bad, issues: [{ path: 'pod' }, { path: 'exitCode' }] }] });
    expect(parseExitPayloadItems('exit', NOW)).toMatchObject({ ok: true, batch: false, items: [{ ok: false, input: 'exit', issues: [{ path: '' }] }] });
  });

  it.each([
    ['events that are not an array', { events: 'x' }, ['events']],
    ['an empty batch', { events: [] }, ['events']],
    ['a batch over the limit', { events: [BASE, BASE, BASE] }, ['events']],
    ['a field besides events, even one named like an event path', { events: [BASE], 'events.0': 1 }, ['events.0']],
    ['a field besides events, with a bad event too', { events: [bad], extra: true }, ['extra', 'events.0.pod', 'events.0.exitCode']],
  ])('rejects as a whole a batch with %s', (_label, payload, paths) => {
    const result = parseExitPayloadItems(payload, NOW, { maxBatch: 2 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((issue) => issue.path)).toEqual(paths);
  });
});

describe('parseInstant', () => {
  it.each([
    ['UTC with Z', '2024-05-01T12:00:00Z', NOW],
    ['a lower-case z and t', '2024-05-01t12:00:00z', NOW],
    ['a space separator (RFC 3339)', '2024-05-01 12:00:00Z', NOW],
    ['milliseconds', '2024-05-01T12:00:00.123Z', NOW + 123],
    ['one fractional digit', '2024-05-01T12:00:00.5Z', NOW + 500],
    ['nanoseconds, truncated not rounded', '2024-05-01T12:00:00.999999999Z', NOW + 999],
    ['a positive offset', '2024-05-01T14:30:00+02:30', NOW],
    ['a negative offset', '2024-05-01T07:00:00-05:00', NOW],
    ['an offset without a colon', '2024-05-01T14:00:00+0200', NOW],
    ['no seconds', '2024-05-01T12:00Z', NOW],
    ['a leap day', '2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['February 29 of 2000 (divisible by 400)', '2000-02-29T00:00:00Z', Date.UTC(2000, 1, 29)],
    ['the epoch', '1970-01-01T00:00:00Z', 0],
    ['epoch ms', NOW, NOW],
    ['epoch 0', 0, 0],
  ])('reads %s', (_name, input, ms) => {
    expect(parseInstant(input)).toEqual({ ok: true, ms });
  });

  it.each([
    ['no offset', '2024-05-01T12:00:00'],
    ['a date only', '2024-05-01'],
    ['February 29 of 1900', '1900-02-29T00:00:00Z'],
    ['February 29 of 2023', '2023-02-29T00:00:00Z'],
    ['April 31', '2024-04-31T00:00:00Z'],
    ['day 0', '2024-05-00T00:00:00Z'],
    ['a leap second', '2016-12-31T23:59:60Z'],
    ['hour 24', '2024-05-01T24:00:00Z'],
    ['minute 60', '2024-05-01T12:60:00Z'],
    ['a 10-digit fraction', '2024-05-01T12:00:00.1234567890Z'],
    ['an expanded year', '+002024-05-01T12:00:00Z'],
    ['a two-digit year', '24-05-01T12:00:00Z'],
    ['an offset minute of 60', '2024-05-01T12:00:00+01:60'],
    ['surrounding spaces', ' 2024-05-01T12:00:00Z'],
    ['Arabic-Indic digits', '٢٠٢٤-05-01T12:00:00Z'],
    ['a 1 MB string', '2'.repeat(1_000_000)],
    ['before 1970 by offset', '1970-01-01T00:00:00+00:01'],
    ['negative epoch ms', -1],
    ['fractional epoch ms', 1.5],
    ['beyond what a Date holds', 8.64e15 + 1],
    ['a boolean', true],
    ['null', null],
    ['undefined', undefined],
  ])('rejects %s', (_name, input) => {
    const result = parseInstant(input);
    expect(result.ok).toBe(false);
  });
});

describe('parseSince', () => {
  it.each([
    ['an ISO instant', '2024-05-01T11:00:00Z', NOW - 3_600_000],
    ['epoch ms', '1714564800000', NOW],
    ['a duration', '1h', NOW - 3_600_000],
    ['a zero duration', '0s', NOW],
  ])('reads %s', (_name, input, ms) => {
    expect(parseSince(input, NOW)).toEqual({ ok: true, ms });
  });

  it.each([['-1h'], ['1 hour'], [''], ['1e3'], ['9'.repeat(17)]])('rejects %j', (input) => {
    expect(parseSince(input, NOW).ok).toBe(false);
  });
});

describe('containerKeyProblem', () => {
  it.each([
    containerKey({ namespace: 'default', pod: 'web-0', container: 'app' }),
    containerKey({ namespace: 'default', pod: 'web-0', podUid: 'f81d4fae-7dec-11d0-a765-00a0c91e6bf6', container: 'app', containerHash: 'abc123' }),
    containerKey({ namespace: 'a.b', pod: 'p'.repeat(128), container: 'c' }),
  ])('accepts %s', (key) => {
    expect(containerKeyProblem(key)).toBeUndefined();
  });

  it.each([
    ['an empty string', ''],
    ['a bare name', 'web-0'],
    ['four parts', 'web-0_default__app'],
    ['six parts', 'web-0_default__app__'],
    ['an empty namespace', 'web-0___app_'],
    ['a bad pod', '-web_default__app_'],
    ['a slash', 'web/0_default__app_'],
    ['a NUL byte', 'web\u00000_default__app_'],
    ['a too-long pod', `${'p'.repeat(129)}_default__app_`],
    ['a too-long podUid', `web-0_default_${'u'.repeat(65)}_app_`],
    ['a huge string', 'a'.repeat(100_000)],
  ])('rejects %s', (_name, key) => {
    expect(containerKeyProblem(key)).toMatch(/^expected a container key/);
  });
});
