import { LpvError } from '../errors';

/**
 * The eraser's lease on a POST /forget request was gone when it went to record the audit: another eraser took
 * the request over (this one outlived its lease). The erasure is idempotent, so nothing is lost; the other
 * eraser completes it.
 */
export class ErasureLeaseLostError extends LpvError {}

/**
 * Some deletes re-sent to the analytics copy's delivery stream never went (refused or throttled on every
 * attempt). The erasure fails and is run again; it re-sends every kept row (deletes are idempotent).
 */
export class AnalyticsResendError extends LpvError {
  constructor(
    readonly unsent: number,
    readonly attempts: number,
  ) {
    super(
      `${unsent} analytics delete(s) still not accepted by the delivery stream after ${attempts} attempt(s); ` +
        'run the erasure again: it re-sends them',
    );
  }
}
