/**
 * The web console's assets (DESIGN §4, `GET /`): lib/console's TypeScript and
 * CSS bundled by the project's own esbuild the first time they are asked for,
 * then kept in memory for the life of the process. Everything the page loads
 * comes from here: no other host is ever named, and the Content-Security-Policy
 * forbids the browser to reach one.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const CONSOLE_DIR = fileURLToPath(new URL('../console/', import.meta.url));
export const CONSOLE_PREFIX = '/console/';

/** The page's own origin only. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export interface ConsoleAsset {
  readonly path: string;
  readonly contentType: string;
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly etag: string;
}

export interface ConsoleAssets {
  /** By URL path: `/`, `/console/main.js`, `/console/main.css`, `/console/icon.svg`. */
  readonly byPath: ReadonlyMap<string, ConsoleAsset>;
  /** Everything a page load transfers, gzipped. */
  readonly gzippedBytes: number;
}

/**
 * Bundles the console. `authRequired` is written into the page, so that a
 * console served with `--token` asks for the token before its first request.
 */
export async function buildConsoleAssets(options: { readonly authRequired: boolean }): Promise<ConsoleAssets> {
  // Loaded here: esbuild is needed only once someone opens the console.
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [`${CONSOLE_DIR}main.ts`],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome109', 'firefox115', 'safari16'],
    outdir: 'console',
    write: false,
    logLevel: 'silent',
    legalComments: 'none',
  });
  const output = (extension: string) => {
    const file = result.outputFiles.find((candidate) => candidate.path.endsWith(extension));
    if (!file) throw new Error(`the console bundle has no ${extension} output`);
    return Buffer.from(file.contents);
  };
  const page = readFileSync(`${CONSOLE_DIR}index.html`, 'utf8').replace('{{auth}}', options.authRequired ? 'bearer' : 'none');
  const assets = [
    asset('/', 'text/html; charset=utf-8', Buffer.from(page)),
    asset(`${CONSOLE_PREFIX}main.js`, 'text/javascript; charset=utf-8', output('.js')),
    asset(`${CONSOLE_PREFIX}main.css`, 'text/css; charset=utf-8', output('.css')),
    asset(`${CONSOLE_PREFIX}icon.svg`, 'image/svg+xml', readFileSync(`${CONSOLE_DIR}icon.svg`)),
  ];
  return {
    byPath: new Map(assets.map((entry) => [entry.path, entry])),
    gzippedBytes: assets.reduce((sum, entry) => sum + entry.gzipped.length, 0),
  };
}

function asset(path: string, contentType: string, body: Buffer): ConsoleAsset {
  return { path, contentType, body, gzipped: gzipSync(body, { level: 9 }), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

/** Is this a console path (which needs no token: the page asks for one before it calls the API)? */
export function isConsolePath(pathname: string): boolean {
  return pathname === '/' || pathname.startsWith(CONSOLE_PREFIX);
}

export interface ConsoleResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

/** The response to a GET (or HEAD) of a console path, gzipped when the client accepts it. */
export function consoleResponse(assets: ConsoleAssets, pathname: string, requestHeaders: { readonly 'accept-encoding'?: string; readonly 'if-none-match'?: string }): ConsoleResponse | undefined {
  const found = assets.byPath.get(pathname);
  if (!found) return undefined;
  const headers: Record<string, string> = {
    'content-type': found.contentType,
    'cache-control': 'no-cache',
    etag: found.etag,
    vary: 'accept-encoding',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(pathname === '/' ? { 'content-security-policy': CONTENT_SECURITY_POLICY } : {}),
  };
  if (requestHeaders['if-none-match'] === found.etag) return { status: 304, headers, body: Buffer.alloc(0) };
  const gzip = /\bgzip\b/.test(requestHeaders['accept-encoding'] ?? '');
  return { status: 200, headers: { ...headers, ...(gzip ? { 'content-encoding': 'gzip' } : {}) }, body: gzip ? found.gzipped : found.body };
}
