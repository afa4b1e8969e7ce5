import { SESSION_MAX_AGE_MS } from '../clock';
import { idProblem } from '../ids';

/**
 * Life of a queue item as the poller knows it: ACTIVE until one of the terminal states. An erased item is a
 * tombstone (ERASED_STATE, below), which is not a state of this type: the poller never sees one (a tombstone
 * is in no due index, and claims require ACTIVE), so the poller's final states stay these four.
 */
export type QueueState = 'ACTIVE' | 'CAPTURED' | 'LOST' | 'INVALID' | 'FAILED';
export const TERMINAL_STATES: readonly QueueState[] = ['CAPTURED', 'LOST', 'INVALID', 'FAILED'];

/**
 * The state of a tombstone: what `lpv forget` leaves of a visitor's queue item. Only the key, this state and
 * `expiresAtSec` (past the item's deadline plus the lease) remain; the pair cannot be enqueued again while it
 * is there.
 */
export const ERASED_STATE = 'ERASED';
/** Every state an item of the queue table may hold: the poller's, and the tombstone's. */
export type StoredQueueState = QueueState | typeof ERASED_STATE;

/** A tombstone as stored (besides its key): nothing else, in particular no id, count or body of the item. */
export interface QueueTombstone {
  state: typeof ERASED_STATE;
  /** DynamoDB TTL, epoch seconds: past the item's deadline plus the lease. */
  expiresAtSec: number;
}

/** One (accountId, visitorId, sid) to capture. All times are epoch milliseconds unless the name says Sec. */
export interface QueueItem {
  accountId: string;
  visitorId: string;
  sid: string;
  state: QueueState;
  /** Session start from the enqueuer, else the enqueue time. */
  startTimeMs: number;
  /** startTimeMs + 6 h: LivePerson forgets the session by then at the latest. */
  deadlineMs: number;
  enqueuedAtMs: number;
  /**
   * When the item is next due (ACTIVE only). A claim leaves it as it is (the lease hides the item from the due
   * query until leaseUntilMs); the ack sets the next one.
   */
  nextPollAtMs?: number;
  leaseOwner?: string;
  leaseUntilMs?: number;
  /** When the item was last claimed: a tick never takes an item claimed after it started. */
  lastClaimedAtMs?: number;
  /** Consecutive transient failures (reset by a success); drives the backoff. */
  attempts: number;
  pollCount: number;
  successCount: number;
  /** 200 answers without any app session (never a success); absent means none. */
  emptyCount?: number;
  /**
   * False while the last successful answer's rows were not all stored (rejected, unwritten, or the flatten
   * failed); a later complete store sets it back. Absent means true. A CAPTURED end keeps it: a partial capture
   * ends CAPTURED with `complete: false` and a reason starting `partial:`.
   */
  complete?: boolean;
  lastOutcome?: string;
  lastPolledAtMs?: number;
  lastCapturedAtMs?: number;
  /** Why the item ended (terminal states). */
  reason?: string;
  endedAtMs?: number;
  /**
   * Digests of the capture rows already stored for this session (change detection). Stored on the item's side
   * item (CAPTURE_STATE_FIELDS), read with Queue.loadRowDigests; a claimed item carries it only when an older
   * version wrote it on the item itself.
   */
  rowDigests?: string;
  /**
   * The last malformed or unexpected body, size-capped, for diagnosis (never logged). Stored on the side item
   * (CAPTURE_STATE_FIELDS).
   */
  lastBadBody?: string;
  /**
   * Lagging columns of capture rows not yet written (lib/poller/rewrite-rule.ts): a short JSON text, '' once
   * written. On the item itself, not its side item: it changes on most polls, and the end of the session writes
   * it into the rows.
   */
  deferredColumns?: string;
  /** Counts of what was captured: rows and events stored so far. */
  rowsStored?: number;
  eventsSeen?: number;
  /** DynamoDB TTL, epoch seconds: some days after the deadline. */
  expiresAtSec: number;
}

/**
 * A due item as a due page lists it: what the poller needs to claim it and to order its tick (the due index
 * copies no more: lib/store/schema.ts). The claim answers the whole item.
 */
export type DueItem = Pick<QueueItem, 'accountId' | 'visitorId' | 'sid' | 'state' | 'deadlineMs'> &
  Partial<Pick<QueueItem, 'nextPollAtMs' | 'leaseUntilMs'>>;

export interface EnqueueRequest {
  visitorId: string;
  sid: string;
  startTimeMs?: number;
}

/**
 * What enqueueing one pair did: `created`, `exists` (already queued: a harmless duplicate), or `refused` when
 * the pair's item is a tombstone (the visitor was erased: `lpv forget`). A refusal is an answer, not an error:
 * sending the pair again changes nothing.
 */
export type EnqueueResult =
  | { status: 'created' | 'exists'; visitorId: string; sid: string }
  | { status: 'refused'; reason: 'erased'; visitorId: string; sid: string };

/** How far in the future a start time may lie (clock skew between the site and us). */
export const MAX_START_TIME_SKEW_MS = 5 * 60 * 1000;

/**
 * Validates one enqueue request (CLI and HTTP endpoint alike). Returns the problem, or undefined.
 * The message never echoes the ids themselves.
 */
export function enqueueProblem(input: unknown, nowMs: number): string | undefined {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return 'expected an object {"visitorId","sid","startTime"?}';
  }
  const record = input as Record<string, unknown>;
  const unknownKeys = Object.keys(record).filter((k) => !['visitorId', 'sid', 'startTime'].includes(k));
  if (unknownKeys.length > 0) return `unknown field(s): ${unknownKeys.slice(0, 5).join(', ')}`;
  const visitorProblem = idProblem('visitorId', record.visitorId);
  if (visitorProblem) return `visitorId ${visitorProblem}`;
  const sidProblem = idProblem('sid', record.sid);
  if (sidProblem) return `sid ${sidProblem}`;
  if (record.startTime !== undefined) return startTimeProblem(record.startTime, nowMs);
  return undefined;
}

export function startTimeProblem(startTime: unknown, nowMs: number): string | undefined {
  if (typeof startTime !== 'number' || !Number.isSafeInteger(startTime) || startTime <= 0) {
    return 'startTime must be epoch milliseconds (a positive integer)';
  }
  if (startTime < 1e12) return 'startTime looks like seconds; epoch milliseconds expected';
  if (startTime > nowMs + MAX_START_TIME_SKEW_MS) return 'startTime is in the future';
  if (startTime <= nowMs - SESSION_MAX_AGE_MS) {
    return 'startTime is more than 6 hours ago: LivePerson no longer holds this session';
  }
  return undefined;
}

/** Parses a validated request into an EnqueueRequest. */
export function toEnqueueRequest(input: Record<string, unknown>): EnqueueRequest {
  return {
    visitorId: input.visitorId as string,
    sid: input.sid as string,
    ...(typeof input.startTime === 'number' ? { startTimeMs: input.startTime } : {}),
  };
}

/** The queue port the poller and the enqueuers use. */
export interface Queue {
  enqueue(accountId: string, requests: readonly EnqueueRequest[]): Promise<EnqueueResult[]>;
  /**
   * Pages of due ACTIVE items not under a live lease (nextPollAtMs <= nowMs, or every ACTIVE one when `force`).
   */
  duePages(
    accountId: string,
    nowMs: number,
    options: { pageSize: number; force: boolean },
  ): AsyncIterable<DueItem[]>;
  /**
   * Claims an item for `owner` with a conditional update: it must be ACTIVE, not leased by a live lease, not
   * claimed since `tickStartMs`, and (unless `force`) due. Returns the claimed item (whole) or undefined.
   */
  claim(item: DueItem, claim: ClaimRequest): Promise<QueueItem | undefined>;
  /**
   * The digests of the rows stored so far for a claimed item's session (rowDigests), read only when an answer
   * is to be stored. An ack that gives rowDigests or lastBadBody writes them where this reads them.
   */
  loadRowDigests(item: QueueItem): Promise<string | undefined>;
  /** Hands a claimed item back untouched (lease removed, due again at its previous nextPollAtMs). */
  release(item: QueueItem, owner: string): Promise<void>;
  /** Records a poll's result; conditional on still holding the lease. False when the lease was lost. */
  ack(item: QueueItem, owner: string, update: AckUpdate): Promise<boolean>;
  list(accountId: string): AsyncIterable<QueueItem[]>;
  saveTickSummary(accountId: string, summary: object): Promise<void>;
  loadTickSummary(accountId: string): Promise<object | undefined>;
}

export interface ClaimRequest {
  owner: string;
  nowMs: number;
  tickStartMs: number;
  leaseUntilMs: number;
  force: boolean;
}

/**
 * What a poll changes on its item (fields as on QueueItem; a poll always sets its outcome and time). A terminal
 * `state` removes it from the due index.
 */
/**
 * The fields an ack writes when given, beside the ones it always writes. One list for the type and for the
 * store, so a field added here cannot be dropped on its way to the table (emptyCount and complete once were).
 */
export const ACK_OPTIONAL_FIELDS = [
  'lastCapturedAtMs',
  'reason',
  'endedAtMs',
  'rowDigests',
  'lastBadBody',
  'rowsStored',
  'eventsSeen',
  'emptyCount',
  'complete',
  'deferredColumns',
] as const satisfies readonly (keyof QueueItem)[];

/**
 * The ack's fields kept on the item's side item rather than on the item (lib/keys.ts queueCaptureStateKey):
 * large, and changed by few polls, where every claim and ack rewrites the item and is billed on its size. An
 * ack writes them only when given (rowDigests: only when the stored rows changed).
 */
export const CAPTURE_STATE_FIELDS = [
  'rowDigests',
  'lastBadBody',
] as const satisfies readonly (typeof ACK_OPTIONAL_FIELDS)[number][];

export type AckUpdate = Pick<
  QueueItem,
  'state' | 'nextPollAtMs' | 'attempts' | 'pollCount' | 'successCount' | (typeof ACK_OPTIONAL_FIELDS)[number]
> &
  Required<Pick<QueueItem, 'lastOutcome' | 'lastPolledAtMs'>>;

/**
 * What is wrong with an item read from the queue table, or undefined. Items are written through validation,
 * but the table can be edited by hand: a malformed item must end visibly (INVALID), not crash a tick.
 */
export function queueItemProblem(item: QueueItem): string | undefined {
  for (const kind of ['accountId', 'visitorId', 'sid'] as const) {
    const problem = idProblem(kind, item[kind]);
    if (problem !== undefined) return `malformed queue item: ${kind} ${problem}`;
  }
  for (const field of ['startTimeMs', 'deadlineMs'] as const) {
    if (typeof item[field] !== 'number' || !Number.isFinite(item[field])) {
      return `malformed queue item: ${field} is not a number`;
    }
  }
  return undefined;
}
