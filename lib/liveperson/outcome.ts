import type { VisitState } from './types';

/**
 * Every answer of the Visit Information API, classified. One case per row of the spec's response-code table,
 * plus what the table does not cover. The poller decides what to do from `kind` alone.
 */
export type FetchOutcome =
  | { kind: 'ok'; httpStatus: 200; state: VisitState; bodyBytes: number }
  /**
   * A 200 that holds no app session: `appSessions` empty or missing, and nothing at the top level that an app
   * session would hold. Never a success (nothing to store): polled again at the normal interval.
   */
  | { kind: 'empty'; httpStatus: 200; bodyBytes: number }
  | { kind: 'bad_request_33'; httpStatus: 400; message?: string }
  | { kind: 'unauthorized_10'; httpStatus: 401; message?: string }
  | { kind: 'invalid_account_6'; httpStatus: 404; message?: string }
  | { kind: 'invalid_visitor_37'; httpStatus: 404; message?: string }
  | { kind: 'invalid_session_39'; httpStatus: 404; message?: string }
  | { kind: 'expired_12'; httpStatus: 404; message?: string }
  /** 500 has its own row in the spec; like every 5xx it is worth retrying. */
  | { kind: 'server_error_500'; httpStatus: 500; retryAfterMs?: number }
  | {
      kind: 'retryable';
      reason: RetryableReason;
      httpStatus?: number;
      /** From a Retry-After header, when the server sent one. */
      retryAfterMs?: number;
      detail?: string;
    }
  /** A 200 whose body is not the documented shape (or too large to hold). The body is kept, capped. */
  | { kind: 'malformed'; httpStatus: 200; problem: string; bodySnippet: string; bodyBytes: number }
  /** Any other status, or a 404 without an internal code (a proxy's 404 is not an expired session). */
  | { kind: 'unexpected'; httpStatus: number; internalCode?: number; bodySnippet: string };

export type RetryableReason = 'throttled' | 'server_error' | 'timeout' | 'connection_reset' | 'network';

export type FetchOutcomeKind = FetchOutcome['kind'];

/** Status/internal-code label used in queue items and logs, e.g. `404/12`, `200`, `timeout`. */
export function outcomeCode(outcome: FetchOutcome): string {
  switch (outcome.kind) {
    case 'ok':
      return '200';
    case 'empty':
      return '200/empty';
    case 'bad_request_33':
      return '400/33';
    case 'unauthorized_10':
      return '401/10';
    case 'invalid_account_6':
      return '404/6';
    case 'invalid_visitor_37':
      return '404/37';
    case 'invalid_session_39':
      return '404/39';
    case 'expired_12':
      return '404/12';
    case 'server_error_500':
      return '500';
    case 'retryable':
      return outcome.httpStatus !== undefined ? String(outcome.httpStatus) : outcome.reason;
    case 'malformed':
      return '200/malformed';
    case 'unexpected':
      return outcome.internalCode !== undefined
        ? `${outcome.httpStatus}/${outcome.internalCode}`
        : String(outcome.httpStatus);
  }
}

/** True for outcomes that say nothing about the session and must be retried later (never end an item early). */
export function isTransient(outcome: FetchOutcome): boolean {
  return (
    outcome.kind === 'server_error_500' ||
    outcome.kind === 'retryable' ||
    outcome.kind === 'malformed' ||
    outcome.kind === 'unexpected'
  );
}
