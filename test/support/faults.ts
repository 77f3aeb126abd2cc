/**
 * Fault injection for the pipeline harness: a programmable injector that
 * fails a named call at a named point, wrappers that put it in front of the
 * ports (BackoffStore, RestartTimer, EventSink), a DynamoDB middleware that
 * puts it in front of the real dynalite, and fakes of Scheduler, SQS and
 * EventBridge that deliver what was armed and remember what the bus accepted.
 *
 * Two kinds of fault:
 *
 * - `error`: the call fails with the given error and the service handles it
 *   as it is written to (a caught timer failure, a released claim, …);
 * - `crash`: the process dies at that point. The call fails, and so does every
 *   later port or SDK call of the same invocation, so nothing the dying code
 *   would have done afterwards (a release, a mark, a log line) happens; the
 *   caller sees a failure whatever the service returned.
 *
 * `before` fails the call without its effect; `after` lets the effect happen
 * (the item is written, the schedule exists, the bus accepted the event) and
 * then fails, so the caller believes it did not happen.
 */
import { randomUUID } from 'node:crypto';
import { CreateScheduleCommand, type CreateScheduleCommandInput } from '@aws-sdk/client-scheduler';
import { SendMessageCommand, type SendMessageCommandInput } from '@aws-sdk/client-sqs';
import { PutEventsCommand, type PutEventsCommandInput, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { ContainerState, EventRecord } from '../../lib/core/index.ts';
import { parseRestartCallback, type RestartCallback } from '../../lib/adapters/scheduler/timer.ts';
import { BUS_DETAIL_TYPES, type BackoffStore, type BusMessage, type EventSink, type RestartTimer } from '../../lib/ports.ts';
import type { ServiceDeps } from '../../lib/services/deps.ts';
import { storeWith, type Harness } from './pipeline.ts';

/** Port calls and the SDK commands behind them. */
export const PORT_POINTS = ['store.get', 'store.getMany', 'store.put', 'store.listWaiting', 'timer.arm', 'timer.defer', 'sink.publish'] as const;
export const SDK_POINTS = ['GetItem', 'PutItem', 'Query', 'CreateSchedule', 'SendMessage', 'PutEvents'] as const;
export type FaultPoint = (typeof PORT_POINTS)[number] | (typeof SDK_POINTS)[number];
export type Phase = 'before' | 'after';
/** Which service invocation is running: an exit report, a timer callback, or a sync run. */
export type Activity = 'exit' | 'fire' | 'sync';

export interface InvocationContext {
  readonly activity: Activity;
  /** The restart the invocation is about (an exit's expected restart count, a callback's restart count). */
  readonly restart?: number;
}

export interface FaultRule {
  /** Shown in hit logs and summaries. */
  readonly label?: string;
  readonly point: FaultPoint;
  readonly phase: Phase;
  /** @default 'error' */
  readonly kind?: 'error' | 'crash';
  /** Only during this activity; any when omitted. */
  readonly activity?: Activity;
  /** Only the n-th call of `point` within one invocation (1-based); any when omitted. */
  readonly call?: number;
  /** Only invocations about these restart counts; any when omitted (a sync run has none). */
  readonly restarts?: readonly number[];
  /** Only calls whose arguments satisfy this. */
  readonly where?: (args: readonly unknown[]) => boolean;
  /**
   * Hits per (activity, restart) group. A sync run is about no one restart:
   * there the restart is read from the call where it can be (a write, a
   * publish), and calls that name none share one group. @default 1
   */
  readonly times?: number;
  /** Hit a matching call with this probability (seeded), instead of always. */
  readonly chance?: number;
  /**
   * For PutEvents only: answer with every entry failed (`FailedEntryCount`)
   * instead of throwing, as EventBridge does under throttling.
   */
  readonly failEntries?: boolean;
  /** @default an InjectedFault naming the rule */
  readonly error?: () => Error;
}

/** The error a fault raises unless its rule names another one. */
export class InjectedFault extends Error {
  override readonly name = 'InjectedFault';
}

export interface FaultHit {
  /** The rule's index in the injector's list. */
  readonly ruleIndex: number;
  readonly rule: string;
  readonly point: FaultPoint;
  readonly phase: Phase;
  readonly kind: 'error' | 'crash';
  readonly activity: Activity | undefined;
  readonly restart: number | undefined;
  readonly call: number;
}

export function ruleLabel(rule: FaultRule): string {
  return rule.label ?? `${rule.kind ?? 'error'} ${rule.phase} ${rule.point}${rule.call ? `#${rule.call}` : ''}${rule.activity ? ` in ${rule.activity}` : ''}`;
}

/** mulberry32: a small seeded generator, so a failing fault storm replays exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class FaultInjector {
  readonly hits: FaultHit[] = [];
  /** Off while the test inspects the outcome. */
  enabled = true;
  private context: InvocationContext | undefined;
  private calls = new Map<FaultPoint, number>();
  private groupHits = new Map<string, number>();
  private dead = false;
  private readonly random: () => number;

  constructor(
    private readonly rules: readonly FaultRule[],
    seed = 1,
  ) {
    this.random = seededRandom(seed);
  }

  /**
   * Runs one service invocation in `context`. Resolves with the invocation's
   * result, or `{ failed }` when it threw or its process was crashed.
   */
  async during<T>(context: InvocationContext, work: () => Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    this.context = context;
    this.calls = new Map();
    this.dead = false;
    try {
      const value = await work();
      if (this.dead) return { ok: false, error: new InjectedFault('the process crashed; its caller saw no answer') };
      return { ok: true, value };
    } catch (error) {
      return { ok: false, error };
    } finally {
      this.context = undefined;
      this.dead = false;
    }
  }

  /** Has the running invocation's process crashed? */
  get crashed(): boolean {
    return this.dead;
  }

  /** Numbers one call of `point` in the running invocation and applies `before` faults. */
  enter(point: FaultPoint, args: readonly unknown[]): number {
    const call = (this.calls.get(point) ?? 0) + 1;
    this.calls.set(point, call);
    this.check(point, 'before', call, args);
    return call;
  }

  /** Applies `after` faults: the call's effect has happened. */
  leave(point: FaultPoint, call: number, args: readonly unknown[]): void {
    this.check(point, 'after', call, args);
  }

  /** For PutEvents: should this call answer with every entry failed? */
  failsEntries(call: number, args: readonly unknown[]): boolean {
    return this.match('PutEvents', 'before', call, args, (rule) => rule.failEntries === true) !== undefined;
  }

  async around<T>(point: FaultPoint, args: readonly unknown[], action: () => Promise<T>): Promise<T> {
    const call = this.enter(point, args);
    const result = await action();
    this.leave(point, call, args);
    return result;
  }

  private check(point: FaultPoint, phase: Phase, call: number, args: readonly unknown[]): void {
    if (!this.enabled) return;
    if (this.dead) throw new InjectedFault(`${point}: the process already crashed`);
    const rule = this.match(point, phase, call, args, (candidate) => candidate.failEntries !== true);
    if (!rule) return;
    if (rule.kind === 'crash') this.dead = true;
    throw rule.error?.() ?? new InjectedFault(`injected: ${ruleLabel(rule)}`);
  }

  private match(point: FaultPoint, phase: Phase, call: number, args: readonly unknown[], accept: (rule: FaultRule) => boolean): FaultRule | undefined {
    if (!this.enabled || !this.context) return undefined;
    const { activity } = this.context;
    const restart = this.context.restart ?? restartInArgs(point, args);
    for (const [index, rule] of this.rules.entries()) {
      if (rule.point !== point || rule.phase !== phase || !accept(rule)) continue;
      if (rule.activity !== undefined && rule.activity !== activity) continue;
      if (rule.call !== undefined && rule.call !== call) continue;
      if (rule.restarts !== undefined && (restart === undefined || !rule.restarts.includes(restart))) continue;
      if (rule.where && !rule.where(args)) continue;
      const group = `${index}:${activity}:${restart ?? '*'}`;
      const used = this.groupHits.get(group) ?? 0;
      if (rule.chance === undefined && used >= (rule.times ?? 1)) continue;
      if (rule.chance !== undefined && this.random() >= rule.chance) continue;
      this.groupHits.set(group, used + 1);
      this.hits.push({ ruleIndex: index, rule: ruleLabel(rule), point, phase, kind: rule.kind ?? 'error', activity, restart, call });
      return rule;
    }
    return undefined;
  }
}

/** The restart a call is about, where its arguments say (a sync run recovers several). */
function restartInArgs(point: FaultPoint, args: readonly unknown[]): number | undefined {
  switch (point) {
    case 'store.put':
      return (args[0] as ContainerState).restart?.restartCount;
    case 'sink.publish':
      return (args[0] as readonly BusMessage[]).map((message) => message.detail.restartCount).find((count) => typeof count === 'number') as number | undefined;
    case 'PutItem': {
      const count = (args[0] as { Item?: Record<string, { M?: Record<string, { N?: string }> }> }).Item?.restart?.M?.restartCount?.N;
      return count === undefined ? undefined : Number(count);
    }
    case 'PutEvents': {
      const entry = ((args[0] as PutEventsCommandInput).Entries ?? []).find((candidate) => candidate.DetailType === BUS_DETAIL_TYPES.restartRequested);
      return entry ? (JSON.parse(entry.Detail ?? '{}') as { restartCount?: number }).restartCount : undefined;
    }
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------
// Port wrappers

export function faultyStore(store: BackoffStore, faults: FaultInjector): BackoffStore {
  return storeWith(store, {
    get: (key) => faults.around('store.get', [key], () => store.get(key)),
    getMany: (keys) => faults.around('store.getMany', [keys], () => store.getMany(keys)),
    put: (state, expectedVersion) => faults.around('store.put', [state, expectedVersion], () => store.put(state, expectedVersion)),
    listWaiting: (shard, options) => faults.around('store.listWaiting', [shard, options], () => store.listWaiting(shard, options)),
  });
}

export function faultyTimer(timer: RestartTimer, faults: FaultInjector): RestartTimer {
  return {
    arm: (ref, now) => faults.around('timer.arm', [ref, now], () => timer.arm(ref, now)),
    defer: (ref, now) => faults.around('timer.defer', [ref, now], () => timer.defer(ref, now)),
  };
}

export function faultySink(sink: EventSink, faults: FaultInjector): EventSink {
  return {
    // A crashed process writes no more log lines.
    record: (events: readonly EventRecord[]) => {
      if (!faults.crashed) sink.record(events);
    },
    publish: (messages: readonly BusMessage[]) => faults.around('sink.publish', [messages], () => sink.publish(messages)),
    metric: (name, value) => {
      if (!faults.crashed) sink.metric(name, value);
    },
  };
}

/** The harness's services, with every port behind the injector. */
export function withFaults(deps: ServiceDeps, faults: FaultInjector): ServiceDeps {
  return { ...deps, store: faultyStore(deps.store, faults), timer: faultyTimer(deps.timer, faults), sink: faultySink(deps.sink, faults) };
}

/** `where` for sink.publish: only a publish that carries a restart request. */
export function publishesRestart(args: readonly unknown[]): boolean {
  return (args[0] as readonly BusMessage[]).some((message) => message.detailType === BUS_DETAIL_TYPES.restartRequested);
}

/** `where` for store.put: only the write that marks a restart dispatched. */
export function marksDispatched(args: readonly unknown[]): boolean {
  return (args[0] as ContainerState).restart?.status === 'dispatched';
}

/** `where` for store.put: only a dispatch claim. */
export function claimsDispatch(args: readonly unknown[]): boolean {
  return (args[0] as ContainerState).restart?.status === 'dispatching';
}

/** `where` for PutEvents: only a call that carries a restart request. */
export function putsRestartEvent(args: readonly unknown[]): boolean {
  return ((args[0] as PutEventsCommandInput).Entries ?? []).some((entry) => entry.DetailType === BUS_DETAIL_TYPES.restartRequested);
}

/** `where` for PutItem: only the write that marks a restart dispatched (`restart.status` = dispatched). */
export function putItemMarksDispatched(args: readonly unknown[]): boolean {
  const item = (args[0] as { Item?: Record<string, { M?: Record<string, { S?: string }> }> }).Item;
  return item?.restart?.M?.status?.S === 'dispatched';
}

// ---------------------------------------------------------------------------
// DynamoDB: the real dynalite, with faults in front of it

/**
 * Puts the injector in front of GetItem, PutItem and Query on `tableName`.
 * Added at the initialize step, outside the SDK's own retries: a fault is a
 * failure that survived them. Returns the function that removes it.
 */
export function injectDynamoFaults(client: DynamoDBClient, tableName: string, faults: FaultInjector): () => void {
  const name = `faults-${randomUUID()}`;
  const points = new Map<string, FaultPoint>([
    ['GetItemCommand', 'GetItem'],
    ['PutItemCommand', 'PutItem'],
    ['QueryCommand', 'Query'],
  ]);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const point = points.get(String(context.commandName));
      const input = args.input as { TableName?: string };
      if (!point || input.TableName !== tableName) return next(args);
      return faults.around(point, [args.input], () => next(args));
    },
    { step: 'initialize', name },
  );
  return () => void client.middlewareStack.remove(name);
}

// ---------------------------------------------------------------------------
// Scheduler, SQS and EventBridge: fakes that deliver what was armed

/** One delivery of a timer's payload to the restart handler. */
export interface TimerDelivery {
  readonly at: number;
  readonly callback: RestartCallback;
  readonly via: 'schedule' | 'queue';
  /** 0 for the original, 1 for the at-least-once duplicate. */
  readonly copy: number;
}

export interface BusEntry {
  readonly detailType: string;
  readonly detail: Record<string, unknown>;
  /** Clock time the bus accepted it. */
  readonly acceptedAt: number;
}

export interface SimulatedCloudOptions {
  /** Deliver every armed timer twice (at-least-once), the copy this long after the original. */
  readonly duplicateAfterMs?: number;
  /** Where in its minute a schedule fires (Scheduler fires anywhere in the minute of its `at()`). */
  readonly scheduleSpreadMs?: (name: string) => number;
}

/** `at(yyyy-mm-ddThh:mm:ss)` in UTC → epoch ms. */
export function parseAtExpression(expression: string): number {
  const match = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (!match) throw new Error(`not an at() expression: ${expression}`);
  return Date.parse(`${match[1]}Z`);
}

/**
 * Replaces the harness's canned Scheduler, SQS and EventBridge answers with
 * fakes that go through the injector and record their effects: armed timers
 * become deliveries (`onDelivery`), accepted entries go on `bus` — what the
 * bus really accepted, even when the caller was told it failed.
 */
export class SimulatedCloud {
  readonly bus: BusEntry[] = [];

  constructor(
    private readonly h: Harness,
    private readonly faults: FaultInjector,
    private readonly onDelivery: (delivery: TimerDelivery) => void,
    private readonly options: SimulatedCloudOptions = {},
  ) {
    h.scheduler.on(CreateScheduleCommand).callsFake((input: CreateScheduleCommandInput) => this.createSchedule(input));
    h.sqs.on(SendMessageCommand).callsFake((input: SendMessageCommandInput) => this.sendMessage(input));
    h.eventBridge.on(PutEventsCommand).callsFake((input: PutEventsCommandInput) => this.putEvents(input));
  }

  /** `Container Restart Requested` details the bus accepted, in order. */
  restartRequests(): BusEntry[] {
    return this.bus.filter((entry) => entry.detailType === BUS_DETAIL_TYPES.restartRequested);
  }

  private async createSchedule(input: CreateScheduleCommandInput) {
    return this.faults.around('CreateSchedule', [input], async () => {
      const name = input.Name ?? '';
      const instant = parseAtExpression(input.ScheduleExpression ?? '');
      const firesAt = instant + (this.options.scheduleSpreadMs?.(name) ?? 0);
      this.deliver(firesAt, parseRestartCallback(input.Target?.Input ?? ''), 'schedule');
      return { ScheduleArn: `arn:aws:scheduler:us-east-1:123456789012:schedule/${input.GroupName}/${name}` };
    });
  }

  private async sendMessage(input: SendMessageCommandInput) {
    return this.faults.around('SendMessage', [input], async () => {
      const visibleAt = this.h.clock.now() + (input.DelaySeconds ?? 0) * 1_000;
      this.deliver(visibleAt, parseRestartCallback(input.MessageBody ?? ''), 'queue');
      return { MessageId: randomUUID() };
    });
  }

  private async putEvents(input: PutEventsCommandInput) {
    const args = [input];
    const call = this.faults.enter('PutEvents', args);
    const entries: PutEventsRequestEntry[] = input.Entries ?? [];
    if (this.faults.failsEntries(call, args)) {
      return {
        FailedEntryCount: entries.length,
        Entries: entries.map(() => ({ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' })),
      };
    }
    const acceptedAt = this.h.clock.now();
    for (const entry of entries) {
      this.bus.push({ detailType: entry.DetailType ?? '', detail: JSON.parse(entry.Detail ?? '{}') as Record<string, unknown>, acceptedAt });
    }
    this.faults.leave('PutEvents', call, args);
    return { FailedEntryCount: 0, Entries: entries.map(() => ({ EventId: randomUUID() })) };
  }

  private deliver(at: number, callback: RestartCallback, via: TimerDelivery['via']): void {
    this.onDelivery({ at, callback, via, copy: 0 });
    if (this.options.duplicateAfterMs !== undefined) this.onDelivery({ at: at + this.options.duplicateAfterMs, callback, via, copy: 1 });
  }
}
