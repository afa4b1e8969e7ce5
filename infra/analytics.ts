import { createHash } from 'node:crypto';
import { ArnFormat, Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import schema from '../lib/query/analytics-schema.json';
import type { AnalyticsSchema } from '../lib/query/analytics-schema';
import { createTableDdl, ICEBERG_PREFIX, tableLocation } from '../lib/query/analytics-schema-ddl';
import { UNIQUE_KEYS } from '../lib/query/analytics-route';
import { NAMED_QUERIES } from '../lib/query/named-queries';
import type { AnalyticsRetentionSettings } from './analytics-retention';
import { AppFunction } from './function';

/** The generated schema of the Iceberg tables (lib/query/analytics-schema.json, written by `npm run docs`). */
export const ANALYTICS_SCHEMA = schema as AnalyticsSchema;

/** Prefix of the NDJSON copy written before the Iceberg tables: expired by a lifecycle rule, never read. */
export const LEGACY_ROWS_PREFIX = 'rows/';
/** Prefix of what Firehose could not route (processing-failed) or apply (per table), as it received it. */
export const ERRORS_PREFIX = 'errors/';

/** The retention clocks' defaults (infra/config.ts holds the same, as context keys). */
export const DEFAULT_ANALYTICS_RETENTION: AnalyticsRetentionSettings = {
  snapshotRetentionDays: 5,
  orphanFileRetentionDays: 3,
  noncurrentVersionDays: 1,
  errorsRetentionDays: 7,
  resultsRetentionDays: 7,
  legacyRowsExpiryDays: 1,
};

export interface CaptureAnalyticsProps {
  /** The capture table. Its stream must carry new AND old images (a removal's table is in the old image). */
  readonly captureTable: dynamodb.ITable;
  /** Glue database of the Iceberg tables (lower case, underscores). @default 'lp_visit_capture_iceberg' */
  readonly databaseName?: string;
  /** Athena workgroup. @default 'lp-visit-capture' */
  readonly workGroupName?: string;
  /** Athena refuses queries that would scan more. @default 10 (GiB) */
  readonly bytesScannedCutoffPerQueryGiB?: number;
  /**
   * Firehose buffering before a commit to the tables: at most this long. An erasure re-sends its deletes after
   * it (lib/query/analytics-route.ts, erasureDeleteRecord). @default 300 (5 min; Iceberg allows 0 to 900)
   */
  readonly bufferIntervalSec?: number;
  /** Or when this much has arrived. @default 128 (MiB, the maximum) */
  readonly bufferSizeMiB?: number;
  /** The retention clocks (infra/analytics-retention.ts). @default DEFAULT_ANALYTICS_RETENTION */
  readonly retention?: AnalyticsRetentionSettings;
  /** Retention of the route function's, Firehose's and the table creation's logs. @default 30 */
  readonly logRetentionDays?: number;
}

/**
 * SQL at scale over the capture rows: Apache Iceberg tables kept in step with the capture table, and an Athena
 * workgroup over them.
 *
 *   capture table stream (NEW_AND_OLD_IMAGES) → EventBridge Pipes → Kinesis Data Firehose (Iceberg destination,
 *   unique keys pk, sk) → record transformation (functions/analytics-route.ts: table, operation, row; a REMOVE
 *   becomes a delete) → Iceberg tables in the Glue catalog, one per row type, partitioned by `rowday` →
 *   Athena workgroup with named queries. Glue table optimizers compact, expire snapshots and delete orphans.
 *
 * The tables are created ONCE, by Athena DDL run from a custom resource when the stack is created (not
 * AWS::Glue::Table, whose updates break Iceberg tables: lib/query/analytics-schema-ddl.ts), and evolved by
 * tools/analytics/migrate.ts. The bucket is private, encrypted, TLS only, versioned, and every prefix expires:
 * Iceberg files by the optimizers, then their noncurrent versions; errors/; the old NDJSON rows/.
 */
export class CaptureAnalytics extends Construct {
  readonly rowsBucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly pipe: pipes.CfnPipe;
  /** The Firehose record transformation (routing). */
  readonly route: AppFunction;
  readonly failures: sqs.Queue;
  readonly database: glue.CfnDatabase;
  /** The custom resources that create the tables, by table name. */
  readonly tableCreations: Record<string, cr.AwsCustomResource>;
  readonly optimizers: glue.CfnTableOptimizer[];
  readonly workGroup: athena.CfnWorkGroup;
  readonly namedQueries: athena.CfnNamedQuery[];
  readonly databaseName: string;
  readonly bufferIntervalSec: number;

  constructor(scope: Construct, id: string, props: CaptureAnalyticsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const streamArn = props.captureTable.tableStreamArn;
    if (streamArn === undefined) {
      throw new Error(
        'CaptureAnalytics needs the capture table stream: create the table with stream: StreamViewType.NEW_AND_OLD_IMAGES',
      );
    }
    this.databaseName = props.databaseName ?? 'lp_visit_capture_iceberg';
    if (!/^[a-z0-9_]{1,255}$/.test(this.databaseName)) {
      throw new Error(`databaseName must be lower case letters, digits and _, got "${this.databaseName}"`);
    }
    const cutoffGiB = props.bytesScannedCutoffPerQueryGiB ?? 10;
    const logRetentionDays = props.logRetentionDays ?? 30;
    const retention = props.retention ?? DEFAULT_ANALYTICS_RETENTION;
    this.bufferIntervalSec = props.bufferIntervalSec ?? 300;
    if (this.bufferIntervalSec < 0 || this.bufferIntervalSec > 900) {
      throw new Error(`bufferIntervalSec must be from 0 to 900, got ${this.bufferIntervalSec}`);
    }
    const bufferSizeMiB = props.bufferSizeMiB ?? 128;
    if (bufferSizeMiB < 1 || bufferSizeMiB > 128) {
      throw new Error(`bufferSizeMiB must be from 1 to 128, got ${bufferSizeMiB}`);
    }

    // Buckets ---------------------------------------------------------------------------------------------
    const privateBucket = {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      removalPolicy: RemovalPolicy.RETAIN,
    } as const;
    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      ...privateBucket,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }],
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket receives the server access logs of the rows and results buckets; logging its own access ' +
        'would need yet another bucket (and so on). It is private, TLS-only and encrypted like them.',
    });
    // The construct id stays 'Rows': the bucket (and the NDJSON of before, which its rules now expire) is kept.
    this.rowsBucket = new s3.Bucket(this, 'Rows', {
      ...privateBucket,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'rows/',
      lifecycleRules: [
        {
          // Files the optimizers delete (rewritten by compaction, of expired snapshots, orphans) become
          // noncurrent versions: they go after this, or an erased row would outlive its snapshots.
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(retention.noncurrentVersionDays),
          expiredObjectDeleteMarker: true,
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
        {
          // Records Firehose could not route or apply, as received: raw rows, personal data included.
          id: 'expire-errors',
          prefix: ERRORS_PREFIX,
          expiration: Duration.days(retention.errorsRetentionDays),
        },
        {
          // The append-only NDJSON copy of before the Iceberg tables: nothing reads or writes it any more, and
          // it cannot honour an erasure. Rows still in DynamoDB reach the tables again (docs/deploy.md).
          id: 'expire-legacy-ndjson',
          prefix: LEGACY_ROWS_PREFIX,
          expiration: Duration.days(retention.legacyRowsExpiryDays),
        },
      ],
    });
    this.resultsBucket = new s3.Bucket(this, 'QueryResults', {
      ...privateBucket,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'query-results/',
      lifecycleRules: [
        {
          id: 'expire-query-results',
          expiration: Duration.days(retention.resultsRetentionDays),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
    });
    const icebergObjects = this.rowsBucket.arnForObjects(`${ICEBERG_PREFIX}*`);
    const rowsLogicalId = stack.resolve(
      (this.rowsBucket.node.defaultChild as s3.CfnBucket).logicalId,
    ) as string;
    const resultsLogicalId = stack.resolve(
      (this.resultsBucket.node.defaultChild as s3.CfnBucket).logicalId,
    ) as string;

    // Glue catalog and Athena --------------------------------------------------------------------------------
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: this.databaseName,
        description: 'lp-visit-capture rows as Iceberg tables, kept in step with the capture table',
        locationUri: `s3://${this.rowsBucket.bucketName}/${ICEBERG_PREFIX}`,
      },
    });
    const catalogArn = stack.formatArn({ service: 'glue', resource: 'catalog' });
    const databaseArn = stack.formatArn({
      service: 'glue',
      resource: 'database',
      resourceName: this.databaseName,
    });
    const tableArns = ANALYTICS_SCHEMA.tables.map((t) =>
      stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/${t.name}` }),
    );
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName ?? 'lp-visit-capture',
      description: 'SQL over the Iceberg tables of the capture rows (encrypted results, bytes-scanned limit)',
      state: 'ENABLED',
      recursiveDeleteOption: false,
      workGroupConfiguration: {
        enforceWorkGroupConfiguration: true,
        publishCloudWatchMetricsEnabled: true,
        bytesScannedCutoffPerQuery: cutoffGiB * 1024 ** 3,
        engineVersion: { selectedEngineVersion: 'Athena engine version 3' },
        resultConfiguration: {
          outputLocation: `s3://${this.resultsBucket.bucketName}/`,
          encryptionConfiguration: { encryptionOption: 'SSE_S3' },
        },
      },
    });
    const workGroupArn = stack.formatArn({
      service: 'athena',
      resource: 'workgroup',
      resourceName: this.workGroup.ref,
    });

    // Tables: created once (CREATE TABLE IF NOT EXISTS through Athena, on the stack's creation only) --------
    const creatorLogs = new logs.LogGroup(this, 'TableCreationLogs', {
      retention: logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const creatorRole = new iam.Role(this, 'TableCreationRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Creates the analytics Iceberg tables once, through Athena DDL in the analytics workgroup',
    });
    creatorLogs.grantWrite(creatorRole);
    creatorRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RunDdl',
        actions: ['athena:StartQueryExecution', 'athena:GetQueryExecution'],
        resources: [workGroupArn],
      }),
    );
    creatorRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CreateTables',
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:CreateTable'],
        resources: [catalogArn, databaseArn, ...tableArns],
      }),
    );
    // Athena writes the tables' first metadata files under iceberg/ and the DDL's result in the results bucket,
    // with the caller's rights.
    creatorRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteTableMetadataAndResult',
        actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:GetObject', 's3:PutObject'],
        resources: [
          this.rowsBucket.bucketArn,
          icebergObjects,
          this.resultsBucket.bucketArn,
          this.resultsBucket.arnForObjects('*'),
        ],
      }),
    );
    Validations.of(creatorRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${rowsLogicalId}.Arn>/${ICEBERG_PREFIX}*]`,
      reason:
        'Athena names the metadata files it writes for a new Iceberg table (a version number and a uuid under ' +
        'each table location); the grant is limited to the iceberg/ prefix of the rows bucket.',
    });
    Validations.of(creatorRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${resultsLogicalId}.Arn>/*]`,
      reason:
        'Athena writes each query result under a name it chooses (the query execution id) in the results bucket, ' +
        'which holds nothing but results.',
    });
    this.tableCreations = {};
    for (const table of ANALYTICS_SCHEMA.tables) {
      const ddl = createTableDdl(
        ANALYTICS_SCHEMA,
        table,
        this.databaseName,
        tableLocation(this.rowsBucket.bucketName, table.name),
      );
      const creation = new cr.AwsCustomResource(this, `CreateTable-${table.rowType}`, {
        // onCreate only: a later change of the schema is a migration (tools/analytics/migrate.ts), never a
        // re-creation; deleting the stack leaves the tables and their files (the bucket is retained).
        onCreate: {
          service: 'Athena',
          action: 'StartQueryExecution',
          parameters: {
            QueryString: ddl,
            WorkGroup: this.workGroup.ref,
            QueryExecutionContext: { Database: this.databaseName },
            // The same request retried by CloudFormation runs once.
            ClientRequestToken: createHash('sha256')
              .update(`${this.databaseName}.${table.name}`)
              .digest('hex')
              .slice(0, 64),
          },
          physicalResourceId: cr.PhysicalResourceId.of(`${this.databaseName}.${table.name}`),
        },
        role: creatorRole,
        logGroup: creatorLogs,
        installLatestAwsSdk: false,
        timeout: Duration.minutes(2),
      });
      creation.node.addDependency(this.database, this.workGroup, creatorRole);
      this.tableCreations[table.name] = creation;
    }

    // Table optimizers: compaction, snapshot retention, orphan-file deletion, for every table ------------
    const optimizerRole = new iam.Role(this, 'OptimizerRole', {
      assumedBy: new iam.ServicePrincipal('glue.amazonaws.com'),
      description:
        'Glue table optimizers of the analytics Iceberg tables: compact, expire snapshots, delete orphans',
    });
    optimizerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RewriteTableFiles',
        actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [icebergObjects],
      }),
    );
    optimizerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListTableFiles',
        actions: ['s3:ListBucket', 's3:GetBucketLocation'],
        resources: [this.rowsBucket.bucketArn],
      }),
    );
    optimizerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CommitTables',
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'],
        resources: [catalogArn, databaseArn, ...tableArns],
      }),
    );
    const optimizerLogGroups = ['compaction', 'retention', 'orphan-file-deletion'].map((kind) =>
      stack.formatArn({
        service: 'logs',
        resource: 'log-group',
        resourceName: `/aws-glue/iceberg-${kind}/logs:*`,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      }),
    );
    optimizerRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'OptimizerLogs',
        actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: optimizerLogGroups,
      }),
    );
    Validations.of(optimizerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${rowsLogicalId}.Arn>/${ICEBERG_PREFIX}*]`,
      reason:
        'Compaction writes files it names and deletes the ones it replaced, anywhere under the tables; the ' +
        'grant is limited to the iceberg/ prefix of the rows bucket.',
    });
    Validations.of(optimizerRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/iceberg-compaction/logs:*]',
      reason:
        'Glue names the log streams of its compaction runs; the grant is limited to that one log group.',
    });
    Validations.of(optimizerRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/iceberg-retention/logs:*]',
      reason:
        'Glue names the log streams of its snapshot-retention runs; the grant is limited to that log group.',
    });
    Validations.of(optimizerRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/iceberg-orphan-file-deletion/logs:*]',
      reason:
        'Glue names the log streams of its orphan-file runs; the grant is limited to that one log group.',
    });
    this.optimizers = [];
    for (const table of ANALYTICS_SCHEMA.tables) {
      const configurations: [string, Partial<glue.CfnTableOptimizer.TableOptimizerConfigurationProperty>][] =
        [
          // A file with a single delete is worth rewriting: that is what makes an erased row's bytes go.
          ['compaction', { compactionConfiguration: { icebergConfiguration: { deleteFileThreshold: 1 } } }],
          [
            'retention',
            {
              retentionConfiguration: {
                icebergConfiguration: {
                  snapshotRetentionPeriodInDays: retention.snapshotRetentionDays,
                  numberOfSnapshotsToRetain: 1,
                  cleanExpiredFiles: true,
                },
              },
            },
          ],
          [
            'orphan_file_deletion',
            {
              orphanFileDeletionConfiguration: {
                icebergConfiguration: { orphanFileRetentionPeriodInDays: retention.orphanFileRetentionDays },
              },
            },
          ],
        ];
      for (const [type, configuration] of configurations) {
        const optimizer = new glue.CfnTableOptimizer(this, `Optimizer-${table.rowType}-${type}`, {
          catalogId: Aws.ACCOUNT_ID,
          databaseName: this.databaseName,
          tableName: table.name,
          type,
          tableOptimizerConfiguration: { roleArn: optimizerRole.roleArn, enabled: true, ...configuration },
        });
        optimizer.node.addDependency(this.tableCreations[table.name] as cr.AwsCustomResource, optimizerRole);
        this.optimizers.push(optimizer);
      }
    }

    // Route function (Firehose record transformation) ----------------------------------------------------
    this.route = new AppFunction(this, 'Route', {
      entry: 'functions/analytics-route.ts',
      memoryMiB: 256,
      timeoutSec: 60,
      environment: { ANALYTICS_DATABASE: this.databaseName },
      logRetentionDays,
      description:
        'Capture table stream records to Iceberg table, operation and row (Firehose transformation)',
    });

    // Firehose: Iceberg destination ----------------------------------------------------------------------------
    const firehoseLogs = new logs.LogGroup(this, 'FirehoseLogs', {
      retention: logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const firehoseLogStream = firehoseLogs.addStream('IcebergDelivery');
    const firehoseRole = new iam.Role(this, 'FirehoseRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com'),
      description:
        'Kinesis Data Firehose: writes the Iceberg tables, errors/, its log stream; runs the route',
    });
    firehoseRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListRowsBucket',
        actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
        resources: [this.rowsBucket.bucketArn],
      }),
    );
    firehoseRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteTableFiles',
        actions: ['s3:AbortMultipartUpload', 's3:GetObject', 's3:PutObject', 's3:DeleteObject'],
        resources: [icebergObjects],
      }),
    );
    firehoseRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteErrors',
        actions: ['s3:AbortMultipartUpload', 's3:PutObject'],
        resources: [this.rowsBucket.arnForObjects(`${ERRORS_PREFIX}*`)],
      }),
    );
    firehoseRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CommitTables',
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:UpdateTable'],
        resources: [catalogArn, databaseArn, ...tableArns],
      }),
    );
    firehoseRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeRoute',
        actions: ['lambda:InvokeFunction', 'lambda:GetFunctionConfiguration'],
        resources: [this.route.function.functionArn],
      }),
    );
    firehoseLogs.grantWrite(firehoseRole);
    Validations.of(firehoseRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${rowsLogicalId}.Arn>/${ICEBERG_PREFIX}*]`,
      reason:
        'Firehose names the data and delete files it commits (partition, uuid) under each table location; the ' +
        'grant is limited to the iceberg/ prefix of the rows bucket.',
    });
    Validations.of(firehoseRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${rowsLogicalId}.Arn>/${ERRORS_PREFIX}*]`,
      reason:
        'Firehose names the objects of records it could not route or deliver (error type, table, timestamp); ' +
        'put only, limited to the errors/ prefix.',
    });
    const bufferingHints = { intervalInSeconds: this.bufferIntervalSec, sizeInMBs: bufferSizeMiB };
    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'Feed', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      icebergDestinationConfiguration: {
        roleArn: firehoseRole.roleArn,
        catalogConfiguration: { catalogArn },
        // Updates and deletes: never append-only (Firehose would then reorder freely and apply inserts only).
        appendOnly: false,
        destinationTableConfigurationList: ANALYTICS_SCHEMA.tables.map((t) => ({
          destinationDatabaseName: this.databaseName,
          destinationTableName: t.name,
          uniqueKeys: [...UNIQUE_KEYS],
          s3ErrorOutputPrefix: `${ERRORS_PREFIX}table=${t.name}/`,
        })),
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'Lambda',
              parameters: [
                { parameterName: 'LambdaArn', parameterValue: this.route.function.functionArn },
                { parameterName: 'NumberOfRetries', parameterValue: '3' },
                { parameterName: 'BufferSizeInMBs', parameterValue: '1' },
                { parameterName: 'BufferIntervalInSeconds', parameterValue: '60' },
              ],
            },
          ],
        },
        bufferingHints,
        retryOptions: { durationInSeconds: 300 },
        s3BackupMode: 'FailedDataOnly',
        s3Configuration: {
          bucketArn: this.rowsBucket.bucketArn,
          roleArn: firehoseRole.roleArn,
          errorOutputPrefix: `${ERRORS_PREFIX}!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/`,
          bufferingHints,
          compressionFormat: 'GZIP',
        },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: firehoseLogs.logGroupName,
          logStreamName: firehoseLogStream.logStreamName,
        },
      },
    });
    this.deliveryStream.node.addDependency(firehoseRole, ...Object.values(this.tableCreations));

    // Pipe: stream → Firehose (the stream record as it is; the route function reads it) -------------------
    this.failures = new sqs.Queue(this, 'FeedFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failures).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself the dead-letter destination of the feed pipe (stream batches that failed after ' +
        'every retry); cdk-nag only recognises DLQs of other SQS queues. Its messages locate the stream records.',
    });
    const pipeRole = new iam.Role(this, 'PipeRole', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com'),
      description: 'Feed pipe: reads the capture table stream, puts its records to Firehose',
    });
    props.captureTable.grantStreamRead(pipeRole);
    this.failures.grantSendMessages(pipeRole);
    pipeRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PutToFirehose',
        actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        resources: [this.deliveryStream.attrArn],
      }),
    );
    Validations.of(pipeRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams has no resource-level permission (grantStreamRead); every other action of this ' +
        'role is limited to the one stream, queue and delivery stream.',
    });
    this.pipe = new pipes.CfnPipe(this, 'FeedPipe', {
      roleArn: pipeRole.roleArn,
      description: 'Capture table changes to the Iceberg tables through Firehose',
      source: streamArn,
      sourceParameters: {
        dynamoDbStreamParameters: {
          startingPosition: 'TRIM_HORIZON',
          batchSize: 100,
          maximumBatchingWindowInSeconds: 30,
          maximumRetryAttempts: 10,
          onPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          deadLetterConfig: { arn: this.failures.queueArn },
        },
      },
      target: this.deliveryStream.attrArn,
    });
    this.pipe.node.addDependency(pipeRole);

    // Named queries ---------------------------------------------------------------------------------------
    this.namedQueries = NAMED_QUERIES.map((q) => {
      const named = new athena.CfnNamedQuery(this, q.id, {
        name: q.name,
        description: q.description,
        database: this.databaseName,
        workGroup: this.workGroup.ref,
        queryString: q.sql(this.databaseName),
      });
      named.addResourceDependency(this.workGroup);
      named.addResourceDependency(this.database);
      return named;
    });
  }

  /** Lets an analyst (role, user, group) run queries in the workgroup and read the tables and their results. */
  grantQuery(grantee: iam.IGrantable): void {
    const stack = Stack.of(this);
    const workGroupArn = stack.formatArn({
      service: 'athena',
      resource: 'workgroup',
      resourceName: this.workGroup.ref,
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: [
        'athena:StartQueryExecution',
        'athena:StopQueryExecution',
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:GetWorkGroup',
        'athena:ListNamedQueries',
        'athena:GetNamedQuery',
        'athena:BatchGetNamedQuery',
      ],
      resourceArns: [workGroupArn],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:GetPartitions'],
      resourceArns: [
        stack.formatArn({ service: 'glue', resource: 'catalog' }),
        stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.databaseName }),
        stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.databaseName}/*` }),
      ],
    });
    this.rowsBucket.grantRead(grantee, `${ICEBERG_PREFIX}*`);
    this.resultsBucket.grantReadWrite(grantee);
  }
}
