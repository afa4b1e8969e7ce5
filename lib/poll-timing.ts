import { MINUTE_MS } from './clock';

/**
 * How the lease, the schedule period, the request timeout and the final window must relate, so that a poller
 * that dies at any moment still leaves every item one poll before its deadline. Pure: config load (lib/config.ts)
 * and `cdk synth` (infra/config.ts) check the same conditions with `checkTimingRule`; the decision rules use
 * `retrySafeDeadlineMs`; the poll policy its final window (`finalWindowMsFor`).
 *
 * A file directly in lib/, importing only lib/clock.ts: lib/config.ts must be able to use it, and lib/config.ts
 * cannot import anything under lib/poller/ (lib/liveperson and lib/store import lib/config.ts, and lib/poller
 * reaches both: a folder cycle, see test/unit/import-cycles.test.ts). For the same reason the final window's
 * formula is here (finalWindowMsFor) rather than only in lib/poller/policy.ts.
 *
 * Notation: D an item's deadline, W the final window (lib/poller/policy.ts: the final poll is due at D − W),
 * P the schedule period (one tick every P), T the request timeout, L the lease, K the longest a tick may run.
 *
 * The retry-safe deadline, D − (P + T). An item due at x is taken by a tick that starts no later than x + P,
 * and its request is answered or times out by x + P + T. So D − (P + T) is the latest due time that still gets
 * an answer before the deadline: a retry is never scheduled later than that (see retrySafeDeadlineMs).
 *
 * Conditions (each one a TimingCondition below):
 *
 * 1. `final_poll_recoverable`: W ≥ L + 2P + T.
 *    The rule: after a crash at any moment up to D − W + P (the final poll included: it is due at
 *    D − W, so the tick that takes it starts by D − W + P), the item is due again no later than D − (P + T).
 *    A claim at time c moves nextPollAtMs to c + L (lib/store/dynamo-queue.ts claim); if the poller dies, the
 *    item is due again exactly then. The latest claim the rule covers is c = D − W + P, so
 *    D − W + P + L ≤ D − (P + T), that is W ≥ L + 2P + T. A crash at an earlier poll recovers earlier still.
 *    W comes from the poll interval (finalWindowMsFor: half of it, at most 3 min), so with P = 60 s and
 *    T = 10 s the lease is at most 180 − 130 = 50 s, and no lease fits a schedule period of 2 minutes or more.
 *
 * 2. `lease_outlasts_tick` (only when K is known, i.e. at synth: the Lambda timeout): L ≥ K.
 *    The lease runs from each item's claim (poller.ts handle: leaseUntilMs = now + L), and nothing bounds an
 *    item's claim → ack more tightly than the tick's end: a claimed item may wait for a fetch slot until the
 *    tick stops claiming, then fetch, write its rows until the tick's deadline and ack. A claim happens at the
 *    tick's start at the earliest and the tick ends by K, so L ≥ K keeps every live tick's leases; a shorter
 *    lease lets the next tick take an item a live tick is still working on (a double fetch, `leasesLost`).
 *
 * 3. `lease_outlasts_requests`: L ≥ 3T.
 *    One poll may wait on three requests of up to T each: the Domain API lookup of the base URI, the fetch,
 *    and the refetch after a credential refresh (401/10). The lower bound that is left where K is not known:
 *    the poller's environment and the CLI do not know their timeout.
 *
 * Condition 1 bounds the lease from above, 2 and 3 from below: together W − 2P − T ≥ L ≥ max(K, 3T).
 */

/** The timing settings, all in milliseconds (session time where a clock is compressed). */
export interface TimingSettings {
  leaseMs: number;
  schedulePeriodMs: number;
  requestTimeoutMs: number;
  /** From the poll interval: finalWindowMsFor(pollIntervalMs), what defaultPollPolicy uses. */
  finalWindowMs: number;
  /** The longest one tick may run (the poller Lambda's timeout), when known. */
  tickMaxMs?: number;
}

/** What each setting is called where the operator sets it (environment variable, CDK context key). */
export interface TimingSettingNames {
  lease: string;
  schedulePeriod: string;
  requestTimeout: string;
  /** The final window is derived from the poll interval: the message names the interval's setting. */
  pollInterval: string;
  tickMax: string;
}

/** The names of the environment variables (lib/config.ts). */
export const ENV_TIMING_SETTING_NAMES: TimingSettingNames = {
  lease: 'LEASE_SECONDS',
  schedulePeriod: 'SCHEDULE_PERIOD_SECONDS',
  requestTimeout: 'LP_REQUEST_TIMEOUT_MS',
  pollInterval: 'POLL_INTERVAL_SECONDS',
  tickMax: 'the tick budget',
};

export type TimingCondition = 'final_poll_recoverable' | 'lease_outlasts_tick' | 'lease_outlasts_requests';

export interface TimingViolation {
  condition: TimingCondition;
  /** The settings involved, by name: any of them may be changed to meet the condition. */
  settings: readonly string[];
  /** One sentence: the condition, the values, and what goes wrong. */
  message: string;
}

/**
 * The final window for a poll interval: half of it, at most 3 minutes. Short enough that the final poll sees
 * nearly all of the session; the timing rule above decides whether it is long enough for the lease.
 */
export function finalWindowMsFor(pollIntervalMs: number): number {
  return Math.min(Math.floor(pollIntervalMs / 2), 3 * MINUTE_MS);
}

/** Requests one poll may wait on, each up to one request timeout (condition 3). */
export const REQUESTS_PER_POLL = 3;

/** The latest time a retry may be scheduled for and still be answered before the deadline: D − (P + T). */
export function retrySafeDeadlineMs(
  deadlineMs: number,
  timing: { schedulePeriodMs: number; requestTimeoutMs: number },
): number {
  return deadlineMs - (timing.schedulePeriodMs + timing.requestTimeoutMs);
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

/** `deadline − 70 s`, `deadline + 180 s`, or `the deadline`. */
function relativeToDeadline(offsetMs: number): string {
  if (offsetMs === 0) return 'the deadline';
  return `deadline ${offsetMs < 0 ? '−' : '+'} ${seconds(Math.abs(offsetMs))}`;
}

/** The violated conditions, empty when the settings are fine. */
export function checkTimingRule(
  settings: TimingSettings,
  names: TimingSettingNames = ENV_TIMING_SETTING_NAMES,
): TimingViolation[] {
  const { leaseMs: L, schedulePeriodMs: P, requestTimeoutMs: T, finalWindowMs: W, tickMaxMs: K } = settings;
  for (const [name, value] of Object.entries(settings)) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new RangeError(`timing setting ${name} must be a positive number of milliseconds, got ${value}`);
    }
  }
  const violations: TimingViolation[] = [];

  const neededWindowMs = L + 2 * P + T;
  if (W < neededWindowMs) {
    const leaseRoomMs = W - 2 * P - T;
    violations.push({
      condition: 'final_poll_recoverable',
      settings: [names.lease, names.schedulePeriod, names.requestTimeout, names.pollInterval],
      message:
        `the final window (${seconds(W)}, from ${names.pollInterval}) must be at least ` +
        `${names.lease} (${seconds(L)}) + 2 × ${names.schedulePeriod} (${seconds(P)}) + ` +
        `${names.requestTimeout} (${seconds(T)}) = ${seconds(neededWindowMs)}: a poller that dies at the ` +
        `final poll leaves the item due again only at ${relativeToDeadline(-W + P + L)}, after the last ` +
        `time a poll is sure to be answered (${relativeToDeadline(-(P + T))}); ` +
        (leaseRoomMs > 0
          ? `with the other values as they are, ${names.lease} may be at most ${seconds(leaseRoomMs)}`
          : `no lease fits: the final window would have to exceed 2 × ${names.schedulePeriod} + ` +
            `${names.requestTimeout} (${seconds(2 * P + T)})`),
    });
  }

  if (K !== undefined && L < K) {
    violations.push({
      condition: 'lease_outlasts_tick',
      settings: [names.lease, names.tickMax],
      message:
        `${names.lease} (${seconds(L)}) must be at least ${names.tickMax} (${seconds(K)}): a claimed item ` +
        `may be worked on until its tick ends, and a shorter lease lets the next tick take it from a live one`,
    });
  }

  const neededForRequestsMs = REQUESTS_PER_POLL * T;
  if (L < neededForRequestsMs) {
    violations.push({
      condition: 'lease_outlasts_requests',
      settings: [names.lease, names.requestTimeout],
      message:
        `${names.lease} (${seconds(L)}) must be at least ${REQUESTS_PER_POLL} × ${names.requestTimeout} ` +
        `(${seconds(T)}) = ${seconds(neededForRequestsMs)}: one poll may wait on a Domain API lookup, the ` +
        `fetch and a refetch after a credential refresh, each up to one request timeout`,
    });
  }
  return violations;
}
