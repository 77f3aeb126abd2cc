import { describe, expect, it } from 'vitest';
import {
  ASSUMPTIONS,
  buildCostModel,
  invocationItems,
  line,
  modelledDurationMs,
  naiveScanVsSync,
  perMillion,
  PRICES,
  scanReadUnits,
  sleepingLambdaUsd,
  total,
  type InvocationShape,
  type MeasuredOperations,
} from '../../scripts/bench/cost.ts';

const invocation = (overrides: Partial<InvocationShape> = {}): InvocationShape & { itemBytes: number } => ({
  calls: { GetItem: 1, PutItem: 1, SendMessage: 1 },
  rru: 1,
  wru: 3,
  durationMs: { p50: 4.2 },
  logBytes: 600,
  busEntries: 0,
  itemBytes: 700,
  ...overrides,
});

describe('prices', () => {
  it('are per unit, from the us-east-1 list (per million where AWS quotes per million)', () => {
    expect(PRICES.lambdaRequest.usd * 1e6).toBeCloseTo(0.2, 10);
    expect(PRICES.dynamoWriteUnit.usd * 1e6).toBeCloseTo(0.625, 10);
    expect(PRICES.dynamoReadUnit.usd * 1e6).toBeCloseTo(0.125, 10);
    expect(PRICES.sqsRequest.usd * 1e6).toBeCloseTo(0.4, 10);
    for (const [key, price] of Object.entries(PRICES)) {
      if (key === 'checked') continue;
      expect((price as { source: string }).source).toMatch(/^https:\/\/aws\.amazon\.com\//);
    }
  });
});

describe('line and total', () => {
  it('multiply quantity by unit price and add up', () => {
    const items = [line('writes', 4, 'dynamoWriteUnit'), line('reads', 1, 'dynamoReadUnit')];
    expect(items[0]!.usd).toBeCloseTo(4 * 0.625e-6, 15);
    expect(total(items)).toBeCloseTo(4 * 0.625e-6 + 0.125e-6, 15);
    expect(perMillion(items)).toBeCloseTo(2.625, 9);
  });
});

describe('modelledDurationMs', () => {
  it('adds one assumed round trip per call to the measured time and rounds up to the millisecond', () => {
    const latency = ASSUMPTIONS.callLatencyMs;
    expect(modelledDurationMs(invocation())).toBe(Math.ceil(4.2 + latency.GetItem! + latency.PutItem! + latency.SendMessage!));
    expect(modelledDurationMs(invocation({ calls: {}, durationMs: { p50: 0.1 } }))).toBe(1);
  });
});

describe('invocationItems', () => {
  it('prices the invocation, its GB-seconds, request units, outbound calls and logs', () => {
    const items = invocationItems('exit', invocation());
    const byPrice = (key: string) => items.filter((item) => item.price === key);
    expect(byPrice('lambdaRequest')[0]!.quantity).toBe(1);
    const seconds = modelledDurationMs(invocation()) / 1_000;
    expect(byPrice('lambdaArmGbSecond')[0]!.quantity).toBeCloseTo(seconds * (ASSUMPTIONS.lambdaMemoryMb / 1_024), 12);
    expect(byPrice('dynamoReadUnit')[0]!.quantity).toBe(1);
    expect(byPrice('dynamoWriteUnit')[0]!.quantity).toBe(3);
    expect(byPrice('sqsRequest')[0]!.quantity).toBe(1);
    expect(byPrice('eventBridgeEvent')).toHaveLength(0);
    expect(byPrice('logsIngestedGb')[0]!.quantity).toBeCloseTo((600 + ASSUMPTIONS.platformLogBytes) / 1e9, 15);
  });

  it('shares the invocation, its duration and platform logs among the events of one request', () => {
    const whole = invocationItems('exit', invocation());
    const shared = invocationItems('exit', invocation(), { invocationShare: 0.01 });
    const quantity = (items: typeof whole, key: string) => items.find((item) => item.price === key)!.quantity;
    expect(quantity(shared, 'lambdaRequest')).toBe(0.01);
    expect(quantity(shared, 'lambdaArmGbSecond')).toBeCloseTo(quantity(whole, 'lambdaArmGbSecond') / 100, 15);
    // The request units are per event, not shared.
    expect(quantity(shared, 'dynamoWriteUnit')).toBe(3);
  });
});

describe('the naive design', () => {
  it('sleeping out a back-off costs its GB-seconds', () => {
    expect(sleepingLambdaUsd(300, 128)).toBeCloseTo(0.2e-6 + 300 * 0.125 * 0.0000133334, 12);
  });

  it('a scan reads every item, half a unit per 4 KB', () => {
    expect(scanReadUnits(100_000, 800)).toBe(Math.ceil((100_000 * 800) / 4_096) * 0.5);
  });

  it('a scan every minute for a month against the sync reads', () => {
    const comparison = naiveScanVsSync(100_000, 800, 24);
    expect(comparison.scansPerMonth).toBe(43_200);
    expect(comparison.scanUsdPerMonth).toBeCloseTo(scanReadUnits(100_000, 800) * 43_200 * 0.125e-6, 9);
    expect(comparison.syncUsdPerMonth).toBeCloseTo(24 * 43_200 * 0.125e-6, 12);
  });
});

describe('buildCostModel', () => {
  const shapes: MeasuredOperations = {
    second: {
      'exit: restart now': invocation({ calls: { GetItem: 1, PutItem: 2, PutEvents: 1 }, wru: 4, busEntries: 1 }),
      'exit: long back-off': invocation({ calls: { GetItem: 1, PutItem: 1, CreateSchedule: 1, PutEvents: 1 }, wru: 4, busEntries: 1 }),
      'restart: early callback': invocation({ calls: { GetItem: 1, SendMessage: 1 }, wru: 0 }),
      'restart: dispatch': invocation({ calls: { GetItem: 1, PutItem: 2, PutEvents: 1 }, wru: 4, busEntries: 1 }),
      sync: invocation({ calls: { Query: 64 }, rru: 32, wru: 0, busEntries: 0, logBytes: 500, durationMs: { p50: 20 } }),
    },
    minute: {
      'exit: long back-off': invocation({ calls: { GetItem: 1, PutItem: 1, CreateSchedule: 1 }, wru: 4 }),
      'restart: dispatch': invocation({ calls: { GetItem: 1, PutItem: 2, PutEvents: 1 }, wru: 4, busEntries: 1 }),
      'restart: dispatch (schedule)': invocation({ calls: { GetItem: 1, PutItem: 2, PutEvents: 1 }, wru: 6, busEntries: 1 }),
    },
  };
  const model = buildCostModel(shapes);

  it('prices a hundred events per request below one per request', () => {
    expect(model.exitEvent.second.batch100.usdPerMillion).toBeLessThan(model.exitEvent.second.batch1.usdPerMillion);
  });

  it('makes minute precision cheaper than second precision (no early callback, no fine stage)', () => {
    expect(model.restart.minute.usdPerMillion).toBeLessThan(model.restart.second.usdPerMillion);
  });

  it('prices a short back-off as the fine stage and its dispatch at either precision (no schedule)', () => {
    for (const precision of ['second', 'minute'] as const) {
      const items = model.shortRestart[precision].items.map((item) => item.item);
      expect(items[0]).toBe('fine stage: SQS ReceiveMessage + DeleteMessageBatch');
      expect(items.some((item) => item.includes('Scheduler'))).toBe(false);
    }
    expect(model.shortRestart.minute.usdPerMillion).toBeCloseTo(model.shortRestart.second.usdPerMillion, 9);
  });

  it('prices an immediate restart as the exit’s one request and invocation: no fine stage, no second invocation', () => {
    const items = model.immediateRestart.items.map((item) => item.item);
    expect(items[0]).toBe('API Gateway HTTP API request');
    expect(items.some((item) => item.includes('SQS') || item.startsWith('restart handler'))).toBe(false);
    expect(model.immediateRestart.items.filter((item) => item.item.endsWith('Lambda invocation')).map((item) => item.quantity)).toEqual([1]);
  });

  it('charges a wait’s BackOff to the exit that starts it, and nothing to the restart while it waits', () => {
    expect(model.exitEvent.second.batch1.items.find((item) => item.item === 'exit handler: EventBridge events')?.quantity).toBe(1);
    expect(model.restart.second.items.some((item) => item.item.startsWith('sync'))).toBe(false);
  });

  it('prices a day of 100,000 containers in CrashLoopBackOff: one BackOff per sync run before, one per wait after', () => {
    const day = model.crashLoopDay;
    expect(day.waitsPerDay).toBe(28_800_000);
    expect(day.before.busEvents).toBe(144_000_000);
    expect(day.before.busUsd).toBeCloseTo(144, 9);
    expect(day.after).toMatchObject({ busEntriesPerWait: 1, repeatsPerWait: 0, busEvents: 28_800_000 });
    expect(day.after.busUsd).toBeCloseTo(28.8, 9);
    // 100,000 keys-only entries of 100 B: 2,442 units of 4 KB, half price, every minute.
    expect(day.after.censusRruPerRun).toBe(1_221);
    expect(day.after.logUsd).toBeCloseTo(((28_800_000 * ASSUMPTIONS.backOffLogLineBytes) / 1e9) * 0.5, 9);
    expect(day.after.totalUsd).toBeCloseTo(28.8 + day.after.logUsd + (1_221 * 1_440 * 0.125) / 1e6, 9);
    expect(day.before.totalUsd).toBeGreaterThan(5 * day.after.totalUsd);
  });

  it('is the sum of its line items', () => {
    for (const breakdown of [model.restart.second, model.restart.minute, model.exitEvent.minute.batch1, model.immediateRestart]) {
      expect(breakdown.usdPerMillion).toBeCloseTo(breakdown.items.reduce((sum, item) => sum + item.usd, 0) * 1e6, 9);
    }
  });

  it('costs a sleeping Lambda per restart far more than a restart here', () => {
    expect(model.naive.sleepingLambdaPerMillionRestarts['128']).toBeGreaterThan(10 * model.restart.second.usdPerMillion);
  });

  it('names a missing measurement', () => {
    expect(() => buildCostModel({ second: {}, minute: {} })).toThrow(/no measurement of "sync"/);
  });
});
