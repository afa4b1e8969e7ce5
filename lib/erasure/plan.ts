/**
 * The decisions of an erasure (`lpv forget`), pure: which queue items become tombstones and until when, which
 * sessions' rows are deleted, how long to wait before the second pass, and what the audit item holds.
 * lib/erasure/forget.ts carries them out through the ports it declares.
 */
import { SESSION_MAX_AGE_MS } from '../clock';
import { ERASED_STATE, type StoredQueueState } from '../queue/model';

/** A queue item of the visitor as the erasure sees it: its sid (from the key), its state, its times. */
export interface VisitorQueueEntry {
  sid: string;
  state: StoredQueueState;
  /** The item's deadline (absent on a tombstone, or on an item edited by hand). */
  deadlineMs?: number;
  /** The item's TTL, epoch seconds (a tombstone's is its deadline plus the lease). */
  expiresAtSec?: number;
}

export interface QueuePlan {
  /** Items to turn into tombstones, each with its TTL. */
  tombstones: Array<{ sid: string; expiresAtSec: number }>;
  /** Items that are tombstones already (an earlier, maybe interrupted, erasure). */
  alreadyErased: string[];
  /**
   * True when a poll may still be writing rows for one of the items: one was ACTIVE when tombstoned (a poll
   * claimed just before may run until its lease ends), or a tombstone found here is younger than its deadline
   * plus the lease (a tombstone does not say what it was, nor since when it is one).
   */
  pollMayBeInFlight: boolean;
}

/**
 * A tombstone's TTL: past the item's deadline plus the lease (no poll of the item can run after that: the
 * poller ends an item at its deadline, and a poll claimed just before runs at most a lease). An item without a
 * readable deadline is given one from now (as if its session had just started).
 */
export function tombstoneExpiresAtSec(
  deadlineMs: number | undefined,
  leaseMs: number,
  nowMs: number,
): number {
  const deadline =
    typeof deadlineMs === 'number' && Number.isFinite(deadlineMs) ? deadlineMs : nowMs + SESSION_MAX_AGE_MS;
  return Math.ceil((deadline + leaseMs) / 1000);
}

/** What to do with the visitor's queue items, found at `nowMs`. */
export function planQueueErasure(
  entries: readonly VisitorQueueEntry[],
  leaseMs: number,
  nowMs: number,
): QueuePlan {
  const plan: QueuePlan = { tombstones: [], alreadyErased: [], pollMayBeInFlight: false };
  for (const entry of [...entries].sort((a, b) => compare(a.sid, b.sid))) {
    if (entry.state === ERASED_STATE) {
      plan.alreadyErased.push(entry.sid);
      const expiresAtMs = (entry.expiresAtSec ?? Infinity) * 1000;
      if (expiresAtMs > nowMs) plan.pollMayBeInFlight = true;
      continue;
    }
    plan.tombstones.push({
      sid: entry.sid,
      expiresAtSec: tombstoneExpiresAtSec(entry.deadlineMs, leaseMs, nowMs),
    });
    if (entry.state === 'ACTIVE') plan.pollMayBeInFlight = true;
  }
  return plan;
}

/**
 * The sessions whose rows are deleted: those the queue names (tombstones included: an interrupted erasure
 * resumes from them) and those the capture table's byVisitor index lists, each once, in sid order.
 */
export function sessionsToErase(...sources: ReadonlyArray<Iterable<string>>): string[] {
  const sids = new Set<string>();
  for (const source of sources) for (const sid of source) sids.add(sid);
  return [...sids].sort(compare);
}

/**
 * How long to wait after the tombstones were written (at `tombstonedAtMs`) before the second pass, at `nowMs`:
 * until every poll claimed before its item's tombstone has ended (a lease, plus `marginMs` for the write calls a
 * poll may begin just before its lease ends), or 0 when no poll can be in flight.
 */
export function secondPassWaitMs(
  plan: Pick<QueuePlan, 'pollMayBeInFlight'>,
  tombstonedAtMs: number,
  leaseMs: number,
  marginMs: number,
  nowMs: number,
): number {
  if (!plan.pollMayBeInFlight) return 0;
  return Math.max(0, tombstonedAtMs + leaseMs + marginMs - nowMs);
}

/** The counts of one erasure, as printed and as audited. */
export interface ErasureCounts {
  /** Queue items turned into tombstones by this run. */
  queueItemsTombstoned: number;
  /** Queue items that were tombstones already. */
  queueItemsAlreadyErased: number;
  /** Sessions whose partition was read (and emptied) in the last pass. */
  sessions: number;
  /** Capture rows deleted by the first pass and by the second (after the lease). */
  rowsDeleted: { firstPass: number; secondPass: number };
}

/**
 * requested: POST /forget queued it, no eraser has begun (lib/erasure/requests.ts); running: an erasure has
 * begun (and may have been interrupted: the eraser resumes it); done: finished, counts recorded.
 */
export type ErasureStatus = 'requested' | 'running' | 'done';

/**
 * The audit item of one erasure, outside the capture table, as `lpv forget --status` shows it. It holds NO
 * personal data: no visitor id, no sid, no row; only a keyed hash of the visitor id when a hash function is
 * given (else no visitor reference at all), the times, the counts and the request id. (A request of POST
 * /forget carries the raw visitor id beside these fields until its erasure is done: lib/erasure/requests.ts.)
 */
export interface ErasureAudit {
  requestId: string;
  status: ErasureStatus;
  /** Keyed hash of the visitor id (the project's keyed hash); absent when none was configured. */
  visitorHash?: string;
  /** When POST /forget accepted the request (absent for `lpv forget`, which starts at once). */
  requestedAtMs?: number;
  /** When the first erasure attempt began (absent while `requested`). */
  startedAtMs?: number;
  finishedAtMs?: number;
  counts?: ErasureCounts;
}

/** The audit item of an erasure that has begun (written before anything is erased). */
export function startedAudit(
  requestId: string,
  visitorId: string,
  startedAtMs: number,
  hashVisitorId: ((visitorId: string) => string) | undefined,
): ErasureAudit {
  return {
    requestId,
    status: 'running',
    ...(hashVisitorId !== undefined ? { visitorHash: hashVisitorId(visitorId) } : {}),
    startedAtMs,
  };
}

/** The audit item of a finished erasure. */
export function finishedAudit(
  started: ErasureAudit,
  finishedAtMs: number,
  counts: ErasureCounts,
): ErasureAudit {
  return { ...started, status: 'done', finishedAtMs, counts };
}

/** A request id: what `lpv forget --status` takes (letters, digits, '-' and '_'; no '#', it is part of a key). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
