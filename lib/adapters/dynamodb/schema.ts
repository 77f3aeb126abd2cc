/**
 * The back-off table's shape, defined once: the CDK construct, the local
 * runtime's table creation and the store adapter all read it from here.
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
     * `waitShard`/`waitAt`, so the sync reads waiting containers and nothing
     * else. Sharded so that no single partition holds every waiting container.
     */
    waiting: {
      indexName: 'waiting',
      partitionKey: { name: 'waitShard', type: 'N' },
      sortKey: { name: 'waitAt', type: 'N' },
      projection: 'ALL',
    },
    /**
     * Every item, keyed by its shard and TTL, so the sync can collect expired
     * entries with a range query (`expiresAt <= now`) that returns only them.
     */
    expiry: {
      indexName: 'expiry',
      partitionKey: { name: 'gcShard', type: 'N' },
      sortKey: { name: 'expiresAt', type: 'N' },
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
  /** @default shards of both indexes */
  defaultShards: 16,
  /**
   * How long an entry outlives its back-off (its reset threshold) before TTL
   * removes it. The back-off itself expires as client-go's does; the entry
   * stays so that status, the restart count and `maxRestarts` survive stable
   * runs, as a pod's restart count does.
   */
  defaultEntryRetentionMs: 24 * 3_600_000,
} as const;

export type IndexName = (typeof TABLE_SCHEMA.indexes)[keyof typeof TABLE_SCHEMA.indexes]['indexName'];
