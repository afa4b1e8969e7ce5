/**
 * The privacy settings from the environment, validated once per entry point (a Lambda's module scope, the
 * CLI's main, `npm start`), like lib/config.ts's settings:
 *
 *   LPV_PRIVACY_<CATEGORY>   keep | hash | drop | truncate (network only); CATEGORY is the category's name in
 *                            upper case with `_` for `-`: LPV_PRIVACY_NAME, LPV_PRIVACY_CUSTOMER_ID, ...
 *                            Unset: the category's default (categories.ts, docs/privacy.md).
 *   LPV_HASH_KEY             the secret key of the hash mode: base64 (or base64url) of at least 32 bytes,
 *                            e.g. `openssl rand -base64 32`. Unset: hashed categories are dropped, with one warning.
 *   LPV_HASH_KEY_VERSION     its version, 1 to 9999 (the `h<version>:` prefix of every hash). @default 1
 *
 * A bad setting stops the program at start with a ConfigError naming it; a key's value never appears in a
 * message. In AWS the key will come from a Secrets Manager secret of the stack (issue 14, not yet built): until
 * then a deployment without LPV_HASH_KEY drops the hashed categories.
 */
import type { Env } from '../config';
import { ConfigError } from '../errors';
import { PRIVACY_CATEGORIES, PRIVACY_MODES, type PrivacyCategory, type PrivacyMode } from './categories';
import { MAX_HASH_KEY_VERSION, MIN_HASH_KEY_BYTES, type HashKey } from './hash';
import { createPrivacyPolicy, type PrivacyPolicy } from './policy';

export const PRIVACY_ENV_PREFIX = 'LPV_PRIVACY_';
export const HASH_KEY_ENV = 'LPV_HASH_KEY';
export const HASH_KEY_VERSION_ENV = 'LPV_HASH_KEY_VERSION';

/** The environment variable of a category's mode: `customer-id` → LPV_PRIVACY_CUSTOMER_ID. */
export function privacyEnvName(category: PrivacyCategory): string {
  return PRIVACY_ENV_PREFIX + category.toUpperCase().replace(/-/g, '_');
}

export interface PrivacySettings {
  /** The modes set in the environment (the others keep their defaults). */
  modes: Partial<Record<PrivacyCategory, PrivacyMode>>;
  /** The hash key; undefined when LPV_HASH_KEY is unset. */
  hashKey?: HashKey;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function loadHashKey(env: Env): HashKey | undefined {
  const raw = env[HASH_KEY_ENV]?.trim();
  const versionRaw = env[HASH_KEY_VERSION_ENV]?.trim();
  let version = 1;
  if (versionRaw !== undefined && versionRaw !== '') {
    if (!/^\d+$/.test(versionRaw) || Number(versionRaw) < 1 || Number(versionRaw) > MAX_HASH_KEY_VERSION) {
      throw new ConfigError(
        HASH_KEY_VERSION_ENV,
        `must be a whole number from 1 to ${MAX_HASH_KEY_VERSION}, got "${versionRaw}"`,
      );
    }
    version = Number(versionRaw);
  }
  if (raw === undefined || raw === '') return undefined;
  // Never quote the value: it is a secret.
  if (!BASE64.test(raw) || raw.replace(/=+$/, '').length % 4 === 1) {
    throw new ConfigError(HASH_KEY_ENV, 'must be base64 or base64url text (e.g. `openssl rand -base64 32`)');
  }
  const bytes = Buffer.from(raw.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length < MIN_HASH_KEY_BYTES) {
    throw new ConfigError(
      HASH_KEY_ENV,
      `must hold at least ${MIN_HASH_KEY_BYTES} bytes, got ${bytes.length} (e.g. \`openssl rand -base64 32\`)`,
    );
  }
  return { bytes, version };
}

/** Reads and validates the privacy settings; throws ConfigError naming the first bad setting. */
export function loadPrivacySettings(env: Env): PrivacySettings {
  const byEnvName = new Map(PRIVACY_CATEGORIES.map((c) => [privacyEnvName(c.category), c]));
  const modes: Partial<Record<PrivacyCategory, PrivacyMode>> = {};
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(PRIVACY_ENV_PREFIX)) continue;
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') continue;
    const definition = byEnvName.get(name);
    if (definition === undefined) {
      throw new ConfigError(name, `not a privacy category; one of ${[...byEnvName.keys()].join(', ')}`);
    }
    const mode = raw.trim().toLowerCase() as PrivacyMode;
    if (!PRIVACY_MODES.includes(mode) || !definition.allowedModes.includes(mode)) {
      throw new ConfigError(
        name,
        `must be one of ${definition.allowedModes.join(', ')}, got "${raw}"` +
          (mode === 'truncate' ? ' (truncate is for IP addresses: LPV_PRIVACY_NETWORK)' : ''),
      );
    }
    modes[definition.category] = mode;
  }
  const hashKey = loadHashKey(env);
  return { modes, ...(hashKey !== undefined ? { hashKey } : {}) };
}

/**
 * The policy of an entry point: the settings of `env` (loadPrivacySettings), with `warn` told once when hashed
 * categories are dropped for want of a key.
 */
export function loadPrivacyPolicy(env: Env, warn: (message: string) => void): PrivacyPolicy {
  const settings = loadPrivacySettings(env);
  return createPrivacyPolicy({
    modes: settings.modes,
    ...(settings.hashKey !== undefined ? { hashKey: settings.hashKey } : {}),
    warn,
  });
}
