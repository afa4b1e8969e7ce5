import {
  captureExpiresAtSec,
  captureRetentionProblem,
  isExpired,
  toCaptureRetentionDays,
} from '../../lib/capture-retention';
import { DAY_MS, HOUR_MS } from '../../lib/clock';

const START_MS = Date.UTC(2025, 2, 1, 10, 30, 15, 250); // 2025-03-01T10:30:15.250Z
const START_SEC = Math.floor(START_MS / 1000);

describe('capture retention: the TTL of every row of a session', () => {
  it.each([
    ['keep: no TTL', START_MS, undefined, undefined],
    ['1 day after the start, whole seconds (floored)', START_MS, 1, START_SEC + 86_400],
    ['30 days', START_MS, 30, START_SEC + 30 * 86_400],
    ['400 days', START_MS, 400, START_SEC + 400 * 86_400],
    ['100 years', START_MS, 36_500, START_SEC + 36_500 * 86_400],
    ['a start on a whole second', Date.UTC(2025, 0, 1), 7, Date.UTC(2025, 0, 8) / 1000],
    ['a start 1 ms before a second', Date.UTC(2025, 0, 1) - 1, 7, Date.UTC(2025, 0, 8) / 1000 - 1],
  ])('%s', (_name, startMs, days, expected) => {
    expect(captureExpiresAtSec(startMs, days)).toBe(expected);
  });

  it('depends on the session start only: any poll of the session, and its outcome row, gets the same value', () => {
    // The inputs are the queue item's startTimeMs (fixed at enqueue) and the setting: nothing of the poll.
    const firstPoll = captureExpiresAtSec(START_MS, 90);
    const lastPoll = captureExpiresAtSec(START_MS, 90);
    expect(lastPoll).toBe(firstPoll);
    // ...and every retention outlasts the session's polling (start + 6 h): no row expires while written.
    expect((captureExpiresAtSec(START_MS, 1) as number) * 1000).toBeGreaterThan(START_MS + 6 * HOUR_MS);
  });

  it.each([
    ['0 days', START_MS, 0],
    ['36501 days', START_MS, 36_501],
    ['a fraction of a day', START_MS, 1.5],
    ['NaN days', START_MS, NaN],
    ['a NaN start', NaN, 30],
    ['a negative start', -1, 30],
  ])('refuses %s', (_name, startMs, days) => {
    expect(() => captureExpiresAtSec(startMs, days)).toThrow(RangeError);
  });

  it.each([
    ['keep', undefined],
    ['1', undefined],
    ['36500', undefined],
    [1, undefined],
    [90, undefined],
    ['0', 'must be'],
    [0, 'must be'],
    ['36501', 'must be'],
    [36_501, 'must be'],
    [1.5, 'must be'],
    ['1.5', 'must be'],
    ['-3', 'must be'],
    ['Keep', 'must be'],
    ['', 'must be'],
    [undefined, 'must be'],
    [true, 'must be'],
  ])('captureRetentionProblem(%p) → %p', (raw, problem) => {
    const found = captureRetentionProblem(raw);
    if (problem === undefined) expect(found).toBeUndefined();
    else expect(found).toBe('must be "keep" or a whole number of days from 1 to 36500');
  });

  it('turns an accepted setting into days', () => {
    expect(toCaptureRetentionDays('keep')).toBeUndefined();
    expect(toCaptureRetentionDays('30')).toBe(30);
    expect(toCaptureRetentionDays(30)).toBe(30);
  });

  it.each([
    ['no TTL', undefined, START_MS, false],
    ['a TTL ahead', START_SEC + 1, START_MS, false],
    ['a TTL at this second', START_SEC, START_SEC * 1000, true],
    ['a TTL passed', START_SEC, START_MS + DAY_MS, true],
    ['a TTL that is not a number', String(START_SEC), START_MS + DAY_MS, false],
  ])('isExpired: %s', (_name, ttl, nowMs, expired) => {
    expect(isExpired(ttl, nowMs)).toBe(expired);
  });
});
