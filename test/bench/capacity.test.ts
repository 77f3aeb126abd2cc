import { describe, expect, it } from 'vitest';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { itemSize, numberSize, readUnits, valueSize, writeUnits, type IndexShape } from '../../scripts/bench/capacity.ts';

const WAITING: IndexShape = { name: 'waiting', partitionKey: 'waitShard', sortKey: 'waitAt', projection: 'ALL' };
const EXPIRY: IndexShape = { name: 'expiry', partitionKey: 'gcShard', sortKey: 'expiresAt', projection: 'KEYS_ONLY' };
const INDEXES = [WAITING, EXPIRY];

/** An item of about `bytes` bytes, in or out of the waiting index. */
function item(key: string, bytes: number, extra: Record<string, AttributeValue> = {}): Record<string, AttributeValue> {
  const base: Record<string, AttributeValue> = { pk: { S: key }, gcShard: { N: '3' }, expiresAt: { N: '1800000000' }, ...extra };
  const padding = bytes - itemSize(base) - 'pad'.length;
  return { ...base, pad: { S: 'x'.repeat(Math.max(0, padding)) } };
}

describe('numberSize', () => {
  it.each([
    ['0', 2],
    ['7', 2],
    ['12', 2],
    ['123', 3],
    ['1800000000', 2],
    ['1795771558003', 8],
    ['-12.5', 3],
  ])('%s takes %d bytes', (text, bytes) => {
    expect(numberSize(text)).toBe(bytes);
  });
});

describe('itemSize', () => {
  it('adds attribute names and values', () => {
    expect(itemSize({ pk: { S: 'abc' } })).toBe(2 + 3);
    expect(itemSize({ ok: { BOOL: true }, none: { NULL: true } })).toBe(2 + 1 + 4 + 1);
  });

  it('counts UTF-8 bytes, not characters', () => {
    expect(valueSize({ S: 'é' })).toBe(2);
  });

  it('gives maps and lists 3 bytes plus 1 per element', () => {
    expect(valueSize({ L: [{ S: 'ab' }, { S: 'c' }] })).toBe(3 + 1 + 2 + 1 + 1);
    expect(valueSize({ M: { a: { S: 'xy' } } })).toBe(3 + 1 + 1 + 2);
  });
});

describe('writeUnits', () => {
  it('charges a new item one WRU per started KB plus its index entries', () => {
    const created = item('a', 700, { waitShard: { N: '3' }, waitAt: { N: '1795771558003' } });
    expect(writeUnits(undefined, created, INDEXES, 'pk')).toEqual({ table: 1, indexes: { waiting: 1, expiry: 1 }, total: 3 });
    const large = item('b', 2_500);
    expect(writeUnits(undefined, large, INDEXES, 'pk').table).toBe(3);
  });

  it('charges the larger of the old and new item', () => {
    expect(writeUnits(item('a', 3_000), item('a', 100), [], 'pk').table).toBe(3);
  });

  it('charges a delete from an index when the item leaves it (a dispatched restart)', () => {
    const waiting = item('a', 700, { waitShard: { N: '3' }, waitAt: { N: '5' } });
    const dispatched = item('a', 700);
    expect(writeUnits(waiting, dispatched, INDEXES, 'pk').indexes).toEqual({ waiting: 1, expiry: 0 });
  });

  it('charges a delete and a put when an index key changes', () => {
    const before = item('a', 700, { waitShard: { N: '3' }, waitAt: { N: '5' } });
    const after = { ...before, waitAt: { N: '6' }, expiresAt: { N: '1800000060' } };
    expect(writeUnits(before, after, INDEXES, 'pk').indexes).toEqual({ waiting: 2, expiry: 2 });
  });

  it('rewrites an ALL-projected entry on any change but leaves a KEYS_ONLY one alone when its keys stay', () => {
    const before = item('a', 700, { waitShard: { N: '3' }, waitAt: { N: '5' }, state: { S: 'CrashLoopBackOff' } });
    const after = { ...before, state: { S: 'Running' } };
    expect(writeUnits(before, after, INDEXES, 'pk').indexes).toEqual({ waiting: 1, expiry: 0 });
  });

  it('charges a delete for the item and the entries it had', () => {
    const gone = item('a', 700, { waitShard: { N: '3' }, waitAt: { N: '5' } });
    expect(writeUnits(gone, undefined, INDEXES, 'pk')).toEqual({ table: 1, indexes: { waiting: 1, expiry: 1 }, total: 3 });
  });
});

describe('readUnits', () => {
  it('charges one RRU per started 4 KB for a consistent read, half for an eventual one', () => {
    expect(readUnits([item('a', 700)], true)).toBe(1);
    expect(readUnits([item('a', 700)], false)).toBe(0.5);
    expect(readUnits([item('a', 3_000), item('b', 3_000)], false)).toBe(1);
  });

  it('charges the minimum for a read that finds nothing', () => {
    expect(readUnits([], true)).toBe(1);
    expect(readUnits([], false)).toBe(0.5);
  });
});
