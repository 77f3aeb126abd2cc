import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../../lib/cli/program.ts';
import { isLoopbackHost, RemoteBindError, startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { documentedFetch } from '../support/openapi.ts';

const exit = { namespace: 'default', pod: 'web-0', container: 'app', exitCode: 1, finishedAt: Date.now() };

describe('local runtime security', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
  });

  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['0.0.0.0', false],
    ['192.168.1.10', false],
    ['::', false],
    ['example.com', false],
  ])('treats %s as loopback: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });

  it.each([
    ['without --allow-remote', { host: '0.0.0.0', token: 'secret' }],
    ['without a token', { host: '0.0.0.0', allowRemote: true }],
  ])('refuses a non-loopback host %s', async (_label, options) => {
    await expect(startLocalRuntime({ ...options, port: 0, inMemory: true })).rejects.toThrow(RemoteBindError);
  });

  it('says so and exits 2 when asked on the command line', async () => {
    const err: string[] = [];
    const code = await runCli(['local', '--host', '0.0.0.0', '--in-memory', '--port', '0'], { out: () => undefined, err: (text) => err.push(text) });
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(/refusing to listen on 0\.0\.0\.0.*--allow-remote and --token/);
  });

  it('requires the bearer token on every route when one is set', async () => {
    runtime = await startLocalRuntime({ host: '0.0.0.0', allowRemote: true, token: 's3cret', port: 0, inMemory: true });
    const url = runtime.url.replace('0.0.0.0', '127.0.0.1');
    const post = (headers: Record<string, string>) =>
      documentedFetch(`${url}/v1/exits`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(exit) });
    for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 's3cret' }] as Record<string, string>[]) {
      const response = await post(headers);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'Unauthorized' });
    }
    expect((await documentedFetch(`${url}/v1/restarts/stream`)).status).toBe(401);
    expect((await documentedFetch(`${url}/v1/containers`)).status).toBe(401);
    expect((await runtime.deps.store.list({})).items).toHaveLength(0);
    expect((await post({ authorization: 'Bearer s3cret' })).status).toBe(200);
  });

  it('refuses a body over 256 KiB without buffering it, and writes nothing', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true });
    const response = await documentedFetch(`${runtime.url}/v1/exits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...exit, reason: 'x'.repeat(300 * 1024) }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'PayloadTooLarge' });
    expect((await runtime.deps.store.list({})).items).toHaveLength(0);
  });

  describe('without a token', () => {
    /** A raw request, so that Host and Origin can be anything a browser might send. */
    function raw(url: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
      return new Promise((resolve, reject) => {
        const target = new URL('/v1/exits', url);
        const call = request(target, { method: 'POST', headers: { 'content-type': 'application/json', ...headers } }, (response) => {
          let body = '';
          response.on('data', (chunk: Buffer) => (body += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        call.on('error', reject);
        call.end(JSON.stringify(exit));
      });
    }

    it.each([
      ['a cross-site Origin', { origin: 'https://evil.example' }, /cross-origin requests from "https:\/\/evil.example" are refused/],
      ['a DNS-rebound Host', { host: 'evil.example:4750' }, /host "evil.example:4750" is not a loopback name/],
      ['a malformed Origin', { origin: 'not a url' }, /malformed Origin/],
    ])('refuses %s with 403, and writes nothing', async (_label, headers, message) => {
      runtime = await startLocalRuntime({ port: 0, inMemory: true });
      const response = await raw(runtime.url, headers);
      expect(response.status).toBe(403);
      expect(JSON.parse(response.body)).toMatchObject({ error: 'Forbidden', message: expect.stringMatching(message) });
      expect((await runtime.deps.store.list({})).items).toHaveLength(0);
    });

    it.each([
      ['no Origin', {}],
      ['a loopback Origin', { origin: 'http://localhost:3000' }],
      ['a loopback Host name', { host: 'localhost:4750' }],
    ])('serves a request with %s', async (_label, headers) => {
      runtime = await startLocalRuntime({ port: 0, inMemory: true });
      expect((await raw(runtime.url, headers)).status).toBe(200);
    });
  });
});
