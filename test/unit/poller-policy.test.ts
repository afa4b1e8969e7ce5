import { HOUR_MS, MINUTE_MS, SECOND_MS } from '../../lib/clock';
import {
  backoffDelayMs,
  defaultPollPolicy,
  nextPollAfterFailure,
  nextPollAfterSuccess,
} from '../../lib/poller/policy';

const policy = defaultPollPolicy(600);
const deadline = 6 * 60 * MINUTE_MS;

describe('poll policy', () => {
  it('re-polls every interval, sooner after a change', () => {
    expect(nextPollAfterSuccess(policy, 0, deadline, false)).toBe(10 * MINUTE_MS);
    expect(nextPollAfterSuccess(policy, 0, deadline, true)).toBe(200 * SECOND_MS);
  });

  it('always lands one poll in the final window before the deadline, then none', () => {
    const finalPollAt = deadline - policy.finalWindowMs;
    expect(policy.finalWindowMs).toBe(3 * MINUTE_MS);
    expect(nextPollAfterSuccess(policy, finalPollAt - MINUTE_MS, deadline, false)).toBe(finalPollAt);
    expect(nextPollAfterSuccess(policy, finalPollAt, deadline, false)).toBe(deadline);
  });

  it('backs off about 5, 10, 15 s, then doubles up to a cap, with bounded jitter', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 5].map((a) => backoffDelayMs(policy, a, mid))).toEqual([
      5000, 10000, 15000, 30000, 60000,
    ]);
    expect(backoffDelayMs(policy, 30, mid)).toBe(5 * MINUTE_MS);
    expect(backoffDelayMs(policy, 1, () => 0)).toBe(4000);
    expect(backoffDelayMs(policy, 1, () => 0.999999)).toBeLessThanOrEqual(6000);
  });

  it('honours Retry-After up to its cap (2 minutes, or the poll interval when shorter)', () => {
    expect(backoffDelayMs(policy, 1, () => 0.5, 20_000)).toBe(20_000);
    expect(policy.maxRetryAfterMs).toBe(2 * MINUTE_MS);
    expect(backoffDelayMs(policy, 1, () => 0.5, HOUR_MS)).toBe(2 * MINUTE_MS);
    // The cap bounds Retry-After only: a longer backoff of our own still wins.
    expect(backoffDelayMs(policy, 30, () => 0.5, HOUR_MS)).toBe(5 * MINUTE_MS);
    const fast = defaultPollPolicy(30);
    expect(backoffDelayMs(fast, 1, () => 0.5, HOUR_MS)).toBe(30 * SECOND_MS);
  });

  it('moves a retry that would land past the latest retry time to it, or to now once that has passed', () => {
    const latest = deadline - 70 * SECOND_MS;
    expect(nextPollAfterFailure(policy, 0, latest, 1, () => 0.5)).toBe(5000);
    expect(nextPollAfterFailure(policy, latest - 1000, latest, 1, () => 0.5)).toBe(latest);
    expect(nextPollAfterFailure(policy, latest - 1000, latest, 1, () => 0.5, HOUR_MS)).toBe(latest);
    expect(nextPollAfterFailure(policy, latest + 1000, latest, 1, () => 0.5)).toBe(latest + 1000);
  });
});
