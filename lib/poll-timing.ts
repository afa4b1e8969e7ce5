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
 * P the schedule period (one tick every P), T the request timeout, L the lease, A the ack margin
 * (ITEM_ACK_MARGIN_MS, 2 s), R the row-write reserve (ITEM_ROW_WRITE_RESERVE_MS, 1 s), Q the least wait for a
 * first fetch (ITEM_FETCH_WAIT_MS, 1 s).
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
 * 2. `lease_outlasts_item`: L ≥ 3T + R + A + Q (34 s with T = 10 s).
 *    A lease must outlast one item's work, not a tick: the poller (lib/poller/poller.ts) bounds each claimed
 *    item by its own lease. What the code does, for an item claimed at c (wall clock, read just before the claim
 *    call, where its lease's end c + L is computed too; session time and wall time are one clock wherever
 *    leases matter, the Lambda and the CLI):
 *    - its item deadline is E = c + L − A;
 *    - a fetch starts only if n × T + R is left before E (checked when the item gets its fetch slot, and again
 *      after its rate-limit wait), n the requests its poll may still make, each ended by the client's timeout T:
 *      n = 3 at the first fetch (the Domain API lookup of the base URI, the fetch, a refetch after a 401/10),
 *      n = 2 at the refetch (a lookup, should the cached base URI have lapsed meanwhile, and the refetch).
 *      Otherwise the item is handed back untouched (released: nextPollAtMs as before its claim, no request made
 *      for it), counted in itemsDeferred (`lease`). So every fetch of the item has ended by E − R;
 *    - its row writes (the answer's rows, the outcome row) get the deadline min(tick budget end, E): the store
 *      starts no call at or after it and waits no backoff past it (lib/store/dynamo-capture-store.ts); rows left
 *      over count as unwritten (a partial capture, written again by the next poll);
 *    - an item held for a 400/33 until the tick's other work is done is released untouched at E if the tick
 *      has not settled it by then;
 *    - then one queue write: the ack (or the release, or the hand-back after a storage error), begun by E.
 *    Claim → ack therefore ends by E plus two DynamoDB calls (a row write begun just before E, and the ack):
 *    within the lease when those take under A together. Normally they take tens of milliseconds; a call the SDK
 *    retries (throttling) can take seconds, and the ack may then land after the lease: the queue refuses it if
 *    another poller claimed the item meanwhile (counted in leasesLost; the rows written stand). Not bounded by
 *    T either: a credentials read from Secrets Manager (cold start, refresh after 401/10); the check at the next
 *    fetch slot sees the time it took.
 *    So no lease is unsafe any more: the code hands an item back rather than start what it could not finish in
 *    its lease. Condition 2 keeps the hand-back the exception. An item claimed at c reaches its first fetch at
 *    c + w, w being the claim call and the waits for a fetch slot and a rate token, and is fetched only if
 *    c + w ≤ E − (3T + R), that is w ≤ L − A − 3T − R. With L − A − 3T − R ≤ 0 nothing would ever be
 *    fetched; condition 2 leaves every item at least Q for w (12 s with the defaults, L = 45 s and T = 10 s:
 *    with 2 items per fetch slot, an item normally waits about one fetch, and at a rate cap of N requests/s
 *    about 2 × POLL_CONCURRENCY / N seconds). It also covers the condition the poller had before (L ≥ 3T: one
 *    poll's three requests).
 *    The tick's length (the Lambda timeout) no longer enters: a claimed item's work ends within its own lease,
 *    whatever the tick does after it, so ticks may run longer than the lease and overlap.
 *
 * Condition 1 bounds the lease from above, 2 from below: together W − 2P − T ≥ L ≥ 3T + R + A + Q, with
 * P = 60 s, T = 10 s and W = 180 s: 50 s ≥ L ≥ 34 s.
 */

/** The timing settings, all in milliseconds (session time where a clock is compressed). */
export interface TimingSettings {
  leaseMs: number;
  schedulePeriodMs: number;
  requestTimeoutMs: number;
  /** From the poll interval: finalWindowMsFor(pollIntervalMs), what defaultPollPolicy uses. */
  finalWindowMs: number;
}

/** What each setting is called where the operator sets it (environment variable, CDK context key). */
export interface TimingSettingNames {
  lease: string;
  schedulePeriod: string;
  requestTimeout: string;
  /** The final window is derived from the poll interval: the message names the interval's setting. */
  pollInterval: string;
}

/** The names of the environment variables (lib/config.ts). */
export const ENV_TIMING_SETTING_NAMES: TimingSettingNames = {
  lease: 'LEASE_SECONDS',
  schedulePeriod: 'SCHEDULE_PERIOD_SECONDS',
  requestTimeout: 'LP_REQUEST_TIMEOUT_MS',
  pollInterval: 'POLL_INTERVAL_SECONDS',
};

export type TimingCondition = 'final_poll_recoverable' | 'lease_outlasts_item';

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

/**
 * Requests one poll may wait on, each up to one request timeout: the Domain API lookup of the base URI, the
 * fetch, and the refetch after a credential refresh (401/10). Condition 2; the poller's check at a fetch slot.
 */
export const REQUESTS_PER_POLL = 3;

/**
 * What an item's deadline keeps back from its lease (condition 2, A): the item deadline is claim + lease − this.
 * It covers the DynamoDB calls that may still run after the item deadline: a row write begun just before it, and
 * the ack (or the release) after it; tens of milliseconds each at DynamoDB's normal latency.
 */
export const ITEM_ACK_MARGIN_MS = 2_000;

/**
 * The least time an item keeps for its row writes after its fetches (condition 2, R): a fetch starts only if
 * its requests and this much still fit before the item deadline. About forty BatchWriteItem calls (1,000 rows)
 * at DynamoDB's normal latency; rows a slower store leaves unwritten are written by the next poll.
 */
export const ITEM_ROW_WRITE_RESERVE_MS = 1_000;

/**
 * The least time condition 2 leaves an item between its claim and its first fetch (Q): the claim call, and the
 * waits for a fetch slot and a rate token. An item that waits longer than its lease allows is handed back.
 */
export const ITEM_FETCH_WAIT_MS = 1_000;

/**
 * The time that must be left before an item's deadline for a fetch to start (condition 2): `requestsLeft`
 * requests of up to one request timeout each, and the row-write reserve.
 */
export function fetchReserveMs(requestsLeft: number, requestTimeoutMs: number): number {
  return requestsLeft * requestTimeoutMs + ITEM_ROW_WRITE_RESERVE_MS;
}

/** The shortest lease condition 2 allows: 3T + R + A + Q (34 s with a 10 s request timeout). */
export function minimumLeaseMs(requestTimeoutMs: number): number {
  return ITEM_FETCH_WAIT_MS + fetchReserveMs(REQUESTS_PER_POLL, requestTimeoutMs) + ITEM_ACK_MARGIN_MS;
}

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
  const { leaseMs: L, schedulePeriodMs: P, requestTimeoutMs: T, finalWindowMs: W } = settings;
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

  const neededLeaseMs = minimumLeaseMs(T);
  if (L < neededLeaseMs) {
    const marginsMs = ITEM_FETCH_WAIT_MS + ITEM_ROW_WRITE_RESERVE_MS + ITEM_ACK_MARGIN_MS;
    violations.push({
      condition: 'lease_outlasts_item',
      settings: [names.lease, names.requestTimeout],
      message:
        `${names.lease} (${seconds(L)}) must be at least ${REQUESTS_PER_POLL} × ${names.requestTimeout} ` +
        `(${seconds(T)}) + ${seconds(marginsMs)} = ${seconds(neededLeaseMs)}: a claimed item must be able to ` +
        `wait for a fetch slot, make its requests (a Domain API lookup, the fetch, a refetch after a ` +
        `credential refresh, each up to one request timeout), write its rows and ack within its lease, or the ` +
        `poller hands it back unfetched`,
    });
  }
  return violations;
}
