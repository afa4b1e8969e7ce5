/**
 * The privacy policy: a mode per category (categories.ts) and the hash key, and what it does to a column. The
 * flattener asks `columnTreatment` once per column when it makes a flatten plan (lib/capture/plans.ts), from
 * the column's source path: a kept column costs nothing afterwards, a dropped one is not in the plan at all,
 * and a treated one calls the function decided then. JSON columns are treated inside, key by key, as they are
 * written as canonical JSON (treated-json.ts).
 *
 * Event identity is not the policy's business: payload hashes and event sort keys are computed over the raw
 * body (lib/capture/flatten.ts), so a new key or a changed mode never gives a live session's events new keys.
 */
import type { Json } from '../liveperson/types';
import {
  CATEGORY_DEFINITIONS,
  PATH_STATES,
  PRIVACY_CATEGORIES,
  pathStates,
  type PrivacyCategory,
  type PrivacyMode,
} from './categories';
import { KeyedHasher, type HashKey } from './hash';
import { truncateIp } from './ip';
import { treatedCanonicalJson } from './treated-json';

export type PrivacyModes = Readonly<Record<PrivacyCategory, PrivacyMode>>;

/** The modes the issue asks for when nothing is configured (docs/privacy.md). */
export const DEFAULT_PRIVACY_MODES: PrivacyModes = Object.freeze(
  Object.fromEntries(PRIVACY_CATEGORIES.map((c) => [c.category, c.defaultMode])) as Record<
    PrivacyCategory,
    PrivacyMode
  >,
);

/** A value as stored in a column. */
type Scalar = string | number | boolean | null;

/** What a treated column stores, from the value at its source path (the raw JSON node). */
export type ValueTreatment = (value: Json) => Scalar;

export interface PrivacyPolicy {
  /** The modes in force: `hash` only where a key is set (without one, hashed categories are dropped). */
  readonly modes: PrivacyModes;
  /** The key's hasher; undefined when no key is configured. */
  readonly hasher: KeyedHasher | undefined;
  /** Per path state (PATH_STATES index): undefined to keep, 'drop', or the scalar's treatment. */
  readonly byState: readonly (ScalarTreatment | 'drop' | undefined)[];
  /** False when every mode is keep: nothing to look at inside JSON columns either. */
  readonly treatsAnything: boolean;
}

type ScalarTreatment = (value: Scalar) => Scalar;

export interface PrivacyPolicyOptions {
  /** Modes that differ from DEFAULT_PRIVACY_MODES. */
  readonly modes?: Partial<Record<PrivacyCategory, PrivacyMode>>;
  /** The secret key of the hash mode. Without it, categories in `hash` mode are dropped instead. */
  readonly hashKey?: HashKey;
  /**
   * Told once when a category in `hash` mode falls back to `drop` for want of a key (entry points log it).
   * @default silent
   */
  readonly warn?: (message: string) => void;
}

/** The text a value is hashed as: a string itself, a number as JSON writes it, a boolean as true/false. */
function hashInput(value: Exclude<Scalar, null>): string {
  return typeof value === 'string' ? value : String(value);
}

/**
 * A policy from modes and a key. Throws (TypeError naming the category) on a mode a category does not allow
 * (`truncate` is for the network category only). With no key, every category in `hash` mode is dropped instead,
 * and `warn` hears it once: never a built-in key, which would make every deployment's hashes guessable.
 */
export function createPrivacyPolicy(options: PrivacyPolicyOptions = {}): PrivacyPolicy {
  const modes: Record<PrivacyCategory, PrivacyMode> = { ...DEFAULT_PRIVACY_MODES };
  for (const [category, mode] of Object.entries(options.modes ?? {}) as [PrivacyCategory, PrivacyMode][]) {
    const definition = Object.hasOwn(CATEGORY_DEFINITIONS, category)
      ? CATEGORY_DEFINITIONS[category]
      : undefined;
    if (definition === undefined) throw new TypeError(`unknown privacy category ${JSON.stringify(category)}`);
    if (!definition.allowedModes.includes(mode)) {
      throw new TypeError(
        `privacy category ${category} takes ${definition.allowedModes.join(', ')}, not ${JSON.stringify(mode)}`,
      );
    }
    modes[category] = mode;
  }
  const hasher = options.hashKey !== undefined ? new KeyedHasher(options.hashKey) : undefined;
  if (hasher === undefined) {
    const hashed = PRIVACY_CATEGORIES.filter((c) => modes[c.category] === 'hash').map((c) => c.category);
    for (const category of hashed) modes[category] = 'drop';
    if (hashed.length > 0) {
      options.warn?.(
        `no hash key configured: ${hashed.join(', ')} ${hashed.length === 1 ? 'is' : 'are'} dropped instead of hashed ` +
          '(set LPV_HASH_KEY to base64 of at least 32 random bytes to hash them; see docs/privacy.md)',
      );
    }
  }
  const frozen = Object.freeze(modes);
  const treatment = (category: PrivacyCategory | undefined): ScalarTreatment | 'drop' | undefined => {
    const mode = category === undefined ? 'keep' : frozen[category];
    switch (mode) {
      case 'keep':
        return undefined;
      case 'drop':
        return 'drop';
      case 'hash': {
        const h = hasher as KeyedHasher;
        return (value) => (value === null ? null : h.hash(hashInput(value)));
      }
      case 'truncate':
        return (value) => (typeof value === 'string' ? truncateIp(value) : null);
    }
  };
  const byState = PATH_STATES.map((state) => treatment(state.category));
  return Object.freeze({
    modes: frozen,
    hasher,
    byState: Object.freeze(byState),
    treatsAnything: byState.some((t) => t !== undefined),
  });
}

/** Every category kept as it came: the naming rule's own output (its tests), or an operator's explicit choice. */
export function keepEverythingPolicy(): PrivacyPolicy {
  return createPrivacyPolicy({
    modes: Object.fromEntries(PRIVACY_CATEGORIES.map((c) => [c.category, 'keep'])),
  });
}

/** What the policy does to one column: kept as is (undefined), dropped, or stored through a treatment. */
export type ColumnTreatment = undefined | 'drop' | ValueTreatment;

/**
 * The treatment of the column whose value comes from `sourcePath` (segments as the flattener's column listener
 * reports them). A scalar column takes its category's mode; a column under a dropped category is dropped
 * whatever lies deeper. A JSON column is dropped by its own path's mode, and otherwise written with each value
 * inside treated by its own path (`treatedCanonicalJson`); it is left alone only when the policy keeps everything.
 */
export function columnTreatment(
  policy: PrivacyPolicy,
  sourcePath: readonly string[],
  encoding: 'scalar' | 'json',
): ColumnTreatment {
  const states = pathStates(sourcePath);
  if (states.some((s) => policy.byState[s.index] === 'drop')) return 'drop';
  const state = states.at(-1);
  if (state === undefined) return undefined;
  if (encoding === 'json') {
    if (!policy.treatsAnything) return undefined;
    const { byState } = policy;
    return (value) => treatedCanonicalJson(byState, value, state);
  }
  const treat = policy.byState[state.index];
  if (treat === undefined || treat === 'drop') return undefined;
  return (value) => treat(value as Scalar);
}

/** The effective mode of the value at `sourcePath` (the docs show it): keep, hash, drop or truncate. */
export function modeAtPath(policy: PrivacyPolicy, sourcePath: readonly string[]): PrivacyMode {
  const states = pathStates(sourcePath);
  if (states.some((s) => policy.byState[s.index] === 'drop')) return 'drop';
  const category = states.at(-1)?.category;
  return category === undefined ? 'keep' : policy.modes[category];
}
