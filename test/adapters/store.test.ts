import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoBackoffStore, ensureTable } from '../../lib/adapters/dynamodb/store.ts';
import { resolveBackoffPolicy, type ContainerState } from '../../lib/core/index.ts';
import { InvalidCursorError } from '../../lib/ports.ts';
import { acquireDynalite, countCommands, ManualClock, releaseDynalite, T0 } from '../support/pipeline.ts';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { LocalDynamo } from '../../lib/local/dynalite.ts';

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
  let local: LocalDynamo;
  let tableName: string;
  beforeAll(async () => {
    await acquireDynalite();
  });
  afterAll(async () => {
    await releaseDynalite();
  });
  beforeEach(async () => {
    local = await acquireDynalite();
    await releaseDynalite();
    tableName = `store-${randomUUID()}`;
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

  describe('getMany', () => {
    it('reads several keys in one consistent BatchGetItem, with their versions, leaving out the missing and the expired', async () => {
      await store.put(state('web-0'), undefined);
      clock.set(T0 + 1);
      await store.put(state('web-1', { updatedAt: T0 + 1 }), undefined);
      await store.put(state('web-1', { restartCount: 2, updatedAt: T0 + 1 }), T0 + 1);
      clock.set(T0 + 2);
      // Last active a minute before T0: expired from T0 + 600 s (web-0 lasts until T0 + 660 s).
      await store.put(state('old-0', { updatedAt: T0 - 60_000, backoff: { backoffMs: 10_000, lastUpdate: T0 - 60_000 }, restart: { restartCount: 1, restartAt: T0 - 60_000, status: 'dispatched', dispatchedAt: T0 - 60_000 } }), undefined);
      clock.set(T0 + 600_000);
      const commands = countCommands(local.client);
      const found = await store.getMany(['web-0_default__app_', 'web-1_default__app_', 'none-0_default__app_', 'old-0_default__app_']);
      expect(commands.calls).toEqual(['BatchGetItem']);
      expect([...found.keys()].sort()).toEqual(['web-0_default__app_', 'web-1_default__app_']);
      expect(found.get('web-0_default__app_')).toEqual({ value: state('web-0'), version: T0 });
      expect(found.get('web-1_default__app_')).toMatchObject({ value: { restartCount: 2 }, version: T0 + 2 });
    });

    it('reads a write made just before it, and takes more than 100 keys in requests of 100', async () => {
      const pods = Array.from({ length: 150 }, (_, n) => `web-${n}`);
      await Promise.all(pods.map((pod) => store.put(state(pod), undefined)));
      await store.put(state('web-149', { restartCount: 7 }), T0);
      const commands = countCommands(local.client);
      const found = await store.getMany(pods.map((pod) => `${pod}_default__app_`));
      expect(commands.calls).toEqual(['BatchGetItem', 'BatchGetItem']);
      expect(found.size).toBe(150);
      expect(found.get('web-149_default__app_')).toMatchObject({ value: { restartCount: 7 }, version: T0 + 1 });
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
    it('lists the keys of only the containers with an undispatched restart as waiting', async () => {
      await store.put(state('idle'), undefined);
      await store.put(state('waiting', { restart: { restartCount: 2, restartAt: T0 + 10_000, status: 'waiting' } }), undefined);
      await store.put(state('claimed', { restart: { restartCount: 2, restartAt: T0, status: 'dispatching', claimedAt: T0 } }), undefined);
      const waiting: string[] = [];
      let read = 0;
      for (let shard = 0; shard < store.shards; shard++) {
        const page = await store.listWaiting(shard);
        read += page.itemsRead;
        waiting.push(...page.items);
      }
      expect(waiting.sort()).toEqual(['claimed_default__app_', 'waiting_default__app_']);
      expect(read).toBe(2);
    });

    it('reads the waiting index only up to the instant it is given, in order of the restart instant', async () => {
      for (const [pod, at] of [['late', T0 - 5_000], ['due', T0], ['later', T0 + 1], ['latest', T0 + 60_000]] as const) {
        await store.put(state(pod, { key: 'k-' + pod, restart: { restartCount: 2, restartAt: at, status: 'waiting' } }), undefined);
      }
      const due: string[] = [];
      let read = 0;
      for (let shard = 0; shard < store.shards; shard++) {
        const page = await store.listWaiting(shard, { dueBy: T0 });
        read += page.itemsRead;
        due.push(...page.items);
      }
      expect(due.sort()).toEqual(['k-due', 'k-late']);
      expect(read).toBe(2);
    });

    it('pages the waiting index with a cursor', async () => {
      const paged = new DynamoBackoffStore({ client: local.client, tableName, clock, shards: 1, pageSize: 2 });
      await Promise.all(Array.from({ length: 5 }, (_, index) => paged.put(state(`w-${index}`, { restart: { restartCount: 2, restartAt: T0 + index, status: 'waiting' } }), undefined)));
      const pages: string[][] = [];
      let cursor: string | undefined;
      do {
        const page = await paged.listWaiting(0, { dueBy: T0 + 10, ...(cursor ? { cursor } : {}) });
        pages.push([...page.items]);
        cursor = page.cursor;
      } while (cursor);
      expect(pages.flat()).toEqual(['w-0', 'w-1', 'w-2', 'w-3', 'w-4'].map((pod) => `${pod}_default__app_`));
      expect(pages[0]).toHaveLength(2);
      await expect(paged.listWaiting(0, { cursor: Buffer.from('{}').toString('base64url') })).rejects.toThrow(InvalidCursorError);
    });

    it('indexes a BackOff repeat only while its wait is pending, and reads only those due', async () => {
      const series = (nextRepeatAt: number) => ({ restartCount: 2, delayMs: 3_600_000, count: 1, firstTimestamp: T0, lastTimestamp: T0, nextRepeatAt });
      const waitingFor = (restartAt: number) => ({ restartCount: 2, restartAt, status: 'waiting' as const });
      await store.put(state('due', { state: 'CrashLoopBackOff', restart: waitingFor(T0 + 3_600_000), backOffEvent: series(T0 + 300_000) }), undefined);
      await store.put(state('not-yet', { state: 'CrashLoopBackOff', restart: waitingFor(T0 + 3_600_000), backOffEvent: series(T0 + 400_000) }), undefined);
      await store.put(state('restarted', { backOffEvent: series(T0 + 300_000) }), undefined);
      await store.put(state('older-wait', { state: 'CrashLoopBackOff', restart: { ...waitingFor(T0 + 3_600_000), restartCount: 3 }, backOffEvent: series(T0 + 300_000) }), undefined);
      const due: string[] = [];
      for (let shard = 0; shard < store.shards; shard++) due.push(...(await store.listBackOffRepeats(shard, T0 + 300_000)).items);
      expect(due).toEqual(['due_default__app_']);
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
    /** 36 containers: 3 namespaces × 3 states × 4 pods, spread over the 4 shards. */
    async function fleet(): Promise<ContainerState[]> {
      const states: ContainerState[] = [];
      for (const namespace of ['default', 'batch', 'web']) {
        for (const phase of ['Running', 'CrashLoopBackOff', 'Terminated'] as const) {
          for (let index = 0; index < 4; index++) {
            const pod = `${phase.toLowerCase()}-${index}`;
            states.push(state(pod, { namespace, key: `${pod}_${namespace}__app_`, state: phase }));
          }
        }
      }
      await Promise.all(states.map((one) => store.put(one, undefined)));
      return states;
    }

    /** Every page of a listing, `limit` at a time. */
    async function allPages(filter: { namespace?: string; state?: ContainerState['state'] }, limit: number) {
      const pages: ContainerState[][] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({ ...filter, limit, ...(cursor ? { cursor } : {}) });
        expect(page.items.length).toBeLessThanOrEqual(limit);
        pages.push([...page.items]);
        cursor = page.cursor;
      } while (cursor);
      return pages;
    }

    it.each([
      ['a namespace', { namespace: 'batch' }, 12],
      ['a state', { state: 'CrashLoopBackOff' as const }, 12],
      ['a namespace and a state', { namespace: 'web', state: 'Terminated' as const }, 4],
      ['nothing', {}, 36],
    ])('lists by %s with Queries on an index, a page at a time, each container once', async (_name, filter, expected) => {
      const states = await fleet();
      const calls = countCommands(local.client);
      const pages = await allPages(filter, 3);
      const listed = pages.flat();
      const wanted = states.filter((one) => (!('namespace' in filter) || one.namespace === filter.namespace) && (!('state' in filter) || one.state === filter.state));
      expect(listed.map((one) => one.key).sort()).toEqual(wanted.map((one) => one.key).sort());
      expect(listed).toHaveLength(expected);
      expect(new Set(listed.map((one) => one.key)).size).toBe(listed.length);
      // The stored state comes back whole, without the store's own attributes.
      expect(listed.find((one) => one.key === wanted[0]!.key)).toEqual(wanted[0]);
      expect(new Set(calls.calls)).toEqual(new Set(['Query', 'BatchGetItem']));
      expect(pages.length).toBeGreaterThan(1);
    });

    it('shows a container once, and fails nothing, when it changed state while the page was read and is listed in two partitions', async () => {
      const states = await fleet();
      const moving = states.find((one) => one.state === 'Running')!;
      // A client whose CrashLoopBackOff partitions also answer with the Running container, as an index caught mid-move would.
      const client = local.createClient();
      client.middlewareStack.add(
        (next) => async (args) => {
          const result = await next(args);
          const input = args.input as { IndexName?: string; ExpressionAttributeValues?: Record<string, AttributeValue> };
          const partition = input.ExpressionAttributeValues?.[':partition']?.S ?? '';
          const output = result.output as { Items?: Record<string, AttributeValue>[] };
          if (input.IndexName === 'byState' && partition.startsWith('CrashLoopBackOff#') && output.Items) output.Items.push({ pk: { S: moving.key } });
          return result;
        },
        { step: 'initialize', name: 'mid-move' },
      );
      const listing = new DynamoBackoffStore({ client, tableName, clock, shards: 4 });
      const page = await listing.list({ limit: 1_000 });
      expect(page.items.filter((one) => one.key === moving.key)).toHaveLength(1);
      expect(page.items).toHaveLength(states.length);
      client.destroy();
    });

    it('leaves out expired entries', async () => {
      await fleet();
      clock.set(T0 + 660_000);
      expect((await allPages({}, 100)).flat()).toEqual([]);
    });

    it('answers a page with a cursor rather than reading every partition at once', async () => {
      // One container among 100 shards, more partitions than one request reads: it is found by the request that reaches its shard.
      const wideTable = `wide-${randomUUID()}`;
      await ensureTable(local.client, wideTable);
      const wide = new DynamoBackoffStore({ client: local.client, tableName: wideTable, clock, shards: 100 });
      const pod = Array.from({ length: 1_000 }, (_, index) => `last-${index}`).find((name) => wide.shardOf(`${name}_default__app_`) >= 80)!;
      await wide.put(state(pod, { state: 'Terminated' }), undefined);
      const first = await wide.list({ limit: 10 });
      expect(first.items).toEqual([]);
      expect(first.cursor).toBeDefined();
      const rest = await wide.list({ limit: 10, cursor: first.cursor! });
      expect(rest.items.map((one) => one.pod)).toEqual([pod]);
      expect(rest.cursor).toBeUndefined();
    });

    it.each([
      ['not base64 JSON', 'abc'],
      ['an array', Buffer.from('[1]').toString('base64url')],
      ['another attribute', Buffer.from(JSON.stringify({ other: { S: 'x' } })).toString('base64url')],
      ['a partition out of range', Buffer.from(JSON.stringify({ p: 12 })).toString('base64url')],
      ['a partition that is not an integer', Buffer.from(JSON.stringify({ p: 0.5 })).toString('base64url')],
      ['a key of the wrong type', Buffer.from(JSON.stringify({ p: 0, k: { pk: { N: '1' }, gcShard: { N: '0' }, expiresAt: { N: '1' } } })).toString('base64url')],
      ['a key of another partition', Buffer.from(JSON.stringify({ p: 0, k: { pk: { S: 'a' }, gcShard: { N: '3' }, expiresAt: { N: '1' } } })).toString('base64url')],
    ])('rejects a cursor that is %s', async (_label, cursor) => {
      await expect(store.list({ cursor })).rejects.toThrow(InvalidCursorError);
    });

    it('rejects a cursor of another listing', async () => {
      await fleet();
      const byNamespace = await store.list({ namespace: 'batch', limit: 2 });
      await expect(store.list({ state: 'Running', cursor: byNamespace.cursor! })).rejects.toThrow(InvalidCursorError);
    });
  });

  describe('countInState', () => {
    it('counts one state over every shard, page by page, without returning items', async () => {
      await Promise.all(Array.from({ length: 30 }, (_, index) => store.put(state(`pod-${index}`, { state: index % 3 === 0 ? 'CrashLoopBackOff' : 'Running' }), undefined)));
      let total = 0;
      for (let shard = 0; shard < store.shards; shard++) {
        let cursor: string | undefined;
        do {
          const page = await store.countInState('CrashLoopBackOff', shard, cursor);
          total += page.count;
          cursor = page.cursor;
        } while (cursor);
      }
      expect(total).toBe(10);
    });
  });
});
