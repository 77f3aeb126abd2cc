/**
 * The back-off table's shape, defined once: the CDK construct, the local
 * runtime's table creation and the store adapter all read it from here.
 *
 * Nothing reads the table with a Scan: every read is a GetItem on one key or a
 * Query on one partition of an index below, so what a read costs follows what
 * it returns. Every index is sharded (`shardOf(key)`, the same shard in each)
 * so that no partition takes every write of a fleet: DynamoDB gives a
 * partition about 1,000 writes a second, and a mass crash loop moves 100,000
 * containers into CrashLoopBackOff within seconds; an index that cannot keep
 * up throttles the table's own writes.
 *
 * Projections follow what each reader needs, because an index entry is
 * rewritten whenever a projected attribute changes: an ALL projection costs a
 * write on every write of the item, a KEYS_ONLY one only when its keys change.
 */

export const TABLE_SCHEMA = {
  /** One item per container key. */
  partitionKey: { name: 'pk', type: 'S' },
  /** Optimistic concurrency: every write is conditional on the version read. */
  versionAttribute: 'version',
  /** DynamoDB TTL (epoch seconds): the table's equivalent of client-go's `gc`. */
  ttlAttribute: 'expiresAt',
  indexes: {
    /**
     * Sparse: only containers whose latest restart is not dispatched carry
     * `waitShard`/`waitAt`, ordered by the restart instant, so the sync reads
     * only restarts overdue past its grace period (`waitAt <= now - grace`),
     * never the ones still waiting. KEYS_ONLY: whoever reads it re-reads the
     * item consistently before acting (the sync must judge an overdue restart
     * on the item as it is, not as the eventually consistent index saw it), so
     * a copy would be read for nothing and rewritten on every claim; keys only,
     * an entry is written when a wait starts and deleted when it ends.
     */
    waiting: {
      indexName: 'waiting',
      partitionKey: { name: 'waitShard', type: 'N' },
      sortKey: { name: 'waitAt', type: 'N' },
      projection: 'KEYS_ONLY',
    },
    /**
     * Every item, keyed by its shard and TTL, so the sync can collect expired
     * entries with a range query (`expiresAt <= now`) that returns only them;
     * holding every item in one partition per shard, it also serves the
     * listing of every container (`GET /v1/containers` without a filter).
     */
    expiry: {
      indexName: 'expiry',
      partitionKey: { name: 'gcShard', type: 'N' },
      sortKey: { name: 'expiresAt', type: 'N' },
      projection: 'KEYS_ONLY',
    },
    /**
     * Sparse: only a waiting container whose BackOff record is due for a
     * repeat before its restart carries `backOffAt` (when the repeat is due),
     * so the sync reads repeats that are due and nothing else. With kubelet's
     * policy no wait outlasts the 5-minute interval and the index stays empty.
     * KEYS_ONLY: the sync re-reads each one consistently before it writes.
     */
    backOffRepeats: {
      indexName: 'backOffRepeats',
      partitionKey: { name: 'waitShard', type: 'N' },
      sortKey: { name: 'backOffAt', type: 'N' },
      projection: 'KEYS_ONLY',
    },
    /**
     * Every item by `{state}#{shard}`, ordered by key: `GET /v1/containers?state=`
     * and the count of containers in CrashLoopBackOff. INCLUDE `namespace`
     * (which never changes, so it costs no writes): a listing by state and
     * namespace filters on it. Not ALL: the state changes twice per crash
     * (Running → CrashLoopBackOff → Running), and the entry moves then anyway,
     * but an ALL entry would also be rewritten on every claim and every write
     * of a container; a listing reads its page of items by key instead.
     */
    byState: {
      indexName: 'byState',
      partitionKey: { name: 'stateShard', type: 'S' },
      sortKey: { name: 'pk', type: 'S' },
      projection: 'INCLUDE',
      nonKeyAttributes: ['namespace'],
    },
    /**
     * Every item by `{namespace}#{shard}`, ordered by key: `GET
     * /v1/containers?namespace=`. KEYS_ONLY: its keys never change, so it costs
     * a write when a container is first seen and when it is deleted, no more;
     * the listing reads its page of items by key.
     */
    byNamespace: {
      indexName: 'byNamespace',
      partitionKey: { name: 'nsShard', type: 'S' },
      sortKey: { name: 'pk', type: 'S' },
      projection: 'KEYS_ONLY',
    },
  },
  /**
   * Restart budgets live in the same table under keys of their own,
   * `budget#{namespace}#{shard}`: a container key never holds `#` (its parts
   * are `[A-Za-z0-9.-]`, joined by `_`), so the two key spaces cannot collide.
   * A budget item carries neither index nor TTL attributes, so no index, no
   * listing and no collection ever sees it; there are a few per budgeted
   * namespace, each a number.
   */
  restartBudget: { keyPrefix: 'budget#', tatAttribute: 'tat' },
  /** @default shards of every index */
  defaultShards: 16,
  /**
   * How long an entry outlives its back-off (its reset threshold) before TTL
   * removes it. The back-off itself expires as client-go's does; the entry
   * stays so that status, the restart count and `maxRestarts` survive stable
   * runs, as a pod's restart count does.
   */
  defaultEntryRetentionMs: 24 * 3_600_000,
} as const;

export type IndexKey = keyof typeof TABLE_SCHEMA.indexes;
export type IndexSpec = (typeof TABLE_SCHEMA.indexes)[IndexKey];
export type IndexName = IndexSpec['indexName'];

/** The attributes an index projects besides the keys (INCLUDE only). */
export function nonKeyAttributes(index: IndexSpec): readonly string[] {
  return 'nonKeyAttributes' in index ? index.nonKeyAttributes : [];
}

/** Every key attribute of the table and its indexes, once each (an attribute may key several indexes). */
export function keyAttributes(): readonly { readonly name: string; readonly type: 'S' | 'N' }[] {
  const seen = new Map<string, 'S' | 'N'>([[TABLE_SCHEMA.partitionKey.name, TABLE_SCHEMA.partitionKey.type]]);
  for (const index of Object.values(TABLE_SCHEMA.indexes)) {
    for (const key of [index.partitionKey, index.sortKey]) {
      const known = seen.get(key.name);
      if (known !== undefined && known !== key.type) throw new Error(`attribute ${key.name} is typed both ${known} and ${key.type}`);
      seen.set(key.name, key.type);
    }
  }
  return [...seen].map(([name, type]) => ({ name, type }));
}
