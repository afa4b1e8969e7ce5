import { MINUTE_MS, SECOND_MS } from '../clock';
import { finalWindowMsFor } from '../poll-timing';

/**
 * When to poll a session next. Pure: the poller passes the clock's time in.
 *
 * - a live session is re-polled every `pollIntervalMs`, sooner (`changedPollIntervalMs`) when its state
 *   changed on the last poll, since an active visitor is likely to do more;
 * - one poll always lands in the final window before the deadline (`deadlineMs - finalWindowMs`), the last
 *   chance to see what the session did before LivePerson forgets it;
 * - transient failures back off (about 5, 10, 15 s as LivePerson suggests for 5xx, then doubling, capped),
 *   with jitter so a fleet of retries does not come back as one burst, and never sooner than Retry-After (itself
 *   capped at `maxRetryAfterMs`: a server asking for an hour must not park a session past its last chance);
 * - a retry never lands past `latestRetryAtMs` (the caller's retry-safe deadline, see lib/poll-timing.ts): it
 *   is moved there, or to now when that time has passed, so a failure never ends an item before its deadline.
 */
export interface PollPolicy {
  pollIntervalMs: number;
  changedPollIntervalMs: number;
  finalWindowMs: number;
  backoffStepsMs: readonly number[];
  maxBackoffMs: number;
  /** Retry-After is honoured up to this long; a longer one counts as this long. */
  maxRetryAfterMs: number;
  /** Fraction of the delay that is randomised (0.2: ±20 %). */
  jitterRatio: number;
}

export function defaultPollPolicy(pollIntervalSec: number): PollPolicy {
  const pollIntervalMs = pollIntervalSec * SECOND_MS;
  return {
    pollIntervalMs,
    changedPollIntervalMs: Math.max(SECOND_MS, Math.floor(pollIntervalMs / 3)),
    finalWindowMs: finalWindowMsFor(pollIntervalMs),
    backoffStepsMs: [5 * SECOND_MS, 10 * SECOND_MS, 15 * SECOND_MS],
    maxBackoffMs: Math.min(pollIntervalMs, 5 * MINUTE_MS),
    maxRetryAfterMs: Math.min(pollIntervalMs, 2 * MINUTE_MS),
    jitterRatio: 0.2,
  };
}

/** Next poll after a successful (200) answer. Returns deadlineMs when no poll is left before the deadline. */
export function nextPollAfterSuccess(
  policy: PollPolicy,
  nowMs: number,
  deadlineMs: number,
  changed: boolean,
): number {
  const finalPollAtMs = deadlineMs - policy.finalWindowMs;
  const interval = changed ? policy.changedPollIntervalMs : policy.pollIntervalMs;
  if (nowMs < finalPollAtMs) return Math.min(nowMs + interval, finalPollAtMs);
  return deadlineMs;
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
