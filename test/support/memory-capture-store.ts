import {
  emptyWriteStats,
  type CaptureStore,
  type PutRowsOptions,
  type StoredRow,
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
  async sessionRows(_accountId: string, sid: string): Promise<StoredRow[]> {
    return this.rows.filter((r) => r.sid === sid);
  }
}
