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
  /** Most pairs in one request. @default 500 */
  maxBatchItems: number;
  /** Largest request body, decoded. @default 262144 (256 KiB): 500 pairs take about 75 KiB. */
  maxBodyBytes: number;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (!Number.isSafeInteger(value) || value === 0) throw new ConfigError(name, `must be > 0, got "${raw}"`);
  return value;
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
    maxBatchItems: positiveInt(env, 'ENQUEUE_MAX_BATCH_ITEMS', 500),
    maxBodyBytes: positiveInt(env, 'ENQUEUE_MAX_BODY_BYTES', 262_144),
  };
}
