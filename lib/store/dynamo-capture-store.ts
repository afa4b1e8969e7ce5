import { BatchWriteItemCommand, type AttributeValue, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { rowByteSize, rowByteSizeUpperBound } from '../capture/rows';
import { capturePk } from '../keys';
import type { CaptureStore, StoredRow, WriteStats } from './capture-store';

/** DynamoDB's item limit is 400 KB including attribute names; keep a margin for our own marker columns. */
export const MAX_ITEM_BYTES = 400 * 1024 - 2048;
const BATCH_SIZE = 25;
export const TRUNCATION_MARKER = '…[truncated by lp-visit-capture]';

/**
 * Makes a row fit in one item: the longest string columns (never keys) are cut, with a marker in the value
 * and the names of the cut columns in `truncatedColumns`, so a reader knows. Never a failed batch.
 */
export function fitRow(
  row: StoredRow,
  keyColumns: ReadonlySet<string>,
  maxBytes = MAX_ITEM_BYTES,
): { row: StoredRow; truncated: boolean } {
  // Almost every row is far below the limit by the cheap bound alone; only a large one is measured exactly.
  if (rowByteSizeUpperBound(row) <= maxBytes) return { row, truncated: false };
  let size = rowByteSize(row);
  if (size <= maxBytes) return { row, truncated: false };
  const fitted: StoredRow = Object.assign(Object.create(null) as StoredRow, row);
  const cut: string[] = [];
  const candidates = Object.entries(fitted)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string' && !keyColumns.has(entry[0]))
    .sort((a, b) => Buffer.byteLength(b[1]) - Buffer.byteLength(a[1]));
  for (const [name, value] of candidates) {
    if (size <= maxBytes - 256) break;
    const excess = size - (maxBytes - 256);
    const valueBytes = Buffer.byteLength(value);
    const keepBytes = Math.max(0, valueBytes - excess - Buffer.byteLength(TRUNCATION_MARKER));
    // Cut on a character boundary.
    const kept = Buffer.from(value)
      .subarray(0, keepBytes)
      .toString('utf8')
      .replace(/\uFFFD$/, '');
    fitted[name] = kept + TRUNCATION_MARKER;
    size += Buffer.byteLength(fitted[name] as string) - valueBytes;
    cut.push(name);
  }
  fitted.truncatedColumns = cut.sort().join(',');
  return { row: fitted, truncated: true };
}

/** Magnitudes DynamoDB's number type holds: from 1e-130 to below 1e126 (and 0). */
const MIN_NUMBER_MAGNITUDE = 1e-130;
const MAX_NUMBER_MAGNITUDE = 1e126;
/** Column listing the columns whose numbers are stored as text (see `captureItem`). */
export const NUMBERS_AS_TEXT_COLUMN = 'numbersAsText';

/**
 * A capture row as a DynamoDB item. Rows hold scalars only, so this is done here rather than by
 * DocumentClient's generic marshalling, which refuses numbers past ±2^53 (an answer's numbers are doubles from
 * JSON.parse: nothing more precise ever existed, so `String(n)` is the whole value) and lets through numbers
 * DynamoDB rejects (magnitudes ≥ 1e126 or < 1e-130), either way failing the session's whole batch. Those
 * out-of-range numbers are stored as their text, and their columns named in `numbersAsText`: nothing is lost.
 * `undefined` columns are left out (as DocumentClient's removeUndefinedValues did).
 */
export function captureItem(row: StoredRow): Record<string, AttributeValue> {
  // Without prototype: a column name is only ever a key here (the naming rule never makes `__proto__` anyway).
  const item = Object.create(null) as Record<string, AttributeValue>;
  let asText: string[] | undefined;
  for (const name of Object.keys(row)) {
    const value = row[name];
    if (typeof value === 'string') item[name] = { S: value };
    else if (typeof value === 'number') {
      const magnitude = Math.abs(value);
      if (magnitude === 0 || (magnitude >= MIN_NUMBER_MAGNITUDE && magnitude < MAX_NUMBER_MAGNITUDE)) {
        item[name] = { N: String(value) };
      } else {
        item[name] = { S: String(value) };
        (asText ??= []).push(name);
      }
    } else if (typeof value === 'boolean') item[name] = { BOOL: value };
    else if (value === null) item[name] = { NULL: true };
    else if (value !== undefined)
      throw new TypeError(`capture column ${JSON.stringify(name)} is not a scalar`);
  }
  if (asText !== undefined) item[NUMBERS_AS_TEXT_COLUMN] = { S: asText.sort().join(',') };
  return item;
}

export interface DynamoCaptureStoreOptions {
  /** Attempts at resending UnprocessedItems before giving up (the poll then retries later). @default 8 */
  maxBatchAttempts?: number;
  /** First backoff delay; doubles, with full jitter. @default 50 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * The capture table on DynamoDB: BatchWriteItem in chunks of 25. UnprocessedItems come back inside a
 * successful answer (the SDK never resends them), so they are resent here with exponential backoff and jitter.
 */
export class DynamoCaptureStore implements CaptureStore {
  private readonly maxBatchAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly keyColumns: ReadonlySet<string>,
    options: DynamoCaptureStoreOptions = {},
  ) {
    this.maxBatchAttempts = options.maxBatchAttempts ?? 8;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async putRows(rows: readonly StoredRow[]): Promise<WriteStats> {
    const stats: WriteStats = { rowsWritten: 0, batchCalls: 0, rowsTruncated: 0 };
    const fitted = rows.map((row) => {
      const result = fitRow(row, this.keyColumns);
      if (result.truncated) stats.rowsTruncated++;
      return result.row;
    });
    for (let start = 0; start < fitted.length; start += BATCH_SIZE) {
      await this.writeBatch(fitted.slice(start, start + BATCH_SIZE), stats);
    }
    return stats;
  }

  private async writeBatch(rows: StoredRow[], stats: WriteStats): Promise<void> {
    let requests: WriteRequest[] = rows.map((row) => ({ PutRequest: { Item: captureItem(row) } }));
    for (let attempt = 1; ; attempt++) {
      stats.batchCalls++;
      // The low-level command: items are already DynamoDB items (captureItem), and so are UnprocessedItems.
      const answer = await this.client.send(
        new BatchWriteItemCommand({ RequestItems: { [this.tableName]: requests } }),
      );
      const unprocessed = answer.UnprocessedItems?.[this.tableName] ?? [];
      stats.rowsWritten += requests.length - unprocessed.length;
      if (unprocessed.length === 0) return;
      if (attempt >= this.maxBatchAttempts) {
        throw new Error(
          `${unprocessed.length} capture rows still unprocessed after ${attempt} BatchWriteItem attempts (throttled)`,
        );
      }
      requests = unprocessed;
      await this.sleep(this.random() * this.baseDelayMs * 2 ** (attempt - 1));
    }
  }

  async sessionRows(accountId: string, sid: string): Promise<StoredRow[]> {
    const rows: StoredRow[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const answer = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': capturePk(accountId, sid) },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      rows.push(...((answer.Items ?? []) as StoredRow[]));
      startKey = answer.LastEvaluatedKey;
    } while (startKey);
    return rows;
  }
}
