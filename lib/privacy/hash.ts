import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/**
 * The keyed hash of the `hash` mode: `h<version>:` + base64url of HMAC-SHA256(key, value), 43 characters after
 * the prefix whatever the value. The same value gives the same text under the same key and version, so
 * analysts can count and join on it; without the key nobody can test a guess (an e-mail address, a phone
 * number), which an unkeyed hash would allow. A new key takes a new version: hashes made under it differ from
 * the old ones, and the prefix says which is which (docs/privacy.md, "Key rotation").
 */

/** Fewest key bytes accepted: HMAC-SHA256's own output size. */
export const MIN_HASH_KEY_BYTES = 32;
/** Highest key version (the prefix stays short). */
export const MAX_HASH_KEY_VERSION = 9999;
/** Length of the base64url part of every hash (32 bytes of HMAC-SHA256). */
export const HASH_BODY_LENGTH = 43;

export interface HashKey {
  /** The secret, at least MIN_HASH_KEY_BYTES bytes. */
  readonly bytes: Uint8Array;
  /** Its version, 1 to MAX_HASH_KEY_VERSION: the prefix `h<version>:` of every hash made with it. */
  readonly version: number;
}

/** Hashes remembered per key before the memo is emptied (the same visitor's values recur in every answer). */
const MAX_MEMO = 4_096;

export class KeyedHasher {
  readonly prefix: string;
  private readonly key: KeyObject;
  /** Value → hash, in this process only: a session's answers repeat the same few values on every poll. */
  private readonly memo = new Map<string, string>();

  constructor(key: HashKey) {
    if (key.bytes.length < MIN_HASH_KEY_BYTES) {
      throw new RangeError(`a hash key needs at least ${MIN_HASH_KEY_BYTES} bytes, got ${key.bytes.length}`);
    }
    if (!Number.isInteger(key.version) || key.version < 1 || key.version > MAX_HASH_KEY_VERSION) {
      throw new RangeError(`a hash key version is 1 to ${MAX_HASH_KEY_VERSION}, got ${key.version}`);
    }
    this.key = createSecretKey(Buffer.from(key.bytes));
    this.prefix = `h${key.version}:`;
  }

  /** The hash of a text (UTF-8). */
  hash(text: string): string {
    let out = this.memo.get(text);
    if (out === undefined) {
      out = this.prefix + createHmac('sha256', this.key).update(text, 'utf8').digest('base64url');
      if (this.memo.size >= MAX_MEMO) this.memo.clear();
      this.memo.set(text, out);
    }
    return out;
  }
}
