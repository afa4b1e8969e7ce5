/**
 * THE DOCUMENTATION KEY: a fixed, public hash key that `npm run docs` flattens its samples with, so that every
 * column appears in docs/data-dictionary.md with the treatment the DEFAULT policy gives it (without a key, the
 * hashed columns would be dropped and never observed). It is in the repository, so it protects nothing: it is
 * never used at run time (lib/ cannot import tools/: test/unit/import-cycles.test.ts checks it), and a
 * deployment's key is its own secret (LPV_HASH_KEY, docs/privacy.md). Its bytes are the SHA-256 of a sentence
 * that says what they are.
 */
import { createHash } from 'node:crypto';
import { createPrivacyPolicy, type PrivacyPolicy } from '../../lib/privacy/policy';

/** 32 bytes derived from a sentence that says what they are: public, for documentation only. */
export const DOCUMENTATION_HASH_KEY_BYTES: Uint8Array = createHash('sha256')
  .update('lp-visit-capture DOCUMENTATION key: public, never used at run time')
  .digest();

/** The default modes with the documentation key: what `npm run docs` shows. */
export function documentationPolicy(): PrivacyPolicy {
  return createPrivacyPolicy({ hashKey: { bytes: DOCUMENTATION_HASH_KEY_BYTES, version: 1 } });
}
