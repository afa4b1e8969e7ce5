/**
 * Validation of the identifiers that end up in LivePerson URLs and in our table keys.
 * Ids come from the web tag: short URL-safe strings. Anything else is rejected before a request is made.
 */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** The spec's own ids are base64url-like and may hold dots (`jnPABZYjQcOS2Uk5fp_HnA.c5244...`). */
export const VISITOR_OR_SESSION_ID_PATTERN = /^[A-Za-z0-9._~-]{1,128}$/;

export type IdKind = 'accountId' | 'visitorId' | 'sid';

export class InvalidIdError extends Error {
  override readonly name = 'InvalidIdError';
  constructor(
    readonly idKind: IdKind,
    readonly reason: string,
  ) {
    super(`invalid ${idKind}: ${reason}`);
  }
}

/** Describes why `value` is not a valid id of `kind`, or returns undefined when it is valid. */
export function idProblem(kind: IdKind, value: unknown): string | undefined {
  if (typeof value !== 'string') return `must be a string, got ${value === null ? 'null' : typeof value}`;
  if (value.length === 0) return 'must not be empty';
  const max = kind === 'accountId' ? 64 : 128;
  if (value.length > max) return `longer than ${max} characters (${value.length})`;
  // The value itself is never echoed: ids are visitor identifiers and must not reach logs.
  if (/[\s\p{Cc}]/u.test(value)) return 'contains whitespace or control characters';
  if (value.includes('/')) return "contains '/'";
  if (kind === 'accountId') {
    if (!ACCOUNT_ID_PATTERN.test(value)) return 'may only hold letters, digits, _ and -';
    return undefined;
  }
  if (value === '.' || value === '..') return "must not be '.' or '..'";
  if (!VISITOR_OR_SESSION_ID_PATTERN.test(value)) return 'may only hold letters, digits, and . _ ~ -';
  return undefined;
}

export function assertValidId(kind: IdKind, value: unknown): asserts value is string {
  const problem = idProblem(kind, value);
  if (problem !== undefined) throw new InvalidIdError(kind, problem);
}
