import { hash } from 'node:crypto';
import { ROW_TYPES, type CaptureRow } from '../capture/rows';

/**
 * Change detection without reading the capture table: the queue item keeps a compact digest of every row
 * stored for the session (10 base64url characters each, ~60 bits: a false "unchanged" is a 1-in-10^18 event
 * per row). A re-poll writes only rows whose digest is new. If a write lands but the ack does not (crash,
 * lost lease), the digests are not updated and the rows are simply written again: puts are idempotent.
 */
export const DIGEST_CHARS = 10;

/**
 * Digest of one row as the flattener built it. Rows built by another version of the code may digest
 * differently; they are then written once more, which is harmless.
 *
 * An event row, and each of its items, is a function of its sort key within one queue item's session (the key
 * holds the event's type, time, occurrence and the hash of its whole body; an item's key holds its event's),
 * of its app session and of the code (schemaVersion, bumped when the naming rule changes): those are digested,
 * not the row, which saves serialising ~60% of a long session's rows on every poll. Other rows (session, page,
 * engagement) change under the same key (timeOnPage grows), so their whole content is digested: keys and
 * columns in the flattener's column order (fixed by code, never by the answer's key order).
 */
export function rowDigest(row: CaptureRow, expiresAtSec?: number): string {
  const identified = row.rowType === ROW_TYPES.event || row.rowType === ROW_TYPES.eventItem;
  const text = identified
    ? `${String(row.sk)}\u0000${String(row.appSessionId)}\u0000${String(row.schemaVersion)}`
    : JSON.stringify(row);
  // The TTL the row is stored with (lib/capture-retention.ts) is part of what was stored: the same for every
  // poll of a session, so it changes no digest from one poll to the next; but a changed retention setting makes
  // a live session's rows differ once, and they are all written again with the new TTL (never some rows with
  // it and some without). Without a TTL the text is what it always was: no digest changes on upgrade.
  const stored = expiresAtSec === undefined ? text : `${text}\u0000ttl=${expiresAtSec}`;
  return hash('sha1', stored, 'base64url').slice(0, DIGEST_CHARS);
}

export function parseDigests(serialized: string | undefined): Set<string> {
  const digests = new Set<string>();
  if (!serialized) return digests;
  for (let i = 0; i + DIGEST_CHARS <= serialized.length; i += DIGEST_CHARS) {
    digests.add(serialized.slice(i, i + DIGEST_CHARS));
  }
  return digests;
}

export function serializeDigests(digests: Iterable<string>): string {
  return [...digests].sort().join('');
}

/**
 * Digests kept on the queue item. Past maxChars (an unusually large session, ~20,000 rows) they would push the
 * item toward DynamoDB's 400 KB limit and every ack would fail; then none are kept and each poll rewrites the
 * session's rows (idempotent puts: more writes, nothing lost).
 */
export const MAX_DIGEST_CHARS = 200_000;

export function serializeDigestsCapped(digests: Iterable<string>, maxChars = MAX_DIGEST_CHARS): string {
  const serialized = serializeDigests(digests);
  return serialized.length <= maxChars ? serialized : '';
}

/**
 * The digests of a session's stored rows, as the rewrite rule (rewrite-rule.ts) needs them. Event and eventItem
 * rows are identified by their key (rowDigest): a set. A mutable row (session, page, engagement) is compared with
 * the version stored under ITS key, never with any version ever stored (a cart emptied and filled again would
 * otherwise match an old version): one entry per row key, holding the digest of the stored content and of the
 * content but for its lagging columns.
 *
 * Serialized as one string (the queue's `rowDigests`): the 10-character digests of identified rows, sorted, then
 * one MUTABLE_ENTRY_CHARS entry per mutable row: `~`, KEY_DIGEST_CHARS of its key, DIGEST_CHARS of its content,
 * DIGEST_CHARS of its content but for the lagging columns; sorted. `~` is no base64url character, so a reader
 * tells the two apart, and a string written before the entries existed (10-character digests only, those of
 * mutable rows among them) parses as identified digests alone: each mutable row is then written once more.
 */
export interface CaptureDigests {
  identified: Set<string>;
  /** Key digest → the stored version's digests. */
  mutable: Map<string, MutableRowDigest>;
}

export interface MutableRowDigest {
  /** rowDigest of the stored content. */
  full: string;
  /** Digest of the stored content without its lagging columns (equal to full when the type has none). */
  stable: string;
}

const MUTABLE_MARK = '~';
export const KEY_DIGEST_CHARS = 9;
export const MUTABLE_ENTRY_CHARS = 1 + KEY_DIGEST_CHARS + 2 * DIGEST_CHARS;

/** Whether a row type is identified by its key (event, eventItem) rather than compared under it. */
export function isIdentifiedRow(row: CaptureRow): boolean {
  return row.rowType === ROW_TYPES.event || row.rowType === ROW_TYPES.eventItem;
}

/** Digest of a row's key (its sk: one session's rows share the pk): 54 bits, no clash among a session's rows. */
export function rowKeyDigest(row: CaptureRow): string {
  return hash('sha1', `key\u0000${String(row.sk)}`, 'base64url').slice(0, KEY_DIGEST_CHARS);
}

/**
 * Digest of a mutable row without `lagging` columns (rowDigest of the rest, TTL included): two versions that
 * differ in lagging columns alone have the same. With no lagging columns it is rowDigest itself.
 */
export function stableRowDigest(row: CaptureRow, lagging: readonly string[], expiresAtSec?: number): string {
  if (lagging.length === 0) return rowDigest(row, expiresAtSec);
  const rest: CaptureRow = {};
  for (const column of Object.keys(row)) if (!lagging.includes(column)) rest[column] = row[column] as never;
  // A marker keeps these digests apart from full ones of a row that happens to lack the lagging columns.
  rest['\u0000lagging'] = lagging.join(',');
  return rowDigest(rest, expiresAtSec);
}

export function parseCaptureDigests(serialized: string | undefined): CaptureDigests {
  const digests: CaptureDigests = { identified: new Set(), mutable: new Map() };
  if (!serialized) return digests;
  let i = 0;
  while (i < serialized.length) {
    if (serialized[i] === MUTABLE_MARK) {
      if (i + MUTABLE_ENTRY_CHARS > serialized.length) break;
      const key = serialized.slice(i + 1, i + 1 + KEY_DIGEST_CHARS);
      const full = serialized.slice(i + 1 + KEY_DIGEST_CHARS, i + 1 + KEY_DIGEST_CHARS + DIGEST_CHARS);
      const stable = serialized.slice(i + 1 + KEY_DIGEST_CHARS + DIGEST_CHARS, i + MUTABLE_ENTRY_CHARS);
      digests.mutable.set(key, { full, stable });
      i += MUTABLE_ENTRY_CHARS;
    } else {
      if (i + DIGEST_CHARS > serialized.length) break;
      digests.identified.add(serialized.slice(i, i + DIGEST_CHARS));
      i += DIGEST_CHARS;
    }
  }
  return digests;
}

/** The string form (see CaptureDigests); '' past maxChars, as serializeDigestsCapped (every row rewritten). */
export function serializeCaptureDigests(digests: CaptureDigests, maxChars = MAX_DIGEST_CHARS): string {
  const entries = [...digests.mutable].map(([key, d]) => `${MUTABLE_MARK}${key}${d.full}${d.stable}`).sort();
  const serialized = serializeDigests(digests.identified) + entries.join('');
  return serialized.length <= maxChars ? serialized : '';
}
