import type { VisitState } from '../liveperson/types';
import { outcomeCode, type FetchOutcome } from '../liveperson/outcome';
import { idRef } from '../log';
import { fetchOutcomeMetric, type FetchOutcomeMetric } from '../metrics';
import { queueItemProblem, type AckUpdate, type QueueItem, type QueueState } from '../queue/model';
import { describeBadBody } from '../privacy/body-structure';
import { nextPollAfterFailure, nextPollAfterSuccess, type PollMoment, type PollPolicy } from './policy';
import { retrySafeDeadlineMs } from '../poll-timing';

/**
 * What the poller does with one claimed item, decided from what it has learnt so far. Pure: no clock (the
 * caller passes `nowMs`), no randomness of its own (the caller passes `random`, called at most once, and only
 * for a backoff), no I/O. The poller carries the decision out: claim → fetch → decide → store → ack.
 */

export type FinalState = Exclude<QueueState, 'ACTIVE'>;

/** What the poller knows about a claimed item when it asks what to do next. */
export type Observation =
  /** Just claimed, nothing fetched yet. */
  | { kind: 'claimed' }
  /** LivePerson answered (or the fetch failed in a way the client classifies). */
  | {
      kind: 'fetched';
      outcome: FetchOutcome;
      /** True for the fetch made after rereading the credentials on a 401/10. */
      afterCredentialRefresh: boolean;
    }
  /** The client refused the item's ids before sending anything. */
  | { kind: 'invalid_id'; message: string }
  /**
   * Nothing was sent: the base URI (Domain API) or the credentials could not be had. `configuration`: the
   * deployment is wrong (account unknown to the Domain API, secret missing or ill-shaped); `unavailable`: the
   * lookup failed for now. `problem` names what failed, never an id of the session.
   */
  | { kind: 'lookup_failed'; fault: 'configuration' | 'unavailable'; problem: string }
  /** A storage call of this poll failed (after the SDK's retries): ours, not the session's. */
  | { kind: 'storage_failed' };

/** What the poller needs besides the item and the time. */
export interface DecisionRules {
  policy: PollPolicy;
  /**
   * At most how many characters of a malformed or unexpected body's structure the queue item keeps
   * (`lastBadBody`: its size, a hash and its structure, never a value; lib/privacy/body-structure.ts).
   */
  badBodyBytes: number;
  /** The poller's schedule period (EventBridge rate): how late the next tick may come. */
  schedulePeriodMs: number;
  /** One LivePerson request's timeout: how long the last retry may take. */
  requestTimeoutMs: number;
}

/** Increments of the tick summary's counters that a decision makes (each one +1). */
export interface TickCounts {
  /** `fetches[...]`: the answer the decision was made on. */
  fetch?: FetchOutcomeMetric;
  /**
   * A 404/12, before or after the first capture: the first is data lost (it has an alarm). Counted only once
   * the ack lands, like `sessionEnded`: a lost lease lets the next owner count it, never both.
   */
  expired?: 'expiredBeforeCapture' | 'expiredAfterCapture';
  /**
   * `sessions[...]`: counted only once the ack lands; when the lease was lost meanwhile, the next owner ends
   * the session and counts it.
   */
  sessionEnded?: FinalState;
  /** `sessionsPartial`: a CAPTURED end with `complete: false`, counted once the ack lands. */
  partial?: true;
  /** `itemErrors`: the poll failed on our side (storage, Domain API); counted at once. */
  itemError?: true;
  /** `domainApiFailures`: the base URI could not be looked up for now; counted at once. */
  domainApiFailure?: true;
}

/** A warning for the log; the poller adds the tick id. Never holds a raw id (see idRef). */
export interface Warning {
  message: string;
  fields: Record<string, unknown>;
}

/** The ack of a live session: polled again at `nextPollAtMs`. */
export type ActiveAck = AckUpdate & { state: 'ACTIVE'; nextPollAtMs: number };

/** The ack that ends a session. Its state, reason, lastOutcome, pollCount and endedAtMs are the outcome row's. */
export type TerminalAck = AckUpdate & { state: FinalState; reason: string; endedAtMs: number };

/** A 200: store the answer's new rows, then ack; the schedule depends on whether the answer had new events. */
export interface StoreAnswer {
  kind: 'store_answer';
  answer: VisitState;
  /** Stamped on every row written (`capturedAtMs`). */
  capturedAtMs: number;
  /**
   * Next poll, by what the stored rows tell (the poller picks): after new events, the cadence's interval after
   * events; without them, the quiet back-off (lib/poller/policy.ts nextPollAfterSuccess).
   */
  nextPollAtMs: { afterNewEvents: number; withoutNewEvents: number };
  /** The ack but for what only the stored rows tell: nextPollAtMs, rowDigests, rowsStored, eventsSeen. */
  ack: Omit<ActiveAck, 'nextPollAtMs'>;
  counts: TickCounts;
}

/**
 * No row: the item is acked ACTIVE and polled again later. After a transient failure (LivePerson's or ours,
 * with backoff) or an answer without app sessions (at the normal interval).
 */
export interface RetryLater {
  kind: 'retry_later';
  ack: ActiveAck;
  counts: TickCounts;
  warning?: Warning;
}

/** The session is over: its outcome row first (so a crash in between only repeats it), then the final ack. */
export interface End {
  kind: 'end';
  ack: TerminalAck;
  /** False for an item whose ids are malformed: the row's keys cannot be built; the queue item tells the end. */
  writesOutcomeRow: boolean;
  counts: TickCounts;
  warning?: Warning;
}

/** What happens to the item: rows stored or not, then exactly one ack. */
export type Transition = StoreAnswer | RetryLater | End;

/** Nothing rules the item out: fetch it. */
export interface Fetch {
  kind: 'fetch';
}

/**
 * A 401/10 on the first fetch: a rotated secret must not page anyone. Reread the credentials (once per tick,
 * shared by every item) and fetch again.
 */
export interface RefetchAfterCredentialRefresh {
  kind: 'refetch_after_credential_refresh';
  /** The first 401/10 is a fetch like any other: counted, whatever the second answer. */
  counts: TickCounts;
}

/**
 * A 401/10 that persists after the refresh, or a 404/6: the fault is the deployment's, not the session's, so
 * every poll of this tick would fail alike. The tick stops, this item and every other is left as it was (handed
 * back, counted deferred), and the run fails so the alarms fire.
 */
export interface StopTick {
  kind: 'stop_tick';
  /** The configuration fault, for the summary and the log. */
  fault: string;
  counts: TickCounts;
}

/**
 * A 400/33: ids are validated before sending, so it most likely concerns the request as a whole (a retired
 * `v=1`, a rejected `filter`), which would fail every session alike. The poller holds the item (claimed, not
 * acked) until the tick's other work is done: if {@link BAD_REQUEST_33_STOP_SESSIONS} or more distinct sessions
 * answered 400/33 in the tick, the tick stops as for a 404/6 and every item is left as it was (see
 * {@link badRequest33Fault}); otherwise `end` is carried out (the session ends INVALID). An item whose lease is
 * about to end first is released as it was (no ack of the poller starts after an item's deadline).
 */
export interface HoldUntilTickEnds {
  kind: 'hold_until_tick_ends';
  end: End;
  counts: TickCounts;
}

export type Decision = Fetch | RefetchAfterCredentialRefresh | StopTick | HoldUntilTickEnds | Transition;

/** Distinct sessions answering 400/33 in one tick that make it a configuration fault. */
export const BAD_REQUEST_33_STOP_SESSIONS = 3;

/** The configuration fault that stops a tick in which `sessions` distinct sessions answered 400/33, if any. */
export function badRequest33Fault(sessions: number): string | undefined {
  return sessions >= BAD_REQUEST_33_STOP_SESSIONS
    ? `400/33: ${sessions} sessions rejected in one tick; the request itself (v, filter) is likely refused`
    : undefined;
}

/**
 * Whether a successful answer's rows were all stored: none rejected by the table even after fitting, none left
 * unwritten (deadline, retries spent), and the flatten did not fail (`stats` undefined).
 */
export function storedCompletely(
  stats: { rowsRejected?: number; rowsUnwritten?: number } | undefined,
): boolean {
  return stats !== undefined && (stats.rowsRejected ?? 0) + (stats.rowsUnwritten ?? 0) === 0;
}

/**
 * Decides what to do with a claimed item. `item` is the item as read from the queue (a hand-edited one too:
 * missing counters count as 0); `nowMs` the session clock's time when deciding.
 */
export function decide(
  item: QueueItem,
  observation: { kind: 'claimed' },
  nowMs: number,
  rules: DecisionRules,
  random: () => number,
): Fetch | End;
export function decide(
  item: QueueItem,
  observation: Exclude<Observation, { kind: 'claimed' }>,
  nowMs: number,
  rules: DecisionRules,
  random: () => number,
): RefetchAfterCredentialRefresh | StopTick | HoldUntilTickEnds | Transition;
export function decide(
  item: QueueItem,
  observation: Observation,
  nowMs: number,
  rules: DecisionRules,
  random: () => number,
): Decision;
export function decide(
  rawItem: QueueItem,
  observation: Observation,
  nowMs: number,
  rules: DecisionRules,
  random: () => number,
): Decision {
  const item = normalizeCounters(rawItem);
  switch (observation.kind) {
    case 'claimed': {
      // Checked on the item as read: normalizing would turn a missing start or deadline into 0.
      const problem = queueItemProblem(rawItem);
      if (problem !== undefined) {
        return end(item, nowMs, 'INVALID', problem, {
          lastOutcome: 'malformed_item',
          pollCount: item.pollCount,
          attempts: item.attempts,
          warning: { message: 'malformed queue item ended INVALID', fields: { problem } },
        });
      }
      if (nowMs >= item.deadlineMs) {
        // Past the 6-hour wall: LivePerson no longer holds it, a fetch would only spend quota.
        const [state, reason] = endWithoutCapture(item, 'deadline passed', 'deadline passed');
        return end(item, nowMs, state, reason, {
          lastOutcome: item.lastOutcome ?? 'none',
          pollCount: item.pollCount,
          attempts: item.attempts,
        });
      }
      return { kind: 'fetch' };
    }
    case 'lookup_failed':
      if (observation.fault === 'configuration') {
        return { kind: 'stop_tick', fault: observation.problem, counts: {} };
      }
      return handBack(item, nowMs, rules, random, 'domain_api_unavailable', {
        itemError: true,
        domainApiFailure: true,
      });
    case 'storage_failed':
      return handBack(item, nowMs, rules, random, 'storage_error', { itemError: true });
    case 'invalid_id':
      // Cannot happen for items enqueued through validation; end it visibly rather than retry forever.
      return end(item, nowMs, 'INVALID', observation.message, {
        lastOutcome: 'invalid_id',
        pollCount: item.pollCount,
        attempts: item.attempts,
      });
    case 'fetched':
      return decideOnAnswer(
        item,
        observation.outcome,
        observation.afterCredentialRefresh,
        nowMs,
        rules,
        random,
      );
  }
}

const INVALID_REASONS = {
  invalid_visitor_37: 'LivePerson does not know this visitor (404/37)',
  invalid_session_39: 'the sid is not this visitor’s session (404/39)',
  bad_request_33: 'LivePerson rejected the request (400/33)',
} as const;

/** 404/37 or 404/39 once something was captured: the session's data is stored, LivePerson let it go. */
const ENDED_AFTER_CAPTURE_REASONS = {
  invalid_visitor_37: 'session ended (404/37 after a capture: LivePerson no longer knows this visitor)',
  invalid_session_39: 'session ended (404/39 after a capture: LivePerson no longer matches the sid)',
} as const;

/** Why a session that only ever answered without app sessions ended LOST. */
export const NO_APP_SESSION_REASON = 'no app session in any answer';

/**
 * The end of a session whose polling stops: CAPTURED once a poll succeeded; LOST when LivePerson only ever
 * answered without app sessions (a misconfiguration worth a page: it counts in the lost share); otherwise
 * `uncapturedState` (FAILED at the deadline, LOST at a 404/12).
 */
function endWithoutCapture(
  item: QueueItem,
  capturedReason: string,
  uncapturedReason: string,
  uncapturedState: FinalState = 'FAILED',
): [FinalState, string] {
  if (item.successCount > 0) return ['CAPTURED', capturedReason];
  if ((item.emptyCount ?? 0) > 0) return ['LOST', NO_APP_SESSION_REASON];
  return [uncapturedState, uncapturedReason];
}
function decideOnAnswer(
  item: QueueItem,
  outcome: FetchOutcome,
  afterCredentialRefresh: boolean,
  nowMs: number,
  rules: DecisionRules,
  random: () => number,
): RefetchAfterCredentialRefresh | StopTick | HoldUntilTickEnds | Transition {
  const code = outcomeCode(outcome);
  // Every answer is counted, the first 401/10 of a refetch too.
  const counts: TickCounts = { fetch: fetchOutcomeMetric(outcome) };
  const pollCount = item.pollCount + 1;
  switch (outcome.kind) {
    case 'unauthorized_10':
      if (!afterCredentialRefresh) return { kind: 'refetch_after_credential_refresh', counts };
      return { kind: 'stop_tick', fault: `${code}: credentials rejected`, counts };
    case 'invalid_account_6':
      return { kind: 'stop_tick', fault: `${code}: account unknown to LivePerson`, counts };
    case 'ok': {
      const at = pollMoment(item, nowMs, rules);
      // Quiet since the newest event the answer holds, or since the session's start when it holds none.
      const quietSinceMs = newestEventAtMs(outcome.state) ?? item.startTimeMs;
      return {
        kind: 'store_answer',
        answer: outcome.state,
        capturedAtMs: nowMs,
        nextPollAtMs: {
          afterNewEvents: nextPollAfterSuccess(rules.policy, at, { newEvents: true }),
          withoutNewEvents: nextPollAfterSuccess(rules.policy, at, { newEvents: false, quietSinceMs }),
        },
        ack: {
          state: 'ACTIVE',
          attempts: 0,
          pollCount,
          successCount: item.successCount + 1,
          lastOutcome: code,
          lastPolledAtMs: nowMs,
          lastCapturedAtMs: nowMs,
        },
        counts,
      };
    }
    case 'empty':
      // Not a success (nothing to store) and not a failure (LivePerson answered): polled again at the normal
      // interval, no backoff. After a success it changes nothing of the capture.
      return {
        kind: 'retry_later',
        ack: {
          state: 'ACTIVE',
          // Nothing says how long the visitor has been quiet: the interval itself, no back-off.
          nextPollAtMs: nextPollAfterSuccess(rules.policy, pollMoment(item, nowMs, rules), {
            newEvents: false,
            quietSinceMs: nowMs,
          }),
          attempts: 0,
          pollCount,
          successCount: item.successCount,
          emptyCount: (item.emptyCount ?? 0) + 1,
          lastOutcome: code,
          lastPolledAtMs: nowMs,
        },
        counts,
      };
    case 'expired_12': {
      // LivePerson forgot the session: its normal end once something was captured, data lost otherwise.
      const captured = item.successCount > 0;
      const [state, reason] = endWithoutCapture(
        item,
        'session ended (404/12)',
        'session expired before any capture (404/12)',
        'LOST',
      );
      return end(item, nowMs, state, reason, {
        lastOutcome: code,
        pollCount,
        attempts: 0,
        counts: { ...counts, expired: captured ? 'expiredAfterCapture' : 'expiredBeforeCapture' },
      });
    }
    case 'invalid_visitor_37':
    case 'invalid_session_39': {
      const captured = item.successCount > 0;
      return end(
        item,
        nowMs,
        captured ? 'CAPTURED' : 'INVALID',
        captured ? ENDED_AFTER_CAPTURE_REASONS[outcome.kind] : INVALID_REASONS[outcome.kind],
        { lastOutcome: code, pollCount, attempts: 0, counts },
      );
    }
    case 'bad_request_33':
      return {
        kind: 'hold_until_tick_ends',
        end: end(item, nowMs, 'INVALID', INVALID_REASONS.bad_request_33, {
          lastOutcome: code,
          pollCount,
          attempts: 0,
        }),
        counts,
      };
    case 'server_error_500':
    case 'retryable':
    case 'malformed':
    case 'unexpected': {
      // Says nothing about the session: retried with backoff, and never ends an item before its deadline.
      const attempts = item.attempts + 1;
      const nextPollAtMs = nextPollAfterFailure(
        rules.policy,
        nowMs,
        retryLimitMs(item, rules),
        attempts,
        random,
        'retryAfterMs' in outcome ? outcome.retryAfterMs : undefined,
      );
      const unusable = outcome.kind === 'malformed' || outcome.kind === 'unexpected';
      // The item keeps what diagnosis needs and nothing personal: the body's size, a hash and its structure
      // (keys and kinds of values, capped), never a value; the log gets only its size.
      const badBody = unusable
        ? {
            lastBadBody: describeBadBody(
              outcome.bodySnippet,
              outcome.kind === 'malformed' ? outcome.bodyBytes : undefined,
              rules.badBodyBytes,
            ),
          }
        : {};
      const warning: Warning | undefined = unusable
        ? {
            message: 'unusable answer; will retry',
            fields: {
              session: idRef(item.sid),
              outcome: code,
              ...(outcome.kind === 'malformed'
                ? { problem: outcome.problem, bodyBytes: outcome.bodyBytes }
                : {}),
            },
          }
        : undefined;
      // Only the deadline itself ends an item: a retry that would land too late was moved earlier.
      if (nowMs >= item.deadlineMs) {
        const [state, reason] = endWithoutCapture(
          item,
          `deadline reached after transient failures (${code})`,
          `no successful poll before the deadline (last: ${code})`,
        );
        return end(item, nowMs, state, reason, {
          lastOutcome: code,
          pollCount,
          attempts,
          badBody,
          counts,
          warning,
        });
      }
      return {
        kind: 'retry_later',
        ack: {
          state: 'ACTIVE',
          nextPollAtMs,
          attempts,
          pollCount,
          successCount: item.successCount,
          lastOutcome: code,
          lastPolledAtMs: nowMs,
          ...badBody,
        },
        counts,
        ...(warning !== undefined ? { warning } : {}),
      };
    }
  }
}

/** The times the schedule after a 200 needs: now, the deadline, and the last look's (the retry-safe deadline). */
function pollMoment(item: QueueItem, nowMs: number, rules: DecisionRules): PollMoment {
  return { nowMs, deadlineMs: item.deadlineMs, lastLookAtMs: retryLimitMs(item, rules) };
}

/**
 * The newest serverTimeStamp among the answer's events (every app session), or undefined when none has one.
 * Read straight from the answer rather than from the flattened rows: the schedule is decided before the rows
 * are built, and this reads one number per event.
 */
export function newestEventAtMs(state: VisitState): number | undefined {
  let newest: number | undefined;
  for (const appSession of Array.isArray(state.appSessions) ? state.appSessions : []) {
    const events = (appSession as { events?: unknown }).events;
    if (!Array.isArray(events)) continue;
    for (const event of events) {
      if (event === null || typeof event !== 'object' || Array.isArray(event)) continue;
      for (const body of Object.values(event as Record<string, unknown>)) {
        const at = (body as { serverTimeStamp?: unknown } | null)?.serverTimeStamp;
        if (typeof at === 'number' && Number.isFinite(at) && (newest === undefined || at > newest))
          newest = at;
      }
    }
  }
  return newest;
}

/**
 * The latest time a retry may land: the retry-safe deadline (deadline − (one schedule period + one request
 * timeout): the next tick may come that late and the request take that long), never past the deadline itself.
 */
function retryLimitMs(item: QueueItem, rules: DecisionRules): number {
  return Math.min(retrySafeDeadlineMs(item.deadlineMs, rules), item.deadlineMs);
}

/**
 * Hands an item back after a failure on our side (storage, Domain API): its answers so far stand (counters,
 * outcome of its last answer unchanged but for `lastOutcome`, which tells the failure), and it is due again
 * after a jittered backoff (consecutive failures, as for LivePerson's), never past the retry-safe deadline.
 */
function handBack(
  item: QueueItem,
  nowMs: number,
  rules: DecisionRules,
  random: () => number,
  lastOutcome: string,
  counts: TickCounts,
): RetryLater {
  const attempts = item.attempts + 1;
  return {
    kind: 'retry_later',
    ack: {
      state: 'ACTIVE',
      nextPollAtMs: nextPollAfterFailure(rules.policy, nowMs, retryLimitMs(item, rules), attempts, random),
      attempts,
      pollCount: item.pollCount,
      successCount: item.successCount,
      lastOutcome,
      lastPolledAtMs: nowMs,
    },
    counts,
  };
}

/**
 * Ends a session. A CAPTURED end of an item whose last successful answer was not stored completely is a
 * partial capture: `complete: false`, a reason starting `partial:`, counted in `sessionsPartial`.
 */
function end(
  item: QueueItem,
  endedAtMs: number,
  state: FinalState,
  reason: string,
  details: {
    lastOutcome: string;
    pollCount: number;
    attempts: number;
    badBody?: { lastBadBody?: string };
    counts?: TickCounts;
    warning?: Warning | undefined;
  },
): End {
  const complete = item.complete !== false;
  const partial = state === 'CAPTURED' && !complete;
  return {
    kind: 'end',
    ack: {
      state,
      attempts: details.attempts,
      pollCount: details.pollCount,
      successCount: item.successCount,
      complete,
      lastOutcome: details.lastOutcome,
      lastPolledAtMs: endedAtMs,
      reason: partial ? `partial: ${reason}` : reason,
      endedAtMs,
      ...details.badBody,
    },
    // The item's counters are normalized here, so only malformed ids can be left to stop the row's keys.
    writesOutcomeRow: queueItemProblem(item) === undefined,
    counts: { ...details.counts, sessionEnded: state, ...(partial ? { partial: true as const } : {}) },
    ...(details.warning !== undefined ? { warning: details.warning } : {}),
  };
}

/** Counters default to 0 so that a hand-edited item without them still gets a well-formed ack. */
export function normalizeCounters(item: QueueItem): QueueItem {
  const count = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
  return {
    ...item,
    attempts: count(item.attempts),
    pollCount: count(item.pollCount),
    successCount: count(item.successCount),
    emptyCount: count(item.emptyCount),
    startTimeMs: count(item.startTimeMs),
    deadlineMs: count(item.deadlineMs),
  };
}
