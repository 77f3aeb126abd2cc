/**
 * The local runtime's HTTP server: the API of DESIGN §4 through the same
 * router as the Lambda, plus the Server-Sent Events streams of dispatched
 * restarts and of event records. Optional bearer-token auth for non-loopback use.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiBackend } from '../api/backend.ts';
import { errorResponse, validationError } from '../api/protocol.ts';
import { parseStreamQuery, SEQUENCE_PATTERN } from '../api/queries.ts';
import { API_LIMITS, handleApiRequest, type ApiLimits, type ApiResponse } from '../api/router.ts';
import type { RestartNotice, SequencedEvent } from '../ports.ts';
import type { OperationalLog } from '../services/deps.ts';
import { buildConsoleAssets, consoleResponse, isConsolePath, type ConsoleAssets } from './console.ts';
import type { LocalEventLog } from './event-log.ts';
import { isLoopbackHost } from './loopback.ts';
import type { Sequenced, SequencedLog } from './sequenced-log.ts';

export const RESTART_STREAM_PATH = '/v1/restarts/stream';
export const EVENT_STREAM_PATH = '/v1/events/stream';
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
  /** Told when the web console cannot be built. */
  readonly log?: OperationalLog;
}

export interface LocalServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startLocalServer(options: LocalServerOptions): Promise<LocalServer> {
  const limits = { ...API_LIMITS, ...options.limits };
  const streams = new Set<ServerResponse>();
  const restartFeed: StreamFeed<RestartNotice> = { what: 'restart', log: options.eventLog.restarts, keyOf: (restart) => restart.key, format: sseRestart };
  const eventFeed: StreamFeed<SequencedEvent> = { what: 'event', log: options.eventLog.events, keyOf: (event) => event.record.key, format: sseRecord };
  const server: Server = createServer((request, response) => {
    void serve(request, response).catch(() => {
      if (!response.headersSent) send(response, errorResponse(500, 'InternalError', 'internal error'));
      else response.destroy();
    });
  });

  let consoleAssets: Promise<ConsoleAssets> | undefined;
  async function serveConsole(request: IncomingMessage, response: ServerResponse, pathname: string): Promise<void> {
    consoleAssets ??= buildConsoleAssets({ authRequired: options.token !== undefined });
    let assets: ConsoleAssets;
    try {
      assets = await consoleAssets;
    } catch (error) {
      // Tried again on the next request (after `npm ci`, say).
      consoleAssets = undefined;
      options.log?.warn('the web console could not be built', { error: error instanceof Error ? error.message : String(error) });
      return send(response, errorResponse(503, 'ServiceUnavailable', 'the web console could not be built; is esbuild installed (npm ci)?'));
    }
    const found = consoleResponse(assets, pathname, {
      ...(typeof request.headers['accept-encoding'] === 'string' ? { 'accept-encoding': request.headers['accept-encoding'] } : {}),
      ...(typeof request.headers['if-none-match'] === 'string' ? { 'if-none-match': request.headers['if-none-match'] } : {}),
    });
    if (!found) return send(response, errorResponse(404, 'NotFound', `no such resource: ${pathname.slice(0, 200)}`));
    response.writeHead(found.status, { ...found.headers, 'content-length': found.body.length });
    response.end(request.method === 'HEAD' ? undefined : found.body);
  }

  async function serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://local');
    // The console's page and code hold nothing secret: they load without the
    // token and ask for it before their first API call.
    const consoleRequest = (request.method === 'GET' || request.method === 'HEAD') && isConsolePath(url.pathname);
    if (options.token !== undefined && !consoleRequest && !authorized(request, options.token)) {
      return send(response, errorResponse(401, 'Unauthorized', 'missing or wrong bearer token', { headers: { 'www-authenticate': 'Bearer' } }));
    }
    // Without a token the loopback binding is the only protection: refuse what
    // a web page in the user's browser could send (a cross-site request, or a
    // DNS-rebound host name), which loopback alone does not stop.
    if (options.token === undefined) {
      const problem = crossSiteProblem(request);
      if (problem) return send(response, errorResponse(403, 'Forbidden', problem));
    }
    if (consoleRequest) return serveConsole(request, response, url.pathname);
    if (request.method === 'GET' && url.pathname === RESTART_STREAM_PATH) return stream(request, response, url, restartFeed);
    if (request.method === 'GET' && url.pathname === EVENT_STREAM_PATH) return stream(request, response, url, eventFeed);
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
   * A client that reconnects with `Last-Event-ID` (or `?after=SEQ`) first gets
   * what it missed from the log, then follows it live; `?key=` narrows the
   * stream to one container. An id beyond the log's end gets a `reset` event
   * and the whole log.
   */
  function stream<T extends Sequenced>(request: IncomingMessage, response: ServerResponse, url: URL, feed: StreamFeed<T>): void {
    const query = parseStreamQuery(Object.fromEntries(url.searchParams));
    if (!query.ok) return send(response, validationError(query.issues));
    const { key } = query.value;
    const header = request.headers['last-event-id'];
    const lastEventId = Array.isArray(header) ? header[0] : header;
    if (lastEventId !== undefined && !SEQUENCE_PATTERN.test(lastEventId)) {
      return send(response, validationError([{ path: 'Last-Event-ID', message: `must be a ${feed.what} sequence number (a non-negative integer)` }]));
    }
    const requested = lastEventId !== undefined ? Number(lastEventId) : (query.value.after ?? feed.log.lastSeq);
    // An id beyond the log's end was handed out by an earlier log (an in-memory
    // runtime, or a wiped data directory): everything in this log is new to the client.
    const after = requested > feed.log.lastSeq ? 0 : requested;
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    response.write(`: restart-scheduler ${feed.what} stream\n\n`);
    // Tell a resuming client its position belongs to an earlier log, so it
    // accepts sequence numbers from 1 again.
    if (after !== requested) response.write('event: reset\ndata: {}\n\n');
    const deliver = (entry: T) => {
      if (key !== undefined && feed.keyOf(entry) !== key) return;
      response.write(feed.format(entry));
      // A client that stops reading is dropped rather than buffered without
      // bound; it resumes where it left off with Last-Event-ID.
      if (response.writableLength > MAX_STREAM_BUFFER_BYTES) response.destroy();
    };
    // Subscribe before replaying, and skip duplicates, so nothing falls in between.
    let replayedUpTo = after;
    const unsubscribe = feed.log.subscribe((entry) => {
      if (entry.seq > replayedUpTo) deliver(entry);
    });
    for (const entry of feed.log.after(after)) {
      deliver(entry);
      replayedUpTo = entry.seq;
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

/** What one SSE route streams: its log, and how an entry is named and written. */
interface StreamFeed<T extends Sequenced> {
  /** For the stream's banner and messages: `restart`, `event`. */
  readonly what: string;
  readonly log: SequencedLog<T>;
  readonly keyOf: (entry: T) => string;
  readonly format: (entry: T) => string;
}

/** `id:` is the restart's sequence number; `data:` the rest of it. */
export function sseRestart(restart: RestartNotice): string {
  const { seq, ...data } = restart;
  return sseMessage(seq, 'restart', data);
}

/** `id:` is the record's sequence number; `data:` the event record itself. */
export function sseRecord(event: SequencedEvent): string {
  return sseMessage(event.seq, 'record', event.record);
}

function sseMessage(id: number, event: string, data: unknown): string {
  return `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
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
