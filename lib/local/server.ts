/**
 * The local runtime's HTTP server: the API of DESIGN §4 through the same
 * router as the Lambda, plus the Server-Sent Events stream of dispatched
 * restarts. Optional bearer-token auth for non-loopback use.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiBackend } from '../api/backend.ts';
import { errorResponse } from '../api/protocol.ts';
import { API_LIMITS, handleApiRequest, type ApiLimits, type ApiResponse } from '../api/router.ts';
import type { RestartNotice } from '../ports.ts';
import type { LocalEventLog } from './event-log.ts';
import { isLoopbackHost } from './loopback.ts';

export const RESTART_STREAM_PATH = '/v1/restarts/stream';
/** Keeps idle SSE connections (and proxies in between) alive. */
const HEARTBEAT_MS = 15_000;
/** Unread stream output kept for one client before it is dropped. */
const MAX_STREAM_BUFFER_BYTES = 4 * 1024 * 1024;

export interface LocalServerOptions {
  readonly host: string;
  readonly port: number;
  readonly backend: ApiBackend;
  readonly eventLog: LocalEventLog;
  /** When set, every request must carry `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly limits?: Partial<ApiLimits>;
}

export interface LocalServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const limits = { ...API_LIMITS, ...options.limits };
  const streams = new Set<ServerResponse>();
  const server: Server = createServer((request, response) => {
    void serve(request, response).catch(() => {
      if (!response.headersSent) send(response, errorResponse(500, 'InternalError', 'internal error'));
      else response.destroy();
    });
  });

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    if (options.token !== undefined && !authorized(request, options.token)) {
      return send(response, errorResponse(401, 'Unauthorized', 'missing or wrong bearer token', { headers: { 'www-authenticate': 'Bearer' } }));
    }
    // Without a token the loopback binding is the only protection: refuse what
    // a web page in the user's browser could send (a cross-site request, or a
    // DNS-rebound host name), which loopback alone does not stop.
    if (options.token === undefined) {
      const problem = crossSiteProblem(request);
      if (problem) return send(response, errorResponse(403, 'Forbidden', problem));
    }
    const url = new URL(request.url ?? '/', 'http://local');
    if (url.pathname === RESTART_STREAM_PATH && request.method === 'GET') return stream(request, response, url);
    const body = await readBody(request, limits.maxBodyBytes);
    if (body === 'too large') {
      response.setHeader('connection', 'close');
      return send(response, errorResponse(413, 'PayloadTooLarge', `the body exceeds ${limits.maxBodyBytes} bytes`));
    }
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const apiResponse = await handleApiRequest(
      {
        method: request.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        ...(body.length > 0 || request.method === 'POST' ? { body } : {}),
      },
      options.backend,
      limits,
    );
    // Answered once the event records the request caused are written.
    await options.eventLog.flushed();
    send(response, apiResponse);
  }

  /**
   * One `restart` event per dispatched restart. A client that reconnects with
   * `Last-Event-ID` (or `?after=SEQ`) first gets what it missed, from the
   * durable restart log; `?key=` narrows the stream to one container. An id
   * beyond the log's end gets a `reset` event and the whole log.
   */
  function stream(request: IncomingMessage, response: ServerResponse, url: URL): void {
    const key = url.searchParams.get('key') ?? undefined;
    const resumeFrom = request.headers['last-event-id'] ?? url.searchParams.get('after') ?? undefined;
    const requested = resumeFrom === undefined ? options.eventLog.lastRestartSeq : Number(resumeFrom);
    if (!Number.isSafeInteger(requested) || requested < 0) {
      return send(response, errorResponse(400, 'ValidationError', 'Last-Event-ID / after must be a restart sequence number', { issues: [{ path: 'after', message: 'expected a non-negative integer' }] }));
    }
    // An id beyond the log's end was handed out by an earlier log (an in-memory
    // runtime, or a wiped data directory): everything in this log is new to the client.
    const after = requested > options.eventLog.lastRestartSeq ? 0 : requested;
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    response.write(': restart-scheduler restart stream\n\n');
    // Tell a resuming client its position belongs to an earlier log, so it
    // accepts sequence numbers from 1 again.
    if (after !== requested) response.write('event: reset\ndata: {}\n\n');
    const deliver = (restart: RestartNotice) => {
      if (key !== undefined && restart.key !== key) return;
      response.write(sseEvent(restart));
      // A client that stops reading is dropped rather than buffered without
      // bound; it resumes where it left off with Last-Event-ID.
      if (response.writableLength > MAX_STREAM_BUFFER_BYTES) response.destroy();
    };
    // Subscribe before replaying, and skip duplicates, so nothing falls in between.
    let replayedUpTo = after;
    const unsubscribe = options.eventLog.subscribe((restart) => {
      if (restart.seq > replayedUpTo) deliver(restart);
    });
    for (const restart of options.eventLog.restartsAfter(after)) {
      deliver(restart);
      replayedUpTo = restart.seq;
    }
    const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), HEARTBEAT_MS);
    streams.add(response);
    response.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      streams.delete(response);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: async () => {
      for (const response of streams) response.end();
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sseEvent(restart: RestartNotice): string {
  const { seq, ...data } = restart;
  return `id: ${seq}\nevent: restart\ndata: ${JSON.stringify(data)}\n\n`;
}

function send(response: ServerResponse, apiResponse: ApiResponse): void {
  const body = JSON.stringify(apiResponse.body);
  response.writeHead(apiResponse.status, { 'content-type': 'application/json', ...apiResponse.headers, 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

/** Why a tokenless loopback server refuses this request, if it does. */
function crossSiteProblem(request: IncomingMessage): string | undefined {
  const host = request.headers.host;
  if (host !== undefined && !isLoopbackHost(hostName(host))) return `host ${JSON.stringify(host.slice(0, 100))} is not a loopback name; use --token to serve other hosts`;
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let originHost: string;
    try {
      originHost = new URL(origin).hostname;
    } catch {
      return 'malformed Origin header';
    }
    if (!isLoopbackHost(originHost)) return `cross-origin requests from ${JSON.stringify(origin.slice(0, 100))} are refused; use --token to allow remote clients`;
  }
  return undefined;
}

/** The name part of a Host header: `127.0.0.1:4750` → `127.0.0.1`, `[::1]:4750` → `::1`. */
function hostName(host: string): string {
  const bracketed = /^\[([^\]]+)\]/.exec(host);
  if (bracketed) return bracketed[1]!;
  return host.replace(/:\d+$/, '');
}

function authorized(request: IncomingMessage, token: string): boolean {
  const header = request.headers.authorization ?? '';
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Reads the body, keeping at most `limit` bytes: past that it drains the rest
 * without buffering it, and the request is refused as too large.
 */
function readBody(request: IncomingMessage, limit: number): Promise<Uint8Array | 'too large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    request.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) chunks.length = 0;
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(received > limit ? 'too large' : new Uint8Array(Buffer.concat(chunks))));
    request.on('error', reject);
  });
}
