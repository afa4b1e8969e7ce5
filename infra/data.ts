import { RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import {
  captureByVisitorIndexRead,
  captureTableDefinition,
  queueDueIndexRead,
  queueTableDefinition,
  type CaptureIndexMigration,
  type KeyAttribute,
  type QueueDueIndexMigration,
  type TableDefinition,
} from '../lib/store/schema';

export interface DataTablesProps {
  /**
   * Capture-row retention: 'keep' or days (infra/config.ts). The capture table declares its TTL attribute
   * either way; the poller writes it on rows only when days are set (CAPTURE_RETENTION_DAYS). @default 'keep'
   */
  readonly captureRetentionDays?: 'keep' | number;
  /** Point-in-time recovery period of both tables, 1 to 35 days. @default 35 */
  readonly pointInTimeRecoveryDays?: number;
  /**
   * The step of the due index's migration (lpv:queueDueIndexMigration; docs/deploy.md, "Migrating the queue's
   * due index"). @default 'done': the `dueV2` index alone
   */
  readonly queueDueIndexMigration?: QueueDueIndexMigration;
  /**
   * The step of the capture indexes' migration (lpv:captureIndexMigration; docs/deploy.md, "Migrating the
   * capture indexes"). @default 'done': the three KEYS_ONLY indexes alone
   */
  readonly captureIndexMigration?: CaptureIndexMigration;
}

/** DynamoDB's longest point-in-time recovery period, and ours by default. */
export const MAX_POINT_IN_TIME_RECOVERY_DAYS = 35;

function attribute(key: KeyAttribute): dynamodb.Attribute {
  return {
    name: key.name,
    type: key.type === 'S' ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER,
  };
}

/**
 * A table built from the shared schema (lib/store/schema.ts), the same definition `lpv tables create` uses
 * locally: keys, indexes and the TTL attribute are never spelt here. On-demand, point-in-time recovery (for
 * `pointInTimeRecoveryDays`, default 35: backups keep a deleted or expired item no longer than that),
 * encrypted with the AWS-managed KMS key (usage visible in CloudTrail, no key policy to manage).
 */
export function tableFromDefinition(
  scope: Construct,
  definition: TableDefinition,
  options: {
    removalPolicy: RemovalPolicy;
    deletionProtection: boolean;
    stream?: dynamodb.StreamViewType;
    pointInTimeRecoveryDays?: number;
  },
): dynamodb.Table {
  // The construct id is the schema's logical name: it must never change, a new id replaces the table.
  const table = new dynamodb.Table(scope, definition.logicalName, {
    partitionKey: attribute(definition.partitionKey),
    ...(definition.sortKey ? { sortKey: attribute(definition.sortKey) } : {}),
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: {
      pointInTimeRecoveryEnabled: true,
      recoveryPeriodInDays: options.pointInTimeRecoveryDays ?? MAX_POINT_IN_TIME_RECOVERY_DAYS,
    },
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
      projectionType: dynamodb.ProjectionType[index.projection],
      ...(index.nonKeyAttributes !== undefined ? { nonKeyAttributes: [...index.nonKeyAttributes] } : {}),
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
 *   by mistake can delete it. Rows are kept until someone deletes them, or, with a retention, until their TTL
 *   (`expiresAtSec`, the same on every row of a session: lib/capture-retention.ts).
 * Both: point-in-time recovery for `pointInTimeRecoveryDays` (the queue too: it holds visitor and session ids,
 * and a shorter period is what an operator asks for to bound how long erased data survives in backups).
 */
export class DataTables extends Construct {
  readonly queueTable: dynamodb.Table;
  readonly captureTable: dynamodb.Table;
  /** Name of the queue's due index that readers query (the only index the poller queries). */
  readonly dueIndexName: string;
  /** Name of the capture index that lists a visitor's sessions to the eraser (queried and granted). */
  readonly captureByVisitorIndexName: string;

  constructor(scope: Construct, id: string, props: DataTablesProps = {}) {
    super(scope, id);
    const pointInTimeRecoveryDays = props.pointInTimeRecoveryDays ?? MAX_POINT_IN_TIME_RECOVERY_DAYS;
    if (!(
      Number.isInteger(pointInTimeRecoveryDays) &&
      pointInTimeRecoveryDays >= 1 &&
      pointInTimeRecoveryDays <= 35
    )) {
      throw new Error(
        `pointInTimeRecoveryDays must be an integer from 1 to 35, got ${pointInTimeRecoveryDays}`,
      );
    }
    const migration = props.queueDueIndexMigration ?? 'done';
    this.queueTable = tableFromDefinition(this, queueTableDefinition(migration), {
      removalPolicy: RemovalPolicy.DESTROY,
      deletionProtection: false,
      pointInTimeRecoveryDays,
    });
    const captureIndexMigration = props.captureIndexMigration ?? 'done';
    this.captureTable = tableFromDefinition(this, captureTableDefinition(captureIndexMigration), {
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
      pointInTimeRecoveryDays,
      // New and old images feed the analytics copy (infra/analytics.ts): a write becomes an Iceberg upsert, a
      // removal (erasure, TTL) a delete, whose table and partition only the OLD image tells. Changing the view
      // type replaces the stream (and so the pipe that reads it): docs/deploy.md, "Moving to the Iceberg copy".
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    // The index every reader of due items queries (and is granted): `due` until `dueV2` is built.
    this.dueIndexName = queueDueIndexRead(migration);
    // byVisitor's legacy index while its successor is being built, the successor from the next step on.
    this.captureByVisitorIndexName = captureByVisitorIndexRead(captureIndexMigration);
  }
}
