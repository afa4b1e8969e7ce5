import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { HASH_KEY_SECRET_ID_ENV, privacyEnvName } from '../lib/privacy/config';
import type { PrivacyCategory } from '../lib/privacy/categories';
import type { DeploymentConfig } from './config';
import { AppFunction } from './function';
import type { PrivacyHashKey } from './privacy-key';

export interface ScheduledPollerProps {
  readonly config: DeploymentConfig;
  readonly queueTable: dynamodb.ITable;
  readonly captureTable: dynamodb.ITable;
  /** The queue's due index (the only index the poller queries). */
  readonly dueIndexName: string;
  /** The privacy policy's hash key: the poller reads it when each tick starts. */
  readonly hashKey: PrivacyHashKey;
}

/**
 * The DynamoDB operations of one tick, per table. The poller reads due items through the queue's due index
 * (Query), claims/releases/acks them with conditional UpdateItem, reads an item's side item (its stored rows'
 * digests, lib/keys.ts queueCaptureStateKey) with GetItem before storing an answer and writes it with UpdateItem,
 * saves the tick summary with PutItem, and writes capture rows with BatchWriteItem. Nothing else: no Scan, no
 * DeleteItem, no reads of the capture table. The bundle test (test/integration/bundle.test.ts) records the
 * operations the bundled poller really sends and checks them against this list.
 */
export const POLLER_DYNAMODB_ACTIONS = {
  queueTable: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  queueDueIndex: ['dynamodb:Query'],
  // UpdateItem: a session's end writes the rewrite rule's deferred columns into their rows (lib/poller/poller.ts
  // storeDeferredColumns, conditional on the row existing). PutItem: a batch DynamoDB refuses as invalid is
  // retried row by row (lib/store/dynamo-capture-store.ts writeAlone), so one oversized row cannot sink the others.
  captureTable: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
} as const;

/** ARN of a secret given by name (any 6-character suffix) or by its complete ARN. */
export function secretArnForPolicy(scope: Construct, nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn;
  return Stack.of(scope).formatArn({
    service: 'secretsmanager',
    resource: 'secret',
    resourceName: `${nameOrArn}-??????`,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
}

/**
 * The scheduled poller: one NodejsFunction (functions/poller.ts), an EventBridge rule, and an SQS queue that
 * receives invocations that failed (on-failure destination) or could not be delivered (rule DLQ).
 *
 * Async retries are off: a failed tick is followed by the next scheduled one a period later, which takes the
 * same due items (leases expire), so a retry would only add overlap and LivePerson load. Invocations older than
 * two periods are dropped to the failure queue rather than run late.
 */
export class ScheduledPoller extends Construct {
  readonly function: NodejsFunction;
  readonly role: iam.Role;
  readonly rule: events.Rule;
  readonly failures: sqs.Queue;

  constructor(scope: Construct, id: string, props: ScheduledPollerProps) {
    super(scope, id);
    const { config } = props;

    this.failures = new sqs.Queue(this, 'Failures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination (Lambda on-failure destination and the schedule ' +
        "rule's DLQ); cdk-nag only recognises DLQs of other SQS queues. Nothing consumes it: it is kept " +
        '14 days for diagnosis, and the PollerErrors alarm covers the failures it records.',
    });

    const environment: Record<string, string> = {
      LP_ACCOUNT_ID: config.lpAccountId,
      LP_CREDENTIALS_SECRET_ID: config.lpCredentialsSecret,
      ...(config.lpBaseUrl !== undefined ? { LP_BASE_URL: config.lpBaseUrl } : {}),
      ...(config.lpDomainApiUrl !== undefined ? { LP_DOMAIN_API_URL: config.lpDomainApiUrl } : {}),
      QUEUE_TABLE: props.queueTable.tableName,
      // The due index it queries (and is granted below): `due` until a migrated stack's `dueV2` is built.
      QUEUE_DUE_INDEX: props.dueIndexName,
      CAPTURE_TABLE: props.captureTable.tableName,
      POLL_CONCURRENCY: String(config.pollConcurrency),
      POLL_INTERVAL_SECONDS: String(config.pollIntervalSec),
      // The rest of the cadence (lib/poll-cadence.ts): the intervals only when set, their defaults follow it.
      ...(config.pollIntervalAfterEventsSec !== undefined
        ? { POLL_INTERVAL_AFTER_EVENTS_SECONDS: String(config.pollIntervalAfterEventsSec) }
        : {}),
      ...(config.pollQuietMaxIntervalSec !== undefined
        ? { POLL_QUIET_MAX_INTERVAL_SECONDS: String(config.pollQuietMaxIntervalSec) }
        : {}),
      POLL_LAST_LOOK: String(config.pollLastLook),
      LEASE_SECONDS: String(config.leaseSec),
      // The rule's period, which the poller's timing rules count with (lib/poll-timing.ts).
      SCHEDULE_PERIOD_SECONDS: String(config.pollPeriodMin * 60),
      LP_MAX_REQUESTS_PER_SECOND: String(config.lpMaxRequestsPerSecond),
      CAPTURE_RETENTION_DAYS: String(config.captureRetentionDays),
      // The privacy policy: the hash key's secret, and the modes set in the context (lpv:privacy<Category>).
      [HASH_KEY_SECRET_ID_ENV]: props.hashKey.secret.secretArn,
      ...Object.fromEntries(
        (Object.entries(config.privacyModes) as [PrivacyCategory, string][]).map(([category, mode]) => [
          privacyEnvName(category),
          mode,
        ]),
      ),
    };
    const fn = new AppFunction(this, 'Poller', {
      entry: 'functions/poller.ts',
      description: 'lp-visit-capture poller: one tick per scheduled event',
      memoryMiB: config.pollerMemoryMiB,
      timeoutSec: config.pollerTimeoutSec,
      environment,
      logRetentionDays: config.logRetentionDays,
      ...(config.pollerReservedConcurrency !== undefined
        ? { reservedConcurrency: config.pollerReservedConcurrency }
        : {}),
    });
    this.function = fn.function;
    this.role = fn.role;

    this.function.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.minutes(2 * config.pollPeriodMin),
      onFailure: new SqsDestination(this.failures),
    });

    // Least privilege, spelt out (Table.grant* would add the table's every index as index/*).
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'QueueItems',
        actions: [...POLLER_DYNAMODB_ACTIONS.queueTable],
        resources: [props.queueTable.tableArn],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'QueueDueIndex',
        actions: [...POLLER_DYNAMODB_ACTIONS.queueDueIndex],
        resources: [`${props.queueTable.tableArn}/index/${props.dueIndexName}`],
      }),
    );
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'CaptureRows',
        actions: [...POLLER_DYNAMODB_ACTIONS.captureTable],
        resources: [props.captureTable.tableArn],
      }),
    );
    // The LivePerson credentials secret, referenced (never created here). Only the poller may read it.
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'LivePersonCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [secretArnForPolicy(this, config.lpCredentialsSecret)],
      }),
    );

    props.hashKey.grantRead(this.role);

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'lp-visit-capture: one poller tick per period',
      schedule: events.Schedule.expression(config.pollSchedule),
    });
    this.rule.addTarget(
      new targets.LambdaFunction(this.function, {
        deadLetterQueue: this.failures,
        retryAttempts: 2,
        maxEventAge: Duration.minutes(2 * config.pollPeriodMin),
      }),
    );
  }
}
