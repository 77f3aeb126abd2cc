import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { nonKeyAttributes, TABLE_SCHEMA, type IndexKey } from '../adapters/dynamodb/schema.ts';

/** The table calls the handlers make; never Scan (every read is one key or one index partition). */
export type TableAction = 'GetItem' | 'BatchGetItem' | 'PutItem' | 'DeleteItem';
export type IndexAction = 'Query';
export type { IndexKey };

export interface BackoffTableProps {
  /**
   * What happens to the table (and its data) when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Encryption at rest. `CUSTOMER_MANAGED` creates a key with rotation and
   * grants the handlers the KMS actions DynamoDB needs on their behalf.
   * @default dynamodb.TableEncryption.AWS_MANAGED
   */
  readonly encryption?: dynamodb.TableEncryption;
}

/** Grants on the table: actions on the table itself, and actions on named indexes. */
export interface TableGrant {
  readonly table?: readonly TableAction[];
  readonly indexes?: { readonly actions: readonly IndexAction[]; readonly names: readonly IndexKey[] };
}

/**
 * The back-off table (DESIGN §3): one item per container, on-demand,
 * point-in-time recovery, encrypted, DynamoDB TTL as kubelet's `gc`, and the
 * sharded indexes of TABLE_SCHEMA.
 */
export class BackoffTable extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string, props: BackoffTableProps = {}) {
    super(scope, id);
    const attribute = (key: { name: string; type: 'S' | 'N' }): dynamodb.Attribute => ({
      name: key.name,
      type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
    });
    const encryption = props.encryption ?? dynamodb.TableEncryption.AWS_MANAGED;
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: attribute(TABLE_SCHEMA.partitionKey),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption,
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      // With CUSTOMER_MANAGED and no key given, the table creates its own key with rotation on.
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of Object.values(TABLE_SCHEMA.indexes)) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.indexName,
        partitionKey: attribute(index.partitionKey),
        sortKey: attribute(index.sortKey),
        projectionType: dynamodb.ProjectionType[index.projection],
        ...(index.projection === 'INCLUDE' ? { nonKeyAttributes: [...nonKeyAttributes(index)] } : {}),
      });
    }
  }

  get tableName(): string {
    return this.table.tableName;
  }

  /** The ARN of one index, exactly (no `index/*`). */
  indexArn(index: IndexKey): string {
    return `${this.table.tableArn}/index/${TABLE_SCHEMA.indexes[index].indexName}`;
  }

  /**
   * Grants exactly the listed DynamoDB actions, on the table and on the named
   * indexes only; with a customer-managed key, the KMS actions those calls
   * need, limited to calls DynamoDB makes on the grantee's behalf.
   */
  grant(grantee: iam.IGrantable, grant: TableGrant): void {
    const tableActions = grant.table ?? [];
    if (tableActions.length > 0) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: tableActions.map((action) => `dynamodb:${action}`),
        resourceArns: [this.table.tableArn],
      });
    }
    if (grant.indexes && grant.indexes.actions.length > 0) {
      iam.Grant.addToPrincipal({
        grantee,
        actions: grant.indexes.actions.map((action) => `dynamodb:${action}`),
        resourceArns: grant.indexes.names.map((name) => this.indexArn(name)),
      });
    }
    this.grantKeyUse(grantee, tableActions.some((action) => action === 'PutItem' || action === 'DeleteItem'));
  }

  /**
   * Grants taking restart-budget slots: `dynamodb:UpdateItem`, and only on the
   * budget items (`dynamodb:LeadingKeys` under the budget key prefix), so the
   * grant cannot touch a container's item.
   */
  grantBudgetReservations(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'TakeRestartBudgetSlots',
        actions: ['dynamodb:UpdateItem'],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${TABLE_SCHEMA.restartBudget.keyPrefix}*`] } },
      }),
    );
    this.grantKeyUse(grantee, true);
  }

  /** With a customer-managed key, the KMS calls DynamoDB makes on the grantee's behalf (and only those). */
  private grantKeyUse(grantee: iam.IGrantable, writes: boolean): void {
    const key = this.table.encryptionKey;
    if (key) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: writes
            ? ['kms:Decrypt', 'kms:DescribeKey', 'kms:Encrypt', 'kms:GenerateDataKey']
            : ['kms:Decrypt', 'kms:DescribeKey'],
          resources: [key.keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `dynamodb.${Stack.of(this).region}.amazonaws.com` } },
        }),
      );
    }
  }
}
