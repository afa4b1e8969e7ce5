/**
 * Retention of capture rows: when a retention in days is configured (CAPTURE_RETENTION_DAYS for the poller,
 * `lpv:captureRetentionDays` for the stack), every row of a session carries the same DynamoDB TTL,
 * CAPTURE_TTL_ATTRIBUTE (lib/keys.ts), in epoch SECONDS: the session's start + the retention.
 *
 * THE RULE. "The session's start" is the queue item's `startTimeMs` (the enqueuer's start time, else the
 * enqueue time): fixed when the item is created and never changed by a poll, so the first poll's rows, the
 * last poll's and the outcome row all get the same value; the start an answer reports could differ from one
 * app session to the next, and a clock reading would differ from one poll to the next. Any retention (1 day at
 * least) outlasts the session's polling (start + 6 h), so no row expires while its session is still written.
 * Unset (or `keep`): no TTL, rows are kept until deleted.
 */
import { DAY_MS } from './clock';

/** Fewest and most days a retention may be (100 years: beyond that, `keep`). */
export const MIN_CAPTURE_RETENTION_DAYS = 1;
export const MAX_CAPTURE_RETENTION_DAYS = 36_500;
/** The value that means "no retention": rows never expire. */
export const KEEP = 'keep';

/** A retention as configured: a number of days, or undefined for `keep`. */
export type CaptureRetentionDays = number | undefined;

/**
 * Why `raw` (an environment variable's or a context value's text, or a number from cdk.json) is not a
 * retention, or undefined when it is one. Accepts `keep` and whole numbers from 1 to 36500.
 */
export function captureRetentionProblem(raw: unknown): string | undefined {
  if (raw === KEEP) return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (Number.isSafeInteger(n) && n >= MIN_CAPTURE_RETENTION_DAYS && n <= MAX_CAPTURE_RETENTION_DAYS) {
    return undefined;
  }
  return `must be "${KEEP}" or a whole number of days from ${MIN_CAPTURE_RETENTION_DAYS} to ${MAX_CAPTURE_RETENTION_DAYS}`;
}

/** A retention that captureRetentionProblem accepted, as days (undefined for `keep`). */
export function toCaptureRetentionDays(raw: number | string): CaptureRetentionDays {
  return raw === KEEP ? undefined : Number(raw);
}

/**
 * The TTL (epoch seconds) of every row of the session that started at `sessionStartMs` (the queue item's
 * startTimeMs), or undefined when rows are kept (`retentionDays` undefined). Pure; throws a RangeError on a
 * start that is not a finite epoch-ms or a retention outside its range (settings are validated at start: this
 * guards the callers that skip it).
 */
export function captureExpiresAtSec(
  sessionStartMs: number,
  retentionDays: CaptureRetentionDays,
): number | undefined {
  if (retentionDays === undefined) return undefined;
  if (
    !Number.isSafeInteger(retentionDays) ||
    retentionDays < MIN_CAPTURE_RETENTION_DAYS ||
    retentionDays > MAX_CAPTURE_RETENTION_DAYS
  ) {
    throw new RangeError(`retentionDays out of range: ${retentionDays}`);
  }
  if (!Number.isFinite(sessionStartMs) || sessionStartMs < 0) {
    throw new RangeError(`sessionStartMs is not an epoch-ms: ${sessionStartMs}`);
  }
  // Floor to the second the session started in: DynamoDB's TTL is whole seconds.
  return Math.floor((sessionStartMs + retentionDays * DAY_MS) / 1000);
}

/** True when a row's TTL has passed at `nowMs`: DynamoDB may still hold it (it deletes up to days late). */
export function isExpired(expiresAtSec: unknown, nowMs: number): boolean {
  return typeof expiresAtSec === 'number' && Number.isFinite(expiresAtSec) && expiresAtSec * 1000 <= nowMs;
}
