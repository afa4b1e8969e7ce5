import { HOUR_MS, MINUTE_MS, SECOND_MS } from '../../lib/clock';
import { DEFAULT_POLL_CADENCE } from '../../lib/poll-cadence';
import {
  backoffDelayMs,
  defaultPollPolicy,
  nextPollAfterFailure,
  nextPollAfterSuccess,
  pollPolicy,
  quietIntervalMs,
  type Activity,
} from '../../lib/poller/policy';

const policy = defaultPollPolicy(600);
const deadline = 6 * 60 * MINUTE_MS;
/** The retry-safe deadline with a 60 s schedule period and a 10 s request timeout: the last look's time. */
const lastLook = deadline - 70 * SECOND_MS;
const at = (nowMs: number) => ({ nowMs, deadlineMs: deadline, lastLookAtMs: lastLook });
const CHANGED: Activity = { newEvents: true };
const quietSince = (quietSinceMs: number): Activity => ({ newEvents: false, quietSinceMs });

describe('poll policy', () => {
  it('before issue 16 (defaultPollPolicy): every interval, a third of it after a change, no back-off, no last look', () => {
    expect(nextPollAfterSuccess(policy, at(0), quietSince(0))).toBe(10 * MINUTE_MS);
    expect(nextPollAfterSuccess(policy, at(2 * HOUR_MS), quietSince(0))).toBe(2 * HOUR_MS + 10 * MINUTE_MS);
    expect(nextPollAfterSuccess(policy, at(0), CHANGED)).toBe(200 * SECOND_MS);
  });

  it('always lands one poll in the final window before the deadline, then none (without a last look)', () => {
    const finalPollAt = deadline - policy.finalWindowMs;
    expect(policy.finalWindowMs).toBe(3 * MINUTE_MS);
    expect(nextPollAfterSuccess(policy, at(finalPollAt - MINUTE_MS), quietSince(0))).toBe(finalPollAt);
    expect(nextPollAfterSuccess(policy, at(finalPollAt), quietSince(0))).toBe(deadline);
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

describe('poll cadence (lib/poll-cadence.ts, pollPolicy)', () => {
  const cadence = pollPolicy(DEFAULT_POLL_CADENCE);
  const finalPollAt = deadline - cadence.finalWindowMs;

  it('has the documented defaults: 840 s, the same after events, quiet up to 1200 s, a last look', () => {
    expect(cadence).toMatchObject({
      pollIntervalMs: 840 * SECOND_MS,
      changedPollIntervalMs: 840 * SECOND_MS,
      maxQuietPollIntervalMs: 1200 * SECOND_MS,
      lastLook: true,
      finalWindowMs: 3 * MINUTE_MS,
    });
    // Unset settings follow the interval: the after-events interval is it, the quiet cap never below it.
    expect(pollPolicy({ pollIntervalSec: 600 })).toMatchObject({
      changedPollIntervalMs: 600 * SECOND_MS,
      maxQuietPollIntervalMs: 1200 * SECOND_MS,
      lastLook: true,
    });
    expect(pollPolicy({ pollIntervalSec: 1800 }).maxQuietPollIntervalMs).toBe(1800 * SECOND_MS);
    expect(pollPolicy({ pollIntervalSec: 600, quietMaxIntervalSec: 300 }).maxQuietPollIntervalMs).toBe(
      600 * SECOND_MS,
    );
  });

  // Quiet for q (now − newest event): the next poll is as long again, within [interval, cap].
  const NOW = 3 * HOUR_MS;
  it.each([
    ['new events: the after-events interval, whatever the quiet', 840, CHANGED],
    ['quiet 0 s (an event this instant)', 840, quietSince(NOW)],
    ['quiet 5 min: the interval is the floor', 840, quietSince(NOW - 5 * MINUTE_MS)],
    ['quiet 14 min: the interval', 840, quietSince(NOW - 14 * MINUTE_MS)],
    ['quiet 16 min: as long again', 960, quietSince(NOW - 16 * MINUTE_MS)],
    ['quiet 20 min: the cap', 1200, quietSince(NOW - 20 * MINUTE_MS)],
    ['quiet 2 h: still the cap', 1200, quietSince(NOW - 2 * HOUR_MS)],
    ['newest event stamped in our future (clock skew): the interval', 840, quietSince(NOW + MINUTE_MS)],
  ])('%s → %i s', (_name, seconds, activity) => {
    expect(nextPollAfterSuccess(cadence, at(NOW), activity)).toBe(NOW + seconds * SECOND_MS);
  });

  it('spaces a quiet session out by doubling up to the cap, and a change puts it back on the interval', () => {
    const wide = pollPolicy({ pollIntervalSec: 600, quietMaxIntervalSec: 3600 });
    const lastEvent = HOUR_MS;
    const polls: number[] = [];
    let now = lastEvent + 10 * MINUTE_MS;
    for (let i = 0; i < 5; i++) {
      polls.push((now - lastEvent) / MINUTE_MS);
      now = nextPollAfterSuccess(wide, at(now), quietSince(lastEvent));
    }
    // Quiet 10 min at the first poll: waits 10, then 20, 40, then the 60-minute cap.
    expect(polls).toEqual([10, 20, 40, 80, 140]);
    expect(nextPollAfterSuccess(wide, at(now), CHANGED)).toBe(now + 10 * MINUTE_MS);
  });

  it('never schedules past the final poll, however quiet the session', () => {
    expect(nextPollAfterSuccess(cadence, at(finalPollAt - MINUTE_MS), quietSince(0))).toBe(finalPollAt);
    expect(nextPollAfterSuccess(cadence, at(finalPollAt - 1), CHANGED)).toBe(finalPollAt);
  });

  it('after the final poll: the last look at the retry-safe deadline, then none', () => {
    expect(nextPollAfterSuccess(cadence, at(finalPollAt), quietSince(0))).toBe(lastLook);
    expect(nextPollAfterSuccess(cadence, at(finalPollAt + 30 * SECOND_MS), CHANGED)).toBe(lastLook);
    expect(nextPollAfterSuccess(cadence, at(lastLook), quietSince(0))).toBe(deadline);
    // A final poll taken late, already past the last look's time: nothing left.
    expect(nextPollAfterSuccess(cadence, at(lastLook + 5 * SECOND_MS), CHANGED)).toBe(deadline);
    // A last look that would not come before the final poll's time is no last look.
    const late = { nowMs: finalPollAt, deadlineMs: deadline, lastLookAtMs: finalPollAt };
    expect(nextPollAfterSuccess(cadence, late, CHANGED)).toBe(deadline);
    const without = pollPolicy({ ...DEFAULT_POLL_CADENCE, lastLook: false });
    expect(nextPollAfterSuccess(without, at(finalPollAt), quietSince(0))).toBe(deadline);
  });

  it('quietIntervalMs clamps the quiet time into [interval, cap]', () => {
    expect(quietIntervalMs(cadence, 10 * MINUTE_MS, 10 * MINUTE_MS)).toBe(840 * SECOND_MS);
    expect(quietIntervalMs(cadence, HOUR_MS, 0)).toBe(1200 * SECOND_MS);
    expect(quietIntervalMs(cadence, HOUR_MS, HOUR_MS - 900 * SECOND_MS)).toBe(900 * SECOND_MS);
  });
});
