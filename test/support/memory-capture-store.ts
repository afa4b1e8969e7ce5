import {
  emptyWriteStats,
  type CaptureStore,
  type PutRowsOptions,
  type RowUpdate,
  type StoredRow,
  type UpdateStats,
  type WriteStats,
} from '../../lib/store/capture-store';

/**
 * An in-memory CaptureStore that keeps every row it is given, in order, as the Poller handed it over: no
 * keys, no overwrite of an existing (pk, sk), no fitting, no deadline (every row is written). What a caller
 * reads back is exactly what the Poller wrote, which is what the data-dictionary generator
 * (tools/docs/samples.ts) needs to see.
 */
export class MemoryCaptureStore implements CaptureStore {
  readonly rows: StoredRow[] = [];
  async putRows(rows: readonly StoredRow[], _options?: PutRowsOptions): Promise<WriteStats> {
    this.rows.push(...rows.map((r) => ({ ...r })));
    return { ...emptyWriteStats(), rowsWritten: rows.length, batchCalls: 1 };
  }
  /** Appends the updated version of each row (the latest put or update of its key), as a put would. */
  async updateRows(updates: readonly RowUpdate[], _options?: PutRowsOptions): Promise<UpdateStats> {
    const stats: UpdateStats = { rowsUpdated: 0, rowsMissing: 0, rowsUnwritten: 0 };
    for (const update of updates) {
      const latest = [...this.rows].reverse().find((r) => r.pk === update.pk && r.sk === update.sk);
      if (latest === undefined) {
        stats.rowsMissing++;
        continue;
      }
      this.rows.push({ ...latest, ...update.set });
      stats.rowsUpdated++;
    }
    return stats;
  }
  async sessionRows(_accountId: string, sid: string): Promise<StoredRow[]> {
    return this.rows.filter((r) => r.sid === sid);
  }
}
