import {
  checkTimingRule,
  fetchReserveMs,
  finalWindowMsFor,
  ITEM_ACK_MARGIN_MS,
  ITEM_FETCH_WAIT_MS,
  minimumLeaseMs,
  REQUESTS_PER_POLL,
  retrySafeDeadlineMs,
  type TimingCondition,
  type TimingSettings,
} from '../../lib/poll-timing';
import { defaultPollPolicy } from '../../lib/poller/policy';

const S = 1000;

/** Settings in seconds, as operators write them; the final window from the poll interval, as policy.ts does. */
function timing(seconds: {
  lease: number;
  interval: number;
  schedule?: number;
  requestTimeout?: number;
}): TimingSettings {
  return {
    leaseMs: seconds.lease * S,
    schedulePeriodMs: (seconds.schedule ?? 60) * S,
    requestTimeoutMs: (seconds.requestTimeout ?? 10) * S,
    finalWindowMs: defaultPollPolicy(seconds.interval).finalWindowMs,
  };
}

function conditions(settings: TimingSettings): TimingCondition[] {
  return checkTimingRule(settings).map((v) => v.condition);
}

describe('timing rule: lease, schedule period, request timeout, final window', () => {
  it.each<[string, TimingSettings, TimingCondition[]]>([
    // The defaults before issue 13: a crash at the final poll left the item due 3 min after its deadline.
    [
      'old defaults (lease 300 s, interval 600 s)',
      timing({ lease: 300, interval: 600 }),
      ['final_poll_recoverable'],
    ],
    // The Lambda timeout is no setting of the rule: a 300 s tick with a 45 s lease is fine (each item's work is
    // bounded by its own lease).
    ['new defaults (lease 45 s)', timing({ lease: 45, interval: 600 }), []],
    ['lease at the upper bound: 180 = 50 + 2 × 60 + 10', timing({ lease: 50, interval: 600 }), []],
    ['lease one second past it', timing({ lease: 51, interval: 600 }), ['final_poll_recoverable']],
    [
      'a short interval shrinks the final window (150 s)',
      timing({ lease: 45, interval: 300 }),
      ['final_poll_recoverable'],
    ],
    ['interval just long enough: window 175 s', timing({ lease: 45, interval: 350 }), []],
    [
      'a 2-minute schedule: no lease fits a 3-minute window',
      timing({ lease: 45, interval: 600, schedule: 120 }),
      ['final_poll_recoverable'],
    ],
    [
      'a 30 s schedule leaves room for a 100 s lease',
      timing({ lease: 100, interval: 600, schedule: 30 }),
      [],
    ],
    [
      'a longer request timeout eats the room: 50 + 120 + 11 > 180',
      timing({ lease: 50, interval: 600, requestTimeout: 11 }),
      ['final_poll_recoverable'],
    ],
    ['lease at the lower bound: 34 = 3 × 10 + 1 + 1 + 2', timing({ lease: 34, interval: 600 }), []],
    ['lease one second under it', timing({ lease: 33, interval: 600 }), ['lease_outlasts_item']],
    ['lease shorter than three requests', timing({ lease: 25, interval: 600 }), ['lease_outlasts_item']],
    [
      'a short request timeout lowers the bound: 3 × 2 + 4 = 10',
      timing({ lease: 10, interval: 600, requestTimeout: 2 }),
      [],
    ],
    [
      'a long request timeout leaves no lease: 3 × 16 + 4 = 52 > 180 − 120 − 16 = 44',
      timing({ lease: 45, interval: 600, requestTimeout: 16 }),
      ['final_poll_recoverable', 'lease_outlasts_item'],
    ],
    [
      'both wrong at once',
      timing({ lease: 20, interval: 120, requestTimeout: 10 }),
      ['final_poll_recoverable', 'lease_outlasts_item'],
    ],
  ])('%s', (_case, settings, expected) => {
    expect(conditions(settings)).toEqual(expected);
  });

  it('says what goes wrong in one sentence per condition, naming the settings and their values', () => {
    const [finalPoll] = checkTimingRule(timing({ lease: 300, interval: 600 }));
    expect(finalPoll?.settings).toEqual([
      'LEASE_SECONDS',
      'SCHEDULE_PERIOD_SECONDS',
      'LP_REQUEST_TIMEOUT_MS',
      'POLL_INTERVAL_SECONDS',
    ]);
    expect(finalPoll?.message).toBe(
      'the final window (180 s, from POLL_INTERVAL_SECONDS) must be at least LEASE_SECONDS (300 s) + ' +
        '2 × SCHEDULE_PERIOD_SECONDS (60 s) + LP_REQUEST_TIMEOUT_MS (10 s) = 430 s: a poller that dies at the ' +
        'final poll leaves the item due again only at deadline + 180 s, after the last time a poll is sure to be ' +
        'answered (deadline − 70 s); with the other values as they are, LEASE_SECONDS may be at most 50 s',
    );
    const [noRoom] = checkTimingRule(timing({ lease: 45, interval: 600, schedule: 120 }));
    expect(noRoom?.message).toMatch(
      /no lease fits: the final window would have to exceed 2 × SCHEDULE_PERIOD_SECONDS \+ LP_REQUEST_TIMEOUT_MS \(250 s\)$/,
    );
    const [item] = checkTimingRule(timing({ lease: 30, interval: 600 }));
    expect(item?.settings).toEqual(['LEASE_SECONDS', 'LP_REQUEST_TIMEOUT_MS']);
    expect(item?.message).toBe(
      'LEASE_SECONDS (30 s) must be at least 3 × LP_REQUEST_TIMEOUT_MS (10 s) + 4 s = 34 s: a claimed item must ' +
        'be able to wait for a fetch slot, make its requests (a Domain API lookup, the fetch, a refetch after a ' +
        'credential refresh, each up to one request timeout), write its rows and ack within its lease, or the ' +
        'poller hands it back unfetched',
    );
    const names = {
      lease: 'lpv:leaseSec',
      schedulePeriod: 'lpv:pollSchedule',
      requestTimeout: 'the request timeout',
      pollInterval: 'lpv:pollIntervalSec',
    };
    const [named] = checkTimingRule(timing({ lease: 30, interval: 600 }), names);
    expect(named?.settings).toEqual(['lpv:leaseSec', 'the request timeout']);
    expect(named?.message).toMatch(
      /^lpv:leaseSec \(30 s\) must be at least 3 × the request timeout \(10 s\) \+ 4 s = 34 s: /,
    );
  });

  it('asks of the lease what the poller needs of one item: a first fetch that starts at least Q after the claim', () => {
    // The poller's check (lib/poller/poller.ts fetch): a first fetch starts only if fetchReserveMs(3, T) is left
    // before the item deadline, claim + L − A. At the least lease, an item may wait exactly Q for its slot.
    for (const requestTimeoutSec of [0.65, 1, 2, 10, 15]) {
      const T = requestTimeoutSec * S;
      const L = minimumLeaseMs(T);
      const latestFirstFetchAfterClaimMs = L - ITEM_ACK_MARGIN_MS - fetchReserveMs(REQUESTS_PER_POLL, T);
      expect([requestTimeoutSec, latestFirstFetchAfterClaimMs]).toEqual([
        requestTimeoutSec,
        ITEM_FETCH_WAIT_MS,
      ]);
      const settings = { leaseMs: L, schedulePeriodMs: 60 * S, requestTimeoutMs: T, finalWindowMs: 180 * S };
      expect(conditions(settings)).not.toContain('lease_outlasts_item');
      expect(conditions({ ...settings, leaseMs: L - 1 })).toContain('lease_outlasts_item');
    }
    expect(minimumLeaseMs(10 * S)).toBe(34 * S);
  });

  it('agrees with the rule as the issue states it, over a grid of settings and crash times', () => {
    // Independent of the closed form: walk crash times up to deadline − finalWindow + one schedule period
    // (a claim at the crash moment: the worst case), each leaving the item due at the claim + lease.
    const deadlineMs = 6 * 3600 * S;
    for (const leaseSec of [10, 30, 45, 50, 51, 120, 300]) {
      for (const scheduleSec of [15, 30, 60, 120]) {
        for (const requestTimeoutSec of [1, 5, 10, 30]) {
          for (const intervalSec of [60, 200, 300, 360, 600, 3600]) {
            const settings = timing({
              lease: leaseSec,
              interval: intervalSec,
              schedule: scheduleSec,
              requestTimeout: requestTimeoutSec,
            });
            const lastCrashMs = deadlineMs - settings.finalWindowMs + settings.schedulePeriodMs;
            let holds = true;
            for (let crashMs = lastCrashMs - 600 * S; crashMs <= lastCrashMs; crashMs += S) {
              const dueAgainMs = crashMs + settings.leaseMs;
              if (dueAgainMs > retrySafeDeadlineMs(deadlineMs, settings)) holds = false;
            }
            expect([settings, conditions(settings).includes('final_poll_recoverable')]).toEqual([
              settings,
              !holds,
            ]);
          }
        }
      }
    }
  });

  it('checks the final window the poll policy uses', () => {
    for (const intervalSec of [1, 2, 59, 60, 61, 300, 359, 360, 361, 600, 3600, 86_400]) {
      expect([intervalSec, finalWindowMsFor(intervalSec * S)]).toEqual([
        intervalSec,
        defaultPollPolicy(intervalSec).finalWindowMs,
      ]);
    }
  });

  it('puts the retry-safe deadline one schedule period and one request timeout before the deadline', () => {
    expect(retrySafeDeadlineMs(10_000 * S, { schedulePeriodMs: 60 * S, requestTimeoutMs: 10 * S })).toBe(
      9_930 * S,
    );
    expect(retrySafeDeadlineMs(0, { schedulePeriodMs: 1, requestTimeoutMs: 2 })).toBe(-3);
  });

  it.each([0, -1, NaN, Infinity])('rejects a timing value of %p as a programming error', (bad) => {
    expect(() => checkTimingRule({ ...timing({ lease: 45, interval: 600 }), leaseMs: bad })).toThrow(
      RangeError,
    );
    expect(() => checkTimingRule({ ...timing({ lease: 45, interval: 600 }), requestTimeoutMs: bad })).toThrow(
      RangeError,
    );
  });
});
