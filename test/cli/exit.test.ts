/**
 * `restart-scheduler exit` against an in-process local runtime (and a stand-in
 * for API Gateway that checks SigV4 signatures), run through `runCli` as a
 * user's command line.
 */
import { spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionView } from '../../lib/api/views.ts';
import { RestartSchedulerClient } from '../../lib/client/client.ts';
import { createSigV4Signer, executeApiRegion } from '../../lib/client/sigv4.ts';
import { describeDecision } from '../../lib/cli/exit.ts';
import { USAGE_EXIT_CODE } from '../../lib/cli/program.ts';
import { resolveBackoffPolicy } from '../../lib/core/index.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { CLI } from '../support/runtime-process.ts';
import { cli } from '../support/cli.ts';
import { documentedFetch } from '../support/openapi.ts';

/** initial 100ms, max 800ms, sync every 100ms. */
async function fastRuntime(options: { token?: string } = {}): Promise<LocalRuntime> {
  return startLocalRuntime({ port: 0, inMemory: true, policy: resolveBackoffPolicy({ initial: 100, max: 800 }), syncPeriodMs: 100, ...options });
}

/**
 * Waits until no restart is about to fire, before the runtime is closed: a
 * restart dispatched while the runtime shuts down can outlive its store.
 */
async function settle(runtime: LocalRuntime, token?: string): Promise<void> {
  const client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url, ...(token ? { token } : {}) });
  for (let attempt = 0; attempt < 100; attempt++) {
    const { items } = await client.listContainers({ limit: 1000 });
    if (items.every((view) => view.nextRestartAt === null || Date.parse(view.nextRestartAt) > Date.now() + 1_000)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port nothing listens on: one the OS just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('restart-scheduler exit', () => {
  let runtime: LocalRuntime;
  let client: RestartSchedulerClient;
  const dirs: string[] = [];
  beforeAll(async () => {
    runtime = await fastRuntime();
    client = new RestartSchedulerClient({ fetch: documentedFetch, endpoint: runtime.url });
  });
  afterAll(async () => {
    await settle(runtime);
    await runtime.close();
    dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
  });
  const post = (...args: string[]) => cli('exit', '--endpoint', runtime.url, ...args);

  describe('readable output', () => {
    it('prints RestartNow for a first crash and RestartScheduled with the instant and back-offs for the next', async () => {
      // A 10s back-off in the events themselves, so the second crash is surely inside it.
      const policy = ['--initial-backoff', '10s', '--max-backoff', '5m'];
      const first = await post('--pod', 'web-0', '--container', 'app', '--exit-code', '1', ...policy);
      expect(first).toMatchObject({ code: 0, err: '' });
      expect(first.out).toBe(
        'RestartNow: restart 1 of default/web-0/app now (next crash: back-off 10s)\n  Running: restarting container=app pod=web-0_default now',
      );
      const finishedAt = Date.now();
      const second = await post('--pod', 'web-0', '--container', 'app', '--exit-code', '1', '--finished-at', String(finishedAt), ...policy);
      const answeredAt = Date.now();
      expect(second.code).toBe(0);
      const [line, status] = second.out.split('\n');
      expect(status).toBe('  CrashLoopBackOff: back-off 10s restarting failed container=app pod=web-0_default');
      const match = /^RestartScheduled: restart 2 of default\/web-0\/app at (\d\d:\d\d:\d\d(?:\.\d{3})?) \(back-off 10s; next crash 20s\)$/.exec(line!);
      expect(match, line).not.toBeNull();
      // Without startedAt the back-off counts from the exit's arrival, which lies
      // between the reported finishedAt and the answer.
      const shown = Date.parse(`${new Date(finishedAt).toISOString().slice(0, 11)}${match![1]}Z`);
      expect(shown).toBeGreaterThanOrEqual(Math.floor((finishedAt + 10_000) / 1_000) * 1_000);
      expect(shown).toBeLessThanOrEqual(answeredAt + 10_000);
    });

    it('prints NoRestart with the final state when the restart policy says no', async () => {
      const { code, out } = await post('--pod', 'job-0', '--container', 'task', '--exit-code', '0', '--restart-policy', 'OnFailure');
      expect(code).toBe(0);
      expect(out.split('\n')[0]).toBe('NoRestart: default/job-0/task is Terminated (Completed) after 0 restarts');
    });

    it('prints Duplicate for an exit id posted twice, and the decision is taken once', async () => {
      const args = ['--pod', 'dup-0', '--container', 'app', '--exit-code', '2', '--exit-id', 'exit-a'];
      expect((await post(...args)).out).toMatch(/^RestartNow: restart 1 of default\/dup-0\/app now/);
      expect((await post(...args)).out).toMatch(/^Duplicate: this exit was already reported; restart 1 of default\/dup-0\/app at /);
      expect(await client.getContainer('dup-0_default__app_')).toMatchObject({ restartCount: 1 });
    });
  });

  describe('--json and the event flags', () => {
    it('sends every flag as its event field and prints the DecisionView', async () => {
      const startedAt = '2024-05-01T12:00:00Z';
      const finishedAt = Date.now() - 1_000;
      const { code, out } = await post(
        '--json',
        '--namespace', 'shop',
        '--pod', 'api-1',
        '--container', 'server',
        '--pod-uid', 'uid-7',
        '--container-hash', 'abc123',
        '--exit-code', '137',
        '--reason', 'OOMKilled',
        '--started-at', startedAt,
        '--finished-at', new Date(finishedAt).toISOString(),
        '--exit-id', 'run-1',
      );
      expect(code).toBe(0);
      const view = JSON.parse(out) as DecisionView;
      expect(view).toMatchObject({ key: 'api-1_shop_uid-7_server_abc123', decision: 'RestartNow', restartCount: 1, state: 'Running' });
      const stored = await client.getContainer(view.key);
      expect(stored).toMatchObject({
        namespace: 'shop',
        pod: 'api-1',
        podUid: 'uid-7',
        container: 'server',
        lastExit: { exitCode: 137, reason: 'OOMKilled', startedAt: '2024-05-01T12:00:00.000Z', finishedAt: new Date(finishedAt).toISOString() },
      });
    });

    it('puts --initial-backoff/--max-backoff into the event, so the second crash waits the given back-off', async () => {
      const policy = ['--initial-backoff', '2s', '--max-backoff', '1m'];
      await post('--pod', 'slow-0', '--container', 'app', '--exit-code', '1', ...policy);
      const { out } = await post('--json', '--pod', 'slow-0', '--container', 'app', '--exit-code', '1', ...policy);
      expect(JSON.parse(out)).toMatchObject({ decision: 'RestartScheduled', delayMs: 2_000, backoffMs: 4_000 });
    });

    it('stops restarting after --max-restarts with reason RestartLimitExceeded', async () => {
      const args = ['--json', '--pod', 'capped-0', '--container', 'app', '--exit-code', '1', '--max-restarts', '1'];
      expect(JSON.parse((await post(...args)).out)).toMatchObject({ decision: 'RestartNow', restartCount: 1 });
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(JSON.parse((await post(...args)).out)).toMatchObject({ decision: 'NoRestart', state: 'Terminated', reason: 'RestartLimitExceeded' });
    });
  });

  describe('--file', () => {
    it('posts one event from a file', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'restart-scheduler-exit-'));
      dirs.push(dir);
      const file = join(dir, 'exit.json');
      writeFileSync(file, JSON.stringify({ namespace: 'default', pod: 'file-0', container: 'app', exitCode: 1, finishedAt: Date.now() }));
      const { code, out } = await post('--file', file, '--json');
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ key: 'file-0_default__app_', decision: 'RestartNow' });
    });

    it('posts a batch { events: [...] } and prints one line per result, in order', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'restart-scheduler-exit-'));
      dirs.push(dir);
      const file = join(dir, 'exits.json');
      const events = ['batch-0', 'batch-1', 'batch-2'].map((pod) => ({ namespace: 'default', pod, container: 'app', exitCode: 1, finishedAt: Date.now() }));
      writeFileSync(file, JSON.stringify({ events }));
      const { code, out } = await post('--file', file);
      expect(code).toBe(0);
      const headlines = out.split('\n').filter((line) => !line.startsWith(' '));
      expect(headlines).toEqual([0, 1, 2].map((index) => `RestartNow: restart 1 of default/batch-${index}/app now (next crash: back-off 100ms)`));
    });

    it('reads the event from stdin with --file -', async () => {
      const event = { namespace: 'default', pod: 'stdin-0', container: 'app', exitCode: 4, finishedAt: Date.now() };
      const child = spawn(process.execPath, [CLI, 'exit', '--endpoint', runtime.url, '--file', '-', '--json'], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stdin.end(JSON.stringify(event));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
      expect(JSON.parse(stdout)).toMatchObject({ key: 'stdin-0_default__app_', decision: 'RestartNow' });
    });

    it.each([
      ['a file that is not JSON', '{ nope', /is not JSON/],
      ['a JSON value that is not an event', '42', /expected an exit event object/],
    ])('refuses %s with exit code 2', async (_, text, message) => {
      const dir = mkdtempSync(join(tmpdir(), 'restart-scheduler-exit-'));
      dirs.push(dir);
      const file = join(dir, 'bad.json');
      writeFileSync(file, text);
      const { code, err } = await post('--file', file);
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(err).toMatch(message);
    });
  });

  describe('errors', () => {
    it('prints the API message and each issue path, exits 1, and writes nothing, for an event the API refuses', async () => {
      const future = new Date(Date.now() + 3_600_000).toISOString();
      const { code, out, err } = await post('--pod', 'bad_pod', '--container', 'app', '--exit-code', '1', '--finished-at', future);
      expect(code).toBe(1);
      expect(out).toBe('');
      const lines = err.split('\n');
      expect(lines[0]).toMatch(/^error: the API answered 400 ValidationError: invalid request: /);
      expect(lines.slice(1).map((line) => line.split(':')[0])).toEqual(['  pod', '  finishedAt']);
      expect((await client.listContainers()).items.map((view) => view.pod)).not.toContain('bad_pod');
    });

    it('says how to start the runtime, and exits 1, when nothing listens at the endpoint', async () => {
      const endpoint = `http://127.0.0.1:${await closedPort()}`;
      const { code, err } = await cli('exit', '--endpoint', endpoint, '--pod', 'web-0', '--container', 'app', '--exit-code', '1');
      expect(code).toBe(1);
      expect(err).toContain(`error: cannot reach ${endpoint} (connection refused): is \`restart-scheduler local\` running?`);
    });

    it.each([
      ['a non-integer exit code', ['--pod', 'p', '--container', 'c', '--exit-code', 'one'], /--exit-code: expected an integer/],
      ['a missing exit code', ['--pod', 'p', '--container', 'c'], /missing --exit-code/],
      ['a missing pod and container', ['--exit-code', '1'], /missing --pod, --container/],
      ['an unknown restart policy', ['--pod', 'p', '--container', 'c', '--exit-code', '1', '--restart-policy', 'Sometimes'], /Allowed choices are Always, OnFailure, Never/],
      ['a bad duration', ['--pod', 'p', '--container', 'c', '--exit-code', '1', '--initial-backoff', '10x'], /--initial-backoff: invalid duration/],
      ['a bad instant', ['--pod', 'p', '--container', 'c', '--exit-code', '1', '--finished-at', 'yesterday'], /--finished-at: expected an ISO-8601/],
      ['an endpoint that is not a URL', ['--pod', 'p', '--container', 'c', '--exit-code', '1', '--endpoint', 'localhost-4750'], /--endpoint: expected a URL/],
      ['an unknown flag', ['--pod', 'p', '--container', 'c', '--exit-code', '1', '--colour'], /unknown option '--colour'/],
      ['event flags with --file', ['--file', 'x.json', '--pod', 'p'], /--file: the event comes from the file; drop --pod/],
    ])('exits 2 with a message for %s', async (_, args, message) => {
      const { code, err } = await cli('exit', '--endpoint', runtime.url, ...args);
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(err).toMatch(message);
    });

    it('exits 2 for an unknown command', async () => {
      const { code, err } = await cli('exits');
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(err).toContain("unknown command 'exits'");
    });
  });

  describe('--token', () => {
    let secured: LocalRuntime;
    beforeAll(async () => {
      secured = await fastRuntime({ token: 's3cret' });
    });
    afterAll(async () => {
      await settle(secured, 's3cret');
      await secured.close();
    });
    afterEach(() => {
      delete process.env.RESTART_SCHEDULER_TOKEN;
    });

    it('exits 1 with a hint without the token, and succeeds with --token or RESTART_SCHEDULER_TOKEN', async () => {
      const args = ['exit', '--endpoint', secured.url, '--container', 'app', '--exit-code', '1'];
      const refused = await cli(...args, '--pod', 'tok-0');
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('error: the API answered 401 Unauthorized: missing or wrong bearer token');
      expect(refused.err).toContain('hint: this runtime requires a token: pass --token or set RESTART_SCHEDULER_TOKEN');
      expect((await cli(...args, '--pod', 'tok-1', '--token', 's3cret')).code).toBe(0);
      process.env.RESTART_SCHEDULER_TOKEN = 's3cret';
      expect((await cli(...args, '--pod', 'tok-2')).code).toBe(0);
    });
  });
});

// ---------------------------------------------------------------------------
// SigV4

const STATIC_CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const AUTHORIZATION_SHAPE = /^AWS4-HMAC-SHA256 Credential=(\w+)\/(\d{8})\/([a-z0-9-]+)\/([a-z-]+)\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/;

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding, as SigV4 canonicalisation uses. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * An independent SigV4 check (node:crypto, following the published algorithm):
 * recomputes the signature of a received request from the secret key.
 */
function expectedSignature(request: { method: string; path: string; query: URLSearchParams; headers: Record<string, string>; body: string }, secret: string): string {
  const match = AUTHORIZATION_SHAPE.exec(request.headers.authorization ?? '');
  if (!match) throw new Error(`not a SigV4 Authorization header: ${request.headers.authorization}`);
  const [, , date, region, service, signedHeaders] = match as unknown as [string, string, string, string, string, string];
  const canonicalQuery = [...request.query.entries()]
    .map(([name, value]) => [uriEncode(name), uriEncode(value)])
    .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${(request.headers[name] ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalPath = request.path.split('/').map((segment) => uriEncode(decodeURIComponent(segment))).join('/');
  const canonicalRequest = [request.method, canonicalPath, canonicalQuery, canonicalHeaders, signedHeaders, sha256Hex(request.body)].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', request.headers['x-amz-date'], `${date}/${region}/${service}/aws4_request`, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  return createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest('hex');
}

describe('describeDecision', () => {
  it('says when the restart budget delayed a restart, and by how much', () => {
    const view: DecisionView = {
      key: 'job-1_batch__app_',
      decision: 'RestartScheduled',
      restartAt: '2026-12-01T16:18:43.317Z',
      delayMs: 0,
      budgetDelayMs: 943,
      restartCount: 1,
      backoffMs: 10_000,
      state: 'CrashLoopBackOff',
      reason: 'CrashLoopBackOff',
      message: 'back-off 0s restarting failed container=app pod=job-1_batch; restart delayed by budget (+943ms)',
    };
    expect(describeDecision(view)).toMatch(/^RestartScheduled: restart 1 of batch\/job-1\/app at \S+ \(back-off 0s, delayed by budget \+943ms; next crash 10s\)\n  CrashLoopBackOff: back-off 0s restarting failed container=app pod=job-1_batch; restart delayed by budget \(\+943ms\)$/);
  });
});

describe('SigV4 signing (lib/client/sigv4.ts)', () => {
  it.each([
    ['https://abc123defg.execute-api.eu-west-1.amazonaws.com', 'eu-west-1'],
    ['https://abc123defg.execute-api.us-gov-west-1.amazonaws.com/', 'us-gov-west-1'],
    ['https://abc123defg.execute-api.cn-north-1.amazonaws.com.cn', 'cn-north-1'],
    ['http://127.0.0.1:4750', undefined],
    ['https://api.example.com', undefined],
    ['https://execute-api.eu-west-1.amazonaws.com.evil.example', undefined],
  ])('reads the region of %s as %s', (endpoint, region) => {
    expect(executeApiRegion(endpoint)).toBe(region);
  });

  it.each([
    // The AWS SigV4 test suite's get-vanilla and get-vanilla-query-order-key-case.
    ['https://example.amazonaws.com/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'],
    ['https://example.amazonaws.com/?Param2=value2&Param1=value1', 'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500'],
  ])('gives the published signature for %s', async (url, signature) => {
    const sign = createSigV4Signer({ region: 'us-east-1', service: 'service', credentials: STATIC_CREDENTIALS, now: () => new Date('2015-08-30T12:36:00Z') });
    const headers = await sign({ method: 'GET', url: new URL(url), headers: {} });
    expect(headers['x-amz-date']).toBe('20150830T123600Z');
    expect(headers.authorization).toBe(
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=${signature}`,
    );
  });

  it('signs an exit POST for execute-api: credential scope, signed headers and a signature that recomputes', async () => {
    const sign = createSigV4Signer({ region: 'eu-west-1', credentials: { ...STATIC_CREDENTIALS, sessionToken: 'session-token' }, now: () => new Date('2024-05-01T12:00:11Z') });
    const url = new URL('https://abc123defg.execute-api.eu-west-1.amazonaws.com/v1/exits');
    const body = JSON.stringify({ namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: 1_714_564_800_000 });
    const headers = await sign({ method: 'POST', url, headers: { accept: 'application/json', 'content-type': 'application/json' }, body });
    const match = AUTHORIZATION_SHAPE.exec(headers.authorization ?? '');
    expect(match?.slice(1, 6)).toEqual(['AKIDEXAMPLE', '20240501', 'eu-west-1', 'execute-api', 'accept;content-type;host;x-amz-date;x-amz-security-token']);
    expect(headers['x-amz-security-token']).toBe('session-token');
    expect(headers).not.toHaveProperty('host');
    const received = { ...headers, host: url.host };
    expect(match?.[6]).toBe(expectedSignature({ method: 'POST', path: url.pathname, query: url.searchParams, headers: received, body }, STATIC_CREDENTIALS.secretAccessKey));
  });

  describe('exit --aws against a stand-in for API Gateway', () => {
    let gateway: Server;
    let endpoint: string;
    const seen: { authorization?: string; valid: boolean; body: string }[] = [];
    const saved = { ...process.env };

    beforeAll(async () => {
      // The stand-in checks the signature as IAM would, and answers like the API.
      gateway = createServer((request: IncomingMessage, response) => {
        let body = '';
        request.on('data', (chunk: Buffer) => (body += chunk.toString()));
        request.on('end', () => {
          const url = new URL(request.url ?? '/', 'http://gateway');
          const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, String(value)]));
          let valid = false;
          try {
            const signature = AUTHORIZATION_SHAPE.exec(headers.authorization ?? '')?.[6];
            valid = signature === expectedSignature({ method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, headers, body }, STATIC_CREDENTIALS.secretAccessKey);
          } catch {
            valid = false;
          }
          seen.push({ ...(headers.authorization ? { authorization: headers.authorization } : {}), valid, body });
          const answer: DecisionView = { key: 'web-0_default__app_', decision: 'RestartNow', restartAt: new Date().toISOString(), delayMs: 0, restartCount: 1, backoffMs: 10_000, state: 'Running', message: 'restarting container=app pod=web-0_default now' };
          response.writeHead(valid ? 200 : 403, { 'content-type': 'application/json' });
          response.end(JSON.stringify(valid ? answer : { message: 'Forbidden' }));
        });
      });
      await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
      endpoint = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
      await new Promise<void>((resolve) => gateway.close(() => resolve()));
    });
    afterEach(() => {
      process.env = { ...saved };
      seen.length = 0;
    });

    it('signs with credentials from the default chain (environment) and the region from --region', async () => {
      process.env = { ...saved, AWS_ACCESS_KEY_ID: STATIC_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: STATIC_CREDENTIALS.secretAccessKey, AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' };
      delete process.env.AWS_PROFILE;
      delete process.env.AWS_SESSION_TOKEN;
      const { code, out, err } = await cli('exit', '--aws', '--region', 'eu-west-1', '--endpoint', endpoint, '--pod', 'web-0', '--container', 'app', '--exit-code', '1', '--json');
      expect(err).toBe('');
      expect(code).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ decision: 'RestartNow' });
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ valid: true });
      expect(seen[0]!.authorization).toMatch(/Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request/);
      expect(JSON.parse(seen[0]!.body)).toMatchObject({ pod: 'web-0', exitCode: 1 });
    });

    it('exits 1 with the 403 and an IAM hint when the signature does not verify', async () => {
      process.env = { ...saved, AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'not-the-secret', AWS_CONFIG_FILE: '/nonexistent', AWS_SHARED_CREDENTIALS_FILE: '/nonexistent' };
      delete process.env.AWS_PROFILE;
      delete process.env.AWS_SESSION_TOKEN;
      const { code, err } = await cli('exit', '--aws', '--region', 'eu-west-1', '--endpoint', endpoint, '--pod', 'web-0', '--container', 'app', '--exit-code', '1');
      expect(code).toBe(1);
      expect(err).toContain('error: the API answered 403: Forbidden');
      expect(err).toContain('execute-api:Invoke');
      expect(seen[0]).toMatchObject({ valid: false });
    });

    it('exits 2 when --aws has no region to sign for', async () => {
      process.env = { ...saved };
      delete process.env.AWS_REGION;
      delete process.env.AWS_DEFAULT_REGION;
      const { code, err } = await cli('exit', '--aws', '--endpoint', endpoint, '--pod', 'web-0', '--container', 'app', '--exit-code', '1');
      expect(code).toBe(USAGE_EXIT_CODE);
      expect(err).toContain('--region: required');
      expect(seen).toHaveLength(0);
    });
  });
});
