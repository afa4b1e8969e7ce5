import { MINUTE_MS, SECOND_MS } from '../../lib/clock';
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

  it('honours Retry-After and never schedules past the deadline', () => {
    expect(backoffDelayMs(policy, 1, () => 0.5, 20_000)).toBe(20_000);
    expect(nextPollAfterFailure(policy, deadline - 1000, deadline, 1, () => 0.5)).toBe(deadline);
  });
});
