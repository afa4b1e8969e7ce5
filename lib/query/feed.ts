/**
 * The S3 feed's enrichment step (infra/analytics.ts): DynamoDB Streams → EventBridge Pipes → THIS Lambda →
 * Kinesis Data Firehose → S3 `rows/rowType=<t>/dt=<d>/`. Pure: no client, no configuration. It turns each
 * stream record's NewImage (DynamoDB JSON) into the analyst row `lpv export` writes (rows.ts, no key
 * attributes), so the S3 files and the export hold the same objects. Firehose derives the partition from the
 * row itself (rowType, and the UTC day of capturedAtMs/endedAtMs: partition.ts), with a JQ query.
 *
 * Removals are not forwarded: the S3 copy is append-only (every new version of a row is one more line; queries
 * keep the latest by capturedAtMs). Capture rows are only ever written as scalars (S, N, BOOL, NULL); any other
 * attribute type is kept as JSON text.
 */
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { StoredRow, StoredScalar } from '../store/capture-store';
import { toAnalystRow, type AnalystRow } from './rows';

function scalar(value: AttributeValue): StoredScalar {
  if (value.S !== undefined) return value.S;
  if (value.N !== undefined) return Number(value.N);
  if (value.BOOL !== undefined) return value.BOOL;
  if (value.NULL !== undefined) return null;
  return JSON.stringify(value);
}

/** One stream record → the analyst row, or undefined for removals and records without a new image. */
export function feedRow(record: DynamoDBRecord): AnalystRow | undefined {
  const image = record.dynamodb?.NewImage;
  if (record.eventName === 'REMOVE' || image === undefined) return undefined;
  const row: StoredRow = Object.create(null) as StoredRow;
  for (const [name, value] of Object.entries(image)) row[name] = scalar(value);
  return toAnalystRow(row);
}

/** Pipes enrichment: a batch of stream records in, the rows to send to Firehose out (one event each). */
export async function handler(records: DynamoDBRecord[]): Promise<AnalystRow[]> {
  const rows: AnalystRow[] = [];
  for (const record of records) {
    const row = feedRow(record);
    if (row !== undefined) rows.push(row);
  }
  return rows;
}
