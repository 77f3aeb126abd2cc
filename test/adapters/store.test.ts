import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { resolveBackoffPolicy, type ContainerState } from '../../lib/core/index.ts';
import { InvalidCursorError } from '../../lib/ports.ts';
import { acquireDynalite, ManualClock, releaseDynalite, T0 } from '../support/pipeline.ts';

const policy = resolveBackoffPolicy({ initial: '10s', max: '5m' });

function state(pod: string, overrides: Partial<ContainerState> = {}): ContainerState {
  return {
    key: `${pod}_default__app_`,
    namespace: 'default',
    pod,
    container: 'app',
    restartCount: 1,
    state: 'Running',
    recentExitIds: [],
    backoff: { backoffMs: 10_000, lastUpdate: T0 },
    restart: { restartCount: 1, restartAt: T0, status: 'dispatched', dispatchedAt: T0 },
    policy,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

describe('DynamoBackoffStore', () => {
  let store: DynamoBackoffStore;
  let clock: ManualClock;
  beforeAll(async () => {
    await acquireDynalite();
  });
  afterAll(async () => {
    await releaseDynalite();
  });
  beforeEach(async () => {
    const local = await acquireDynalite();
    await releaseDynalite();
    const tableName = `store-${randomUUID()}`;
    await ensureTable(local.client, tableName);
    clock = new ManualClock();
    store = new DynamoBackoffStore({ client: local.client, tableName, clock, shards: 4, retentionMs: 60_000 });
  });

  describe('put', () => {
    it('creates only when there is no item, then only on the version read', async () => {
      const created = await store.put(state('web-0'), undefined);
      expect(created).toEqual({ written: true, version: T0 });
      expect(await store.put(state('web-0'), undefined)).toEqual({ written: false });
      expect(await store.put(state('web-0', { restartCount: 2 }), T0 + 1)).toEqual({ written: false });
      expect(await store.put(state('web-0', { restartCount: 2 }), T0)).toEqual({ written: true, version: T0 + 1 });
      expect((await store.get('web-0_default__app_'))?.value.restartCount).toBe(2);
    });

    it('replaces an expired item as if it were absent', async () => {
      await store.put(state('web-0'), undefined);
      clock.set(store.expiresAtMs(state('web-0')));
      expect(await store.get('web-0_default__app_')).toBeUndefined();
      expect(await store.put(state('web-0', { restartCount: 9, updatedAt: clock.time }), undefined)).toMatchObject({ written: true });
      expect((await store.get('web-0_default__app_'))?.value.restartCount).toBe(9);
    });
  });

  describe('get', () => {
    it('reads an item as absent from the second its TTL passes', async () => {
      await store.put(state('web-0'), undefined);
      // Last activity T0, reset threshold 10 min, retention 1 min.
      expect(store.expiresAtMs(state('web-0'))).toBe(T0 + 660_000);
      clock.set(T0 + 659_000);
      expect(await store.get('web-0_default__app_')).toBeDefined();
      clock.set(T0 + 660_000);
      expect(await store.get('web-0_default__app_')).toBeUndefined();
    });

    it('keeps a waiting container alive until well after its restart', () => {
      const waiting = state('web-0', { restart: { restartCount: 2, restartAt: T0 + 3_600_000, status: 'waiting' } });
      expect(store.expiresAtMs(waiting)).toBe(T0 + 3_600_000 + 600_000 + 60_000);
    });
  });

  describe('delete and collect', () => {
    it('deletes on the version read only', async () => {
      await store.put(state('web-0'), undefined);
      expect(await store.delete('web-0_default__app_', T0 + 1)).toBe(false);
      expect(await store.delete('web-0_default__app_', T0)).toBe(true);
      expect(await store.delete('web-0_default__app_')).toBe(false);
    });

    it('collects an entry only while it is still expired', async () => {
      await store.put(state('web-0'), undefined);
      expect(await store.collect('web-0_default__app_', T0 + 659_000)).toBe(false);
      expect(await store.collect('web-0_default__app_', T0 + 660_000)).toBe(true);
    });
  });

  describe('indexes', () => {
    it('lists only containers with an undispatched restart as waiting', async () => {
      await store.put(state('idle'), undefined);
      await store.put(state('waiting', { restart: { restartCount: 2, restartAt: T0 + 10_000, status: 'waiting' } }), undefined);
      await store.put(state('claimed', { restart: { restartCount: 2, restartAt: T0, status: 'dispatching', claimedAt: T0 } }), undefined);
      const waiting: string[] = [];
      let read = 0;
      for (let shard = 0; shard < store.shards; shard++) {
        const page = await store.listWaiting(shard);
        read += page.itemsRead;
        waiting.push(...page.items.map((item) => item.pod));
      }
      expect(waiting.sort()).toEqual(['claimed', 'waiting']);
      expect(read).toBe(2);
    });

    it('lists only expired entries as expired', async () => {
      await store.put(state('old'), undefined);
      await store.put(state('new', { updatedAt: T0 + 100_000, backoff: { backoffMs: 10_000, lastUpdate: T0 + 100_000 } }), undefined);
      const expired: string[] = [];
      for (let shard = 0; shard < store.shards; shard++) expired.push(...(await store.listExpired(shard, T0 + 700_000, { limit: 10 })).items.map((e) => e.key));
      expect(expired).toEqual(['old_default__app_']);
    });

    it('keeps a key on one shard', () => {
      expect(store.shardOf('web-0_default__app_')).toBe(store.shardOf('web-0_default__app_'));
      const shards = new Set(Array.from({ length: 200 }, (_, i) => store.shardOf(`pod-${i}_default__app_`)));
      expect(shards.size).toBe(4);
    });
  });

  describe('list', () => {
    it('filters by namespace and state, skips expired entries, and pages with a cursor', async () => {
      await store.put(state('a'), undefined);
      await store.put(state('b', { state: 'CrashLoopBackOff' }), undefined);
      await store.put(state('c', { namespace: 'batch', key: 'c_batch__app_' }), undefined);
      expect((await store.list({ namespace: 'batch' })).items.map((s) => s.pod)).toEqual(['c']);
      expect((await store.list({ state: 'CrashLoopBackOff' })).items.map((s) => s.pod)).toEqual(['b']);
      const first = await store.list({ limit: 2 });
      expect(first.items).toHaveLength(2);
      const rest = await store.list({ limit: 2, cursor: first.cursor! });
      expect([...first.items, ...rest.items].map((s) => s.pod).sort()).toEqual(['a', 'b', 'c']);
      clock.set(T0 + 660_000);
      expect((await store.list({})).items).toEqual([]);
    });

    it.each([
      ['not base64 JSON', 'abc'],
      ['an array', Buffer.from('[1]').toString('base64url')],
      ['another attribute', Buffer.from(JSON.stringify({ other: { S: 'x' } })).toString('base64url')],
      ['a key of the wrong type', Buffer.from(JSON.stringify({ pk: { N: '1' } })).toString('base64url')],
    ])('rejects a cursor that is %s', async (_label, cursor) => {
      await expect(store.list({ cursor })).rejects.toThrow(InvalidCursorError);
    });
  });
});
