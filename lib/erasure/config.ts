import {
  DEFAULT_LEASE_SEC,
  loadAccountId,
  loadStorageSettings,
  type Env,
  type StorageSettings,
} from '../config';
import { ConfigError } from '../errors';
import { loadPrivacySettings, type PrivacySettings } from '../privacy/config';
import { DEFAULT_MAX_REQUESTS_PER_RUN } from './eraser';
import { analyticsResendWaitMs, DEFAULT_ANALYTICS_BUFFER_INTERVAL_SEC } from './plan';

/** The analytics copy's delivery stream (Firehose), to which an erasure re-sends its deletes. */
export const ANALYTICS_STREAM_ENV = 'LPV_ANALYTICS_STREAM';
/** Seconds after the last row delete before the re-send. @default analyticsResendWaitMs(300) / 1000 = 450 */
export const ANALYTICS_RESEND_WAIT_ENV = 'LPV_ANALYTICS_RESEND_WAIT_SECONDS';

/** Where and when an erasure re-sends its deletes to the analytics copy. */
export interface AnalyticsResendSettings {
  /** The delivery stream's name. */
  streamName: string;
  /** Waited after the last row delete (the stream's buffers and a margin). */
  waitMs: number;
}

/**
 * The re-send of LPV_ANALYTICS_STREAM and LPV_ANALYTICS_RESEND_WAIT_SECONDS, or undefined when no stream is
 * named (`lpv forget` against tables without the analytics copy, or where the stream's own deletes are taken
 * as enough).
 */
export function loadAnalyticsResendSettings(env: Env): AnalyticsResendSettings | undefined {
  const streamName = env[ANALYTICS_STREAM_ENV]?.trim();
  if (streamName === undefined || streamName === '') return undefined;
  // Firehose's rule for delivery stream names; never an ARN (PutRecordBatch here takes the name).
  if (!/^[a-zA-Z0-9_.-]{1,64}$/.test(streamName)) {
    throw new ConfigError(
      ANALYTICS_STREAM_ENV,
      'must be a delivery stream name (letters, digits, _ . -; ≤ 64)',
    );
  }
  const defaultWaitSec = analyticsResendWaitMs(DEFAULT_ANALYTICS_BUFFER_INTERVAL_SEC) / 1000;
  return { streamName, waitMs: positiveInt(env, ANALYTICS_RESEND_WAIT_ENV, defaultWaitSec) * 1000 };
}

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
  /**
   * Where the key of the audit's visitor hash comes from (LPV_HASH_KEY_SECRET_ID as the poller gets it, or
   * LPV_HASH_KEY); none: the audit names no visitor.
   */
  hashKey?: Pick<PrivacySettings, 'hashKey' | 'hashKeySecretId'>;
  /** The re-send of deletes to the analytics copy (LPV_ANALYTICS_STREAM); none: no re-send. */
  analytics?: AnalyticsResendSettings;
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
    hashKey: hashKeySettings(env),
    ...optional('analytics', loadAnalyticsResendSettings(env)),
  };
}

/** The key settings alone: the privacy modes are the poller's (the eraser flattens nothing). */
function hashKeySettings(env: Env): Pick<PrivacySettings, 'hashKey' | 'hashKeySecretId'> {
  const { hashKey, hashKeySecretId } = loadPrivacySettings(env);
  return {
    ...(hashKey !== undefined ? { hashKey } : {}),
    ...(hashKeySecretId !== undefined ? { hashKeySecretId } : {}),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}
