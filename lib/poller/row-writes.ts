/**
 * Which rows of an answer the poller writes (the rewrite rule of rewrite-rule.ts over the digests of
 * digests.ts), and what the queue item keeps afterwards. Pure: the poller passes the flattened rows and what the
 * item held, writes `rows`, then asks `after(complete)` for the digests and deferred values to ack.
 */
import type { CaptureRow } from '../capture/rows';
import { CAPTURE_TTL_ATTRIBUTE } from '../keys';
import type { StoredRow } from '../store/capture-store';
import {
  isIdentifiedRow,
  parseCaptureDigests,
  rowDigest,
  rowKeyDigest,
  serializeCaptureDigests,
  stableRowDigest,
  type CaptureDigests,
  type MutableRowDigest,
} from './digests';
import {
  deferredEntryChars,
  deferredEnvelopeChars,
  LAGGING_COLUMNS,
  MAX_DEFERRED_CHARS,
  parseDeferred,
  rowWrite,
  serializeDeferred,
  type DeferredColumns,
} from './rewrite-rule';

export interface RowWritesInput {
  /** The answer's rows, as flattened (stamped in place when written: they are this poll's own objects). */
  rows: readonly CaptureRow[];
  /** The item's rowDigests as stored. */
  storedDigests: string | undefined;
  /** The item's deferredColumns as stored. */
  storedDeferred: string | undefined;
  capturedAtMs: number;
  /** The TTL of the session's rows (lib/capture-retention.ts), if any. */
  expiresAtSec: number | undefined;
  /** isRewritePoll for this poll. */
  rewritePoll: boolean;
}

export interface RowWritesPlan {
  /** The rows to write, stamped with capturedAtMs (and the TTL). */
  rows: StoredRow[];
  /** Rows of the answer whose lagging columns were deferred (not in `rows`). */
  deferredRows: number;
  /**
   * What the item keeps once the rows were written: `complete` says whether all of them were. rowDigests is ''
   * when past MAX_DIGEST_CHARS (every row written on every poll then); deferredColumns is undefined when the
   * item had none and has none, '' when it had some and has none now.
   */
  after(complete: boolean): { rowDigests: string; deferredColumns: string | undefined; rowsStored: number };
}

export function planRowWrites(input: RowWritesInput): RowWritesPlan {
  const stored = parseCaptureDigests(input.storedDigests);
  const before = parseDeferred(input.storedDeferred);
  const newIdentified: string[] = [];
  const written = new Map<string, MutableRowDigest>();
  const answerKeys = new Set<string>();
  const deferred: DeferredColumns = { capturedAtMs: input.capturedAtMs, rows: new Map() };
  // The text's envelope counts too: the cap is on the whole of it (rewrite-rule.ts serializeDeferred).
  let deferredChars = deferredEnvelopeChars(input.capturedAtMs);
  const rows: StoredRow[] = [];
  const stamp = (row: CaptureRow): void => {
    const storedRow: StoredRow = row;
    storedRow.capturedAtMs = input.capturedAtMs;
    if (input.expiresAtSec !== undefined) storedRow[CAPTURE_TTL_ATTRIBUTE] = input.expiresAtSec;
    rows.push(storedRow);
  };

  for (const row of input.rows) {
    if (isIdentifiedRow(row)) {
      const digest = rowDigest(row, input.expiresAtSec);
      if (stored.identified.has(digest)) continue;
      newIdentified.push(digest);
      stamp(row);
      continue;
    }
    const key = rowKeyDigest(row);
    answerKeys.add(key);
    const lagging = LAGGING_COLUMNS[String(row.rowType)] ?? [];
    const full = rowDigest(row, input.expiresAtSec);
    // With no lagging columns the stable digest is the full one (stableRowDigest): not hashed twice.
    const stable = lagging.length === 0 ? full : stableRowDigest(row, lagging, input.expiresAtSec);
    const previous = stored.mutable.get(key);
    const values: Record<string, string | number | boolean | null> = {};
    for (const column of lagging) if (column in row) values[column] = row[column] as never;
    const chars = deferredEntryChars(String(row.sk), values);
    const action = rowWrite({
      sameAsStored: previous?.full === full,
      sameBesidesLagging: previous?.stable === stable,
      rewritePoll: input.rewritePoll,
      fits: deferredChars + chars <= MAX_DEFERRED_CHARS,
    });
    if (action === 'unchanged') continue;
    if (action === 'defer') {
      deferred.rows.set(String(row.sk), values);
      deferredChars += chars;
      continue;
    }
    written.set(key, { full, stable });
    stamp(row);
  }
  // Deferred values of rows this answer does not hold (LivePerson dropped a page) stay until the session ends:
  // nothing captured is ever removed, and they are still the latest values seen.
  if (before !== undefined) {
    for (const [sk, values] of before.rows) {
      if (answerKeys.has(rowKeyDigest({ sk })) || deferred.rows.has(sk)) continue;
      const chars = deferredEntryChars(sk, values);
      if (deferredChars + chars > MAX_DEFERRED_CHARS) continue;
      deferred.rows.set(sk, values);
      deferredChars += chars;
    }
  }

  return {
    rows,
    deferredRows: [...deferred.rows.keys()].length,
    after(complete: boolean) {
      const next: CaptureDigests = {
        identified: new Set(stored.identified),
        mutable: new Map(stored.mutable),
      };
      if (complete) {
        for (const digest of newIdentified) next.identified.add(digest);
        for (const [key, digest] of written) next.mutable.set(key, digest);
      } else {
        // Which rows of a partial store failed is not known: an event counts as stored only from a complete
        // store (as before), and a mutable row written now has no known stored version: it is written again.
        for (const key of written.keys()) next.mutable.delete(key);
      }
      const text = serializeDeferred(deferred);
      return {
        rowDigests: serializeCaptureDigests(next),
        deferredColumns: text ?? (before !== undefined || input.storedDeferred ? '' : undefined),
        rowsStored: next.identified.size + next.mutable.size,
      };
    },
  };
}
