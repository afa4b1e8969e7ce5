import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CAPTURE_TABLE, QUEUE_TABLE, type KeyAttribute, type TableDefinition } from '../lib/store/schema';

export interface DataTablesProps {
  /** Capture-row retention: 'keep' only (see infra/config.ts). @default 'keep' */
  readonly captureRetentionDays?: 'keep';
}

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return {
    name: key.name,
    type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  };
}

/**
 * A table built from the shared schema (lib/store/schema.ts), the same definition `lpv tables create` uses
 * locally: keys, indexes and the TTL attribute are never spelt here. On-demand, point-in-time recovery,
 * encrypted with the AWS-managed KMS key (usage visible in CloudTrail, no key policy to manage).
 */
export function tableFromDefinition(
  scope: Construct,
  definition: TableDefinition,
  options: { removalPolicy: RemovalPolicy; deletionProtection: boolean; stream?: dynamodb.StreamViewType },
): dynamodb.Table {
  // The construct id is the schema's logical name: it must never change, a new id replaces the table.
  const table = new dynamodb.Table(scope, definition.logicalName, {
    partitionKey: attribute(definition.partitionKey),
    ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    encryption: dynamodb.TableEncryption.AWS_MANAGED,
    ...(definition.ttlAttributeSec !== undefined ? { timeToLiveAttribute: definition.ttlAttributeSec } : {}),
    removalPolicy: options.removalPolicy,
    deletionProtection: options.deletionProtection,
    ...(options.stream !== undefined ? { stream: options.stream } : {}),
  });
  for (const index of definition.indexes) {
    table.addGlobalSecondaryIndex({
      indexName: index.indexName,
      partitionKey: attribute(index.partitionKey),
      sortKey: attribute(index.sortKey),
      projectionType:
        index.projection === 'ALL' ? dynamodb.ProjectionType.ALL : dynamodb.ProjectionType.KEYS_ONLY,
    });
  }
  return table;
}

/**
 * The queue and capture tables.
 *
 * - Queue: work in flight; items expire through DynamoDB TTL (`expiresAtSec`, a week after the session's
 *   deadline). Deleted with the stack: what it holds is at most six hours from worthless.
 * - Capture: the analysts' data. RETAIN and deletion protection, so neither `cdk destroy` nor a replacement
 *   by mistake can delete it. Rows are kept until someone deletes them.
 */
export class DataTables extends Construct {
  readonly queueTable: dynamodb.Table;
  readonly captureTable: dynamodb.Table;
  /** Name of the queue's due index (the only index the poller queries). */
  readonly dueIndexName: string;

  constructor(scope: Construct, id: string, _props: DataTablesProps = {}) {
    super(scope, id);
    this.queueTable = tableFromDefinition(this, QUEUE_TABLE, {
      removalPolicy: RemovalPolicy.DESTROY,
      deletionProtection: false,
    });
    this.captureTable = tableFromDefinition(this, CAPTURE_TABLE, {
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
      // New images feed the analytics bucket (infra/analytics.ts): every written row reaches S3.
      stream: dynamodb.StreamViewType.NEW_IMAGE,
    });
    const due = QUEUE_TABLE.indexes[0];
    if (due === undefined) throw new Error('QUEUE_TABLE defines no due index');
    this.dueIndexName = due.indexName;
  }
}
