import { LpvError } from '../errors';

/**
 * The eraser's lease on a POST /forget request was gone when it went to record the audit: another eraser took
 * the request over (this one outlived its lease). The erasure is idempotent, so nothing is lost; the other
 * eraser completes it.
 */
export class ErasureLeaseLostError extends LpvError {}
