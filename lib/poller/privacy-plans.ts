import { newFlattenPlans, type FlattenPlans } from '../capture/flatten';
import type { Log } from '../log';
import type { PrivacyCategory, PrivacyMode } from '../privacy/categories';
import type { HashKey } from '../privacy/hash';
import type { HashKeyProvider } from '../privacy/key-provider';
import { createPrivacyPolicy } from '../privacy/policy';

/**
 * The flatten plans a tick stores its rows under, resolved when the tick starts, before it claims anything
 * (Poller.tick): they carry the privacy policy and its hash key. `current()` throws HashKeyError when the key
 * cannot be had: the tick then stops as a configuration fault, every item left as it was.
 */
export interface PrivacyPlans {
  current(): Promise<FlattenPlans>;
}

/** The same plans for every tick (tests, and entry points whose key is fixed at start). */
export class FixedPrivacyPlans implements PrivacyPlans {
  constructor(private readonly plans: FlattenPlans) {}
  async current(): Promise<FlattenPlans> {
    return this.plans;
  }
}

function sameKey(a: HashKey | undefined, b: HashKey | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.version === b.version && Buffer.from(a.bytes).equals(Buffer.from(b.bytes));
}

export interface KeyedPrivacyPlansOptions {
  /** The modes set by configuration (loadPrivacySettings); the others keep their defaults. */
  modes: Partial<Record<PrivacyCategory, PrivacyMode>>;
  keys: HashKeyProvider;
  /** Hears the key's version when plans are made for a new key, and the no-key warning (never a key). */
  log: Log;
  /** @default newFlattenPlans (a test may count how often plans are made) */
  newPlans?: typeof newFlattenPlans;
}

/**
 * Plans under the configured modes and the key the provider gives when a tick starts. The plans are made again
 * only when the key changes (its version or its bytes): plans are the flattener's expensive part, filled as
 * answers come in, and a tick under an unchanged key reuses the last tick's.
 */
export class KeyedPrivacyPlans implements PrivacyPlans {
  private built?: { key: HashKey | undefined; plans: FlattenPlans };
  private readonly newPlans: typeof newFlattenPlans;

  constructor(private readonly options: KeyedPrivacyPlansOptions) {
    this.newPlans = options.newPlans ?? newFlattenPlans;
    // The modes are checked now, at start (a bad one is a defect of the entry point, not a fault of a tick).
    createPrivacyPolicy({ modes: options.modes });
  }

  async current(): Promise<FlattenPlans> {
    const key = await this.options.keys.get();
    if (this.built !== undefined && sameKey(this.built.key, key)) return this.built.plans;
    const { log } = this.options;
    const previous = this.built?.key;
    if (previous !== undefined && key !== undefined && previous.version === key.version) {
      // Hashes of both keys would share one prefix: nobody could tell them apart afterwards.
      log.warn('the hash key changed but not its version: new hashes carry the old prefix', {
        keyVersion: key.version,
      });
    }
    const privacy = createPrivacyPolicy({
      modes: this.options.modes,
      ...(key !== undefined ? { hashKey: key } : {}),
      warn: (message) => log.warn(message),
    });
    const plans = this.newPlans({ privacy });
    this.built = { key, plans };
    if (key !== undefined) log.info('flatten plans made for a hash key', { keyVersion: key.version });
    return plans;
  }
}
