/**
 * The one price table of the dollar model (tools/cost/model.ts): AWS list prices, region us-east-1 (US East,
 * N. Virginia), on-demand, no free tier, no savings plans, as published on the pages named in `source` and
 * assumed as of PRICES_AS_OF. This machine has no internet: the numbers were taken from those pages as known on
 * that date, not fetched at run time. Check them against the pages before quoting a bill, and change them here
 * only (docs/cost.md prints this table through `npm run cost -- --prices`).
 */

export const PRICES_REGION = 'us-east-1';
export const PRICES_AS_OF = '2025-06-01';

export interface Price {
  /** Dollars per `unit`. */
  usd: number;
  unit: string;
  /** The AWS pricing page, and the line on it. */
  source: string;
}

function price(usd: number, unit: string, source: string): Price {
  return { usd, unit, source };
}

export const PRICES = {
  // Amazon DynamoDB pricing, On-demand capacity (the 50 % cut of 1 November 2024 included), Standard table class.
  dynamoWriteRequestUnit: price(
    0.625 / 1e6,
    'write request unit',
    'Amazon DynamoDB pricing › On-demand › Write request units ($0.625 per million)',
  ),
  dynamoReadRequestUnit: price(
    0.125 / 1e6,
    'read request unit',
    'Amazon DynamoDB pricing › On-demand › Read request units ($0.125 per million)',
  ),
  dynamoStorageGbMonth: price(
    0.25,
    'GB-month',
    'Amazon DynamoDB pricing › On-demand › Data storage ($0.25 per GB-month after the first 25 GB)',
  ),
  dynamoPitrGbMonth: price(
    0.2,
    'GB-month',
    'Amazon DynamoDB pricing › On-demand › Continuous backups (PITR) ($0.20 per GB-month)',
  ),
  dynamoStreamsReadRequest: price(
    0.02 / 1e5,
    'streams read request unit',
    'Amazon DynamoDB pricing › On-demand › DynamoDB Streams ($0.02 per 100,000 read request units; reads by Lambda triggers are free, by Pipes not)',
  ),
  // AWS Lambda pricing, Arm (infra/function.ts deploys ARM_64).
  lambdaGbSecondArm: price(
    0.0000133334,
    'GB-second',
    'AWS Lambda pricing › Duration, Arm price, first 7.5 billion GB-seconds/month',
  ),
  lambdaRequest: price(0.2 / 1e6, 'request', 'AWS Lambda pricing › Requests ($0.20 per 1M requests)'),
  // Amazon EventBridge pricing, Pipes.
  pipesRequest: price(
    0.4 / 1e6,
    'request (64 KB chunk of an event, after filtering)',
    'Amazon EventBridge pricing › Pipes ($0.40 per million requests)',
  ),
  // Amazon Data Firehose pricing.
  firehoseIcebergGb: price(
    0.045,
    'GB ingested',
    'Amazon Data Firehose pricing › Delivery to Apache Iceberg Tables ($0.045 per GB of data ingested)',
  ),
  // Amazon S3 pricing, S3 Standard.
  s3StorageGbMonth: price(
    0.023,
    'GB-month',
    'Amazon S3 pricing › Storage › S3 Standard, first 50 TB/month ($0.023 per GB)',
  ),
  s3PutRequest: price(
    0.005 / 1000,
    'PUT/COPY/POST/LIST request',
    'Amazon S3 pricing › Requests & data retrievals › S3 Standard PUT ($0.005 per 1,000)',
  ),
  s3GetRequest: price(
    0.0004 / 1000,
    'GET/SELECT request',
    'Amazon S3 pricing › Requests & data retrievals › S3 Standard GET ($0.0004 per 1,000)',
  ),
  // Amazon Athena pricing, SQL queries.
  athenaTbScanned: price(
    5,
    'TB scanned (10 MB minimum per query)',
    'Amazon Athena pricing › SQL queries ($5.00 per TB of data scanned)',
  ),
  // AWS Glue pricing, Data Catalog table optimizers (compaction, snapshot retention, orphan file deletion).
  glueOptimizerDpuHour: price(
    0.44,
    'DPU-hour (per second, 1 minute minimum)',
    'AWS Glue pricing › Data Catalog › Table optimizers ($0.44 per DPU-hour)',
  ),
  // AWS Secrets Manager pricing.
  secretMonth: price(0.4, 'secret-month', 'AWS Secrets Manager pricing › $0.40 per secret per month'),
  secretsApiCall: price(
    0.05 / 10_000,
    'API call',
    'AWS Secrets Manager pricing › $0.05 per 10,000 API calls',
  ),
  // Amazon CloudWatch pricing.
  cloudWatchCustomMetricMonth: price(
    0.3,
    'metric-month',
    'Amazon CloudWatch pricing › Metrics › first 10,000 metrics ($0.30 per metric per month)',
  ),
  cloudWatchAlarmMetricMonth: price(
    0.1,
    'alarm metric-month (standard resolution)',
    'Amazon CloudWatch pricing › Alarms › Standard resolution ($0.10 per alarm metric per month; an anomaly detection alarm is 3)',
  ),
  cloudWatchLogsIngestGb: price(
    0.5,
    'GB ingested',
    'Amazon CloudWatch pricing › Logs › Collect (Standard) ($0.50 per GB)',
  ),
  cloudWatchLogsStorageGbMonth: price(
    0.03,
    'GB-month',
    'Amazon CloudWatch pricing › Logs › Store (Archive) ($0.03 per GB)',
  ),
  cloudWatchDashboardMonth: price(
    3,
    'dashboard-month (beyond 3 free)',
    'Amazon CloudWatch pricing › Dashboards ($3.00 per dashboard per month)',
  ),
  // Amazon API Gateway pricing, HTTP APIs (the enqueue endpoint).
  httpApiRequest: price(
    1 / 1e6,
    'request (512 KB increments)',
    'Amazon API Gateway pricing › HTTP APIs, first 300 million ($1.00 per million)',
  ),
} as const satisfies Record<string, Price>;

export type PriceTable = { readonly [K in keyof typeof PRICES]: Price };
