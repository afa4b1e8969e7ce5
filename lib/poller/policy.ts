import { MINUTE_MS, SECOND_MS } from '../clock';
import { resolveCadence, type PollCadence } from '../poll-cadence';
import { finalWindowMsFor } from '../poll-timing';

/**
 * When to poll a session next. Pure: the poller passes the clock's time in.
 *
 * - a live session is re-polled `changedPollIntervalMs` after an answer with new events, and after one without
 *   them as long again as it has been quiet (now − its newest event), at least `pollIntervalMs`, at most
 *   `maxQuietPollIntervalMs` (the cadence of lib/poll-cadence.ts, docs/reliability.md "Poll cadence");
 * - one poll always lands in the final window before the deadline (`deadlineMs - finalWindowMs`), the last
 *   chance the timing rule guarantees to see what the session did before LivePerson forgets it;
 * - with `lastLook`, one more at the retry-safe deadline (the latest time a poll is sure to be answered);
 * - transient failures back off (about 5, 10, 15 s as LivePerson suggests for 5xx, then doubling, capped),
 *   with jitter so a fleet of retries does not come back as one burst, and never sooner than Retry-After (itself
 *   capped at `maxRetryAfterMs`: a server asking for an hour must not park a session past its last chance);
 * - a retry never lands past `latestRetryAtMs` (the caller's retry-safe deadline, see lib/poll-timing.ts): it
 *   is moved there, or to now when that time has passed, so a failure never ends an item before its deadline.
 */
export interface PollPolicy {
  /** After an answer without new events, and the least interval after one. */
  pollIntervalMs: number;
  /** After an answer with new events. */
  changedPollIntervalMs: number;
  /** The longest interval a quiet session gets (equal to pollIntervalMs: a fixed interval). */
  maxQuietPollIntervalMs: number;
  /** One more poll at the retry-safe deadline after the final-window poll. */
  lastLook: boolean;
  finalWindowMs: number;
  backoffStepsMs: readonly number[];
  maxBackoffMs: number;
  /** Retry-After is honoured up to this long; a longer one counts as this long. */
  maxRetryAfterMs: number;
  /** Fraction of the delay that is randomised (0.2: ±20 %). */
  jitterRatio: number;
}

/** The policy of a cadence (lib/poll-cadence.ts; unset settings take their defaults). */
export function pollPolicy(cadence: PollCadence): PollPolicy {
  const c = resolveCadence(cadence);
  const pollIntervalMs = c.pollIntervalSec * SECOND_MS;
  return {
    pollIntervalMs,
    changedPollIntervalMs: c.afterEventsIntervalSec * SECOND_MS,
    maxQuietPollIntervalMs: Math.max(pollIntervalMs, c.quietMaxIntervalSec * SECOND_MS),
    lastLook: c.lastLook,
    finalWindowMs: finalWindowMsFor(pollIntervalMs),
    backoffStepsMs: [5 * SECOND_MS, 10 * SECOND_MS, 15 * SECOND_MS],
    maxBackoffMs: Math.min(pollIntervalMs, 5 * MINUTE_MS),
    maxRetryAfterMs: Math.min(pollIntervalMs, 2 * MINUTE_MS),
    jitterRatio: 0.2,
  };
}

/**
 * The cadence before issue 16, at a given interval: fixed, a third of it after new events, no quiet back-off,
 * no last look. Deployments use pollPolicy (lib/wiring.ts); this one stays for the tests whose schedule
 * arithmetic is written in it (their subject is not the cadence) and as bench figure 6's "before" point.
 */
export function defaultPollPolicy(pollIntervalSec: number): PollPolicy {
  const policy = pollPolicy({ pollIntervalSec, quietMaxIntervalSec: pollIntervalSec, lastLook: false });
  return { ...policy, changedPollIntervalMs: Math.max(SECOND_MS, Math.floor(policy.pollIntervalMs / 3)) };
}

/** When a poll happens, as the schedule needs it (session-clock epoch milliseconds). */
export interface PollMoment {
  nowMs: number;
  deadlineMs: number;
  /** The retry-safe deadline, deadline − (schedule period + request timeout): where the last look lands. */
  lastLookAtMs: number;
}

/**
 * What the answer said about the visitor: new events since the last poll, or none, and then since when the
 * session has been quiet (its newest event's serverTimeStamp, or its start when it has none).
 */
export type Activity = { newEvents: true } | { newEvents: false; quietSinceMs: number };

/**
 * The interval after a quiet answer: as long again as the session has been quiet, within
 * [pollIntervalMs, maxQuietPollIntervalMs]. A newest event stamped after now (LivePerson's clock ahead of
 * ours) counts as quiet for 0: the shortest interval, the safe side.
 */
export function quietIntervalMs(policy: PollPolicy, nowMs: number, quietSinceMs: number): number {
  const quietMs = Math.max(0, nowMs - quietSinceMs);
  return Math.min(policy.maxQuietPollIntervalMs, Math.max(policy.pollIntervalMs, quietMs));
}

/**
 * Next poll after a successful (200) answer. Before the final window: the cadence's interval, never past the
 * final poll's due time. At or after it (the final poll was this one): the last look when the policy has one
 * and its time is still ahead, else deadlineMs (no poll left: the item ends at its deadline).
 */
export function nextPollAfterSuccess(policy: PollPolicy, at: PollMoment, activity: Activity): number {
  const finalPollAtMs = at.deadlineMs - policy.finalWindowMs;
  if (at.nowMs < finalPollAtMs) {
    const interval = activity.newEvents
      ? policy.changedPollIntervalMs
      : quietIntervalMs(policy, at.nowMs, activity.quietSinceMs);
    return Math.min(at.nowMs + interval, finalPollAtMs);
  }
  if (policy.lastLook && at.nowMs < at.lastLookAtMs && at.lastLookAtMs < at.deadlineMs)
    return at.lastLookAtMs;
  return at.deadlineMs;
}

/** Delay before retrying after the `attempt`-th consecutive transient failure (1-based). */
export function backoffDelayMs(
  policy: PollPolicy,
  attempt: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  const steps = policy.backoffStepsMs;
  const last = steps[steps.length - 1] ?? SECOND_MS;
  const base =
    attempt <= steps.length
      ? (steps[attempt - 1] as number)
      : last * 2 ** Math.min(attempt - steps.length, 20);
  const capped = Math.min(base, policy.maxBackoffMs);
  const jittered = capped * (1 - policy.jitterRatio + 2 * policy.jitterRatio * random());
  return Math.max(Math.round(jittered), Math.min(retryAfterMs ?? 0, policy.maxRetryAfterMs), 1);
}

/**
 * Next poll after a transient failure: after the backoff, but no later than `latestRetryAtMs` (the retry-safe
 * deadline) and no sooner than now (when that time has already passed).
 */
export function nextPollAfterFailure(
  policy: PollPolicy,
  nowMs: number,
  latestRetryAtMs: number,
  attempt: number,
  random: () => number,
  retryAfterMs?: number,
): number {
  const retryAtMs = nowMs + backoffDelayMs(policy, attempt, random, retryAfterMs);
  return Math.max(nowMs, Math.min(retryAtMs, latestRetryAtMs));
}
