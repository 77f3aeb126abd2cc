import { describe, expect, it } from 'vitest';
import {
  ASSUMPTIONS,
  buildCostModel,
  CAP_BACKOFF_SECONDS,
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
      'exit: long back-off': invocation({ calls: { GetItem: 1, PutItem: 1, CreateSchedule: 1 }, wru: 4 }),
      'restart: early callback': invocation({ calls: { GetItem: 1, SendMessage: 1 }, wru: 0 }),
      'restart: dispatch': invocation({ calls: { GetItem: 1, PutItem: 2, PutEvents: 1 }, wru: 4, busEntries: 1 }),
      sync: invocation({ calls: { Query: 32, PutEvents: 10 }, rru: 24, wru: 0, busEntries: 100, logBytes: 50_000, durationMs: { p50: 70 } }),
    },
    minute: {
      'exit: long back-off': invocation({ calls: { GetItem: 1, PutItem: 1, CreateSchedule: 1 }, wru: 4 }),
      'restart: dispatch': invocation({ calls: { GetItem: 1, PutItem: 2, PutEvents: 1 }, wru: 4, busEntries: 1 }),
      'restart: dispatch (schedule)': invocation({ calls: { GetItem: 1, PutItem: 2, PutEvents: 1 }, wru: 6, busEntries: 1 }),
    },
  };
  const model = buildCostModel(shapes, { waiting: 100 });

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

  it('includes one reminder per minute of the wait, priced per waiting container from the sync', () => {
    const reminders = CAP_BACKOFF_SECONDS / ASSUMPTIONS.syncPeriodSeconds;
    const events = model.restart.second.items.filter((item) => item.item.startsWith('sync: BackOff event'));
    expect(events).toHaveLength(1);
    expect(events[0]!.quantity).toBeCloseTo((100 / 100) * reminders, 12);
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
    expect(() => buildCostModel({ second: {}, minute: {} }, { waiting: 1 })).toThrow(/no measurement of "sync"/);
  });
});
