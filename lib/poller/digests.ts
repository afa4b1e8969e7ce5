import { createHash } from 'node:crypto';

/**
 * Change detection without reading the capture table: the queue item keeps a compact digest of every row
 * stored for the session (10 base64url characters each, ~60 bits: a false "unchanged" is a 1-in-10^18 event
 * per row). A re-poll writes only rows whose digest is new. If a write lands but the ack does not (crash,
 * lost lease), the digests are not updated and the rows are simply written again: puts are idempotent.
 */
export const DIGEST_CHARS = 10;

export function rowDigest(sk: string, contentHash: string): string {
  return createHash('sha1').update(`${sk}\u0000${contentHash}`).digest('base64url').slice(0, DIGEST_CHARS);
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
