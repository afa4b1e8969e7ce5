/**
 * The analytics copy's side of an erasure (lib/erasure/forget.ts AnalyticsDeletes) on Kinesis Data Firehose:
 * after Firehose's buffer has passed since the last row delete, the erasure sends a delete of every deleted
 * capture row to the delivery stream again (erasureDeleteRecord: the shape of the stream's own REMOVE record,
 * routed like it by functions/analytics-route.ts). Firehose does not keep order, so an update of a row delivered
 * after the stream's delete would bring the row back in the Iceberg table; the re-sent delete lands in a later
 * commit than any such update (docs/erasure.md, "The analytics copy").
 *
 * PutRecordBatch takes at most 500 records and 4 MiB a call. Records it refuses (FailedPutCount, an ErrorCode
 * per entry: throttling or an internal failure) and calls that fail with a retryable error are sent again with
 * exponential backoff and full jitter; what is still unsent after the last attempt fails the erasure
 * (AnalyticsResendError), which is run again and re-sends everything (a delete of a deleted row changes nothing).
 */
import { PutRecordBatchCommand, type FirehoseClient } from '@aws-sdk/client-firehose';
import { AnalyticsResendError } from '../erasure/errors';
import type { AnalyticsDeletes } from '../erasure/forget';
import { chunkBySize, type ErasedRow } from '../erasure/plan';
import { batchBackoffMs } from '../store/dynamo';
import { erasureDeleteRecord, ROW_DAY_SOURCES } from './analytics-route';

/** PutRecordBatch's limits: records per call, and bytes per call (all records' data). */
export const PUT_RECORD_BATCH_MAX_RECORDS = 500;
export const PUT_RECORD_BATCH_MAX_BYTES = 4 * 1024 * 1024;

/** What erasureDeleteRecord reads of a row besides pk and sk: its type and every partition time column. */
export const ERASED_ROW_ATTRIBUTES: readonly string[] = Object.freeze([
  'rowType',
  ...[...new Set(Object.values(ROW_DAY_SOURCES).flat())].sort(),
]);

/** Whole-call errors worth another attempt: Firehose's throttling ("Slow down"), its own failures, timeouts. */
const RETRYABLE_ERRORS = new Set([
  'ServiceUnavailableException',
  'ThrottlingException',
  'InternalFailure',
  'InternalServerError',
  'TimeoutError',
  'RequestTimeout',
]);

function isRetryable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return RETRYABLE_ERRORS.has(error.name) || (status !== undefined && status >= 500);
}

export interface FirehoseAnalyticsDeletesOptions {
  /** Calls per batch (resending refused records) before the erasure fails. @default 8 */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt, with full jitter. @default 100 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class FirehoseAnalyticsDeletes implements AnalyticsDeletes {
  readonly rowAttributes = ERASED_ROW_ATTRIBUTES;
  private readonly maxAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  /**
   * @param streamName the delivery stream's name (LPV_ANALYTICS_STREAM; the stack's Feed).
   * @param waitMs waited after the last row delete (lib/erasure/plan.ts analyticsResendWaitMs).
   */
  constructor(
    private readonly client: FirehoseClient,
    private readonly streamName: string,
    readonly waitMs: number,
    options: FirehoseAnalyticsDeletesOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 8;
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async send(rows: readonly ErasedRow[]): Promise<number> {
    const records = rows.map((row) => Buffer.from(erasureDeleteRecord(row), 'utf8'));
    const batches = chunkBySize(
      records,
      PUT_RECORD_BATCH_MAX_RECORDS,
      PUT_RECORD_BATCH_MAX_BYTES,
      (record) => record.length,
    );
    let unsent = 0;
    for (const batch of batches) unsent += await this.sendBatch(batch);
    if (unsent > 0) throw new AnalyticsResendError(unsent, this.maxAttempts);
    return records.length;
  }

  /** One batch, refused records sent again; how many were never accepted. */
  private async sendBatch(batch: readonly Uint8Array[]): Promise<number> {
    let pending = [...batch];
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await this.client.send(
          new PutRecordBatchCommand({
            DeliveryStreamName: this.streamName,
            Records: pending.map((data) => ({ Data: data })),
          }),
        );
        if ((answer.FailedPutCount ?? 0) > 0) {
          const responses = answer.RequestResponses ?? [];
          // Each response is the entry of the record at the same position; one with an ErrorCode was refused.
          // Without one entry per record nothing says which went: all are sent again (deletes are idempotent).
          if (responses.length === pending.length) {
            pending = pending.filter((_, i) => responses[i]?.ErrorCode !== undefined);
          }
        } else {
          pending = [];
        }
      } catch (error) {
        // A stream that does not exist, or rights that are missing, will not change by trying again.
        if (!isRetryable(error)) throw error;
      }
      if (pending.length === 0) return 0;
      if (attempt >= this.maxAttempts) return pending.length;
      await this.sleep(batchBackoffMs(attempt, this.baseDelayMs, this.random));
    }
  }
}
