/**
 * The cost model (docs/COST.md): dollars per million exit events and per
 * million restarts on AWS, from the calls, request units, handler durations
 * and log bytes measured per invocation (calls.ts), at us-east-1 list prices.
 * Pure arithmetic; every figure is a line item a reader can check.
 */
import { DEFAULT_BACKOFF_EVENT_INTERVAL_MS } from '../../lib/core/index.ts';

export interface Price {
  /** Dollars per unit. */
  readonly usd: number;
  /** The unit, as the line items name it. */
  readonly per: string;
  /** The price as the pricing page quotes it. */
  readonly quoted: string;
  readonly source: string;
}

/** us-east-1 list prices (free tiers left out), as published on the pages named. */
export const PRICES = {
  checked: '2026-11-27',
  lambdaRequest: { usd: 0.2 / 1e6, per: 'request', quoted: '$0.20 per 1M requests', source: 'https://aws.amazon.com/lambda/pricing/' },
  lambdaArmGbSecond: { usd: 0.0000133334, per: 'GB-second', quoted: '$0.0000133334 per GB-second (Arm, first 7.5 billion GB-s a month)', source: 'https://aws.amazon.com/lambda/pricing/' },
  dynamoWriteUnit: { usd: 0.625 / 1e6, per: 'WRU', quoted: '$0.625 per 1M write request units (on-demand)', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  dynamoReadUnit: { usd: 0.125 / 1e6, per: 'RRU', quoted: '$0.125 per 1M read request units (on-demand)', source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/' },
  schedulerInvocation: { usd: 1.0 / 1e6, per: 'invocation', quoted: '$1.00 per 1M scheduled invocations (after 14M free a month)', source: 'https://aws.amazon.com/eventbridge/pricing/' },
  eventBridgeEvent: { usd: 1.0 / 1e6, per: 'event', quoted: '$1.00 per 1M custom events published (64 KB chunks)', source: 'https://aws.amazon.com/eventbridge/pricing/' },
  sqsRequest: { usd: 0.4 / 1e6, per: 'request', quoted: '$0.40 per 1M standard-queue requests (64 KB chunks; first 1M a month free)', source: 'https://aws.amazon.com/sqs/pricing/' },
  logsIngestedGb: { usd: 0.5, per: 'GB', quoted: '$0.50 per GB ingested (Standard log class; the first tier of Lambda logs)', source: 'https://aws.amazon.com/cloudwatch/pricing/' },
  apiHttpRequest: { usd: 1.0 / 1e6, per: 'request', quoted: '$1.00 per 1M HTTP API requests (first 300M a month; 512 KB chunks)', source: 'https://aws.amazon.com/api-gateway/pricing/' },
} as const;

export type PriceKey = Exclude<keyof typeof PRICES, 'checked'>;

/** What the model assumes where nothing was measured; each is stated in COST.md. */
export const ASSUMPTIONS = {
  /** The stack's handler memory (lib/infra/handlers.ts), Arm. */
  lambdaMemoryMb: 512,
  /** Round trip added to the measured local handler time per AWS call, ms. */
  callLatencyMs: { GetItem: 5, PutItem: 6, DeleteItem: 6, Query: 6, CreateSchedule: 20, SendMessage: 10, PutEvents: 15 } as Record<string, number>,
  /** Lambda's own lines per invocation (JSON format: platform.start and platform.report), bytes. */
  platformLogBytes: 400,
  /** SQS requests per fine-stage message besides SendMessage: the event source's ReceiveMessage and DeleteMessageBatch, batches of one. */
  sqsConsumerRequestsPerMessage: 2,
  /** The sync runs every minute. */
  syncPeriodSeconds: 60,
  /**
   * Bytes of one keys-only entry of the state index as the count of
   * containers in CrashLoopBackOff reads it: the key (about 40 bytes), its
   * `{state}#{shard}` partition and the namespace, with their attribute names.
   */
  stateIndexEntryBytes: 100,
  /** Bytes of one BackOff record's log line (the event record and Powertools' fields): about 520 measured before `count` and the timestamps were added. */
  backOffLogLineBytes: 600,
  /** A month for the fixed costs. */
  secondsPerMonth: 30 * 24 * 3_600,
} as const;

export interface LineItem {
  readonly item: string;
  /** Units per operation. */
  readonly quantity: number;
  readonly price: PriceKey;
  /** quantity × unit price, dollars per operation. */
  readonly usd: number;
}

export function line(item: string, quantity: number, price: PriceKey): LineItem {
  return { item, quantity, price, usd: quantity * PRICES[price].usd };
}

/** The measured shape of one handler invocation (a subset of calls.ts's OperationMeasure). */
export interface InvocationShape {
  readonly calls: Readonly<Record<string, number>>;
  readonly rru: number;
  readonly wru: number;
  readonly durationMs: { readonly p50: number };
  readonly logBytes: number;
  readonly busEntries: number;
}

/** Billed Lambda duration on AWS: the measured local time plus the round trips of its calls, rounded up to the ms. */
export function modelledDurationMs(invocation: InvocationShape): number {
  let network = 0;
  for (const [call, count] of Object.entries(invocation.calls)) network += count * (ASSUMPTIONS.callLatencyMs[call] ?? 10);
  return Math.ceil(invocation.durationMs.p50 + network);
}

/**
 * The line items of one invocation of a handler: the invocation, its duration,
 * its DynamoDB units, its outbound calls, its logs. `share` scales the
 * invocation itself (e.g. 1/100 when 100 exits share one API request).
 */
export function invocationItems(label: string, invocation: InvocationShape, options: { invocationShare?: number } = {}): LineItem[] {
  const share = options.invocationShare ?? 1;
  const gbSeconds = (modelledDurationMs(invocation) / 1_000) * (ASSUMPTIONS.lambdaMemoryMb / 1_024);
  const items = [
    line(`${label}: Lambda invocation`, share, 'lambdaRequest'),
    line(`${label}: Lambda duration (${modelledDurationMs(invocation)} ms × ${ASSUMPTIONS.lambdaMemoryMb} MB)`, gbSeconds * share, 'lambdaArmGbSecond'),
    line(`${label}: DynamoDB reads`, invocation.rru, 'dynamoReadUnit'),
    line(`${label}: DynamoDB writes (table + indexes)`, invocation.wru, 'dynamoWriteUnit'),
  ];
  const sends = invocation.calls.SendMessage ?? 0;
  if (sends > 0) items.push(line(`${label}: SQS SendMessage`, sends, 'sqsRequest'));
  if (invocation.busEntries > 0) items.push(line(`${label}: EventBridge events`, invocation.busEntries, 'eventBridgeEvent'));
  const logBytes = invocation.logBytes + ASSUMPTIONS.platformLogBytes * share;
  items.push(line(`${label}: CloudWatch Logs (${Math.round(logBytes)} B)`, logBytes / 1e9, 'logsIngestedGb'));
  return items;
}

export function total(items: readonly LineItem[]): number {
  return items.reduce((sum, item) => sum + item.usd, 0);
}

/** Dollars per million operations. */
export function perMillion(items: readonly LineItem[]): number {
  return total(items) * 1e6;
}

/** Lambda cost of one invocation that sleeps `seconds` at `memoryMb` (the naive timer). */
export function sleepingLambdaUsd(seconds: number, memoryMb: number): number {
  return PRICES.lambdaRequest.usd + seconds * (memoryMb / 1_024) * PRICES.lambdaArmGbSecond.usd;
}

/** RRUs of one eventually consistent scan over `items` items of `itemBytes` each (4 KB units, half price). */
export function scanReadUnits(items: number, itemBytes: number): number {
  return Math.ceil((items * itemBytes) / 4_096) * 0.5;
}

export interface NaiveComparison {
  readonly containers: number;
  readonly itemBytes: number;
  readonly scanRruPerRun: number;
  readonly scansPerMonth: number;
  readonly scanUsdPerMonth: number;
  readonly syncRruPerRun: number;
  readonly syncUsdPerMonth: number;
}

/** A table scan every minute over `containers` items against the sparse-index sync's reads for `waiting` of them. */
export function naiveScanVsSync(containers: number, itemBytes: number, syncRruPerRun: number): NaiveComparison {
  const runs = ASSUMPTIONS.secondsPerMonth / ASSUMPTIONS.syncPeriodSeconds;
  const scanRruPerRun = scanReadUnits(containers, itemBytes);
  return {
    containers,
    itemBytes,
    scanRruPerRun,
    scansPerMonth: runs,
    scanUsdPerMonth: scanRruPerRun * runs * PRICES.dynamoReadUnit.usd,
    syncRruPerRun,
    syncUsdPerMonth: syncRruPerRun * runs * PRICES.dynamoReadUnit.usd,
  };
}

// ---------------------------------------------------------------------------
// Scenarios

/** The measured invocations by name, per precision (calls.ts `operations`). */
export type MeasuredOperations = Readonly<Record<'second' | 'minute', Readonly<Record<string, InvocationShape & { readonly itemBytes: number }>>>>;

export interface Breakdown {
  readonly name: string;
  readonly items: readonly LineItem[];
  readonly usdPerMillion: number;
}

function breakdown(name: string, items: LineItem[]): Breakdown {
  return { name, items, usdPerMillion: perMillion(items) };
}

function measured(operations: MeasuredOperations, precision: 'second' | 'minute', name: string): InvocationShape & { readonly itemBytes: number } {
  const found = operations[precision][name];
  if (!found) throw new Error(`no measurement of "${name}" at ${precision} precision`);
  return found;
}

/**
 * A day of a mass crash loop: `containers` crash-looping at the kubelet cap,
 * each crashing as soon as it starts, so each waits out one 300 s back-off
 * after another — what BackOff reporting costs before and after the event
 * correlation, and what finding the containers in CrashLoopBackOff costs.
 */
export interface CrashLoopDay {
  readonly containers: number;
  readonly waitSeconds: number;
  readonly waitsPerDay: number;
  readonly syncRunsPerDay: number;
  /** The previous design: one BackOff event per waiting container per sync run, and every waiting item read on every run. */
  readonly before: {
    readonly busEvents: number;
    readonly busUsd: number;
    readonly logUsd: number;
    readonly itemBytes: number;
    readonly readRruPerRun: number;
    readonly readUsd: number;
    readonly totalUsd: number;
  };
  readonly after: {
    /** Bus entries each wait's exit publishes (measured: the `Container CrashLoopBackOff` beside the schedule). */
    readonly busEntriesPerWait: number;
    readonly busEvents: number;
    readonly busUsd: number;
    /** Repeats: none, since no wait at the cap outlasts the 5-minute interval. */
    readonly repeatsPerWait: number;
    /** The count of containers in CrashLoopBackOff on every sync run: keys-only entries of the state index. */
    readonly censusRruPerRun: number;
    readonly censusUsd: number;
    readonly logUsd: number;
    readonly totalUsd: number;
  };
}

/** The interval of BackOff repeats by default, seconds. */
export const BACKOFF_EVENT_INTERVAL_SECONDS = DEFAULT_BACKOFF_EVENT_INTERVAL_MS / 1_000;

export function crashLoopDay(containers: number, busEntriesPerWait: number, itemBytes: number): CrashLoopDay {
  const day = 86_400;
  const syncRunsPerDay = day / ASSUMPTIONS.syncPeriodSeconds;
  const waitSeconds = CAP_BACKOFF_SECONDS;
  const waitsPerDay = (containers * day) / waitSeconds;
  const repeatsPerWait = Math.max(0, Math.ceil(waitSeconds / BACKOFF_EVENT_INTERVAL_SECONDS) - 1);
  const beforeEvents = containers * syncRunsPerDay;
  const afterEvents = waitsPerDay * (busEntriesPerWait + repeatsPerWait);
  const censusRruPerRun = scanReadUnits(containers, ASSUMPTIONS.stateIndexEntryBytes);
  const censusUsd = censusRruPerRun * syncRunsPerDay * PRICES.dynamoReadUnit.usd;
  const busUsd = afterEvents * PRICES.eventBridgeEvent.usd;
  const beforeBusUsd = beforeEvents * PRICES.eventBridgeEvent.usd;
  const readRruPerRun = scanReadUnits(containers, itemBytes);
  const readUsd = readRruPerRun * syncRunsPerDay * PRICES.dynamoReadUnit.usd;
  const logUsd = (records: number) => ((records * ASSUMPTIONS.backOffLogLineBytes) / 1e9) * PRICES.logsIngestedGb.usd;
  return {
    containers,
    waitSeconds,
    waitsPerDay,
    syncRunsPerDay,
    before: { busEvents: beforeEvents, busUsd: beforeBusUsd, logUsd: logUsd(beforeEvents), itemBytes, readRruPerRun, readUsd, totalUsd: beforeBusUsd + logUsd(beforeEvents) + readUsd },
    after: { busEntriesPerWait, busEvents: afterEvents, busUsd, repeatsPerWait, censusRruPerRun, censusUsd, logUsd: logUsd(afterEvents), totalUsd: busUsd + logUsd(afterEvents) + censusUsd },
  };
}

export interface CostModel {
  /** Per exit event at the kubelet cap (a long back-off: the schedule, and the wait's BackOff on the bus), one event per API request and 100. */
  readonly exitEvent: Record<'second' | 'minute', { readonly batch1: Breakdown; readonly batch100: Breakdown }>;
  /** Per restart after a long back-off (300 s, the kubelet cap). */
  readonly restart: Record<'second' | 'minute', Breakdown>;
  /** Per restart after a short back-off (the fine stage, at either precision). */
  readonly shortRestart: Record<'second' | 'minute', Breakdown>;
  /** Per exit event whose restart goes out at once: the exit's own invocation writes it claimed, publishes it and marks it (one per request). */
  readonly immediateRestart: Breakdown;
  /** The sync's fixed cost per month: its invocation, time and range queries, whatever waits. */
  readonly syncFixedUsdPerMonth: number;
  /** 100,000 containers in CrashLoopBackOff for a day. */
  readonly crashLoopDay: CrashLoopDay;
  readonly naive: {
    readonly scan: NaiveComparison;
    /** One Lambda sleeping out the back-off per restart. */
    readonly sleepingLambdaPerMillionRestarts: Record<'128' | '512', number>;
    readonly backoffSeconds: number;
  };
}

/** Restarts at the kubelet cap wait this long. */
export const CAP_BACKOFF_SECONDS = 300;

export function buildCostModel(operations: MeasuredOperations): CostModel {
  const api = (share: number): LineItem => line('API Gateway HTTP API request', share, 'apiHttpRequest');
  const consumer = (label: string) => line(`${label}: SQS ReceiveMessage + DeleteMessageBatch`, ASSUMPTIONS.sqsConsumerRequestsPerMessage, 'sqsRequest');
  const scheduled = line('EventBridge Scheduler invocation', 1, 'schedulerInvocation');

  const exitEvent = {} as CostModel['exitEvent'];
  const restart = {} as CostModel['restart'];
  const shortRestart = {} as CostModel['shortRestart'];

  // The sync reads nothing of a container that waits: its cost is a fixed one (below).
  const syncRun = measured(operations, 'second', 'sync');

  for (const precision of ['second', 'minute'] as const) {
    const longExit = measured(operations, precision, 'exit: long back-off');
    exitEvent[precision] = {
      batch1: breakdown('exit event, one per request', [api(1), ...invocationItems('exit handler', longExit)]),
      batch100: breakdown('exit event, 100 per request', [api(0.01), ...invocationItems('exit handler', longExit, { invocationShare: 0.01 })]),
    };
    if (precision === 'second') {
      const early = measured(operations, precision, 'restart: early callback');
      const dispatch = measured(operations, precision, 'restart: dispatch');
      restart[precision] = breakdown('restart after 300 s, second precision', [
        scheduled,
        ...invocationItems('restart handler, early callback (hands over to the fine stage)', early),
        consumer('fine stage'),
        ...invocationItems('restart handler, dispatch', dispatch),
      ]);
    } else {
      const dispatch = measured(operations, precision, 'restart: dispatch (schedule)');
      restart[precision] = breakdown('restart after 300 s, minute precision', [scheduled, ...invocationItems('restart handler, dispatch', dispatch)]);
    }
    // A short back-off takes the fine stage with either precision.
    shortRestart[precision] = breakdown(`restart after a short back-off, ${precision} precision`, [
      consumer('fine stage'),
      ...invocationItems('restart handler, dispatch', measured(operations, precision, 'restart: dispatch')),
    ]);
  }
  // No fine stage and no second invocation: the exit's handling dispatches it.
  const immediateRestart = breakdown('exit event with an immediate restart, one per request', [api(1), ...invocationItems('exit handler, restart now', measured(operations, 'second', 'exit: restart now'))]);

  // The sync's fixed part: its invocation, duration and its range queries, every minute.
  const runsPerMonth = ASSUMPTIONS.secondsPerMonth / ASSUMPTIONS.syncPeriodSeconds;
  const queries = syncRun.calls.Query ?? 0;
  const fixedPerRun = [
    line('sync: Lambda invocation', 1, 'lambdaRequest'),
    line('sync: Lambda duration', (modelledDurationMs({ ...syncRun, calls: { Query: queries } }) / 1_000) * (ASSUMPTIONS.lambdaMemoryMb / 1_024), 'lambdaArmGbSecond'),
    line('sync: index queries (minimum half unit each)', queries * 0.5, 'dynamoReadUnit'),
  ];
  const syncFixedUsdPerMonth = total(fixedPerRun) * runsPerMonth;

  const itemBytes = measured(operations, 'second', 'restart: dispatch').itemBytes;
  return {
    exitEvent,
    restart,
    shortRestart,
    immediateRestart,
    syncFixedUsdPerMonth,
    crashLoopDay: crashLoopDay(100_000, measured(operations, 'second', 'exit: long back-off').busEntries, itemBytes),
    naive: {
      scan: naiveScanVsSync(100_000, itemBytes, syncRun.rru),
      sleepingLambdaPerMillionRestarts: { '128': sleepingLambdaUsd(CAP_BACKOFF_SECONDS, 128) * 1e6, '512': sleepingLambdaUsd(CAP_BACKOFF_SECONDS, 512) * 1e6 },
      backoffSeconds: CAP_BACKOFF_SECONDS,
    },
  };
}
