/**
 * The privacy settings from the environment, validated once per entry point (a Lambda's module scope, the
 * CLI's main, `npm start`), like lib/config.ts's settings:
 *
 *   LPV_PRIVACY_<CATEGORY>   keep | hash | drop | truncate (network only); CATEGORY is the category's name in
 *                            upper case with `_` for `-`: LPV_PRIVACY_NAME, LPV_PRIVACY_CUSTOMER_ID, ...
 *                            Unset: the category's default (categories.ts, docs/privacy.md). The stack sets them
 *                            from its `lpv:privacy<Category>` context (infra/config.ts).
 *   LPV_HASH_KEY             the secret key of the hash mode: base64 (or base64url) of at least 32 bytes,
 *                            e.g. `openssl rand -base64 32`. Unset: hashed categories are dropped, with one warning.
 *   LPV_HASH_KEY_VERSION     its version, 1 to 9999 (the `h<version>:` prefix of every hash). @default 1
 *   LPV_HASH_KEY_SECRET_ID   instead of the two above: a Secrets Manager secret holding
 *                            {"key": "<base64>", "version": <n>}, read when a poller tick starts (key-provider.ts).
 *                            The stack sets it to its generated secret (infra/privacy-key.ts).
 *
 * A bad setting stops the program at start with a ConfigError naming it; a key's value never appears in a
 * message. The key's rules are key-provider.ts's, shared with the secret.
 */
import type { Env } from '../config';
import { ConfigError } from '../errors';
import {
  CATEGORY_DEFINITIONS,
  PRIVACY_CATEGORIES,
  parsePrivacyMode,
  privacyModeRule,
  type PrivacyCategory,
  type PrivacyMode,
} from './categories';
import type { HashKey } from './hash';
import { decodeHashKey, HASH_KEY_VERSION_RULE, parseHashKeyVersion } from './key-provider';
import { createPrivacyPolicy, type PrivacyPolicy } from './policy';

export const PRIVACY_ENV_PREFIX = 'LPV_PRIVACY_';
export const HASH_KEY_ENV = 'LPV_HASH_KEY';
export const HASH_KEY_VERSION_ENV = 'LPV_HASH_KEY_VERSION';
export const HASH_KEY_SECRET_ID_ENV = 'LPV_HASH_KEY_SECRET_ID';

/** The environment variable of a category's mode: `customer-id` → LPV_PRIVACY_CUSTOMER_ID. */
export function privacyEnvName(category: PrivacyCategory): string {
  return PRIVACY_ENV_PREFIX + category.toUpperCase().replace(/-/g, '_');
}

export interface PrivacySettings {
  /** The modes set in the environment (the others keep their defaults). */
  modes: Partial<Record<PrivacyCategory, PrivacyMode>>;
  /** The hash key; undefined when LPV_HASH_KEY is unset. */
  hashKey?: HashKey;
  /** The secret holding the hash key (LPV_HASH_KEY_SECRET_ID), read later; never set with hashKey. */
  hashKeySecretId?: string;
}

/** A secret name or ARN as Secrets Manager takes it (the characters it allows, up to 2048 for an ARN). */
const SECRET_ID = /^[A-Za-z0-9/_+=.@:-]{1,2048}$/;

function loadHashKey(env: Env): HashKey | undefined {
  const raw = env[HASH_KEY_ENV]?.trim();
  const versionRaw = env[HASH_KEY_VERSION_ENV]?.trim();
  let version = 1;
  if (versionRaw !== undefined && versionRaw !== '') {
    const parsed = parseHashKeyVersion(versionRaw);
    if (parsed === undefined) {
      throw new ConfigError(HASH_KEY_VERSION_ENV, `${HASH_KEY_VERSION_RULE}, got "${versionRaw}"`);
    }
    version = parsed;
  }
  if (raw === undefined || raw === '') return undefined;
  // Never quote the value: it is a secret (decodeHashKey's problems never do).
  const decoded = decodeHashKey(raw);
  if ('problem' in decoded) throw new ConfigError(HASH_KEY_ENV, decoded.problem);
  return { bytes: decoded.bytes, version };
}

function loadHashKeySecretId(env: Env): string | undefined {
  const secretId = env[HASH_KEY_SECRET_ID_ENV]?.trim();
  if (secretId === undefined || secretId === '') return undefined;
  if (!SECRET_ID.test(secretId)) {
    throw new ConfigError(HASH_KEY_SECRET_ID_ENV, `not a secret name or ARN, got "${secretId}"`);
  }
  for (const name of [HASH_KEY_ENV, HASH_KEY_VERSION_ENV]) {
    if ((env[name]?.trim() ?? '') !== '') {
      throw new ConfigError(
        name,
        `set together with ${HASH_KEY_SECRET_ID_ENV}: the key and its version come from the secret; unset one`,
      );
    }
  }
  return secretId;
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
    const mode = parsePrivacyMode(definition, raw);
    if (mode === undefined) {
      throw new ConfigError(
        name,
        `${privacyModeRule(definition, raw, privacyEnvName(CATEGORY_DEFINITIONS.network.category))}, got "${raw}"`,
      );
    }
    modes[definition.category] = mode;
  }
  const hashKeySecretId = loadHashKeySecretId(env);
  if (hashKeySecretId !== undefined) return { modes, hashKeySecretId };
  const hashKey = loadHashKey(env);
  return { modes, ...(hashKey !== undefined ? { hashKey } : {}) };
}

/**
 * The policy of an entry point whose key is fixed at start (the CLI, `npm start`): the settings of `env`
 * (loadPrivacySettings), with `warn` told once when hashed categories are dropped for want of a key. A key
 * secret (LPV_HASH_KEY_SECRET_ID) is read per tick by the deployed poller only (lib/wiring.ts
 * createPrivacyPlans): here it is refused rather than ignored, which would drop the hashed categories.
 */
export function loadPrivacyPolicy(env: Env, warn: (message: string) => void): PrivacyPolicy {
  const settings = loadPrivacySettings(env);
  if (settings.hashKeySecretId !== undefined) {
    throw new ConfigError(
      HASH_KEY_SECRET_ID_ENV,
      `only the deployed poller reads the key from a secret; here set ${HASH_KEY_ENV} and ${HASH_KEY_VERSION_ENV} ` +
        'to the secret\'s "key" and "version" (docs/privacy.md, "The key")',
    );
  }
  return createPrivacyPolicy({
    modes: settings.modes,
    ...(settings.hashKey !== undefined ? { hashKey: settings.hashKey } : {}),
    warn,
  });
}
