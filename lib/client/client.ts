/**
 * A client for the HTTP API (DESIGN §4): the local runtime, or the AWS
 * deployment behind IAM auth (requests signed with SigV4 from the default
 * credential chain). Used by the CLI, `supervise`, the soak tool and the
 * benchmarks, so they all speak to the service the way users do.
 */
import type { ContainerView, DecisionView } from '../api/views.ts';
import type { WorkloadView } from '../api/workloads.ts';
import type { EventRecord, RestartTargetSpec } from '../core/index.ts';
import type { RestartNotice, SequencedEvent } from '../ports.ts';

export type { RestartNotice, SequencedEvent } from '../ports.ts';

/** One wire-format exit event (times as ISO-8601 strings or epoch ms). */
export interface ExitEventInput {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  readonly podUid?: string;
  readonly containerHash?: string;
  readonly exitCode: number;
  readonly reason?: string;
  readonly startedAt?: string | number;
  readonly finishedAt: string | number;
  readonly exitId?: string;
  /** The restarts before the run that ended (0 for the first run). */
  readonly restartCount?: number;
  readonly restartPolicy?: 'Always' | 'OnFailure' | 'Never';
  readonly restartPolicyRules?: readonly unknown[];
  readonly maxRestarts?: number;
  readonly backoffPolicy?: Record<string, unknown>;
  /** Where its restarts go besides the bus (`RestartTargetSpec`). */
  readonly restartTarget?: RestartTargetSpec;
}

export interface StreamOptions {
  /** Only this container's entries. */
  readonly key?: string;
  /** Start after this sequence number instead of "from now". */
  readonly after?: number;
  readonly signal?: AbortSignal;
  /** Wait before reconnecting. @default 250 ms */
  readonly retryMs?: number;
  /** Called each time the stream is (re)connected. */
  readonly onConnect?: () => void;
  /** Called when the connection drops; the stream reconnects on its own. */
  readonly onDisconnect?: (error: unknown) => void;
}

/** One page of a listing and the cursor of the next (none on the last). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly cursor?: string;
}

/** Every item of a paginated listing: reads page after page until one comes without a cursor. */
export async function readAllPages<T>(readPage: (cursor: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await readPage(cursor);
    all.push(...page.items);
    cursor = page.cursor;
  } while (cursor);
  return all;
}

/** Signs a request (SigV4 for the AWS deployment); returns the headers to send. */
export type RequestSigner = (request: { method: string; url: URL; headers: Record<string, string>; body?: string }) => Promise<Record<string, string>>;

export interface ClientOptions {
  /** e.g. http://127.0.0.1:4750 or the API's invoke URL. */
  readonly endpoint: string;
  /** Bearer token for a local runtime started with --token. */
  readonly token?: string;
  readonly signer?: RequestSigner;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/** An error answer from the API: status and its JSON body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; message?: string; issues?: { path: string; message: string }[] },
  ) {
    super(`${status} ${body.error ?? 'Error'}: ${body.message ?? ''}`.trim());
    this.name = 'ApiError';
  }
}

export class RestartSchedulerClient {
  private readonly base: URL;
  private readonly fetch: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.base = new URL(options.endpoint.endsWith('/') ? options.endpoint : `${options.endpoint}/`);
    // Called through a wrapper: a browser's fetch throws when called as another object's method.
    this.fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  get endpoint(): string {
    return this.base.toString().replace(/\/$/, '');
  }

  async postExit(event: ExitEventInput): Promise<DecisionView> {
    return this.request<DecisionView>('POST', 'v1/exits', event);
  }

  async postExits(events: readonly ExitEventInput[]): Promise<DecisionView[]> {
    return (await this.request<{ results: DecisionView[] }>('POST', 'v1/exits', { events })).results;
  }

  async listContainers(filter: { namespace?: string; state?: string; limit?: number; cursor?: string } = {}): Promise<{ items: ContainerView[]; cursor?: string }> {
    return this.request('GET', 'v1/containers', undefined, filter);
  }

  async getContainer(key: string): Promise<ContainerView | undefined> {
    try {
      return await this.request<ContainerView>('GET', `v1/containers/${encodeURIComponent(key)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  async resetContainer(key: string): Promise<boolean> {
    try {
      await this.request('DELETE', `v1/containers/${encodeURIComponent(key)}`);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return false;
      throw error;
    }
  }

  /** Registers an ECS workload (`{ namespace?, runTask, restartPolicy?, … }`) and starts its first task. */
  async runEcsWorkload(registration: Record<string, unknown>): Promise<WorkloadView> {
    return this.request<WorkloadView>('POST', 'v1/ecs/workloads', registration);
  }

  async listEcsWorkloads(cursor?: string): Promise<{ items: WorkloadView[]; cursor?: string }> {
    return this.request('GET', 'v1/ecs/workloads', undefined, { cursor });
  }

  /** Stops a workload for good; undefined when there is none with that id. */
  async stopEcsWorkload(id: string): Promise<WorkloadView | undefined> {
    try {
      return await this.request<WorkloadView>('DELETE', `v1/ecs/workloads/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404 && error.body.error === 'NotFound' && error.body.message?.startsWith('no workload')) return undefined;
      throw error;
    }
  }

  async listEvents(query: { type?: string; key?: string; since?: string; limit?: number } = {}): Promise<EventRecord[]> {
    return (await this.request<{ items: EventRecord[] }>('GET', 'v1/events', undefined, query)).items;
  }

  /**
   * Follows the restart stream, calling `onRestart` once per restart, until
   * `signal` aborts. It reconnects after a dropped connection (the runtime
   * restarted, say) with `Last-Event-ID`, so no restart is missed or repeated.
   * `after` starts from a sequence number instead of "from now".
   */
  async streamRestarts(onRestart: (restart: RestartNotice) => void, options: StreamOptions = {}): Promise<void> {
    await this.follow('v1/restarts/stream', 'restart', (seq, data) => onRestart({ seq, ...(data as Omit<RestartNotice, 'seq'>) }), options);
  }

  /** Follows the event record stream (local runtime) the same way: each record once, in order, across reconnects. */
  async streamEvents(onEvent: (event: SequencedEvent) => void, options: StreamOptions = {}): Promise<void> {
    await this.follow('v1/events/stream', 'record', (seq, data) => onEvent({ seq, record: data as EventRecord }), options);
  }

  private async follow(path: string, eventName: string, deliver: (seq: number, data: unknown) => void, options: StreamOptions): Promise<void> {
    let lastSeq = options.after;
    while (!options.signal?.aborted) {
      try {
        const url = this.url(path, options.key ? { key: options.key } : {});
        const headers: Record<string, string> = { accept: 'text/event-stream', ...this.authHeaders() };
        if (lastSeq !== undefined) headers['last-event-id'] = String(lastSeq);
        const response = await this.fetch(url, { headers, ...(options.signal ? { signal: options.signal } : {}) });
        if (!response.ok || !response.body) throw new ApiError(response.status, await readJson(response));
        options.onConnect?.();
        for await (const message of readServerSentEvents(response.body)) {
          if (message.event === 'reset') lastSeq = undefined;
          if (message.event !== eventName || message.id === undefined) continue;
          const seq = Number(message.id);
          if (lastSeq !== undefined && seq <= lastSeq) continue;
          lastSeq = seq;
          deliver(seq, JSON.parse(message.data));
        }
      } catch (error) {
        if (options.signal?.aborted) return;
        if (error instanceof ApiError && error.status < 500) throw error;
        options.onDisconnect?.(error);
      }
      await new Promise((resolve) => setTimeout(resolve, options.retryMs ?? 250));
    }
  }

  private url(path: string, query: Record<string, string | number | undefined> = {}): URL {
    const url = new URL(path, this.base);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, String(value));
    return url;
  }

  private authHeaders(): Record<string, string> {
    return this.options.token ? { authorization: `Bearer ${this.options.token}` } : {};
  }

  private async request<T>(method: string, path: string, body?: unknown, query: Record<string, string | number | undefined> = {}): Promise<T> {
    const url = this.url(path, query);
    const text = body === undefined ? undefined : JSON.stringify(body);
    let headers: Record<string, string> = { accept: 'application/json', ...this.authHeaders(), ...(text !== undefined ? { 'content-type': 'application/json' } : {}) };
    if (this.options.signer) headers = await this.options.signer({ method, url, headers, ...(text !== undefined ? { body: text } : {}) });
    const response = await this.fetch(url, { method, headers, ...(text !== undefined ? { body: text } : {}) });
    const json = await readJson(response);
    if (!response.ok) throw new ApiError(response.status, json as ApiError['body']);
    return json as T;
  }
}

async function readJson(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text();
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return { message: text.slice(0, 500) };
  }
}

interface ServerSentEvent {
  readonly id?: string;
  readonly event: string;
  readonly data: string;
}

/** Parses a text/event-stream body (the subset the runtime sends: id, event, data, comments). */
export async function* readServerSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let current: { id?: string; event?: string; data: string[] } = { data: [] };
  // A reader rather than async iteration, which not every browser offers on a ReadableStream.
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value: chunk } = await reader.read();
      if (done) break;
      buffer += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (current.data.length > 0 || current.event) {
            yield { ...(current.id !== undefined ? { id: current.id } : {}), event: current.event ?? 'message', data: current.data.join('\n') };
          }
          current = { data: [] };
        } else if (!line.startsWith(':')) {
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'id') current.id = value;
          else if (field === 'event') current.event = value;
          else if (field === 'data') current.data.push(value);
        }
      }
    }
  } finally {
    // A consumer that stops early closes the connection rather than leaving it locked open.
    reader.cancel().catch(() => undefined);
  }
}
