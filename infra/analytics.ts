import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import schema from '../lib/query/analytics-schema.json';
import type { AnalyticsSchema } from '../lib/query/analytics-schema';
import { NAMED_QUERIES } from '../lib/query/named-queries';
import { DT_SOURCE_COLUMNS } from '../lib/query/partition';
import { AppFunction } from './function';

/** The generated Glue schema (lib/query/analytics-schema.json, written by `npm run docs`). */
export const ANALYTICS_SCHEMA = schema as AnalyticsSchema;

/** S3 prefix of the rows: `rows/rowType=<rowType>/dt=<yyyy-mm-dd>/`, the layout of `lpv export` (partition.ts). */
export const ROWS_PREFIX = 'rows/';

/**
 * Firehose's partition keys, from the row itself as lib/query/partition.ts computes them: the row type, and
 * the UTC day of the first of DT_SOURCE_COLUMNS the row has (capturedAtMs, or endedAtMs on outcome rows).
 */
export const PARTITION_JQ = `{rowType: .rowType, dt: ((${DT_SOURCE_COLUMNS.map((c) => `.${c}`).join(' // ')}) / 1000 | floor | strftime("%Y-%m-%d"))}`;

export interface CaptureAnalyticsProps {
  /** The capture table. It must have a stream with new images (`stream: NEW_IMAGE` or NEW_AND_OLD_IMAGES). */
  readonly captureTable: dynamodb.ITable;
  /** Glue database (lower case, underscores). @default 'lp_visit_capture' */
  readonly databaseName?: string;
  /** Athena workgroup. @default 'lp-visit-capture' */
  readonly workGroupName?: string;
  /** Athena refuses queries that would scan more. @default 10 (GiB) */
  readonly bytesScannedCutoffPerQueryGiB?: number;
  /** First day partition projection knows (`yyyy-MM-dd`); later days up to today are implied. @default '2024-01-01' */
  readonly firstDay?: string;
  /** Firehose buffering: a file per partition at least this often. @default 900 (15 min, the maximum) */
  readonly bufferIntervalSec?: number;
  /** Firehose buffering: or when this much has arrived. @default 128 (MiB; dynamic partitioning needs >= 64) */
  readonly bufferSizeMiB?: number;
  /** Rows move to S3 Standard-IA after this many days. @default 30 */
  readonly infrequentAccessAfterDays?: number;
  /** Then to Glacier Instant Retrieval (still readable by Athena). @default 180 */
  readonly glacierInstantRetrievalAfterDays?: number;
  /** Athena query results are deleted after. @default 30 */
  readonly resultsRetentionDays?: number;
  /** Retention of the enrichment function's and Firehose's logs. @default 30 */
  readonly logRetentionDays?: number;
}

/**
 * SQL at scale over the capture rows: a continuous copy into S3 and an Athena workgroup over it.
 *
 *   capture table stream (new images) → EventBridge Pipes → enrichment Lambda (lib/query/feed.ts: DynamoDB JSON
 *   to the analyst row of `lpv export`) → Kinesis Data Firehose (dynamic partitioning by JQ, GZIP, newline
 *   delimited) → S3 `rows/rowType=<rowType>/dt=<yyyy-mm-dd>/` → Glue table per row type (columns generated
 *   from the code, partition projection on dt) → Athena workgroup with named queries.
 *
 * The bucket is private, encrypted, TLS only, versioned; lifecycle rules move data to cheaper classes and
 * never expire it. The copy is append-only: each new version of a row is one more line (queries keep the latest
 * by capturedAtMs), removals are not copied.
 */
export class CaptureAnalytics extends Construct {
  readonly rowsBucket: s3.Bucket;
  readonly resultsBucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly pipe: pipes.CfnPipe;
  readonly enrichment: AppFunction;
  readonly failures: sqs.Queue;
  readonly database: glue.CfnDatabase;
  readonly tables: Record<string, glue.CfnTable>;
  readonly workGroup: athena.CfnWorkGroup;
  readonly namedQueries: athena.CfnNamedQuery[];
  readonly databaseName: string;

  constructor(scope: Construct, id: string, props: CaptureAnalyticsProps) {
    super(scope, id);
    const streamArn = props.captureTable.tableStreamArn;
    if (streamArn === undefined) {
      throw new Error(
        'CaptureAnalytics needs the capture table stream: create the table with stream: StreamViewType.NEW_IMAGE',
      );
    }
    this.databaseName = props.databaseName ?? 'lp_visit_capture';
    if (!/^[a-z0-9_]{1,255}$/.test(this.databaseName)) {
      throw new Error(`databaseName must be lower case letters, digits and _, got "${this.databaseName}"`);
    }
    const firstDay = props.firstDay ?? '2024-01-01';
    if (!/^\d{4}-\d{2}-\d{2}$/.test(firstDay))
      throw new Error(`firstDay must be yyyy-MM-dd, got "${firstDay}"`);
    const cutoffGiB = props.bytesScannedCutoffPerQueryGiB ?? 10;
    const logRetentionDays = props.logRetentionDays ?? 30;

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
    this.rowsBucket = new s3.Bucket(this, 'Rows', {
      ...privateBucket,
      versioned: true,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'rows/',
      lifecycleRules: [
        {
          id: 'cheaper-storage-never-expire',
          transitions: [
            {
              storageClass: s3.StorageClass.INFREQUENT_ACCESS,
              transitionAfter: Duration.days(props.infrequentAccessAfterDays ?? 30),
            },
            {
              storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
              transitionAfter: Duration.days(props.glacierInstantRetrievalAfterDays ?? 180),
            },
          ],
          noncurrentVersionTransitions: [
            { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: Duration.days(30) },
          ],
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
    this.resultsBucket = new s3.Bucket(this, 'QueryResults', {
      ...privateBucket,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'query-results/',
      lifecycleRules: [
        { id: 'expire-query-results', expiration: Duration.days(props.resultsRetentionDays ?? 30) },
      ],
    });

    // Firehose ---------------------------------------------------------------------------------------------
    const firehoseLogs = new logs.LogGroup(this, 'FirehoseLogs', {
      retention: logRetentionDays as logs.RetentionDays,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const firehoseLogStream = firehoseLogs.addStream('S3Delivery');
    const firehoseRole = new iam.Role(this, 'FirehoseRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com'),
      description: 'Kinesis Data Firehose: writes capture rows to the rows bucket and its own log stream',
    });
    firehoseRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteRows',
        actions: [
          's3:AbortMultipartUpload',
          's3:GetBucketLocation',
          's3:GetObject',
          's3:ListBucket',
          's3:ListBucketMultipartUploads',
          's3:PutObject',
        ],
        resources: [this.rowsBucket.bucketArn, this.rowsBucket.arnForObjects('*')],
      }),
    );
    firehoseLogs.grantWrite(firehoseRole);
    const rowsLogicalId = Stack.of(this).resolve(
      (this.rowsBucket.node.defaultChild as s3.CfnBucket).logicalId,
    ) as string;
    Validations.of(firehoseRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${rowsLogicalId}.Arn>/*]`,
      reason:
        'Firehose names the objects it writes (partition prefix, timestamp, uuid), so the object ARN cannot be ' +
        'narrower than the bucket; the actions are the minimal set Firehose documents for an S3 destination.',
    });
    const bufferSizeMiB = props.bufferSizeMiB ?? 128;
    if (bufferSizeMiB < 64)
      throw new Error(`bufferSizeMiB must be >= 64 with dynamic partitioning, got ${bufferSizeMiB}`);
    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'Feed', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: this.rowsBucket.bucketArn,
        roleArn: firehoseRole.roleArn,
        prefix: `${ROWS_PREFIX}rowType=!{partitionKeyFromQuery:rowType}/dt=!{partitionKeyFromQuery:dt}/`,
        errorOutputPrefix: 'errors/!{firehose:error-output-type}/dt=!{timestamp:yyyy-MM-dd}/',
        fileExtension: '.ndjson.gz',
        compressionFormat: 'GZIP',
        bufferingHints: { intervalInSeconds: props.bufferIntervalSec ?? 900, sizeInMBs: bufferSizeMiB },
        dynamicPartitioningConfiguration: { enabled: true, retryOptions: { durationInSeconds: 300 } },
        processingConfiguration: {
          enabled: true,
          processors: [
            {
              type: 'MetadataExtraction',
              parameters: [
                { parameterName: 'MetadataExtractionQuery', parameterValue: PARTITION_JQ },
                { parameterName: 'JsonParsingEngine', parameterValue: 'JQ-1.6' },
              ],
            },
            {
              type: 'AppendDelimiterToRecord',
              parameters: [{ parameterName: 'Delimiter', parameterValue: '\\n' }],
            },
          ],
        },
        cloudWatchLoggingOptions: {
          enabled: true,
          logGroupName: firehoseLogs.logGroupName,
          logStreamName: firehoseLogStream.logStreamName,
        },
      },
    });
    this.deliveryStream.node.addDependency(firehoseRole);

    // Pipe: stream → enrichment → Firehose ----------------------------------------------------------------
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
    this.enrichment = new AppFunction(this, 'Enrichment', {
      entry: 'functions/analytics-feed.ts',
      memoryMiB: 256,
      timeoutSec: 60,
      environment: {},
      logRetentionDays,
      description: 'Capture table stream records to analyst rows for the S3 copy (pipe enrichment)',
    });
    const pipeRole = new iam.Role(this, 'PipeRole', {
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com'),
      description: 'Feed pipe: reads the capture table stream, invokes the enrichment, puts to Firehose',
    });
    props.captureTable.grantStreamRead(pipeRole);
    // The unqualified function only (grantInvoke would add every version, `<arn>:*`).
    pipeRole.addToPolicy(
      new iam.PolicyStatement({
        sid: 'InvokeEnrichment',
        actions: ['lambda:InvokeFunction'],
        resources: [this.enrichment.function.functionArn],
      }),
    );
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
        'role is limited to the one stream, function, queue and delivery stream.',
    });
    this.pipe = new pipes.CfnPipe(this, 'FeedPipe', {
      roleArn: pipeRole.roleArn,
      description: 'Capture rows to S3 (rows/rowType=…/dt=…/) through Firehose',
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
      enrichment: this.enrichment.function.functionArn,
      target: this.deliveryStream.attrArn,
    });
    this.pipe.node.addDependency(pipeRole);

    // Glue ------------------------------------------------------------------------------------------------
    this.database = new glue.CfnDatabase(this, 'Database', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: {
        name: this.databaseName,
        description: 'lp-visit-capture rows copied from the capture table (docs/data-dictionary.md)',
      },
    });
    this.tables = {};
    for (const table of ANALYTICS_SCHEMA.tables) {
      const location = `s3://${this.rowsBucket.bucketName}/${ROWS_PREFIX}rowType=${table.rowType}/`;
      const cfn = new glue.CfnTable(this, `Table-${table.rowType}`, {
        catalogId: Aws.ACCOUNT_ID,
        databaseName: this.databaseName,
        tableInput: {
          name: table.name,
          description: `${table.rowType} rows (columns generated by npm run docs from lib/capture/naming.ts)`,
          tableType: 'EXTERNAL_TABLE',
          partitionKeys: [
            { name: ANALYTICS_SCHEMA.partitionKey, type: 'string', comment: 'UTC day the row was written' },
          ],
          parameters: {
            EXTERNAL: 'TRUE',
            classification: 'json',
            compressionType: 'gzip',
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': `${firstDay},NOW`,
            'projection.dt.interval': '1',
            'projection.dt.interval.unit': 'DAYS',
            'storage.location.template': `${location}dt=\${dt}/`,
          },
          storageDescriptor: {
            location,
            inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
            outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
            serdeInfo: {
              serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe',
              parameters: { 'case.insensitive': 'TRUE' },
            },
            columns: table.columns.map((c) => ({
              name: c.name,
              type: c.type,
              ...(c.comment !== '' ? { comment: c.comment } : {}),
            })),
          },
        },
      });
      cfn.addResourceDependency(this.database);
      this.tables[table.name] = cfn;
    }

    // Athena ----------------------------------------------------------------------------------------------
    this.workGroup = new athena.CfnWorkGroup(this, 'WorkGroup', {
      name: props.workGroupName ?? 'lp-visit-capture',
      description: 'SQL over the capture rows in S3 (encrypted results, bytes-scanned limit)',
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

  /** Lets an analyst (role, user, group) run queries in the workgroup and read their results. */
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
    this.rowsBucket.grantRead(grantee);
    this.resultsBucket.grantReadWrite(grantee);
  }
}
