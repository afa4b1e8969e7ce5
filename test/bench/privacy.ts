import { randomBytes } from 'node:crypto';
import { createPrivacyPolicy, type PrivacyPolicy } from '../../lib/privacy/policy';

/**
 * The privacy policy the bench measures under: the default modes with a hash key (so the hashed categories
 * are hashed, the dearest treatment, rather than dropped). The key is random, made per process: the bench
 * compares times, never hashes.
 */
export function benchPrivacyPolicy(): PrivacyPolicy {
  return createPrivacyPolicy({ hashKey: { bytes: randomBytes(32), version: 1 } });
}
