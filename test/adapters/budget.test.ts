/**
 * The DynamoDB restart budget on a real dynalite: the same slots as the pure
 * GCRA, one UpdateItem per reservation, the bound kept by many callers at
 * once, and budget items the container store never sees.
 */
import { randomUUID } from 'node:crypto';
import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { budgetKey, DynamoRestartBudget } from '../../lib/adapters/dynamodb/budget.ts';
import { DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import {
  budgetShardCount,
  budgetWindowBound,
  busiestWindow,
  planExit,
  reserveSlot,
  resolveBackoffPolicy,
  shardRate,
  type RestartBudgetSetting,
} from '../../lib/core/index.ts';
import type { LocalDynamo } from '../../lib/local/dynalite.ts';
import { acquireDynalite, countCommands, ManualClock, releaseDynalite, T0 } from '../support/pipeline.ts';
import { seededRandom } from '../support/faults.ts';

describe('DynamoRestartBudget', () => {
  let local: LocalDynamo;
  let tableName: string;
  const budgetOf = (random = () => 0) => new DynamoRestartBudget({ client: local.client, tableName, random });
  beforeAll(async () => {
    local = await acquireDynalite();
  });
  afterAll(async () => {
    await releaseDynalite();
  });
  beforeEach(async () => {
    tableName = `budget-${randomUUID()}`;
    await ensureTable(local.client, tableName);
  });

  it('gives the slots of the pure GCRA, for one item and for a budget split over several', async () => {
    for (const budget of [
      { perSecond: 20, burst: 5 },
      { perSecond: 300, burst: 7 },
    ]) {
      const namespace = `ns-${budget.perSecond}`;
      const adapter = budgetOf();
      const shards = budgetShardCount(budget);
      const tats: (number | undefined)[] = Array(shards).fill(undefined);
      // A storm, a pause long enough to refill, and a trickle.
      const arrivals = [...Array(30).fill(T0), ...Array(10).fill(T0 + 60_000), ...Array.from({ length: 10 }, (_, i) => T0 + 120_000 + i * 7)];
      for (const [index, at] of arrivals.entries()) {
        const shard = index % shards;
        const expected = reserveSlot(tats[shard], at, shardRate(budget, shards, shard));
        tats[shard] = expected.tat;
        expect(await adapter.reserve(namespace, budget, at), `reservation ${index}`).toBe(expected.slotAt);
      }
    }
  });

  it('makes one UpdateItem per reservation and reads nothing; two when the budget just turned busy', async () => {
    const calls = countCommands(local.client);
    const adapter = budgetOf();
    const budget = { perSecond: 10, burst: 2 };
    calls.reset();
    expect(await adapter.reserve('batch', budget, T0)).toBe(T0);
    expect(await adapter.reserve('batch', budget, T0)).toBe(T0);
    expect(await adapter.reserve('batch', budget, T0)).toBe(T0 + 100);
    expect(calls.calls).toEqual(['UpdateItem', 'UpdateItem', 'UpdateItem']);
    // Another caller that has not seen the budget busy tries the idle form first, once.
    calls.reset();
    expect(await budgetOf().reserve('batch', budget, T0)).toBe(T0 + 200);
    expect(calls.calls).toEqual(['UpdateItem', 'UpdateItem']);
  });

  it.each([
    ['one item', { perSecond: 50, burst: 100 }],
    ['five items', { perSecond: 500, burst: 100 }],
    ['sixteen items, each with a burst of one', { perSecond: 5_000, burst: 16 }],
  ])('keeps the bound with 500 concurrent reservations from 25 callers (%s)', async (_name, budget: RestartBudgetSetting) => {
    // Seeded: where each caller's round-robin starts decides how many reservations each item gets.
    const callers = Array.from({ length: 25 }, (_, caller) => budgetOf(seededRandom(caller + 1)));
    const arrivals = Array.from({ length: 500 }, (_, index) => T0 + Math.floor(index / 50) * 10);
    const slots = await Promise.all(arrivals.map((at, index) => callers[index % callers.length]!.reserve('storm', budget, at)));
    slots.forEach((slot, index) => expect(slot).toBeGreaterThanOrEqual(arrivals[index]!));
    for (const windowMs of [1, 100, 1_000, 5_000]) expect(busiestWindow(slots, windowMs)).toBeLessThanOrEqual(budgetWindowBound(budget, windowMs));
    // No slot is lost to contention: each item's last slot is at most its burst short of one
    // reservation per interval after the last arrival, for the reservations it got.
    const shards = budgetShardCount(budget);
    const loads = new Array<number>(shards).fill(0);
    arrivals.forEach((_at, index) => {
      const caller = index % callers.length;
      const start = Math.floor(seededRandom(caller + 1)() * shards);
      loads[(start + Math.floor(index / callers.length)) % shards]! += 1;
    });
    const bound = Math.max(
      ...loads.map((load, shard) => {
        const rate = shardRate(budget, shards, shard);
        const burst = rate.toleranceMs / rate.intervalMs + 1;
        return Math.max(...arrivals) - T0 + Math.max(0, load - burst) * rate.intervalMs;
      }),
    );
    expect(Math.max(...slots) - T0).toBeLessThanOrEqual(bound);
  });

  it('keeps one budget per namespace', async () => {
    const adapter = budgetOf();
    const budget = { perSecond: 1, burst: 1 };
    expect(await adapter.reserve('a', budget, T0)).toBe(T0);
    expect(await adapter.reserve('b', budget, T0)).toBe(T0);
    expect(await adapter.reserve('a', budget, T0)).toBe(T0 + 1_000);
  });

  it('keeps its items out of the container store: no listing, index or collection sees them', async () => {
    const clock = new ManualClock();
    const store = new DynamoBackoffStore({ client: local.client, tableName, clock, shards: 2 });
    const policy = resolveBackoffPolicy();
    const planned = planExit(undefined, { namespace: 'batch', pod: 'job-0', container: 'app', exitCode: 1, finishedAt: T0 }, { policy, now: T0 }).next!;
    await store.put(planned, undefined);
    await budgetOf().reserve('batch', { perSecond: 1, burst: 1 }, T0);
    const item = await local.client.send(new GetItemCommand({ TableName: tableName, Key: { pk: { S: budgetKey('batch', 0) } }, ConsistentRead: true }));
    expect(item.Item).toEqual({ pk: { S: 'budget#batch#0' }, tat: { N: String(T0 + 1_000) } });
    expect((await store.list({})).items.map((state) => state.key)).toEqual([planned.key]);
    const waiting = await Promise.all([0, 1].map((shard) => store.listWaiting(shard)));
    expect(waiting.flatMap((page) => page.items)).toEqual([planned.key]);
    clock.set(T0 + 365 * 86_400_000);
    const expired = await Promise.all([0, 1].map((shard) => store.listExpired(shard, clock.now(), { limit: 100 })));
    expect(expired.flatMap((page) => page.items.map((entry) => entry.key))).toEqual([planned.key]);
  });

  it('surfaces a failure of DynamoDB itself', async () => {
    const adapter = new DynamoRestartBudget({ client: local.client, tableName: 'no-such-table' });
    await expect(adapter.reserve('batch', { perSecond: 1, burst: 1 }, T0)).rejects.toThrow(/non-existent table|not found/i);
  });

  it('rejects a cap on items that is not a positive integer', () => {
    expect(() => new DynamoRestartBudget({ client: local.client, tableName, maxShards: 0 })).toThrow(RangeError);
  });

  it('writes only its own item, conditionally', async () => {
    const sent: UpdateItemCommand['input'][] = [];
    local.client.middlewareStack.add(
      (next) => async (args) => {
        if ((args.input as { UpdateExpression?: string }).UpdateExpression) sent.push(args.input as UpdateItemCommand['input']);
        return next(args);
      },
      { step: 'initialize', name: `capture-${randomUUID()}` },
    );
    await budgetOf().reserve('batch', { perSecond: 1, burst: 1 }, T0);
    expect(sent.at(-1)).toMatchObject({ TableName: tableName, Key: { pk: { S: 'budget#batch#0' } }, ConditionExpression: 'attribute_not_exists(#tat) OR #tat <= :at' });
  });
});
