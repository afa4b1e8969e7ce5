/**
 * The capture table as `lpv scrub` reads and rewrites it (lib/scrub/scrub.ts ScrubTable).
 *
 * READING: a parallel Scan (Segment/TotalSegments), one page per call, eventually consistent: a stale read only
 * means the conditional write below finds a newer row and counts a conflict. `pageSize` (Scan's Limit) makes
 * pages smaller than DynamoDB's 1 MB, so checkpoints come more often.
 *
 * WRITING: a PutItem of the whole scrubbed row (as the capture store writes rows: lib/store/dynamo-capture-store.ts
 * captureItem) on the condition that the stored row is the one scanned. Rows carry no version of their own, but
 * every row a poll writes is stamped with the poll's time, `capturedAtMs`, so the condition is
 * `attribute_exists(pk) AND capturedAtMs = <scanned>` (or `attribute_not_exists(capturedAtMs)` for a row that
 * had none): a poll's rewrite meanwhile (already under the policy) fails it, as does an erasure's delete, which a
 * plain put would undo. Throttled writes are retried with backoff, like the capture store's.
 */
import {
  ConditionalCheckFailedException,
  PutItemCommand,
  type AttributeValue,
} from '@aws-sdk/client-dynamodb';
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CAPTURE_PRIMARY_KEY, CAPTURE_TTL_ATTRIBUTE } from '../keys';
import type { StoreColumns, ScrubRow } from '../scrub/plan';
import type { ReplaceOutcome, ScanKey, ScanPage, ScrubTable } from '../scrub/scrub';
import {
  captureItem,
  NUMBERS_AS_TEXT_COLUMN,
  OVERFLOW_COLUMN,
  OVERFLOW_MARKER_COLUMN,
  TRUNCATION_MARKER,
} from './dynamo-capture-store';
import { batchBackoffMs, isThrottlingError } from './dynamo';

/** The column every poll stamps on the rows it writes (lib/poller/poller.ts): what a conditional write checks. */
export const CAPTURED_AT_COLUMN = 'capturedAtMs';

/** The capture store's own columns, as lib/scrub/plan.ts needs them. */
export const CAPTURE_STORE_COLUMNS: StoreColumns = Object.freeze({
  overflow: OVERFLOW_COLUMN,
  numbersAsText: NUMBERS_AS_TEXT_COLUMN,
  truncationMarker: TRUNCATION_MARKER,
  others: Object.freeze([CAPTURED_AT_COLUMN, 'endedAtMs', OVERFLOW_MARKER_COLUMN, CAPTURE_TTL_ATTRIBUTE]),
});

export interface DynamoScrubTableOptions {
  /** Items per Scan page (its Limit). @default DynamoDB's: pages of up to 1 MB */
  pageSize?: number;
  /** Calls per write before a throttled one fails the run. @default 8 */
  maxAttempts?: number;
  /** First backoff delay; doubles, with full jitter. @default 50 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class DynamoScrubTable implements ScrubTable {
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: DynamoScrubTableOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async scanPage(segment: number, totalSegments: number, start: ScanKey | undefined): Promise<ScanPage> {
    const answer = await this.client.send(
      new ScanCommand({
        TableName: this.tableName,
        Segment: segment,
        TotalSegments: totalSegments,
        ...(this.options.pageSize !== undefined ? { Limit: this.options.pageSize } : {}),
        ...(start !== undefined ? { ExclusiveStartKey: start } : {}),
      }),
    );
    return {
      rows: (answer.Items ?? []) as ScrubRow[],
      next: answer.LastEvaluatedKey as ScanKey | undefined,
    };
  }

  async replaceRow(scanned: Readonly<ScrubRow>, next: Readonly<ScrubRow>): Promise<ReplaceOutcome> {
    const stamp = scanned[CAPTURED_AT_COLUMN];
    const values: Record<string, AttributeValue> = {};
    let condition = 'attribute_exists(#pk) AND ';
    if (typeof stamp === 'number') {
      condition += '#stamp = :stamp';
      values[':stamp'] = { N: String(stamp) };
    } else if (typeof stamp === 'string') {
      condition += '#stamp = :stamp';
      values[':stamp'] = { S: stamp };
    } else {
      condition += 'attribute_not_exists(#stamp)';
    }
    const command = new PutItemCommand({
      TableName: this.tableName,
      Item: captureItem(next),
      ConditionExpression: condition,
      ExpressionAttributeNames: { '#pk': CAPTURE_PRIMARY_KEY.partitionKey, '#stamp': CAPTURED_AT_COLUMN },
      ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
    });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(command);
        return 'written';
      } catch (error) {
        const name = (error as Error | undefined)?.name;
        if (error instanceof ConditionalCheckFailedException || name === 'ConditionalCheckFailedException') {
          return 'conflict';
        }
        if (name === 'ValidationException') return 'refused';
        if (!isThrottlingError(error) || attempt >= this.maxAttempts) throw error;
      }
      await this.sleep(batchBackoffMs(attempt, this.baseDelayMs, this.random));
    }
  }
}
