import { loadAccountId, loadStorageSettings, type Env, type StorageSettings } from '../config';
import { ConfigError } from '../errors';

/** Settings of the enqueue endpoint, read once at the handler's module scope. Units are in the names. */
export interface EnqueueSettings {
  accountId: string;
  storage: StorageSettings;
  /** Secrets Manager secret (name or ARN) holding the bearer token as a plain string. */
  tokenSecretId: string;
  /** How long the token is cached per container. @default 300 (5 min): a rotation takes effect within it. */
  tokenCacheSec: number;
  /**
   * After a rotation, how long the previous token stays valid, counted from the new version's creation
   * (docs/deploy.md, "Rotating the enqueue token"). 0: the old token stops as soon as the new one is read.
   * @default 3600 (60 min)
   */
  previousTokenValidSec: number;
  /** Most pairs in one request. @default 500 */
  maxBatchItems: number;
  /** Largest request body, decoded. @default 262144 (256 KiB): 500 pairs take about 75 KiB. */
  maxBodyBytes: number;
}

function wholeNumber(env: Env, name: string, fallback: number, least: 0 | 1): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value < least) {
    throw new ConfigError(name, `must be ${least === 1 ? '> 0' : '>= 0'}, got "${raw}"`);
  }
  return value;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  return wholeNumber(env, name, fallback, 1);
}

export function loadEnqueueSettings(env: Env): EnqueueSettings {
  const tokenSecretId = env.ENQUEUE_TOKEN_SECRET_ID?.trim();
  if (tokenSecretId === undefined || tokenSecretId === '') {
    throw new ConfigError('ENQUEUE_TOKEN_SECRET_ID', 'required: the secret holding the bearer token');
  }
  return {
    accountId: loadAccountId(env),
    storage: loadStorageSettings(env),
    tokenSecretId,
    tokenCacheSec: positiveInt(env, 'ENQUEUE_TOKEN_CACHE_SECONDS', 300),
    previousTokenValidSec: wholeNumber(env, 'ENQUEUE_PREVIOUS_TOKEN_VALID_SECONDS', 3600, 0),
    maxBatchItems: positiveInt(env, 'ENQUEUE_MAX_BATCH_ITEMS', 500),
    maxBodyBytes: positiveInt(env, 'ENQUEUE_MAX_BODY_BYTES', 262_144),
  };
}

/** Settings of POST /forget (functions/forget.ts), read once at the handler's module scope. */
export interface ForgetSettings {
  accountId: string;
  storage: StorageSettings;
  /**
   * Secrets Manager secret (name or ARN) holding the /forget bearer token: a secret of its own, so the enqueue
   * token (held by every site backend that enqueues) cannot ask for erasures, nor this one enqueue.
   */
  tokenSecretId: string;
  /** How long the token is cached per container. @default 300 (5 min) */
  tokenCacheSec: number;
  /** After a rotation, how long the previous token stays valid. @default 3600 (60 min) */
  previousTokenValidSec: number;
}

export function loadForgetSettings(env: Env): ForgetSettings {
  const tokenSecretId = env.FORGET_TOKEN_SECRET_ID?.trim();
  if (tokenSecretId === undefined || tokenSecretId === '') {
    throw new ConfigError('FORGET_TOKEN_SECRET_ID', 'required: the secret holding the /forget bearer token');
  }
  return {
    accountId: loadAccountId(env),
    storage: loadStorageSettings(env),
    tokenSecretId,
    tokenCacheSec: positiveInt(env, 'FORGET_TOKEN_CACHE_SECONDS', 300),
    previousTokenValidSec: wholeNumber(env, 'FORGET_PREVIOUS_TOKEN_VALID_SECONDS', 3600, 0),
  };
}
