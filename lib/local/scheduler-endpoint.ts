/**
 * A local EventBridge Scheduler: the subset of the service's REST-JSON API the
 * project's timer adapter uses (CreateSchedule, GetSchedule, DeleteSchedule,
 * ListSchedules), validated like the service, persisted to JSON files, and
 * firing each schedule at its instant through an injected callback. The
 * production adapter runs against it unchanged: a `SchedulerClient` with
 * `endpoint: url` and any credentials (requests are not authenticated; the
 * endpoint binds to loopback by default).
 *
 * Wire protocol (what `@aws-sdk/client-scheduler` sends and parses):
 * - CreateSchedule  `POST   /schedules/{Name}` — every other input member in the JSON body
 *   (`GroupName`, `ScheduleExpression`, `Target`, …; `ClientToken` is filled in by the SDK;
 *   `StartDate`/`EndDate` are epoch seconds) → `200 {"ScheduleArn"}`.
 * - GetSchedule     `GET    /schedules/{Name}?groupName=` → `200` with the schedule's
 *   members; `CreationDate`/`LastModificationDate` are epoch seconds (JSON numbers).
 * - DeleteSchedule  `DELETE /schedules/{Name}?groupName=&clientToken=` → `200 {}`.
 * - ListSchedules   `GET    /schedules?ScheduleGroup=&NamePrefix=&State=&MaxResults=&NextToken=`
 *   (the input's `GroupName` travels as `ScheduleGroup`) → `200 {"Schedules", "NextToken"?}`.
 * - Errors: the status code, `x-amzn-errortype: <Shape>`, and `{"__type", "Message"}`:
 *   ValidationException 400, ResourceNotFoundException 404, ConflictException 409,
 *   InternalServerException 500. The SDK throws the exception class of that name.
 *   Other Scheduler operations get a 400 ValidationException saying the local endpoint
 *   does not support them; other paths a 404 UnknownOperationException.
 *
 * Differences from the service, all deliberate:
 * - Only one-time `at(yyyy-mm-ddThh:mm:ss)` schedules; `rate()`/`cron()` are refused.
 * - Time zones are any IANA name `Intl` knows; the instant is computed exactly (a wall
 *   time skipped by a DST change runs as far past the gap as it was into it; one that
 *   occurs twice runs at the first occurrence).
 * - Schedules fire at their instant to the millisecond, not within the service's minute;
 *   a `FLEXIBLE` window fires at its start. An instant already past (at create, or after
 *   the process was down) fires at once; the first attempt is always made, and
 *   `MaximumEventAgeInSeconds` bounds the retries that follow it.
 * - Retries back off exponentially without jitter, from `retryBaseDelayMs` up to
 *   `retryMaxDelayMs`.
 * - Delivery is at least once: a schedule stays persisted until `onFire` resolves (or
 *   its retries end), so one in flight when the process stops fires again at the next
 *   start.
 *
 * Persistence (with `dataFile`): every change is appended to `<dataFile>.journal` and
 * flushed before the API call answers; the journal is folded into the `<dataFile>`
 * snapshot (temporary file + rename) when it outgrows it and at `close()` — see
 * `scheduler/store.ts`. One process owns a data file at a time.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DueQueue, type DueHandle } from './scheduler/due-queue.ts';
import { SchedulerApiError, type SchedulerErrorType } from './scheduler/errors.ts';
import {
  DEFAULT_GROUP,
  type DeadLetterContext,
  type DeadLetterReason,
  type FireContext,
  type LocalSchedule,
} from './scheduler/model.ts';
import { ScheduleStore, type ScheduleChange } from './scheduler/store.ts';
import {
  NAME_PATTERN,
  validateCreateSchedule,
  validateListSchedules,
  validateScheduleLocator,
  type ListSchedulesRequest,
} from './scheduler/validate.ts';

import { MAX_TIMER_DELAY_MS } from './fine-stage.ts';

export type {
  DeadLetterContext,
  DeadLetterReason,
  FireContext,
  LocalDelivery,
  LocalSchedule,
  LocalTarget,
} from './scheduler/model.ts';
export { atExpressionUtc } from './scheduler/at-expression.ts';

export interface LocalSchedulerEndpointOptions {
  /** Schedule groups that exist; `default` always does. */
  readonly groups?: readonly string[];
  /**
   * JSON file holding the schedules across restarts (with `<dataFile>.journal` beside
   * it for the changes since it was written); in memory only when omitted.
   */
  readonly dataFile?: string;
  /** Invokes the target. A rejection is a failed attempt, retried per the target's RetryPolicy. */
  readonly onFire: (schedule: LocalSchedule, context: FireContext) => Promise<void>;
  /**
   * Called once the retries of a schedule with a DeadLetterConfig are exhausted. Its
   * failure is ignored (the service drops an event it cannot dead-letter, too).
   */
  readonly onDeadLetter?: (schedule: LocalSchedule, error: unknown, context: DeadLetterContext) => Promise<void> | void;
  /** For ARNs. @default 'us-east-1' */
  readonly region?: string;
  /** For ARNs. @default '000000000000' */
  readonly accountId?: string;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
  /** Delay before the first retry; each further retry doubles it. @default 1000 */
  readonly retryBaseDelayMs?: number;
  /** @default 60000 */
  readonly retryMaxDelayMs?: number;
  /** Deliveries in flight at once; due schedules beyond it wait their turn. @default 256 */
  readonly maxConcurrentFires?: number;
}

interface Entry {
  schedule: LocalSchedule;
  /** Set while the schedule waits in the due queue. */
  handle: DueHandle | undefined;
}

/** Far above any valid CreateSchedule request (Input ≤ 8 KiB), far below a memory problem. */
const MAX_BODY_BYTES = 1024 * 1024;

const SUPPORTED = 'CreateSchedule, GetSchedule, DeleteSchedule and ListSchedules';

function keyOf(groupName: string, name: string): string {
  return `${groupName}/${name}`;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function seconds(epochMs: number): number {
  return epochMs / 1000;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class LocalSchedulerEndpoint {
  private readonly groups: ReadonlySet<string>;
  private readonly region: string;
  private readonly accountId: string;
  private readonly now: () => number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly maxConcurrentFires: number;
  private readonly onFire: LocalSchedulerEndpointOptions['onFire'];
  private readonly onDeadLetter: LocalSchedulerEndpointOptions['onDeadLetter'];
  private readonly store: ScheduleStore | undefined;

  private readonly entries = new Map<string, Entry>();
  private readonly due = new DueQueue<Entry>();
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt = Number.POSITIVE_INFINITY;
  private inFlight = 0;
  private server: Server | undefined;
  private started = false;
  private closed = false;

  constructor(options: LocalSchedulerEndpointOptions) {
    const groups = new Set([DEFAULT_GROUP, ...(options.groups ?? [])]);
    for (const group of groups) {
      if (group.length > 64 || !NAME_PATTERN.test(group)) {
        throw new Error(`invalid schedule group name ${JSON.stringify(group)} (1-64 of [0-9a-zA-Z-_.])`);
      }
    }
    this.groups = groups;
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '000000000000';
    this.now = options.now ?? (() => Date.now());
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 1000;
    this.retryMaxDelayMs = options.retryMaxDelayMs ?? 60_000;
    this.maxConcurrentFires = options.maxConcurrentFires ?? 256;
    this.onFire = options.onFire;
    this.onDeadLetter = options.onDeadLetter;
    if (options.dataFile !== undefined) {
      this.store = new ScheduleStore(options.dataFile, () => this.schedules());
      for (const schedule of this.store.load()) {
        const entry: Entry = { schedule: deepFreeze(schedule), handle: undefined };
        this.entries.set(keyOf(schedule.GroupName, schedule.Name), entry);
        this.enqueue(entry);
      }
    }
  }

  /** Starts serving and firing (schedules already due fire now). */
  async listen(port = 0, host = '127.0.0.1'): Promise<{ url: string }> {
    if (this.server) throw new Error('the scheduler endpoint is already listening');
    if (this.closed) throw new Error('the scheduler endpoint is closed');
    const server = createServer((request, response) => {
      void this.handle(request, response);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.started = true;
    this.arm();
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { url: `http://${shownHost}:${address.port}` };
  }

  /**
   * Stops timers and the server and waits for pending file writes. Deliveries still
   * in flight are not awaited; what they would have recorded is left undone, so
   * their schedules fire again at the next start (at least once).
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.disarm();
    const server = this.server;
    if (server) {
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // A client holding a request open must not hold up shutdown for long.
      const force = setTimeout(() => server.closeAllConnections(), 2000);
      force.unref();
      await stopped;
      clearTimeout(force);
    }
    await this.store?.close();
  }

  /**
   * Re-reads the clock and fires what is due. The timer does this by itself with a
   * clock that follows real time; an injected clock moved ahead of real time (a test's
   * manual clock) is only noticed when this is called or the armed timer wakes up.
   */
  poll(): void {
    if (!this.started || this.closed) return;
    this.disarm();
    this.fireDue();
  }

  /** Every schedule the endpoint holds (including completed ones kept by `ActionAfterCompletion: NONE`). */
  schedules(): readonly LocalSchedule[] {
    return Array.from(this.entries.values(), (entry) => entry.schedule);
  }

  // -------------------------------------------------------------------------
  // Persistence

  /** Resolves when the change is on disk (at once without a file). */
  private persist(change: ScheduleChange): Promise<void> {
    return this.store ? this.store.record(change) : Promise.resolve();
  }

  /**
   * For changes made by deliveries: nobody waits on them. If one is lost, the
   * file still holds the schedule as it was before the delivery, so at worst
   * it fires again after a restart (at least once).
   */
  private persistInBackground(change: ScheduleChange): void {
    this.persist(change).catch(() => undefined);
  }

  // -------------------------------------------------------------------------
  // Timer: one setTimeout, armed for the earliest due entry.

  private enqueue(entry: Entry): void {
    const schedule = entry.schedule;
    if (schedule.State !== 'ENABLED' || schedule.CompletedAt !== undefined) return;
    entry.handle = this.due.push(entry, schedule.Delivery?.NextAttemptAt ?? schedule.ScheduledAt);
    this.arm();
  }

  private dequeue(entry: Entry): void {
    if (entry.handle) this.due.remove(entry.handle);
    entry.handle = undefined;
  }

  private disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = Number.POSITIVE_INFINITY;
  }

  private arm(): void {
    if (!this.started || this.closed) return;
    const next = this.due.peek();
    if (!next || this.inFlight >= this.maxConcurrentFires) {
      // Nothing to wait for, or a finishing delivery will call again.
      this.disarm();
      return;
    }
    // A timer for an earlier instant wakes up in time and re-arms then.
    if (this.timer && this.timerDueAt <= next.dueAt) return;
    this.disarm();
    const delay = Math.min(Math.max(next.dueAt - this.now(), 0), MAX_TIMER_DELAY_MS);
    this.timerDueAt = next.dueAt;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDueAt = Number.POSITIVE_INFINITY;
      this.fireDue();
    }, delay);
  }

  private fireDue(): void {
    if (this.closed) return;
    const now = this.now();
    while (this.inFlight < this.maxConcurrentFires) {
      const next = this.due.peek();
      // Never early: a timer that wakes before the instant just re-arms.
      if (!next || next.dueAt > now) break;
      this.due.pop();
      next.value.handle = undefined;
      void this.deliver(next.value, now);
    }
    this.arm();
  }

  // -------------------------------------------------------------------------
  // Delivery

  private isCurrent(entry: Entry): boolean {
    return !this.closed && this.entries.get(keyOf(entry.schedule.GroupName, entry.schedule.Name)) === entry;
  }

  private async deliver(entry: Entry, firedAt: number): Promise<void> {
    this.inFlight += 1;
    const schedule = entry.schedule;
    const attempt = (schedule.Delivery?.Attempts ?? 0) + 1;
    try {
      let failure: { error: unknown } | undefined;
      try {
        await this.onFire(schedule, { attempt, scheduledAt: schedule.ScheduledAt, firedAt });
      } catch (error) {
        failure = { error };
      }
      // Deleted through the API (or the endpoint closed) meanwhile: nothing left to record.
      if (!this.isCurrent(entry)) return;
      if (!failure) {
        this.complete(entry);
      } else {
        await this.retryOrGiveUp(entry, attempt, failure.error);
      }
    } finally {
      this.inFlight -= 1;
      this.arm();
    }
  }

  private backoff(attempt: number): number {
    return Math.min(this.retryBaseDelayMs * 2 ** (attempt - 1), this.retryMaxDelayMs);
  }

  private async retryOrGiveUp(entry: Entry, attempt: number, error: unknown): Promise<void> {
    const schedule = entry.schedule;
    const policy = schedule.Target.RetryPolicy;
    const now = this.now();
    const nextAttemptAt = now + this.backoff(attempt);
    let reason: DeadLetterReason | undefined;
    if (attempt - 1 >= policy.MaximumRetryAttempts) reason = 'MaximumRetryAttemptsExceeded';
    else if (nextAttemptAt - schedule.ScheduledAt > policy.MaximumEventAgeInSeconds * 1000) {
      reason = 'MaximumEventAgeExceeded';
    }
    if (!reason) {
      entry.schedule = deepFreeze({
        ...schedule,
        Delivery: { Attempts: attempt, NextAttemptAt: nextAttemptAt, LastError: errorText(error) },
      });
      this.persistInBackground({ put: entry.schedule });
      this.enqueue(entry);
      return;
    }
    if (schedule.Target.DeadLetterConfig && this.onDeadLetter) {
      try {
        await this.onDeadLetter(schedule, error, { reason, attempts: attempt });
      } catch {
        // Dropped, as the service drops an event its dead-letter queue refuses.
      }
      if (!this.isCurrent(entry)) return;
    }
    this.complete(entry);
  }

  /** The one invocation is over: delete the schedule, or keep it as a completed one. */
  private complete(entry: Entry): void {
    const schedule = entry.schedule;
    if (schedule.ActionAfterCompletion === 'DELETE') {
      this.entries.delete(keyOf(schedule.GroupName, schedule.Name));
      this.persistInBackground({ delete: { GroupName: schedule.GroupName, Name: schedule.Name } });
    } else {
      const { Delivery: _done, ...rest } = schedule;
      entry.schedule = deepFreeze({ ...rest, CompletedAt: this.now() });
      this.persistInBackground({ put: entry.schedule });
    }
  }

  // -------------------------------------------------------------------------
  // HTTP

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    try {
      const body = await readBody(request);
      const url = new URL(request.url ?? '/', 'http://scheduler.local');
      const result = await this.route(request.method ?? 'GET', url, body);
      send(response, 200, result, requestId);
    } catch (error) {
      const apiError =
        error instanceof SchedulerApiError ? error : new SchedulerApiError('InternalServerException', errorText(error));
      send(response, apiError.status, { __type: apiError.type, Message: apiError.message }, requestId, apiError.type);
    }
  }

  private async route(method: string, url: URL, body: string): Promise<unknown> {
    const segments = url.pathname.split('/');
    const [, resource, rawName, ...rest] = segments;
    if (resource === 'schedules' && rest.length === 0) {
      if (rawName === undefined) {
        if (method === 'GET') return this.listSchedules(validateListSchedules(url.searchParams));
      } else {
        const name = decodeLabel(rawName);
        if (method === 'POST') return this.createSchedule(name, parseJson(body));
        if (method === 'GET') return this.getSchedule(name, url.searchParams);
        if (method === 'DELETE') return this.deleteSchedule(name, url.searchParams);
        if (method === 'PUT') throw unsupported('UpdateSchedule');
      }
    }
    if (resource === 'schedule-groups') throw unsupported('Schedule group operations');
    if (resource === 'tags') throw unsupported('Tagging operations');
    throw new SchedulerApiError(
      'UnknownOperationException',
      `${method} ${url.pathname} is not an operation of the local EventBridge Scheduler endpoint (it serves ${SUPPORTED})`,
    );
  }

  private requireGroup(groupName: string): void {
    if (!this.groups.has(groupName)) {
      throw new SchedulerApiError('ResourceNotFoundException', `Schedule group ${groupName} does not exist.`);
    }
  }

  private arn(groupName: string, name: string): string {
    return `arn:aws:scheduler:${this.region}:${this.accountId}:schedule/${groupName}/${name}`;
  }

  private async createSchedule(name: string, body: unknown): Promise<{ ScheduleArn: string }> {
    const request = validateCreateSchedule(name, body);
    this.requireGroup(request.GroupName);
    const key = keyOf(request.GroupName, request.Name);
    if (this.entries.has(key)) {
      throw new SchedulerApiError('ConflictException', `Schedule ${request.Name} already exists.`);
    }
    const now = this.now();
    const schedule: LocalSchedule = deepFreeze({
      Arn: this.arn(request.GroupName, request.Name),
      ...request,
      CreationDate: now,
      LastModificationDate: now,
    });
    const entry: Entry = { schedule, handle: undefined };
    this.entries.set(key, entry);
    this.enqueue(entry);
    await this.persist({ put: schedule });
    return { ScheduleArn: schedule.Arn };
  }

  private getSchedule(name: string, query: URLSearchParams): Record<string, unknown> {
    const { Name, GroupName } = validateScheduleLocator(name, query, false);
    this.requireGroup(GroupName);
    const entry = this.entries.get(keyOf(GroupName, Name));
    if (!entry) throw new SchedulerApiError('ResourceNotFoundException', `Schedule ${Name} does not exist.`);
    return toGetScheduleOutput(entry.schedule);
  }

  private async deleteSchedule(name: string, query: URLSearchParams): Promise<Record<string, never>> {
    const { Name, GroupName } = validateScheduleLocator(name, query, true);
    this.requireGroup(GroupName);
    const key = keyOf(GroupName, Name);
    const entry = this.entries.get(key);
    if (!entry) throw new SchedulerApiError('ResourceNotFoundException', `Schedule ${Name} does not exist.`);
    this.entries.delete(key);
    this.dequeue(entry);
    await this.persist({ delete: { GroupName, Name } });
    return {};
  }

  private listSchedules(request: ListSchedulesRequest): Record<string, unknown> {
    if (request.GroupName !== undefined) this.requireGroup(request.GroupName);
    const after = request.NextToken === undefined ? undefined : decodeNextToken(request.NextToken);
    const matching = this.schedules()
      .filter(
        (s) =>
          (request.GroupName === undefined || s.GroupName === request.GroupName) &&
          (request.NamePrefix === undefined || s.Name.startsWith(request.NamePrefix)) &&
          (request.State === undefined || s.State === request.State) &&
          (after === undefined || compareKeys(s, after) > 0),
      )
      .sort(compareKeys);
    const page = matching.slice(0, request.MaxResults);
    const last = page.at(-1);
    return {
      Schedules: page.map((s) => ({
        Arn: s.Arn,
        Name: s.Name,
        GroupName: s.GroupName,
        State: s.State,
        CreationDate: seconds(s.CreationDate),
        LastModificationDate: seconds(s.LastModificationDate),
        Target: { Arn: s.Target.Arn },
      })),
      ...(matching.length > page.length && last && { NextToken: encodeNextToken(last) }),
    };
  }
}

function unsupported(operation: string): SchedulerApiError {
  return new SchedulerApiError(
    'ValidationException',
    `${operation} is not supported by the local EventBridge Scheduler endpoint (it serves ${SUPPORTED})`,
  );
}

function toGetScheduleOutput(s: LocalSchedule): Record<string, unknown> {
  const { Parameters, ...target } = s.Target;
  return {
    Arn: s.Arn,
    GroupName: s.GroupName,
    Name: s.Name,
    ScheduleExpression: s.ScheduleExpression,
    ScheduleExpressionTimezone: s.ScheduleExpressionTimezone,
    State: s.State,
    ActionAfterCompletion: s.ActionAfterCompletion,
    FlexibleTimeWindow: s.FlexibleTimeWindow,
    Target: { ...target, ...Parameters },
    CreationDate: seconds(s.CreationDate),
    LastModificationDate: seconds(s.LastModificationDate),
    ...(s.Description !== undefined && { Description: s.Description }),
    ...(s.StartDate !== undefined && { StartDate: seconds(s.StartDate) }),
    ...(s.EndDate !== undefined && { EndDate: seconds(s.EndDate) }),
    ...(s.KmsKeyArn !== undefined && { KmsKeyArn: s.KmsKeyArn }),
  };
}

type ScheduleKey = Pick<LocalSchedule, 'GroupName' | 'Name'>;

function compareKeys(a: ScheduleKey, b: ScheduleKey): number {
  if (a.GroupName !== b.GroupName) return a.GroupName < b.GroupName ? -1 : 1;
  if (a.Name !== b.Name) return a.Name < b.Name ? -1 : 1;
  return 0;
}

/** The token names the last schedule of the page; the next page starts after it. */
function encodeNextToken(last: ScheduleKey): string {
  return Buffer.from(JSON.stringify([last.GroupName, last.Name])).toString('base64url');
}

function decodeNextToken(token: string): ScheduleKey {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded.length === 2 && decoded.every((part) => typeof part === 'string')) {
      return { GroupName: decoded[0] as string, Name: decoded[1] as string };
    }
  } catch {
    // Reported below.
  }
  throw new SchedulerApiError('ValidationException', 'NextToken is invalid: pass the token a previous ListSchedules returned');
}

/** A path label as the SDK encodes it (percent-encoding, `/` included). */
function decodeLabel(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new SchedulerApiError('ValidationException', `The schedule name in the path is not valid percent-encoding: ${raw}`);
  }
}

function parseJson(body: string): unknown {
  if (body.trim() === '') return {};
  try {
    return JSON.parse(body) as unknown;
  } catch {
    throw new SchedulerApiError('ValidationException', 'The request body is not valid JSON');
  }
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Keep reading (so the connection stays usable) but stop keeping.
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  if (size > MAX_BODY_BYTES) {
    throw new SchedulerApiError('ValidationException', `The request body exceeds ${MAX_BODY_BYTES} bytes`);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(
  response: ServerResponse,
  status: number,
  payload: unknown,
  requestId: string,
  errorType?: SchedulerErrorType,
): void {
  const text = JSON.stringify(payload);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': requestId,
    ...(errorType && { 'x-amzn-errortype': errorType }),
  });
  response.end(text);
}
