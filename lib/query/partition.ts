/**
 * The partition layout of capture rows outside DynamoDB, shared by `lpv export` (local NDJSON files) and the
 * S3 feed (infra/analytics.ts):
 *
 *   rowType=<rowType>/dt=<yyyy-mm-dd>/part-*.ndjson          (S3: under the `rows/` prefix)
 *
 * `dt` is the UTC day the row was WRITTEN: `capturedAtMs` (every row the poller stores carries it), or for
 * outcome rows `endedAtMs` (written when polling ended). It is computed from the row alone, so the streaming
 * feed (one changed item at a time) and the export (rows read back) put a row in the same place. Business time
 * is in the columns (`serverTimeStamp`, `startTime`, `startTimeMs`): a capture happens at most about six hours
 * after the session started, so a query for the events of day D reads partitions dt = D and D + 1.
 * A row with neither attribute (never written by the pipeline) goes to dt=unknown.
 */
import { isIndexableMs, utcDay } from '../keys';
import type { StoredRow } from '../store/capture-store';

export const UNKNOWN_DT = 'unknown';
/** Columns `dt` is computed from, in order of preference. */
export const DT_SOURCE_COLUMNS = ['capturedAtMs', 'endedAtMs'] as const;

export interface RowPartition {
  rowType: string;
  dt: string;
}

const SAFE_ROW_TYPE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

export function partitionOf(row: StoredRow): RowPartition {
  const rowType =
    typeof row.rowType === 'string' && SAFE_ROW_TYPE.test(row.rowType) ? row.rowType : 'unknown';
  for (const column of DT_SOURCE_COLUMNS) {
    const ms = row[column];
    if (isIndexableMs(ms)) return { rowType, dt: utcDay(ms) };
  }
  return { rowType, dt: UNKNOWN_DT };
}

/** `rowType=<t>/dt=<d>` (forward slashes: an S3 key prefix and a relative path alike). */
export function partitionPath(p: RowPartition): string {
  return `rowType=${p.rowType}/dt=${p.dt}`;
}
