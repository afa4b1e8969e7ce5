import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { ANALYTICS_RESEND_WAIT_ENV, ANALYTICS_STREAM_ENV } from '../lib/erasure/config';
import { DEFAULT_WORK_BUDGET_MS } from '../lib/erasure/eraser';
import { SECOND_PASS_MARGIN_MS } from '../lib/erasure/forget';
import { analyticsResendWaitMs } from '../lib/erasure/plan';
import { HASH_KEY_SECRET_ID_ENV } from '../lib/privacy/config';
import type { DeploymentConfig } from './config';
import { AppFunction } from './function';
import type { PrivacyHashKey } from './privacy-key';

export interface ErasureProps {
  readonly config: DeploymentConfig;
  readonly queueTable: dynamodb.ITable;
  readonly captureTable: dynamodb.ITable;
  /** The queue's due index: the eraser lists the pending requests on its erasure partition. */
  readonly dueIndexName: string;
  /**
   * The capture index that lists a visitor's sessions (DataTables.captureByVisitorIndexName: the legacy one while
   * its successor is built, docs/deploy.md "Migrating the capture indexes").
   */
  readonly captureByVisitorIndexName: string;
  /** The privacy hash key: the audit names the visitor by its keyed hash, as `lpv forget`'s does. */
  readonly hashKey: PrivacyHashKey;
  /**
   * The analytics copy's delivery stream (infra/analytics.ts): each erasure re-sends its deletes to it after
   * its buffer (bufferIntervalSec). None: no re-send.
   */
  readonly analyticsFeed?: {
    readonly deliveryStream: firehose.CfnDeliveryStream;
    readonly bufferIntervalSec: number;
  };
}

/**
 * The DynamoDB operations of the eraser (lib/erasure/eraser.ts over lib/store/dynamo-erasure.ts), per table:
 * the pending requests by Query of the due index; claim, release and audit by UpdateItem; the visitor's queue
 * items (and their side items) by Scan (docs/erasure.md says why not an index), tombstones by PutItem, side
 * items by DeleteItem; the visitor's sessions by
 * Query of the capture table's byVisitor index, each session's rows by Query, deleted by BatchWriteItem.
 */
export const ERASER_DYNAMODB_ACTIONS = {
  // DeleteItem: the queue items' side items; GetItem and DeleteItem: the erased rows kept for the analytics
  // re-send (DynamoErasedRows).
  queueTable: [
    'dynamodb:DeleteItem',
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:Scan',
    'dynamodb:UpdateItem',
  ],
  queueDueIndex: ['dynamodb:Query'],
  captureTable: ['dynamodb:BatchWriteItem', 'dynamodb:Query'],
  captureByVisitorIndex: ['dynamodb:Query'],
} as const;

/** The eraser's one Firehose action (the analytics re-send), on the analytics delivery stream only. */
export const ERASER_FIREHOSE_ACTIONS = ['firehose:PutRecordBatch'] as const;

/** The eraser's schedule: a request waits at most a minute for its run. */
export const ERASER_SCHEDULE = 'rate(1 minute)';
/** Lambda's longest timeout. */
const MAX_TIMEOUT_SEC = 900;

/**
 * The eraser's timeout: 300 s, or longer, so that an erasure fits in one invocation with a minute to spare for a
 * run that starts with others already claimed: its waits (the lease plus the margin before the second pass,
 * and the analytics buffer before the re-send, `analyticsWaitSec`) and its reads and deletes. Throws when no
 * Lambda timeout can hold it.
 */
export function eraserTimeoutSec(leaseSec: number, analyticsWaitSec = 0): number {
  const neededSec =
    leaseSec + analyticsWaitSec + (SECOND_PASS_MARGIN_MS + DEFAULT_WORK_BUDGET_MS) / 1000 + 60;
  const timeoutSec = Math.max(300, Math.ceil(neededSec));
  if (timeoutSec > MAX_TIMEOUT_SEC) {
    throw new Error(
      `lpv:leaseSec of ${leaseSec} s leaves the eraser no time: an erasure waits the lease + ` +
        `${SECOND_PASS_MARGIN_MS / 1000} s` +
        (analyticsWaitSec > 0 ? ` and ${analyticsWaitSec} s for the analytics buffer` : '') +
        ` and needs ${DEFAULT_WORK_BUDGET_MS / 1000} s of work within ` +
        `Lambda's ${MAX_TIMEOUT_SEC} s (a lease of at most ${MAX_TIMEOUT_SEC - (neededSec - leaseSec)} s fits)`,
    );
  }
  return timeoutSec;
}

/**
 * The eraser (functions/eraser.ts): a scheduled function that carries out the erasure requests of POST
 * /forget, one run a minute (docs/erasure.md, "POST /forget").
 *
 * Runs may overlap (a run waits a lease before its second pass): each request is taken under a conditional
 * lease that outlasts the invocation, so overlapping runs never take the same request and a crashed run's
 * request is taken over after its lease. No reserved concurrency, on purpose: it would take capacity from the
 * account's pool for a function that idles, and a throttled scheduled event is not worth a failure; at most
 * five runs overlap (timeout / schedule), each taking at most ten requests.
 *
 * Async retries are off: the next run, a minute later, takes the same requests.
 */
export class Erasure extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: ErasureProps) {
    super(scope, id);
    const { config } = props;
    const feed = props.analyticsFeed;
    const analyticsWaitSec = feed === undefined ? 0 : analyticsResendWaitMs(feed.bufferIntervalSec) / 1000;

    const fn = new AppFunction(this, 'Eraser', {
      entry: 'functions/eraser.ts',
      description: 'lp-visit-capture eraser: carries out the erasure requests of POST /forget',
      memoryMiB: 256,
      timeoutSec: eraserTimeoutSec(config.leaseSec, analyticsWaitSec),
      logRetentionDays: config.logRetentionDays,
      environment: {
        LP_ACCOUNT_ID: config.lpAccountId,
        QUEUE_TABLE: props.queueTable.tableName,
        CAPTURE_TABLE: props.captureTable.tableName,
        // The indexes it queries (and is granted below): during a migration, not the constants' names.
        QUEUE_DUE_INDEX: props.dueIndexName,
        CAPTURE_BY_VISITOR_INDEX: props.captureByVisitorIndexName,
        // The poller's lease: how long a poll claimed before a tombstone may go on writing.
        LEASE_SECONDS: String(config.leaseSec),
        // The audit's visitor hash, with the poller's key (read through the same provider).
        [HASH_KEY_SECRET_ID_ENV]: props.hashKey.secret.secretArn,
        ...(feed !== undefined
          ? {
              // Ref of a delivery stream is its name.
              [ANALYTICS_STREAM_ENV]: feed.deliveryStream.ref,
              [ANALYTICS_RESEND_WAIT_ENV]: String(analyticsWaitSec),
            }
          : {}),
      },
    });
    this.function = fn.function;
    this.role = fn.role;
    this.function.configureAsyncInvoke({ retryAttempts: 0, maxEventAge: Duration.minutes(2) });

    // Least privilege, spelt out (Table.grant* would add every index as index/*).
    const allow = (sid: string, actions: readonly string[], resource: string): void => {
      this.role.addToPrincipalPolicy(
        new iam.PolicyStatement({ sid, actions: [...actions], resources: [resource] }),
      );
    };
    allow('ErasureQueueItems', ERASER_DYNAMODB_ACTIONS.queueTable, props.queueTable.tableArn);
    allow(
      'ErasureRequestsDue',
      ERASER_DYNAMODB_ACTIONS.queueDueIndex,
      `${props.queueTable.tableArn}/index/${props.dueIndexName}`,
    );
    allow('ErasureCaptureRows', ERASER_DYNAMODB_ACTIONS.captureTable, props.captureTable.tableArn);
    allow(
      'ErasureCaptureByVisitor',
      ERASER_DYNAMODB_ACTIONS.captureByVisitorIndex,
      `${props.captureTable.tableArn}/index/${props.captureByVisitorIndexName}`,
    );
    props.hashKey.grantRead(this.role);
    // The re-sent deletes: PutRecordBatch on the one delivery stream (lib/query/analytics-deletes.ts).
    if (feed !== undefined) {
      allow('ErasureAnalyticsDeletes', ERASER_FIREHOSE_ACTIONS, feed.deliveryStream.attrArn);
    }

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'lp-visit-capture: one eraser run a minute (POST /forget requests)',
      schedule: events.Schedule.expression(ERASER_SCHEDULE),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, { retryAttempts: 0, maxEventAge: Duration.minutes(2) }),
    );
  }
}
