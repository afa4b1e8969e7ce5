/** A capture row as stored: flat columns of JSON scalars (see lib/capture/naming.ts for the naming rule). */
export type StoredScalar = string | number | boolean | null;
export type StoredRow = Record<string, StoredScalar>;

export interface WriteStats {
  /** Rows sent to the table (puts). */
  rowsWritten: number;
  /** BatchWriteItem calls made, retries of unprocessed items included. */
  batchCalls: number;
  /** Rows that had to be truncated to fit DynamoDB's 400 KB item limit. */
  rowsTruncated: number;
}

/** The capture store port: idempotent puts of deterministic-key rows, and reads of one session. */
export interface CaptureStore {
  putRows(rows: readonly StoredRow[]): Promise<WriteStats>;
  sessionRows(accountId: string, sid: string): Promise<StoredRow[]>;
}
