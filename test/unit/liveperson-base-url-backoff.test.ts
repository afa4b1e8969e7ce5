import { ManualClock, MINUTE_MS, SECOND_MS } from '../../lib/clock';
import { BaseUriResolutionError } from '../../lib/errors';
import {
  FailureBackoff,
  failureBackoffDelayMs,
  type FailureBackoffPolicy,
} from '../../lib/liveperson/failure-backoff';
import { DOMAIN_API_FAILURE_BACKOFF } from '../../lib/liveperson/base-url';
import { CREDENTIALS_FAILURE_BACKOFF } from '../../lib/liveperson/credentials';

/**
 * The failure backoff shared by the Domain API lookup and the credentials secret read: how long a failure is
 * remembered after the n-th failure in a row, and the remembering itself (on a manual clock).
 */
const MIDDLE = () => 0.5; // no jitter: the factor is exactly 1
const LOWEST = () => 0; // -20 %
const HIGHEST = () => 1 - Number.EPSILON; // just under +20 %

describe('failureBackoffDelayMs', () => {
  it.each([
    // consecutive failures, Domain API delay (5 s doubling, capped 5 min), credentials delay (capped 1 min)
    [1, 5 * SECOND_MS, 5 * SECOND_MS],
    [2, 10 * SECOND_MS, 10 * SECOND_MS],
    [3, 20 * SECOND_MS, 20 * SECOND_MS],
    [4, 40 * SECOND_MS, 40 * SECOND_MS],
    [5, 80 * SECOND_MS, MINUTE_MS],
    [6, 160 * SECOND_MS, MINUTE_MS],
    [7, 5 * MINUTE_MS, MINUTE_MS],
    [8, 5 * MINUTE_MS, MINUTE_MS],
    [1000, 5 * MINUTE_MS, MINUTE_MS],
  ])('after %i failure(s) in a row: Domain API %i ms, credentials %i ms', (failures, domainMs, secretMs) => {
    expect(failureBackoffDelayMs(DOMAIN_API_FAILURE_BACKOFF, failures, MIDDLE)).toBe(domainMs);
    expect(failureBackoffDelayMs(CREDENTIALS_FAILURE_BACKOFF, failures, MIDDLE)).toBe(secretMs);
  });

  it.each([
    ['lowest', 1, 4_000, LOWEST],
    ['highest', 1, 6_000, HIGHEST],
    ['lowest', 1000, 240_000, LOWEST],
    ['highest', 1000, 360_000, HIGHEST],
  ])('jitters ±20 %% around the capped delay (%s draw, %i failures → %i ms)', (_, failures, ms, random) => {
    expect(failureBackoffDelayMs(DOMAIN_API_FAILURE_BACKOFF, failures, random)).toBe(ms);
  });

  it('never waits less than 1 ms, whatever the policy', () => {
    const zero: FailureBackoffPolicy = { initialMs: 0, maxMs: 0, jitterRatio: 0.2 };
    expect(failureBackoffDelayMs(zero, 1, LOWEST)).toBe(1);
  });
});

describe('FailureBackoff', () => {
  const policy: FailureBackoffPolicy = { initialMs: 1_000, maxMs: 4_000, jitterRatio: 0.2 };

  it('rethrows the remembered error until the retry time, doubling per failure, forgetting on success', () => {
    const clock = new ManualClock(1_000_000);
    const backoff = new FailureBackoff<BaseUriResolutionError>(policy, clock, MIDDLE);
    expect(() => backoff.throwIfWaiting()).not.toThrow();
    expect(backoff.failing).toBe(false);

    const first = new BaseUriResolutionError('down', 'unavailable');
    backoff.failed(first);
    expect(backoff.failing).toBe(true);
    expect(backoff.retryAtMs).toBe(1_001_000);
    clock.advanceMs(999);
    expect(() => backoff.throwIfWaiting()).toThrow(first);
    clock.advanceMs(1);
    expect(() => backoff.throwIfWaiting()).not.toThrow();

    const second = new BaseUriResolutionError('still down', 'unavailable');
    backoff.failed(second);
    expect(backoff.retryAtMs).toBe(clock.nowMs() + 2_000);
    backoff.failed(second);
    expect(backoff.retryAtMs).toBe(clock.nowMs() + 4_000);
    backoff.failed(second);
    expect(backoff.retryAtMs).toBe(clock.nowMs() + 4_000); // capped

    backoff.succeeded();
    expect(backoff.failing).toBe(false);
    expect(backoff.retryAtMs).toBeUndefined();
    expect(() => backoff.throwIfWaiting()).not.toThrow();
    backoff.failed(first);
    expect(backoff.retryAtMs).toBe(clock.nowMs() + 1_000); // starts over
  });
});
