import type { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { MINUTE_MS, SECOND_MS, type Clock } from '../clock';
import { HashKeyError } from '../errors';
import { CachedSecretJson } from '../liveperson/cached-secret';
import type { FailureBackoffPolicy } from '../liveperson/failure-backoff';
import { MAX_HASH_KEY_VERSION, MIN_HASH_KEY_BYTES, type HashKey } from './hash';

/**
 * Where the hash mode's key comes from, and the rules a key must meet wherever it comes from: the environment
 * (LPV_HASH_KEY and LPV_HASH_KEY_VERSION, config.ts: the CLI, `npm start`) or a Secrets Manager secret of the
 * stack (the deployed poller: infra/privacy-key.ts). One set of rules, so a key accepted locally is accepted in
 * AWS and the other way round. No message ever shows a key.
 */

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** What a key's text must be, as messages say it. */
export const HASH_KEY_TEXT_RULE = 'must be base64 or base64url text (e.g. `openssl rand -base64 32`)';
/** What a key's version must be, as messages say it. */
export const HASH_KEY_VERSION_RULE = `must be a whole number from 1 to ${MAX_HASH_KEY_VERSION}`;

/**
 * The bytes of a key's text, base64 or base64url (padding optional), of at least MIN_HASH_KEY_BYTES bytes; or
 * what is wrong with it, in words that never quote the text.
 */
export function decodeHashKey(text: string): { bytes: Buffer } | { problem: string } {
  const raw = text.trim();
  if (!BASE64.test(raw) || raw.replace(/=+$/, '').length % 4 === 1) return { problem: HASH_KEY_TEXT_RULE };
  const bytes = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length < MIN_HASH_KEY_BYTES) {
    return {
      problem: `must hold at least ${MIN_HASH_KEY_BYTES} bytes, got ${bytes.length} (e.g. \`openssl rand -base64 32\`)`,
    };
  }
  return { bytes };
}

/**
 * A key version: a whole number from 1 to MAX_HASH_KEY_VERSION, given as a JSON number or as its decimal text
 * (an environment variable); undefined for anything else.
 */
export function parseHashKeyVersion(value: unknown): number | undefined {
  const text =
    typeof value === 'number' && Number.isInteger(value)
      ? String(value)
      : typeof value === 'string'
        ? value.trim()
        : undefined;
  if (text === undefined || !/^\d+$/.test(text)) return undefined;
  const version = Number(text);
  return version >= 1 && version <= MAX_HASH_KEY_VERSION ? version : undefined;
}

/**
 * The hash key in force. `get()` is asked at the start of every poller tick: undefined when no key is configured
 * (hashed categories are then dropped, with one warning), a HashKeyError when a configured key cannot be had (a
 * configuration fault: the tick stops before claiming anything).
 */
export interface HashKeyProvider {
  get(): Promise<HashKey | undefined>;
}

/** A key fixed at start, or none (the environment: LPV_HASH_KEY, config.ts). */
export class StaticHashKeyProvider implements HashKeyProvider {
  constructor(private readonly key: HashKey | undefined) {}
  async get(): Promise<HashKey | undefined> {
    return this.key;
  }
}

/**
 * How long a read key is used before Secrets Manager is asked again: a key rotated by hand (a new version put
 * into the secret, docs/privacy.md "Rotating the key") is used by every container within this time. @default 300
 */
export const HASH_KEY_REFRESH_SEC = 300;

/**
 * After a failed read, every get() fails at once with the same error for 5 s, then 10, 20, … up to 1 min (±20 %)
 * while the failures go on (as for the LivePerson credentials): a run of failing ticks asks Secrets Manager
 * once a minute at most per container, and a fixed secret is seen within a minute.
 */
export const HASH_KEY_FAILURE_BACKOFF: FailureBackoffPolicy = {
  initialMs: 5 * SECOND_MS,
  maxMs: MINUTE_MS,
  jitterRatio: 0.2,
};

/** The shape of the key secret, as messages say it (never with a value). */
export const HASH_KEY_SECRET_SHAPE = '{"key": "<base64 of at least 32 bytes>", "version": <1 to 9999>}';

/**
 * The key of a secret's JSON value `{"key": "<base64>", "version": <n>}`, checked with the environment's rules
 * (decodeHashKey, parseHashKeyVersion). The version is required here, where LPV_HASH_KEY_VERSION defaults to 1:
 * a rotation that put a new key without a new version would give new hashes under the old prefix, and nobody
 * could tell the two apart. Throws HashKeyError naming the secret and the field, never showing a value (not even
 * the version's: a key pasted into the wrong field would show).
 */
export function parseHashKeySecret(value: unknown, secretId: string): HashKey {
  const where = `hash key secret "${secretId}"`;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HashKeyError(`${where}: expected a JSON object ${HASH_KEY_SECRET_SHAPE}`);
  }
  const fields = value as Record<string, unknown>;
  if (typeof fields.key !== 'string' || fields.key.trim() === '') {
    throw new HashKeyError(
      `${where}: field "key" is missing or not a string; expected ${HASH_KEY_SECRET_SHAPE}`,
    );
  }
  const decoded = decodeHashKey(fields.key);
  if ('problem' in decoded) throw new HashKeyError(`${where}: field "key" ${decoded.problem}`);
  if (fields.version === undefined) {
    throw new HashKeyError(
      `${where}: field "version" is missing (the prefix h<version>: of every hash; 1 for a first key, one more ` +
        'for each rotation)',
    );
  }
  const version = parseHashKeyVersion(fields.version);
  if (version === undefined) throw new HashKeyError(`${where}: field "version" ${HASH_KEY_VERSION_RULE}`);
  return { bytes: decoded.bytes, version };
}

export interface SecretsManagerHashKeyOptions {
  /** Seconds a read key is used before it is read again. @default HASH_KEY_REFRESH_SEC */
  maxAgeSec?: number;
  /** Clock of the failure backoff. @default systemClock */
  clock?: Clock;
  /** Jitter source of the failure backoff. @default Math.random */
  random?: () => number;
  /** @default HASH_KEY_FAILURE_BACKOFF */
  failureBackoff?: FailureBackoffPolicy;
}

/**
 * The key from a Secrets Manager secret (the stack's, infra/privacy-key.ts), read through Powertools Parameters
 * and cached per container for `maxAgeSec`, like the LivePerson credentials (SecretsManagerCredentialsProvider).
 *
 * A secret that cannot be read (missing, access denied, any read error), is not JSON, or has a bad field throws
 * HashKeyError: a configuration fault. Failures are remembered with backoff (HASH_KEY_FAILURE_BACKOFF), and the
 * first read after one bypasses Powertools' cache, which may still hold the ill-shaped value. Concurrent calls
 * share one read.
 */
export class SecretsManagerHashKeyProvider implements HashKeyProvider {
  private readonly secret: CachedSecretJson<HashKey, HashKeyError>;

  constructor(provider: SecretsProvider, secretId: string, options: SecretsManagerHashKeyOptions = {}) {
    this.secret = new CachedSecretJson(provider, secretId, options.maxAgeSec ?? HASH_KEY_REFRESH_SEC, {
      label: 'hash key secret',
      errorClass: HashKeyError,
      parse: (value) => parseHashKeySecret(value, secretId),
      failureBackoff: options.failureBackoff ?? HASH_KEY_FAILURE_BACKOFF,
      clock: options.clock,
      random: options.random,
    });
  }

  async get(): Promise<HashKey> {
    return this.secret.read(false);
  }
}
