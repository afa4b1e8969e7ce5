import type { Clock } from '../clock';

/** How long a failed lookup is remembered: `initialMs` after the first failure, doubling up to `maxMs`. */
export interface FailureBackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** Fraction of the delay that is randomised (0.2: ±20 %), so a fleet of containers does not retry as one. */
  jitterRatio: number;
}

/**
 * Delay before retrying after the `consecutiveFailures`-th failure in a row (1-based): `initialMs`, doubling,
 * capped at `maxMs`, then jittered (so a capped delay still spreads over `maxMs` ± jitter).
 */
export function failureBackoffDelayMs(
  policy: FailureBackoffPolicy,
  consecutiveFailures: number,
  random: () => number,
): number {
  const doublings = Math.min(Math.max(consecutiveFailures - 1, 0), 30);
  const capped = Math.min(policy.initialMs * 2 ** doublings, policy.maxMs);
  const jittered = capped * (1 - policy.jitterRatio + 2 * policy.jitterRatio * random());
  return Math.max(Math.round(jittered), 1);
}

/**
 * Remembers the last failure of a lookup that many callers share (the Domain API, the credentials secret), so
 * that a tick of hundreds of items asks once, not once per item: until the retry time, `throwIfWaiting()`
 * throws the same error again without asking. Each failure in a row doubles the wait; a success forgets it.
 */
export class FailureBackoff<E extends Error> {
  private consecutiveFailures = 0;
  private last?: { error: E; retryAtMs: number };

  constructor(
    private readonly policy: FailureBackoffPolicy,
    private readonly clock: Clock,
    private readonly random: () => number,
  ) {}

  /** Throws the remembered error while its retry time has not come. */
  throwIfWaiting(): void {
    if (this.last !== undefined && this.clock.nowMs() < this.last.retryAtMs) throw this.last.error;
  }

  /** True once a failure was remembered and no success came since (the next lookup is a retry). */
  get failing(): boolean {
    return this.last !== undefined;
  }

  /** When the remembered failure may be retried (epoch ms), or undefined after a success. */
  get retryAtMs(): number | undefined {
    return this.last?.retryAtMs;
  }

  failed(error: E): void {
    this.consecutiveFailures += 1;
    const delayMs = failureBackoffDelayMs(this.policy, this.consecutiveFailures, this.random);
    this.last = { error, retryAtMs: this.clock.nowMs() + delayMs };
  }

  succeeded(): void {
    this.consecutiveFailures = 0;
    this.last = undefined;
  }
}
