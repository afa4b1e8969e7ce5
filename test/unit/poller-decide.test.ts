import { HOUR_MS } from '../../lib/clock';
import type { FetchOutcome, FetchOutcomeKind } from '../../lib/liveperson/outcome';
import type { VisitState } from '../../lib/liveperson/types';
import { idRef } from '../../lib/log';
import type { FetchOutcomeMetric } from '../../lib/metrics';
import {
  badRequest33Fault,
  decide,
  newestEventAtMs,
  storedCompletely,
  type Decision,
  type DecisionRules,
  type End,
  type FinalState,
  type Observation,
  type RetryLater,
  type StoreAnswer,
  type TickCounts,
  type Warning,
} from '../../lib/poller/decide';
import { DEFAULT_POLL_CADENCE } from '../../lib/poll-cadence';
import { defaultPollPolicy, pollPolicy } from '../../lib/poller/policy';
import type { QueueItem } from '../../lib/queue/model';

/**
 * Every transition of the poll policy, one row each: what the poller does with an item in a given situation
 * after a given observation. Each row states the whole decision (schedule, ack, counters, rows, tick effect),
 * so changing any single transition fails exactly the rows that show it.
 *
 * Schedule arithmetic (defaultPollPolicy(600), random() = 0.25, so jitter ×0.9):
 *   re-poll 600 000 ms, 200 000 ms after new events; final window 180 000 ms before the deadline;
 *   backoff by attempt 1..8: 4 500, 9 000, 13 500, 27 000, 54 000, 108 000, 216 000, 270 000 (capped);
 *   Retry-After capped at 120 000; no retry later than the deadline − 70 000 (schedule period 60 000 + request
 *   timeout 10 000), or now when that has passed.
 */

const NOW = 1_800_000_000_000;
const RULES: DecisionRules = {
  policy: defaultPollPolicy(600),
  badBodyBytes: 8,
  schedulePeriodMs: 60_000,
  requestTimeoutMs: 10_000,
};
const RANDOM = 0.25;
const ANSWER: VisitState = { id: 'visit-1', appSessions: [] };
const SESSION = idRef('s1');

function item(fields: Partial<QueueItem> & { deadlineMs: number }): QueueItem {
  return {
    accountId: 'acct',
    visitorId: 'v1',
    sid: 's1',
    state: 'ACTIVE',
    startTimeMs: fields.deadlineMs - 6 * HOUR_MS,
    enqueuedAtMs: fields.deadlineMs - 6 * HOUR_MS,
    nextPollAtMs: NOW,
    attempts: 0,
    pollCount: 0,
    successCount: 0,
    expiresAtSec: 0,
    ...fields,
  };
}

// Situations.
const FIRST_POLL = item({ deadlineMs: NOW + 5 * HOUR_MS });
const AFTER_SUCCESS = item({
  deadlineMs: NOW + 5 * HOUR_MS,
  pollCount: 4,
  successCount: 2,
  lastOutcome: '200',
  eventsSeen: 7,
});
/** The final poll is due at NOW + 120 000 (deadline − final window). */
const BEFORE_FINAL_WINDOW = item({ deadlineMs: NOW + 300_000, pollCount: 6, successCount: 3 });
const IN_FINAL_WINDOW = item({ deadlineMs: NOW + 120_000, pollCount: 9, successCount: 3 });
const NEAR_DEADLINE_NEVER_CAPTURED = item({
  deadlineMs: NOW + 5_000,
  pollCount: 2,
  attempts: 1,
  lastOutcome: 'timeout',
});
const FAILING_NEVER_CAPTURED = item({
  deadlineMs: NOW + 5 * HOUR_MS,
  pollCount: 7,
  attempts: 7,
  lastOutcome: '503',
});
const FAILING_AFTER_CAPTURE = item({
  deadlineMs: NOW + 5 * HOUR_MS,
  pollCount: 9,
  attempts: 4,
  successCount: 2,
  lastOutcome: '500',
});
const AT_DEADLINE_CAPTURED = item({ deadlineMs: NOW, pollCount: 5, successCount: 2, lastOutcome: '200' });
/** The last successful answer's rows were not all stored (rejected, unwritten, or the flatten failed). */
const PARTIAL_AFTER_SUCCESS = { ...AFTER_SUCCESS, complete: false };
const PARTIAL_AT_DEADLINE = { ...AT_DEADLINE_CAPTURED, complete: false };
/** LivePerson answered, but never with an app session. */
const ONLY_EMPTY = item({
  deadlineMs: NOW + 5 * HOUR_MS,
  pollCount: 3,
  emptyCount: 3,
  lastOutcome: '200/empty',
});
const ONLY_EMPTY_PAST_DEADLINE = item({
  deadlineMs: NOW - 60_000,
  pollCount: 4,
  attempts: 1,
  emptyCount: 3,
  lastOutcome: '500',
});
const PAST_DEADLINE_NEVER_CAPTURED = item({
  deadlineMs: NOW - 60_000,
  pollCount: 3,
  attempts: 3,
  lastOutcome: '500',
});
/** Hand-edited items (the table can be edited by hand). */
const BAD_SID = { ...FIRST_POLL, sid: 'bad sid' };
const NO_START_TIME = { ...FIRST_POLL, startTimeMs: undefined } as unknown as QueueItem;
const NO_COUNTERS = {
  ...FIRST_POLL,
  attempts: undefined,
  pollCount: undefined,
  successCount: 'x',
} as unknown as QueueItem;
const NO_COUNTERS_PAST_DEADLINE = { ...NO_COUNTERS, deadlineMs: NOW - 1 } as QueueItem;

// Observations.
const CLAIMED: Observation = { kind: 'claimed' };
const INVALID_ID: Observation = { kind: 'invalid_id', message: 'sid is too long' };
const LOOKUP_CONFIGURATION: Observation = {
  kind: 'lookup_failed',
  fault: 'configuration',
  problem: 'Domain API: account unknown',
};
const LOOKUP_UNAVAILABLE: Observation = {
  kind: 'lookup_failed',
  fault: 'unavailable',
  problem: 'Domain API: 503',
};
const STORAGE_FAILED: Observation = { kind: 'storage_failed' };
const fetched = (outcome: FetchOutcome, afterCredentialRefresh = false): Observation => ({
  kind: 'fetched',
  outcome,
  afterCredentialRefresh,
});
const OK = fetched({ kind: 'ok', httpStatus: 200, state: ANSWER, bodyBytes: 1234 });
const EMPTY = fetched({ kind: 'empty', httpStatus: 200, bodyBytes: 17 });
const BAD_REQUEST_33 = fetched({ kind: 'bad_request_33', httpStatus: 400 });
const UNAUTHORIZED_10 = fetched({ kind: 'unauthorized_10', httpStatus: 401 });
const UNAUTHORIZED_10_AGAIN = fetched({ kind: 'unauthorized_10', httpStatus: 401 }, true);
const INVALID_ACCOUNT_6 = fetched({ kind: 'invalid_account_6', httpStatus: 404 });
const INVALID_VISITOR_37 = fetched({ kind: 'invalid_visitor_37', httpStatus: 404 });
const INVALID_SESSION_39 = fetched({ kind: 'invalid_session_39', httpStatus: 404 });
const EXPIRED_12 = fetched({ kind: 'expired_12', httpStatus: 404 });
const SERVER_ERROR_500 = fetched({ kind: 'server_error_500', httpStatus: 500 });
const SERVER_ERROR_500_RETRY_60S = fetched({
  kind: 'server_error_500',
  httpStatus: 500,
  retryAfterMs: 60_000,
});
const THROTTLED_429_RETRY_60S = fetched({
  kind: 'retryable',
  reason: 'throttled',
  httpStatus: 429,
  retryAfterMs: 60_000,
});
const THROTTLED_429_RETRY_400S = fetched({
  kind: 'retryable',
  reason: 'throttled',
  httpStatus: 429,
  retryAfterMs: 400_000,
});
const TIMEOUT = fetched({ kind: 'retryable', reason: 'timeout' });
const MALFORMED = fetched({
  kind: 'malformed',
  httpStatus: 200,
  problem: 'truncated JSON',
  bodySnippet: '{"appSessions": [',
  bodyBytes: 17,
});
const UNEXPECTED_404 = fetched({
  kind: 'unexpected',
  httpStatus: 404,
  bodySnippet: '<html>Not Found</html>',
});
const UNEXPECTED_418_99 = fetched({
  kind: 'unexpected',
  httpStatus: 418,
  internalCode: 99,
  bodySnippet: 'teapot',
});

// What the queue item keeps of each unusable body: size, hash and structure, never a value (lib/privacy/
// body-structure.ts); the structure capped at RULES.badBodyBytes characters.
const MALFORMED_BAD_BODY = '{"bytes":17,"keptBytes":17,"sha256":"11a288d5cb1ec8dc","structure":"{\\"appSe…"}';
const UNEXPECTED_404_BAD_BODY =
  '{"bytes":22,"keptBytes":22,"sha256":"50bbf1b839d6daf0","structure":"<markup>"}';
const TEAPOT_BAD_BODY = '{"bytes":6,"keptBytes":6,"sha256":"33f38545e00a507f","structure":"<text>"}';

// The warnings, as logged (the tick id is added by the poller).
const MALFORMED_WARNING: Warning = {
  message: 'unusable answer; will retry',
  fields: { session: SESSION, outcome: '200/malformed', problem: 'truncated JSON', bodyBytes: 17 },
};
const unexpectedWarning = (outcome: string): Warning => ({
  message: 'unusable answer; will retry',
  fields: { session: SESSION, outcome },
});

// Expected decisions. Each spells out every field; nothing is computed from the situation.
const FETCH: Decision = { kind: 'fetch' };
const REFETCH: Decision = { kind: 'refetch_after_credential_refresh', counts: { fetch: 'unauthorized_10' } };
const stopTick = (fault: string, fetch?: FetchOutcomeMetric): Decision => ({
  kind: 'stop_tick',
  fault,
  counts: fetch !== undefined ? { fetch } : {},
});
function storeAnswer(e: {
  next: { afterNewEvents: number; withoutNewEvents: number };
  pollCount: number;
  successCount: number;
}): StoreAnswer {
  return {
    kind: 'store_answer',
    answer: ANSWER,
    capturedAtMs: NOW,
    nextPollAtMs: e.next,
    ack: {
      state: 'ACTIVE',
      attempts: 0,
      pollCount: e.pollCount,
      successCount: e.successCount,
      lastOutcome: '200',
      lastPolledAtMs: NOW,
      lastCapturedAtMs: NOW,
    },
    counts: { fetch: 'ok' },
  };
}
function retryLater(e: {
  nextPollAtMs: number;
  attempts: number;
  pollCount: number;
  successCount: number;
  lastOutcome: string;
  counts: TickCounts;
  emptyCount?: number;
  lastBadBody?: string;
  warning?: Warning;
}): RetryLater {
  return {
    kind: 'retry_later',
    ack: {
      state: 'ACTIVE',
      nextPollAtMs: e.nextPollAtMs,
      attempts: e.attempts,
      pollCount: e.pollCount,
      successCount: e.successCount,
      ...(e.emptyCount !== undefined ? { emptyCount: e.emptyCount } : {}),
      lastOutcome: e.lastOutcome,
      lastPolledAtMs: NOW,
      ...(e.lastBadBody !== undefined ? { lastBadBody: e.lastBadBody } : {}),
    },
    counts: e.counts,
    ...(e.warning !== undefined ? { warning: e.warning } : {}),
  };
}
function ends(
  state: FinalState,
  reason: string,
  e: {
    lastOutcome: string;
    pollCount: number;
    attempts: number;
    successCount: number;
    counts: TickCounts;
    complete?: false;
    writesOutcomeRow?: false;
    lastBadBody?: string;
    warning?: Warning;
  },
): End {
  return {
    kind: 'end',
    ack: {
      state,
      attempts: e.attempts,
      pollCount: e.pollCount,
      successCount: e.successCount,
      complete: e.complete ?? true,
      lastOutcome: e.lastOutcome,
      lastPolledAtMs: NOW,
      reason,
      endedAtMs: NOW,
      ...(e.lastBadBody !== undefined ? { lastBadBody: e.lastBadBody } : {}),
    },
    writesOutcomeRow: e.writesOutcomeRow ?? true,
    counts: e.counts,
    ...(e.warning !== undefined ? { warning: e.warning } : {}),
  };
}

/** A 400/33: held until the tick ends, then ended INVALID (unless 3+ sessions answered it: see below). */
const hold = (end: End): Decision => ({
  kind: 'hold_until_tick_ends',
  end,
  counts: { fetch: 'bad_request_33' },
});

type TickEffect = 'go on' | 'refetch after credential refresh' | 'stop tick' | 'hold until tick ends';
type RowsWritten = 'none' | 'answer rows' | 'outcome row' | 'outcome row at tick end';

interface Row {
  situation: string;
  item: QueueItem;
  seen: string;
  observation: Observation;
  tick: TickEffect;
  rows: RowsWritten;
  expected: Decision;
}

/** One situation's rows: [what was seen, observation, tick effect, rows written, expected decision]. */
function rowsFor(
  situation: string,
  it: QueueItem,
  rows: Array<[string, Observation, TickEffect, RowsWritten, Decision]>,
): Row[] {
  return rows.map(([seen, observation, tick, written, expected]) => ({
    situation,
    item: it,
    seen,
    observation,
    tick,
    rows: written,
    expected,
  }));
}

const INVALID_33 = 'LivePerson rejected the request (400/33)';
const INVALID_37 = 'LivePerson does not know this visitor (404/37)';
const INVALID_39 = 'the sid is not this visitor’s session (404/39)';
const ENDED_37 = 'session ended (404/37 after a capture: LivePerson no longer knows this visitor)';
const ENDED_39 = 'session ended (404/39 after a capture: LivePerson no longer matches the sid)';
const NO_APP_SESSION = 'no app session in any answer';
const CREDENTIALS = '401/10: credentials rejected';
const ACCOUNT = '404/6: account unknown to LivePerson';
const BAD_SID_PROBLEM = 'malformed queue item: sid contains whitespace or control characters';
const NO_START_PROBLEM = 'malformed queue item: startTimeMs is not a number';

// One row per line: the table is easier to read, and to diff, than prettier's one value per line.
// prettier-ignore
const ROWS: Row[] = [
  ...rowsFor('first poll', FIRST_POLL, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 200_000, withoutNewEvents: NOW + 600_000 }, pollCount: 1, successCount: 1 })],
    ['200 without app sessions', EMPTY, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 600_000, attempts: 0, pollCount: 1, successCount: 0, emptyCount: 1, lastOutcome: '200/empty', counts: { fetch: 'empty' } })],
    ['400/33', BAD_REQUEST_33, 'hold until tick ends', 'outcome row at tick end', hold(ends('INVALID', INVALID_33, { lastOutcome: '400/33', pollCount: 1, attempts: 0, successCount: 0, counts: { sessionEnded: 'INVALID' } }))],
    ['401/10', UNAUTHORIZED_10, 'refetch after credential refresh', 'none', REFETCH],
    ['401/10 after the refresh', UNAUTHORIZED_10_AGAIN, 'stop tick', 'none', stopTick(CREDENTIALS, 'unauthorized_10')],
    ['404/6', INVALID_ACCOUNT_6, 'stop tick', 'none', stopTick(ACCOUNT, 'invalid_account_6')],
    ['404/37', INVALID_VISITOR_37, 'go on', 'outcome row', ends('INVALID', INVALID_37, { lastOutcome: '404/37', pollCount: 1, attempts: 0, successCount: 0, counts: { fetch: 'invalid_visitor_37', sessionEnded: 'INVALID' } })],
    ['404/39', INVALID_SESSION_39, 'go on', 'outcome row', ends('INVALID', INVALID_39, { lastOutcome: '404/39', pollCount: 1, attempts: 0, successCount: 0, counts: { fetch: 'invalid_session_39', sessionEnded: 'INVALID' } })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('LOST', 'session expired before any capture (404/12)', { lastOutcome: '404/12', pollCount: 1, attempts: 0, successCount: 0, counts: { fetch: 'expired_12', expired: 'expiredBeforeCapture', sessionEnded: 'LOST' } })],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['500, Retry-After 60 s', SERVER_ERROR_500_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 60_000, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['429, Retry-After 60 s', THROTTLED_429_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 60_000, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '429', counts: { fetch: 'retryable' } })],
    ['429, Retry-After 400 s (capped at 120 s)', THROTTLED_429_RETRY_400S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 120_000, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '429', counts: { fetch: 'retryable' } })],
    ['timeout', TIMEOUT, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: 'timeout', counts: { fetch: 'retryable' } })],
    ['malformed 200', MALFORMED, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '200/malformed', counts: { fetch: 'malformed' }, lastBadBody: MALFORMED_BAD_BODY, warning: MALFORMED_WARNING })],
    ['unexpected 404 without a code', UNEXPECTED_404, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '404', counts: { fetch: 'unexpected' }, lastBadBody: UNEXPECTED_404_BAD_BODY, warning: unexpectedWarning('404') })],
    ['unexpected 418/99', UNEXPECTED_418_99, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '418/99', counts: { fetch: 'unexpected' }, lastBadBody: TEAPOT_BAD_BODY, warning: unexpectedWarning('418/99') })],
    ['ids refused by the client', INVALID_ID, 'go on', 'outcome row', ends('INVALID', 'sid is too long', { lastOutcome: 'invalid_id', pollCount: 0, attempts: 0, successCount: 0, counts: { sessionEnded: 'INVALID' } })],
    ['Domain API: account unknown (configuration)', LOOKUP_CONFIGURATION, 'stop tick', 'none', stopTick('Domain API: account unknown')],
    ['Domain API unavailable', LOOKUP_UNAVAILABLE, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 0, successCount: 0, lastOutcome: 'domain_api_unavailable', counts: { itemError: true, domainApiFailure: true } })],
    ['a storage call failed', STORAGE_FAILED, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 0, successCount: 0, lastOutcome: 'storage_error', counts: { itemError: true } })],
  ]),
  ...rowsFor('after a success', AFTER_SUCCESS, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 200_000, withoutNewEvents: NOW + 600_000 }, pollCount: 5, successCount: 3 })],
    ['200 without app sessions (changes nothing captured)', EMPTY, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 600_000, attempts: 0, pollCount: 5, successCount: 2, emptyCount: 1, lastOutcome: '200/empty', counts: { fetch: 'empty' } })],
    ['400/33', BAD_REQUEST_33, 'hold until tick ends', 'outcome row at tick end', hold(ends('INVALID', INVALID_33, { lastOutcome: '400/33', pollCount: 5, attempts: 0, successCount: 2, counts: { sessionEnded: 'INVALID' } }))],
    ['401/10', UNAUTHORIZED_10, 'refetch after credential refresh', 'none', REFETCH],
    ['401/10 after the refresh', UNAUTHORIZED_10_AGAIN, 'stop tick', 'none', stopTick(CREDENTIALS, 'unauthorized_10')],
    ['404/6', INVALID_ACCOUNT_6, 'stop tick', 'none', stopTick(ACCOUNT, 'invalid_account_6')],
    ['404/37', INVALID_VISITOR_37, 'go on', 'outcome row', ends('CAPTURED', ENDED_37, { lastOutcome: '404/37', pollCount: 5, attempts: 0, successCount: 2, counts: { fetch: 'invalid_visitor_37', sessionEnded: 'CAPTURED' } })],
    ['404/39', INVALID_SESSION_39, 'go on', 'outcome row', ends('CAPTURED', ENDED_39, { lastOutcome: '404/39', pollCount: 5, attempts: 0, successCount: 2, counts: { fetch: 'invalid_session_39', sessionEnded: 'CAPTURED' } })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('CAPTURED', 'session ended (404/12)', { lastOutcome: '404/12', pollCount: 5, attempts: 0, successCount: 2, counts: { fetch: 'expired_12', expired: 'expiredAfterCapture', sessionEnded: 'CAPTURED' } })],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 5, successCount: 2, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['500, Retry-After 60 s', SERVER_ERROR_500_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 60_000, attempts: 1, pollCount: 5, successCount: 2, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['429, Retry-After 60 s', THROTTLED_429_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 60_000, attempts: 1, pollCount: 5, successCount: 2, lastOutcome: '429', counts: { fetch: 'retryable' } })],
    ['timeout', TIMEOUT, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 5, successCount: 2, lastOutcome: 'timeout', counts: { fetch: 'retryable' } })],
    ['malformed 200', MALFORMED, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 5, successCount: 2, lastOutcome: '200/malformed', counts: { fetch: 'malformed' }, lastBadBody: MALFORMED_BAD_BODY, warning: MALFORMED_WARNING })],
    ['unexpected 404 without a code', UNEXPECTED_404, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 5, successCount: 2, lastOutcome: '404', counts: { fetch: 'unexpected' }, lastBadBody: UNEXPECTED_404_BAD_BODY, warning: unexpectedWarning('404') })],
    ['ids refused by the client', INVALID_ID, 'go on', 'outcome row', ends('INVALID', 'sid is too long', { lastOutcome: 'invalid_id', pollCount: 4, attempts: 0, successCount: 2, counts: { sessionEnded: 'INVALID' } })],
    ['Domain API unavailable', LOOKUP_UNAVAILABLE, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 4, successCount: 2, lastOutcome: 'domain_api_unavailable', counts: { itemError: true, domainApiFailure: true } })],
    ['a storage call failed', STORAGE_FAILED, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 4, successCount: 2, lastOutcome: 'storage_error', counts: { itemError: true } })],
  ]),
  // The final poll is due at NOW + 120 000: the next poll is pulled into the final window. Retries may land up
  // to NOW + 230 000 (deadline − 70 000).
  ...rowsFor('before the final window', BEFORE_FINAL_WINDOW, [
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 120_000, withoutNewEvents: NOW + 120_000 }, pollCount: 7, successCount: 4 })],
    ['200 without app sessions', EMPTY, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 120_000, attempts: 0, pollCount: 7, successCount: 3, emptyCount: 1, lastOutcome: '200/empty', counts: { fetch: 'empty' } })],
    ['500, Retry-After 60 s', SERVER_ERROR_500_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 60_000, attempts: 1, pollCount: 7, successCount: 3, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['429, Retry-After 400 s (capped at 120 s)', THROTTLED_429_RETRY_400S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 120_000, attempts: 1, pollCount: 7, successCount: 3, lastOutcome: '429', counts: { fetch: 'retryable' } })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('CAPTURED', 'session ended (404/12)', { lastOutcome: '404/12', pollCount: 7, attempts: 0, successCount: 3, counts: { fetch: 'expired_12', expired: 'expiredAfterCapture', sessionEnded: 'CAPTURED' } })],
  ]),
  // No poll left but the deadline itself; a retry that would land after NOW + 50 000 (deadline − 70 000) is
  // moved there rather than ending the item.
  ...rowsFor('in the final window', IN_FINAL_WINDOW, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 120_000, withoutNewEvents: NOW + 120_000 }, pollCount: 10, successCount: 4 })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('CAPTURED', 'session ended (404/12)', { lastOutcome: '404/12', pollCount: 10, attempts: 0, successCount: 3, counts: { fetch: 'expired_12', expired: 'expiredAfterCapture', sessionEnded: 'CAPTURED' } })],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 10, successCount: 3, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['500, Retry-After 60 s', SERVER_ERROR_500_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 50_000, attempts: 1, pollCount: 10, successCount: 3, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['429, Retry-After 400 s', THROTTLED_429_RETRY_400S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 50_000, attempts: 1, pollCount: 10, successCount: 3, lastOutcome: '429', counts: { fetch: 'retryable' } })],
    ['unexpected 418/99', UNEXPECTED_418_99, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 10, successCount: 3, lastOutcome: '418/99', counts: { fetch: 'unexpected' }, lastBadBody: TEAPOT_BAD_BODY, warning: unexpectedWarning('418/99') })],
  ]),
  // 5 s before the deadline: the latest retry time (deadline − 70 000) has passed, so every retry is due now
  // (the next tick); only the deadline ends the item.
  ...rowsFor('near the deadline, never captured', NEAR_DEADLINE_NEVER_CAPTURED, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 5_000, withoutNewEvents: NOW + 5_000 }, pollCount: 3, successCount: 1 })],
    ['200 without app sessions', EMPTY, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 5_000, attempts: 0, pollCount: 3, successCount: 0, emptyCount: 1, lastOutcome: '200/empty', counts: { fetch: 'empty' } })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('LOST', 'session expired before any capture (404/12)', { lastOutcome: '404/12', pollCount: 3, attempts: 0, successCount: 0, counts: { fetch: 'expired_12', expired: 'expiredBeforeCapture', sessionEnded: 'LOST' } })],
    ['404/37', INVALID_VISITOR_37, 'go on', 'outcome row', ends('INVALID', INVALID_37, { lastOutcome: '404/37', pollCount: 3, attempts: 0, successCount: 0, counts: { fetch: 'invalid_visitor_37', sessionEnded: 'INVALID' } })],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW, attempts: 2, pollCount: 3, successCount: 0, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['timeout', TIMEOUT, 'go on', 'none', retryLater({ nextPollAtMs: NOW, attempts: 2, pollCount: 3, successCount: 0, lastOutcome: 'timeout', counts: { fetch: 'retryable' } })],
    ['429, Retry-After 60 s', THROTTLED_429_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW, attempts: 2, pollCount: 3, successCount: 0, lastOutcome: '429', counts: { fetch: 'retryable' } })],
    ['malformed 200', MALFORMED, 'go on', 'none', retryLater({ nextPollAtMs: NOW, attempts: 2, pollCount: 3, successCount: 0, lastOutcome: '200/malformed', counts: { fetch: 'malformed' }, lastBadBody: MALFORMED_BAD_BODY, warning: MALFORMED_WARNING })],
    ['unexpected 404 without a code', UNEXPECTED_404, 'go on', 'none', retryLater({ nextPollAtMs: NOW, attempts: 2, pollCount: 3, successCount: 0, lastOutcome: '404', counts: { fetch: 'unexpected' }, lastBadBody: UNEXPECTED_404_BAD_BODY, warning: unexpectedWarning('404') })],
    ['a storage call failed', STORAGE_FAILED, 'go on', 'none', retryLater({ nextPollAtMs: NOW, attempts: 2, pollCount: 2, successCount: 0, lastOutcome: 'storage_error', counts: { itemError: true } })],
  ]),
  // Attempt 8: the backoff is at its cap (270 000 with the jitter), longer than any Retry-After (capped at 120 s).
  ...rowsFor('7 failures, never captured', FAILING_NEVER_CAPTURED, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 200_000, withoutNewEvents: NOW + 600_000 }, pollCount: 8, successCount: 1 })],
    ['400/33', BAD_REQUEST_33, 'hold until tick ends', 'outcome row at tick end', hold(ends('INVALID', INVALID_33, { lastOutcome: '400/33', pollCount: 8, attempts: 0, successCount: 0, counts: { sessionEnded: 'INVALID' } }))],
    ['401/10 after the refresh', UNAUTHORIZED_10_AGAIN, 'stop tick', 'none', stopTick(CREDENTIALS, 'unauthorized_10')],
    ['404/6', INVALID_ACCOUNT_6, 'stop tick', 'none', stopTick(ACCOUNT, 'invalid_account_6')],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('LOST', 'session expired before any capture (404/12)', { lastOutcome: '404/12', pollCount: 8, attempts: 0, successCount: 0, counts: { fetch: 'expired_12', expired: 'expiredBeforeCapture', sessionEnded: 'LOST' } })],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 270_000, attempts: 8, pollCount: 8, successCount: 0, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['500, Retry-After 60 s', SERVER_ERROR_500_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 270_000, attempts: 8, pollCount: 8, successCount: 0, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['429, Retry-After 400 s', THROTTLED_429_RETRY_400S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 270_000, attempts: 8, pollCount: 8, successCount: 0, lastOutcome: '429', counts: { fetch: 'retryable' } })],
    ['malformed 200', MALFORMED, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 270_000, attempts: 8, pollCount: 8, successCount: 0, lastOutcome: '200/malformed', counts: { fetch: 'malformed' }, lastBadBody: MALFORMED_BAD_BODY, warning: MALFORMED_WARNING })],
    ['a storage call failed', STORAGE_FAILED, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 270_000, attempts: 8, pollCount: 7, successCount: 0, lastOutcome: 'storage_error', counts: { itemError: true } })],
  ]),
  // Attempt 5: 60 000 × 0.9.
  ...rowsFor('4 failures after captures', FAILING_AFTER_CAPTURE, [
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 200_000, withoutNewEvents: NOW + 600_000 }, pollCount: 10, successCount: 3 })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('CAPTURED', 'session ended (404/12)', { lastOutcome: '404/12', pollCount: 10, attempts: 0, successCount: 2, counts: { fetch: 'expired_12', expired: 'expiredAfterCapture', sessionEnded: 'CAPTURED' } })],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 54_000, attempts: 5, pollCount: 10, successCount: 2, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['500, Retry-After 60 s', SERVER_ERROR_500_RETRY_60S, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 60_000, attempts: 5, pollCount: 10, successCount: 2, lastOutcome: '500', counts: { fetch: 'retryable' } })],
    ['timeout', TIMEOUT, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 54_000, attempts: 5, pollCount: 10, successCount: 2, lastOutcome: 'timeout', counts: { fetch: 'retryable' } })],
  ]),
  // Claimed at the deadline: ended without a fetch. Fetched: the fetch crossed the deadline.
  ...rowsFor('at the deadline, captured', AT_DEADLINE_CAPTURED, [
    ['claimed', CLAIMED, 'go on', 'outcome row', ends('CAPTURED', 'deadline passed', { lastOutcome: '200', pollCount: 5, attempts: 0, successCount: 2, counts: { sessionEnded: 'CAPTURED' } })],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW, withoutNewEvents: NOW }, pollCount: 6, successCount: 3 })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('CAPTURED', 'session ended (404/12)', { lastOutcome: '404/12', pollCount: 6, attempts: 0, successCount: 2, counts: { fetch: 'expired_12', expired: 'expiredAfterCapture', sessionEnded: 'CAPTURED' } })],
    ['500', SERVER_ERROR_500, 'go on', 'outcome row', ends('CAPTURED', 'deadline reached after transient failures (500)', { lastOutcome: '500', pollCount: 6, attempts: 1, successCount: 2, counts: { fetch: 'retryable', sessionEnded: 'CAPTURED' } })],
    ['malformed 200', MALFORMED, 'go on', 'outcome row', ends('CAPTURED', 'deadline reached after transient failures (200/malformed)', { lastOutcome: '200/malformed', pollCount: 6, attempts: 1, successCount: 2, counts: { fetch: 'malformed', sessionEnded: 'CAPTURED' }, lastBadBody: MALFORMED_BAD_BODY, warning: MALFORMED_WARNING })],
  ]),
  ...rowsFor('past the deadline, never captured', PAST_DEADLINE_NEVER_CAPTURED, [
    ['claimed', CLAIMED, 'go on', 'outcome row', ends('FAILED', 'deadline passed', { lastOutcome: '500', pollCount: 3, attempts: 3, successCount: 0, counts: { sessionEnded: 'FAILED' } })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('LOST', 'session expired before any capture (404/12)', { lastOutcome: '404/12', pollCount: 4, attempts: 0, successCount: 0, counts: { fetch: 'expired_12', expired: 'expiredBeforeCapture', sessionEnded: 'LOST' } })],
    ['500, Retry-After 60 s', SERVER_ERROR_500_RETRY_60S, 'go on', 'outcome row', ends('FAILED', 'no successful poll before the deadline (last: 500)', { lastOutcome: '500', pollCount: 4, attempts: 4, successCount: 0, counts: { fetch: 'retryable', sessionEnded: 'FAILED' } })],
    ['unexpected 418/99', UNEXPECTED_418_99, 'go on', 'outcome row', ends('FAILED', 'no successful poll before the deadline (last: 418/99)', { lastOutcome: '418/99', pollCount: 4, attempts: 4, successCount: 0, counts: { fetch: 'unexpected', sessionEnded: 'FAILED' }, lastBadBody: TEAPOT_BAD_BODY, warning: unexpectedWarning('418/99') })],
    ['ids refused by the client', INVALID_ID, 'go on', 'outcome row', ends('INVALID', 'sid is too long', { lastOutcome: 'invalid_id', pollCount: 3, attempts: 3, successCount: 0, counts: { sessionEnded: 'INVALID' } })],
  ]),
  // Answers without app sessions only: never a success, LOST at the end (a misconfiguration worth a page).
  ...rowsFor('only empty answers so far', ONLY_EMPTY, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 200_000, withoutNewEvents: NOW + 600_000 }, pollCount: 4, successCount: 1 })],
    ['200 without app sessions', EMPTY, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 600_000, attempts: 0, pollCount: 4, successCount: 0, emptyCount: 4, lastOutcome: '200/empty', counts: { fetch: 'empty' } })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('LOST', NO_APP_SESSION, { lastOutcome: '404/12', pollCount: 4, attempts: 0, successCount: 0, counts: { fetch: 'expired_12', expired: 'expiredBeforeCapture', sessionEnded: 'LOST' } })],
    ['404/37', INVALID_VISITOR_37, 'go on', 'outcome row', ends('INVALID', INVALID_37, { lastOutcome: '404/37', pollCount: 4, attempts: 0, successCount: 0, counts: { fetch: 'invalid_visitor_37', sessionEnded: 'INVALID' } })],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 4, successCount: 0, lastOutcome: '500', counts: { fetch: 'retryable' } })],
  ]),
  ...rowsFor('only empty answers, past the deadline', ONLY_EMPTY_PAST_DEADLINE, [
    ['claimed', CLAIMED, 'go on', 'outcome row', ends('LOST', NO_APP_SESSION, { lastOutcome: '500', pollCount: 4, attempts: 1, successCount: 0, counts: { sessionEnded: 'LOST' } })],
    ['500', SERVER_ERROR_500, 'go on', 'outcome row', ends('LOST', NO_APP_SESSION, { lastOutcome: '500', pollCount: 5, attempts: 2, successCount: 0, counts: { fetch: 'retryable', sessionEnded: 'LOST' } })],
  ]),
  // The last successful answer's rows were not all stored: it goes on as usual; a CAPTURED end says partial.
  ...rowsFor('partly stored after a success', PARTIAL_AFTER_SUCCESS, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['200', OK, 'go on', 'answer rows', storeAnswer({ next: { afterNewEvents: NOW + 200_000, withoutNewEvents: NOW + 600_000 }, pollCount: 5, successCount: 3 })],
    ['200 without app sessions', EMPTY, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 600_000, attempts: 0, pollCount: 5, successCount: 2, emptyCount: 1, lastOutcome: '200/empty', counts: { fetch: 'empty' } })],
    ['404/12', EXPIRED_12, 'go on', 'outcome row', ends('CAPTURED', 'partial: session ended (404/12)', { lastOutcome: '404/12', pollCount: 5, attempts: 0, successCount: 2, complete: false, counts: { fetch: 'expired_12', expired: 'expiredAfterCapture', sessionEnded: 'CAPTURED', partial: true } })],
    ['404/37', INVALID_VISITOR_37, 'go on', 'outcome row', ends('CAPTURED', `partial: ${ENDED_37}`, { lastOutcome: '404/37', pollCount: 5, attempts: 0, successCount: 2, complete: false, counts: { fetch: 'invalid_visitor_37', sessionEnded: 'CAPTURED', partial: true } })],
    ['400/33', BAD_REQUEST_33, 'hold until tick ends', 'outcome row at tick end', hold(ends('INVALID', INVALID_33, { lastOutcome: '400/33', pollCount: 5, attempts: 0, successCount: 2, complete: false, counts: { sessionEnded: 'INVALID' } }))],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 5, successCount: 2, lastOutcome: '500', counts: { fetch: 'retryable' } })],
  ]),
  ...rowsFor('partly stored, at the deadline', PARTIAL_AT_DEADLINE, [
    ['claimed', CLAIMED, 'go on', 'outcome row', ends('CAPTURED', 'partial: deadline passed', { lastOutcome: '200', pollCount: 5, attempts: 0, successCount: 2, complete: false, counts: { sessionEnded: 'CAPTURED', partial: true } })],
    ['malformed 200', MALFORMED, 'go on', 'outcome row', ends('CAPTURED', 'partial: deadline reached after transient failures (200/malformed)', { lastOutcome: '200/malformed', pollCount: 6, attempts: 1, successCount: 2, complete: false, counts: { fetch: 'malformed', sessionEnded: 'CAPTURED', partial: true }, lastBadBody: MALFORMED_BAD_BODY, warning: MALFORMED_WARNING })],
  ]),
  // Hand-edited items: ended visibly rather than crashing a tick; missing counters count as 0.
  ...rowsFor('a malformed sid', BAD_SID, [
    ['claimed', CLAIMED, 'go on', 'none', ends('INVALID', BAD_SID_PROBLEM, { lastOutcome: 'malformed_item', pollCount: 0, attempts: 0, successCount: 0, counts: { sessionEnded: 'INVALID' }, writesOutcomeRow: false, warning: { message: 'malformed queue item ended INVALID', fields: { problem: BAD_SID_PROBLEM } } })],
  ]),
  ...rowsFor('no start time', NO_START_TIME, [
    ['claimed', CLAIMED, 'go on', 'outcome row', ends('INVALID', NO_START_PROBLEM, { lastOutcome: 'malformed_item', pollCount: 0, attempts: 0, successCount: 0, counts: { sessionEnded: 'INVALID' }, warning: { message: 'malformed queue item ended INVALID', fields: { problem: NO_START_PROBLEM } } })],
  ]),
  ...rowsFor('no counters', NO_COUNTERS, [
    ['claimed', CLAIMED, 'go on', 'none', FETCH],
    ['500', SERVER_ERROR_500, 'go on', 'none', retryLater({ nextPollAtMs: NOW + 4_500, attempts: 1, pollCount: 1, successCount: 0, lastOutcome: '500', counts: { fetch: 'retryable' } })],
  ]),
  ...rowsFor('no counters, past the deadline', NO_COUNTERS_PAST_DEADLINE, [
    ['claimed', CLAIMED, 'go on', 'outcome row', ends('FAILED', 'deadline passed', { lastOutcome: 'none', pollCount: 0, attempts: 0, successCount: 0, counts: { sessionEnded: 'FAILED' } })],
  ]),
];

function tickEffect(decision: Decision): TickEffect {
  if (decision.kind === 'refetch_after_credential_refresh') return 'refetch after credential refresh';
  if (decision.kind === 'stop_tick') return 'stop tick';
  if (decision.kind === 'hold_until_tick_ends') return 'hold until tick ends';
  return 'go on';
}

function rowsWritten(decision: Decision): RowsWritten {
  if (decision.kind === 'store_answer') return 'answer rows';
  if (decision.kind === 'end' && decision.writesOutcomeRow) return 'outcome row';
  if (decision.kind === 'hold_until_tick_ends' && decision.end.writesOutcomeRow)
    return 'outcome row at tick end';
  return 'none';
}

const TRANSIENT: readonly FetchOutcomeKind[] = ['server_error_500', 'retryable', 'malformed', 'unexpected'];

describe('decide', () => {
  it.each(ROWS)('$situation, $seen → $tick, rows: $rows', (row) => {
    const random = jest.fn(() => RANDOM);
    const decision = decide(row.item, row.observation, NOW, RULES, random);
    expect(decision).toStrictEqual(row.expected);
    expect(tickEffect(decision)).toBe(row.tick);
    expect(rowsWritten(decision)).toBe(row.rows);
    // Randomness is spent on backoffs only (a seeded run's sequence must not shift).
    const backoff =
      (row.observation.kind === 'fetched' && TRANSIENT.includes(row.observation.outcome.kind)) ||
      row.observation.kind === 'storage_failed' ||
      (row.observation.kind === 'lookup_failed' && row.observation.fault === 'unavailable');
    expect(random).toHaveBeenCalledTimes(backoff ? 1 : 0);
  });

  it('covers every FetchOutcome variant, first poll and after a success', () => {
    const everyKind: Record<FetchOutcomeKind, true> = {
      ok: true,
      empty: true,
      bad_request_33: true,
      unauthorized_10: true,
      invalid_account_6: true,
      invalid_visitor_37: true,
      invalid_session_39: true,
      expired_12: true,
      server_error_500: true,
      retryable: true,
      malformed: true,
      unexpected: true,
    };
    for (const situation of [FIRST_POLL, AFTER_SUCCESS]) {
      const seen = new Set(
        ROWS.filter((row) => row.item === situation).flatMap((row) =>
          row.observation.kind === 'fetched' ? [row.observation.outcome.kind] : [],
        ),
      );
      expect([...seen].sort()).toEqual(Object.keys(everyKind).sort());
    }
  });

  it.each([
    [0, undefined],
    [1, undefined],
    [2, undefined],
    [3, '400/33: 3 sessions rejected in one tick; the request itself (v, filter) is likely refused'],
    [40, '400/33: 40 sessions rejected in one tick; the request itself (v, filter) is likely refused'],
  ])('400/33 from %i distinct sessions in a tick: stop as a configuration fault? %s', (sessions, fault) => {
    expect(badRequest33Fault(sessions)).toBe(fault);
  });

  it.each([
    ['every row stored', { rowsRejected: 0, rowsUnwritten: 0 }, true],
    ['a row rejected even after fitting', { rowsRejected: 1, rowsUnwritten: 0 }, false],
    ['rows left unwritten (deadline, retries spent)', { rowsRejected: 0, rowsUnwritten: 3 }, false],
    ['the flatten failed (nothing stored)', undefined, false],
  ])('a successful answer with %s is stored completely: %s', (_name, stats, complete) => {
    expect(storedCompletely(stats)).toBe(complete);
  });

  it('schedules a retry now when the schedule period and timeout exceed the time left, never ends it early', () => {
    const rules = { ...RULES, schedulePeriodMs: 10 * HOUR_MS };
    const decision = decide(FIRST_POLL, SERVER_ERROR_500, NOW, rules, () => RANDOM);
    expect(decision).toMatchObject({ kind: 'retry_later', ack: { nextPollAtMs: NOW } });
  });

  it('does not modify the item', () => {
    const before = structuredClone(FAILING_AFTER_CAPTURE);
    decide(FAILING_AFTER_CAPTURE, MALFORMED, NOW, RULES, () => RANDOM);
    expect(FAILING_AFTER_CAPTURE).toStrictEqual(before);
  });
});

/**
 * The cadence part of the decision (lib/poll-cadence.ts): what a 200 schedules under the default cadence
 * (840 s, the same after new events, quiet up to 1200 s, a last look at the retry-safe deadline, D − 70 s).
 */
describe('decide: the default cadence after a 200', () => {
  const rules: DecisionRules = { ...RULES, policy: pollPolicy(DEFAULT_POLL_CADENCE) };
  const withEventAt = (...times: number[]): FetchOutcome => ({
    kind: 'ok',
    httpStatus: 200,
    bodyBytes: 100,
    state: {
      appSessions: [
        { id: 'a', events: times.slice(0, 1).map((t) => ({ cartStatus: { serverTimeStamp: t, total: 1 } })) },
        { id: 'b', events: times.slice(1).map((t) => ({ lead: { serverTimeStamp: t } })) },
      ],
    },
  });
  const schedule = (situation: QueueItem, outcome: FetchOutcome, nowMs = NOW) => {
    const decision = decide(
      situation,
      { kind: 'fetched', outcome, afterCredentialRefresh: false },
      nowMs,
      rules,
      () => RANDOM,
    );
    if (decision.kind !== 'store_answer') throw new Error(`expected store_answer, got ${decision.kind}`);
    return {
      after: decision.nextPollAtMs.afterNewEvents - nowMs,
      quiet: decision.nextPollAtMs.withoutNewEvents - nowMs,
    };
  };

  it.each([
    ['an event 2 min ago', [NOW - 120_000], 840_000],
    ['the newest of several app sessions: 16 min ago', [NOW - 3 * HOUR_MS, NOW - 960_000], 960_000],
    ['an event an hour ago: the cap', [NOW - HOUR_MS], 1_200_000],
    ['no event at all: quiet since the session started (1 h ago): the cap', [], 1_200_000],
  ])('quiet answer with %s: next poll after %i ms; after new events 840 000 ms', (_name, times, quiet) => {
    expect(schedule(FIRST_POLL, withEventAt(...times))).toEqual({ after: 840_000, quiet });
  });

  it('a 200 without app sessions waits the interval, no back-off', () => {
    const decision = decide(FIRST_POLL, EMPTY, NOW, rules, () => RANDOM);
    expect(decision).toMatchObject({ kind: 'retry_later', ack: { nextPollAtMs: NOW + 840_000 } });
  });

  it('before the final window, never past the final poll; at it, the last look at D − 70 s; then the deadline', () => {
    expect(schedule(BEFORE_FINAL_WINDOW, withEventAt(NOW - HOUR_MS))).toEqual({
      after: 120_000,
      quiet: 120_000,
    });
    // IN_FINAL_WINDOW: deadline NOW + 120 000, so the last look is due at NOW + 50 000.
    expect(schedule(IN_FINAL_WINDOW, withEventAt(NOW - HOUR_MS))).toEqual({ after: 50_000, quiet: 50_000 });
    expect(schedule(IN_FINAL_WINDOW, withEventAt(NOW - HOUR_MS), NOW + 50_000)).toEqual({
      after: 70_000,
      quiet: 70_000,
    });
  });

  it.each([
    ['no app session', { appSessions: [] }, undefined],
    [
      'events without a usable serverTimeStamp',
      { appSessions: [{ id: 'a', events: [{ x: { serverTimeStamp: 'soon' } }, null, 7, { y: null }] }] },
      undefined,
    ],
    ['appSessions not an array', { appSessions: 'nope' }, undefined],
    [
      'the newest across app sessions and event types',
      {
        appSessions: [
          { id: 'a', events: [{ x: { serverTimeStamp: 5 } }, { y: { serverTimeStamp: 9 } }] },
          { id: 'b', events: [{ z: { serverTimeStamp: 7 } }] },
        ],
      },
      9,
    ],
  ])('newestEventAtMs: %s → %s', (_name, state, newest) => {
    expect(newestEventAtMs(state as unknown as VisitState)).toBe(newest);
  });
});
