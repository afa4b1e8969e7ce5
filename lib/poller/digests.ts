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
