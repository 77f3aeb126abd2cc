import { describe, expect, it } from 'vitest';
import { parseExitEvent } from '../../lib/api/exits.ts';
import { restartTargetSchema, webhookUrlProblem } from '../../lib/api/targets.ts';
import { ConfigError, parseNamespaceDefaults } from '../../lib/config.ts';
import { deliveryRetryDelay, targetKind, webhookPayload } from '../../lib/core/index.ts';

const NOW = Date.UTC(2026, 0, 1, 12);
const exit = (restartTarget: unknown) => ({ namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: NOW, restartTarget });

describe('webhookUrlProblem', () => {
  it.each([
    ['https://hooks.example.com/restart', 'aws', undefined],
    ['https://hooks.example.com/restart', 'local', undefined],
    ['http://127.0.0.1:9000/restart', 'local', undefined],
    ['http://[::1]:9000/', 'local', undefined],
    ['http://localhost:9000/', 'local', undefined],
    ['http://127.0.0.1:9000/restart', 'aws', 'must be https:// (EventBridge API destinations call HTTPS endpoints only)'],
    ['http://hooks.example.com/restart', 'local', 'must be https://, or http:// on a loopback address (127.0.0.1, ::1, localhost)'],
    ['ftp://hooks.example.com/', 'local', 'must be an https:// URL'],
    ['https://user:secret@hooks.example.com/', 'aws', 'must not carry credentials; send them in a header'],
    ['/restart', 'aws', 'must be an absolute URL such as https://hooks.example.com/restart'],
  ] as const)('%s (%s): %s', (url, rules, problem) => {
    expect(webhookUrlProblem(url, rules)).toBe(problem);
  });
});

describe('restartTargetSchema', () => {
  const issues = (value: unknown) => {
    const parsed = restartTargetSchema('local').safeParse(value);
    return parsed.success ? [] : parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
  };

  it('reads the string forms and a webhook with its headers', () => {
    expect(restartTargetSchema('aws').parse('bus')).toBe('bus');
    expect(restartTargetSchema('aws').parse('ecs')).toBe('ecs');
    expect(restartTargetSchema('aws').parse('webhook')).toBe('webhook');
    expect(restartTargetSchema('aws').parse({ webhook: { url: 'https://h.example/x', headers: { Authorization: 'Bearer t' } } })).toEqual({
      webhook: { url: 'https://h.example/x', headers: { Authorization: 'Bearer t' } },
    });
    expect(restartTargetSchema('aws').parse({ webhook: { url: 'https://h.example/x', headers: {} } })).toEqual({ webhook: { url: 'https://h.example/x' } });
  });

  it.each([
    ['an unknown kind', 'sqs', ''],
    ['a missing URL', { webhook: {} }, 'webhook.url'],
    ['an unknown field', { webhook: { url: 'https://h.example/', method: 'PUT' } }, 'webhook'],
    ['a header with a line break', { webhook: { url: 'https://h.example/', headers: { 'X-Token': 'a\r\nX-Evil: 1' } } }, 'webhook.headers.X-Token'],
    ['a header the delivery sets', { webhook: { url: 'https://h.example/', headers: { 'Idempotency-Key': 'x' } } }, 'webhook.headers.Idempotency-Key'],
    ['a header name that is no token', { webhook: { url: 'https://h.example/', headers: { 'X Token': 'x' } } }, 'webhook.headers.X Token'],
    ['a header given twice', { webhook: { url: 'https://h.example/', headers: { 'x-token': 'a', 'X-Token': 'b' } } }, 'webhook.headers.X-Token'],
    ['a header that is not a string', { webhook: { url: 'https://h.example/', headers: { 'X-Token': 1 } } }, 'webhook.headers.X-Token'],
  ])('rejects %s', (_case, value, path) => {
    expect(issues(value).map((issue) => issue.path)).toContain(path);
  });

  it('never echoes a header value in its messages', () => {
    const secret = 'super-secret-token\n';
    const messages = issues({ webhook: { url: 'https://h.example/', headers: { Authorization: secret, 'Content-Type': secret } } }).map((issue) => issue.message);
    expect(messages).toHaveLength(2);
    for (const message of messages) expect(message).not.toContain('super-secret');
  });
});

describe('exit events with a restartTarget', () => {
  it('accepts bus and ecs anywhere, and its own webhook only where the runtime posts it', () => {
    expect(parseExitEvent(exit('ecs'), NOW)).toMatchObject({ ok: true, event: { restartTarget: 'ecs' } });
    const webhook = { webhook: { url: 'http://127.0.0.1:9000/hook', headers: { 'X-Token': 't' } } };
    expect(parseExitEvent(exit(webhook), NOW, { exitWebhooks: true })).toMatchObject({ ok: true, event: { restartTarget: webhook } });
    const rejected = parseExitEvent(exit(webhook), NOW);
    expect(rejected).toEqual({ ok: false, issues: [{ path: 'restartTarget.webhook', message: expect.stringContaining("set the namespace's restartTarget") }] });
  });

  it('suggests the field a typo meant', () => {
    const parsed = parseExitEvent(exit({ webhok: { url: 'https://h.example/' } }), NOW);
    expect(parsed.ok ? [] : parsed.issues).toEqual([
      { path: 'restartTarget.webhook', message: 'required: { "url": "https://…", "headers": {…} }' },
      { path: 'restartTarget.webhok', message: 'unknown field (did you mean "webhook"?)' },
    ]);
  });
});

describe('namespace defaults restartTarget', () => {
  it('reads a webhook namespace (https only by default, loopback HTTP for the local runtime)', () => {
    const local = { hooks: { restartTarget: { webhook: { url: 'http://127.0.0.1:9000/' } } } };
    expect(parseNamespaceDefaults('defaults', local, 'local')).toEqual({ hooks: { restartTarget: { webhook: { url: 'http://127.0.0.1:9000/' } } } });
    expect(() => parseNamespaceDefaults('defaults', local)).toThrow(new ConfigError('defaults.hooks.restartTarget.webhook.url: must be https:// (EventBridge API destinations call HTTPS endpoints only)'));
    expect(parseNamespaceDefaults('defaults', { jobs: { restartTarget: 'ecs', restartPolicy: 'OnFailure' } })).toEqual({ jobs: { restartTarget: 'ecs', restartPolicy: 'OnFailure' } });
  });

  it('names the header that is wrong, never its value', () => {
    const run = () => parseNamespaceDefaults('defaults', { hooks: { restartTarget: { webhook: { url: 'https://h.example/', headers: { Authorization: 'Bearer leaked\n' } } } } });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/^defaults\.hooks\.restartTarget\.webhook\.headers\.Authorization: must hold only visible ASCII/);
    expect(run).not.toThrow(/leaked/);
  });
});

describe('restart target helpers', () => {
  it('reads the kind of a target', () => {
    expect([undefined, 'bus', 'ecs', 'webhook', { webhook: { url: 'https://h.example/' } }].map((spec) => targetKind(spec as never))).toEqual(['bus', 'bus', 'ecs', 'webhook', 'webhook']);
  });

  it('builds the webhook payload from exactly its fields', () => {
    const request = { restartId: 'k#1.2', key: 'k', restartCount: 2, restartAt: 'T', namespace: 'n', pod: 'p', podUid: null, container: 'c', containerHash: '3', firedAt: 'F', recovered: false, target: 'webhook' };
    expect(webhookPayload(request)).toEqual({ restartId: 'k#1.2', key: 'k', restartCount: 2, restartAt: 'T', namespace: 'n', pod: 'p', podUid: null, container: 'c', containerHash: '3' });
  });

  it('doubles the pause between attempts up to its cap', () => {
    const policy = { maxAttempts: 8, initialDelayMs: 1_000, maxDelayMs: 10_000 };
    expect([1, 2, 3, 4, 5, 6].map((attempt) => deliveryRetryDelay(policy, attempt))).toEqual([1_000, 2_000, 4_000, 8_000, 10_000, 10_000]);
  });
});
