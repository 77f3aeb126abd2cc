/**
 * The console's assets as the runtime serves them (the browser test drives
 * the page itself): size, caching, headers, and what needs no token.
 */
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConsoleAssets } from '../../lib/local/console.ts';
import { startLocalRuntime, type LocalRuntime } from '../../lib/local/runtime.ts';
import { documentedFetch } from '../support/openapi.ts';

const quiet = { warn: () => undefined, error: () => undefined };

describe('web console assets', () => {
  let runtime: LocalRuntime | undefined;
  afterEach(async () => {
    await runtime?.close();
    runtime = undefined;
  });

  it('bundles to at most 200 KB gzipped, uPlot included', async () => {
    const assets = await buildConsoleAssets({ authRequired: false });
    console.log(`web console: ${assets.gzippedBytes} bytes gzipped (${[...assets.byPath.values()].map((asset) => `${asset.path} ${asset.gzipped.length}`).join(', ')})`);
    expect(assets.gzippedBytes).toBeLessThanOrEqual(200 * 1024);
    expect(assets.byPath.get('/console/main.js')!.body.toString()).toContain('uplot');
  });

  it('serves the page gzipped with a strict Content-Security-Policy, names no other host, and revalidates with ETag', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true, log: quiet });
    const page = await documentedFetch(`${runtime.url}/`, { headers: { 'accept-encoding': 'gzip' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('content-security-policy')).toContain("connect-src 'self'");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/console/main.js">');
    expect(html).toContain('content="none"');
    for (const path of ['/', '/console/main.js', '/console/main.css']) {
      const text = await (await documentedFetch(`${runtime.url}${path}`)).text();
      expect(text).not.toMatch(/(?:src|href)=["']?(?:https?:)?\/\//);
    }
    const again = await documentedFetch(`${runtime.url}/console/main.js`, { headers: { 'if-none-match': page.headers.get('etag') ?? '' } });
    expect(again.status).toBe(200);
    const script = await documentedFetch(`${runtime.url}/console/main.js`);
    const cached = await documentedFetch(`${runtime.url}/console/main.js`, { headers: { 'if-none-match': script.headers.get('etag')! } });
    expect(cached.status).toBe(304);
    expect((await documentedFetch(`${runtime.url}/console/nothing.js`)).status).toBe(404);
  });

  it('sends gzip only to a client that accepts it', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true, log: quiet });
    const { request } = await import('node:http');
    const raw = (headers: Record<string, string>) =>
      new Promise<{ encoding: string | undefined; body: Buffer }>((resolve, reject) => {
        request(`${runtime!.url}/console/main.css`, { headers }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ encoding: response.headers['content-encoding'], body: Buffer.concat(chunks) }));
        })
          .on('error', reject)
          .end();
      });
    const zipped = await raw({ 'accept-encoding': 'gzip, br' });
    const plain = await raw({});
    expect(zipped.encoding).toBe('gzip');
    expect(plain.encoding).toBeUndefined();
    expect(gunzipSync(zipped.body).equals(plain.body)).toBe(true);
  });

  it('serves the console without the token of a runtime started with --token, and tells the page to ask for it', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true, token: 's3cret', log: quiet });
    const page = await documentedFetch(`${runtime.url}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<meta name="restart-scheduler-auth" content="bearer">');
    expect((await documentedFetch(`${runtime.url}/console/main.js`)).status).toBe(200);
    // Only GET and HEAD of the console's own paths: the API still wants the token.
    expect((await documentedFetch(`${runtime.url}/`, { method: 'POST' })).status).toBe(401);
    expect((await documentedFetch(`${runtime.url}/v1/containers`)).status).toBe(401);
    expect((await documentedFetch(`${runtime.url}/v1/events/stream`)).status).toBe(401);
  });

  it('refuses a DNS-rebound Host for the console too', async () => {
    runtime = await startLocalRuntime({ port: 0, inMemory: true, log: quiet });
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      request(`${runtime!.url}/`, { headers: { host: 'evil.example' } }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(403);
  });
});
