import {
  DEFAULT_LEASE_SEC,
  loadAccountId,
  loadStorageSettings,
  type Env,
  type StorageSettings,
} from '../config';
import { ConfigError } from '../errors';
import { DEFAULT_MAX_REQUESTS_PER_RUN } from './eraser';

/** Settings of the eraser (functions/eraser.ts), read once at the handler's module scope. */
export interface EraserSettings {
  accountId: string;
  storage: StorageSettings;
  /**
   * The poller's lease (LEASE_SECONDS, the same value the stack gives the poller): each erasure waits it, plus
   * a margin, before its second pass. @default 45
   */
  leaseSec: number;
  /** Requests one run takes (they run concurrently). @default 10 */
  maxRequestsPerRun: number;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw)) || Number(raw) < 1) {
    throw new ConfigError(name, `must be a whole number > 0, got "${raw}"`);
  }
  return Number(raw);
}

export function loadEraserSettings(env: Env): EraserSettings {
  return {
    accountId: loadAccountId(env),
    storage: loadStorageSettings(env),
    leaseSec: positiveInt(env, 'LEASE_SECONDS', DEFAULT_LEASE_SEC),
    maxRequestsPerRun: positiveInt(env, 'ERASER_MAX_REQUESTS_PER_RUN', DEFAULT_MAX_REQUESTS_PER_RUN),
  };
}
