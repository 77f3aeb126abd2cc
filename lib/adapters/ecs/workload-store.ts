/**
 * `WorkloadStore` on DynamoDB: the ECS workload registrations, in a table of
 * their own. Why not the back-off table: `ecs list` reads every registration,
 * which a table keyed by container alone can only do with a Scan or yet
 * another index (and the back-off table's indexes and TTL are shaped for the
 * sync). Here one partition holds them all, sorted by id, so the listing is a
 * Query; there are as many items as workloads, a handful of writes each.
 */
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type AttributeValue,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { InvalidCursorError, WORKLOAD_ID_PATTERN, type EcsWorkload, type Versioned, type WorkloadStore, type WriteResult } from '../../ports.ts';

export const WORKLOAD_TABLE_SCHEMA = {
  /** One partition for every registration: the listing is a Query. */
  partitionKey: { name: 'registry', type: 'S' },
  sortKey: { name: 'id', type: 'S' },
  versionAttribute: 'version',
} as const;

/** The partition key value of ECS workload registrations. */
const REGISTRY = 'ecs';
const PK = WORKLOAD_TABLE_SCHEMA.partitionKey.name;
const SK = WORKLOAD_TABLE_SCHEMA.sortKey.name;
const VERSION = WORKLOAD_TABLE_SCHEMA.versionAttribute;

export function workloadTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    KeySchema: [
      { AttributeName: PK, KeyType: 'HASH' },
      { AttributeName: SK, KeyType: 'RANGE' },
    ],
    AttributeDefinitions: [
      { AttributeName: PK, AttributeType: 'S' },
      { AttributeName: SK, AttributeType: 'S' },
    ],
  };
}

export interface DynamoWorkloadStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** @default 100 */
  readonly pageSize?: number;
}

export class DynamoWorkloadStore implements WorkloadStore {
  constructor(private readonly options: DynamoWorkloadStoreOptions) {}

  async get(id: string): Promise<Versioned<EcsWorkload> | undefined> {
    const { Item } = await this.options.client.send(
      new GetItemCommand({ TableName: this.options.tableName, Key: { [PK]: { S: REGISTRY }, [SK]: { S: id } }, ConsistentRead: true }),
    );
    return Item ? { value: toWorkload(Item), version: Number(Item[VERSION]?.N) } : undefined;
  }

  async put(workload: EcsWorkload, expectedVersion: number | undefined): Promise<WriteResult> {
    const version = (expectedVersion ?? 0) + 1;
    try {
      await this.options.client.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: { ...marshall(workload, { removeUndefinedValues: true }), [PK]: { S: REGISTRY }, [VERSION]: { N: String(version) } },
          ...(expectedVersion === undefined
            ? { ConditionExpression: 'attribute_not_exists(#sk)', ExpressionAttributeNames: { '#sk': SK } }
            : { ConditionExpression: '#version = :expected', ExpressionAttributeNames: { '#version': VERSION }, ExpressionAttributeValues: { ':expected': { N: String(expectedVersion) } } }),
        }),
      );
      return { written: true, version };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { written: false };
      throw error;
    }
  }

  async list(cursor?: string): Promise<{ items: EcsWorkload[]; cursor?: string }> {
    const response = await this.options.client.send(
      new QueryCommand({
        TableName: this.options.tableName,
        KeyConditionExpression: '#pk = :registry',
        ExpressionAttributeNames: { '#pk': PK },
        ExpressionAttributeValues: { ':registry': { S: REGISTRY } },
        ConsistentRead: true,
        Limit: this.options.pageSize ?? 100,
        ...(cursor !== undefined ? { ExclusiveStartKey: { [PK]: { S: REGISTRY }, [SK]: { S: decodeCursor(cursor) } } } : {}),
      }),
    );
    const last = response.LastEvaluatedKey?.[SK]?.S;
    return { items: (response.Items ?? []).map(toWorkload), ...(last !== undefined ? { cursor: Buffer.from(last).toString('base64url') } : {}) };
  }
}

function toWorkload(item: Record<string, AttributeValue>): EcsWorkload {
  const { [PK]: _registry, [VERSION]: _version, ...workload } = unmarshall(item);
  return workload as EcsWorkload;
}

function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!WORKLOAD_ID_PATTERN.test(id)) throw new InvalidCursorError(cursor);
  return id;
}
