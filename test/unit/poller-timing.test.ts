import {
  checkTimingRule,
  finalWindowMsFor,
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
  tickMax?: number;
}): TimingSettings {
  return {
    leaseMs: seconds.lease * S,
    schedulePeriodMs: (seconds.schedule ?? 60) * S,
    requestTimeoutMs: (seconds.requestTimeout ?? 10) * S,
    finalWindowMs: defaultPollPolicy(seconds.interval).finalWindowMs,
    ...(seconds.tickMax !== undefined ? { tickMaxMs: seconds.tickMax * S } : {}),
  };
}

function conditions(settings: TimingSettings): TimingCondition[] {
  return checkTimingRule(settings).map((v) => v.condition);
}

describe('timing rule: lease, schedule period, request timeout, final window, tick length', () => {
  it.each<[string, TimingSettings, TimingCondition[]]>([
    // The defaults before issue 13: a crash at the final poll left the item due 3 min after its deadline.
    [
      'old defaults (lease 300 s, interval 600 s)',
      timing({ lease: 300, interval: 600 }),
      ['final_poll_recoverable'],
    ],
    [
      'old deployment defaults (lease 300 s, Lambda timeout 300 s)',
      timing({ lease: 300, interval: 600, tickMax: 300 }),
      ['final_poll_recoverable'],
    ],
    ['new defaults (lease 45 s, Lambda timeout 45 s)', timing({ lease: 45, interval: 600, tickMax: 45 }), []],
    [
      'new CLI and Lambda-environment defaults (tick length unknown)',
      timing({ lease: 45, interval: 600 }),
      [],
    ],
    ['lease at the bound: 180 = 50 + 2 × 60 + 10', timing({ lease: 50, interval: 600, tickMax: 50 }), []],
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
    [
      'lease shorter than the Lambda timeout',
      timing({ lease: 45, interval: 600, tickMax: 300 }),
      ['lease_outlasts_tick'],
    ],
    ['lease shorter than three requests', timing({ lease: 25, interval: 600 }), ['lease_outlasts_requests']],
    [
      'everything wrong at once',
      timing({ lease: 20, interval: 120, requestTimeout: 10, tickMax: 900 }),
      ['final_poll_recoverable', 'lease_outlasts_tick', 'lease_outlasts_requests'],
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
    const names = {
      lease: 'lpv:leaseSec',
      schedulePeriod: 'lpv:pollSchedule',
      requestTimeout: 'the request timeout',
      pollInterval: 'lpv:pollIntervalSec',
      tickMax: 'lpv:pollerTimeoutSec',
    };
    const [tick] = checkTimingRule(timing({ lease: 45, interval: 600, tickMax: 300 }), names);
    expect(tick?.settings).toEqual(['lpv:leaseSec', 'lpv:pollerTimeoutSec']);
    expect(tick?.message).toMatch(/^lpv:leaseSec \(45 s\) must be at least lpv:pollerTimeoutSec \(300 s\): /);
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
    expect(() => checkTimingRule({ ...timing({ lease: 45, interval: 600 }), tickMaxMs: bad })).toThrow(
      RangeError,
    );
  });
});
