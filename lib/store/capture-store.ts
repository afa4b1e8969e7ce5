/** A capture row as stored: flat columns of JSON scalars (see lib/capture/naming.ts for the naming rule). */
export type StoredScalar = string | number | boolean | null;
export type StoredRow = Record<string, StoredScalar>;

/**
 * What one `putRows` did with the rows it was given. Every row given ends in exactly one of rowsWritten,
 * rowsRejected and rowsUnwritten; the rows were stored completely only when rowsRejected + rowsUnwritten === 0.
 */
export interface WriteStats {
  /** Rows stored (puts DynamoDB accepted), fitted ones included. */
  rowsWritten: number;
  /** Write calls made: BatchWriteItem (retries of unprocessed items included) and PutItem (rows retried alone). */
  batchCalls: number;
  /** Stored rows that were changed in any way to fit DynamoDB's item limits (today: exactly the fitted ones). */
  rowsTruncated: number;
  /**
   * Stored rows made to fit by the overflow rule (lib/store/dynamo-capture-store.ts). They count as stored
   * completely: their `overflowCut` column says what was moved, and what was cut.
   */
  rowsFitted: number;
  /** Rows DynamoDB refused (ValidationException for the row alone) even after the stricter second fitting. */
  rowsRejected: number;
  /** Rows not written because the deadline passed or the retries of throttled or unprocessed writes ran out. */
  rowsUnwritten: number;
}

export interface PutRowsOptions {
  /**
   * Wall-clock epoch ms after which no write call is started and no retry is waited for: the rows left are
   * counted in `rowsUnwritten` (never thrown). A call already in flight is not interrupted.
   */
  deadlineMs?: number;
}

/** Columns to set on one stored row (the poller's deferred lagging columns, lib/poller/rewrite-rule.ts). */
export interface RowUpdate {
  pk: string;
  sk: string;
  set: StoredRow;
}

/** What one `updateRows` did: every update given ends in exactly one of the three counts. */
export interface UpdateStats {
  rowsUpdated: number;
  /** Rows not there (erased, expired): never made again by an update. */
  rowsMissing: number;
  /** Updates not sent or not accepted before the deadline or the retries ran out. */
  rowsUnwritten: number;
}

/** The capture store port: idempotent puts of deterministic-key rows, and reads of one session. */
export interface CaptureStore {
  /**
   * Stores the rows. Never throws for a row-level problem (a row DynamoDB refuses, throttling or unprocessed
   * items past the deadline): those are counted. Throws for a whole-request failure (network, 5xx after the
   * client's retries), and then says nothing of what was written before it.
   */
  putRows(rows: readonly StoredRow[], options?: PutRowsOptions): Promise<WriteStats>;
  /**
   * Sets columns of rows already stored, each only if its row exists (idempotent). Throws as putRows for a
   * whole-request failure.
   */
  updateRows(updates: readonly RowUpdate[], options?: PutRowsOptions): Promise<UpdateStats>;
  sessionRows(accountId: string, sid: string): Promise<StoredRow[]>;
}

/** WriteStats of nothing written yet. */
export function emptyWriteStats(): WriteStats {
  return {
    rowsWritten: 0,
    batchCalls: 0,
    rowsTruncated: 0,
    rowsFitted: 0,
    rowsRejected: 0,
    rowsUnwritten: 0,
  };
}
