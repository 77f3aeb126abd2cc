/**
 * `RestartBudget` on DynamoDB: each namespace's budget is kept in a few items
 * of the back-off table (`budget#{namespace}#{shard}`), one number each, the
 * GCRA's theoretical arrival time. A reservation is one conditional
 * `UpdateItem`, no read:
 *
 * - the budget is idle (`tat <= at`, or no item): `SET tat = at + interval`,
 *   and the slot is `at`;
 * - it is busy (`tat > at`): `SET tat = tat + interval`, and the slot is
 *   `max(at, tat − τ)` from the old value the update returns.
 *
 * DynamoDB applies each update atomically, so concurrent callers never lose a
 * slot to one another and never retry on contention: a condition fails only
 * when the budget crossed from one case to the other in between, and `tat`
 * only grows, so the second try of the other form, or the third, succeeds.
 *
 * Callers spread over the items round-robin (from a random start per process),
 * so a storm handled by many processes loads every item about equally; each
 * item holds its share of the rate and of the burst (`shardRate`).
 */
import { ConditionalCheckFailedException, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { budgetShardCount, DEFAULT_BUDGET_MAX_SHARDS, reserveSlot, shardRate, type Random, type RestartBudgetSetting } from '../../core/index.ts';
import type { RestartBudget } from '../../ports.ts';
import { TABLE_SCHEMA } from './schema.ts';

const PK = TABLE_SCHEMA.partitionKey.name;
const TAT = TABLE_SCHEMA.restartBudget.tatAttribute;
/** Busy, idle, busy: `tat` only grows, so a third form always holds. */
const MAX_ATTEMPTS = 3;

export interface DynamoRestartBudgetOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /**
   * Most items one namespace's budget is split over (see `budgetShardCount`:
   * one per 100 restarts per second of the budget, never more than its burst).
   * @default DEFAULT_BUDGET_MAX_SHARDS (16)
   */
  readonly maxShards?: number;
  /** Where each namespace's round-robin over its items starts. @default Math.random */
  readonly random?: Random;
}

/** The key of one budget item. */
export function budgetKey(namespace: string, shard: number): string {
  return `${TABLE_SCHEMA.restartBudget.keyPrefix}${namespace}#${shard}`;
}

export class DynamoRestartBudget implements RestartBudget {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly maxShards: number;
  private readonly random: Random;
  /** Per namespace, the next item to use. */
  private readonly turn = new Map<string, number>();
  /** Per item, the last `tat` this process saw: which form to try first (a guess; the conditions decide). */
  private readonly lastTat = new Map<string, number>();

  constructor(options: DynamoRestartBudgetOptions) {
    this.client = options.client;
    this.tableName = options.tableName;
    this.maxShards = options.maxShards ?? DEFAULT_BUDGET_MAX_SHARDS;
    this.random = options.random ?? Math.random;
    if (!Number.isInteger(this.maxShards) || this.maxShards < 1) throw new RangeError(`maxShards must be a positive integer, got ${this.maxShards}`);
  }

  async reserve(namespace: string, budget: RestartBudgetSetting, at: number): Promise<number> {
    const shards = budgetShardCount(budget, this.maxShards);
    const turn = this.turn.get(namespace) ?? Math.floor(this.random() * shards);
    this.turn.set(namespace, turn + 1);
    const shard = turn % shards;
    const rate = shardRate(budget, shards, shard);
    const key = budgetKey(namespace, shard);
    let busy = (this.lastTat.get(key) ?? Number.NEGATIVE_INFINITY) > at;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        if (busy) {
          const { Attributes } = await this.client.send(
            this.tatUpdate(key, at, { set: '#tat + :interval', when: '#tat > :at', operand: [':interval', rate.intervalMs], returnNew: true }),
          );
          const tat = Number(Attributes?.[TAT]?.N);
          if (!Number.isFinite(tat)) throw new Error(`budget item ${key} returned no ${TAT}`);
          this.lastTat.set(key, tat);
          return reserveSlot(tat - rate.intervalMs, at, rate).slotAt;
        }
        const idle = reserveSlot(undefined, at, rate);
        await this.client.send(this.tatUpdate(key, at, { set: ':tat', when: 'attribute_not_exists(#tat) OR #tat <= :at', operand: [':tat', idle.tat] }));
        this.lastTat.set(key, idle.tat);
        return idle.slotAt;
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        // What the failed condition proved, for this process's next reservation on the item too.
        this.lastTat.set(key, busy ? at : at + 1);
        busy = !busy;
      }
    }
    throw new Error(`budget item ${key}: no reservation after ${MAX_ATTEMPTS} attempts (was ${TAT} lowered by hand?)`);
  }

  /**
   * One form of a reservation: `SET #tat = {set}` on the item `key`, if `when`
   * holds at `at`, with the form's one number (`operand`) beside `:at`.
   */
  private tatUpdate(
    key: string,
    at: number,
    form: { readonly set: string; readonly when: string; readonly operand: readonly [name: string, value: number]; readonly returnNew?: boolean },
  ): UpdateItemCommand {
    const [name, value] = form.operand;
    return new UpdateItemCommand({
      TableName: this.tableName,
      Key: { [PK]: { S: key } },
      UpdateExpression: `SET #tat = ${form.set}`,
      ConditionExpression: form.when,
      ExpressionAttributeNames: { '#tat': TAT },
      ExpressionAttributeValues: { [name]: { N: String(value) }, ':at': { N: String(at) } },
      ...(form.returnNew ? { ReturnValues: 'UPDATED_NEW' as const } : {}),
    });
  }
}
