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

/**
 * What the scan of the visitor's queue keys finds: its queue items, and the sids whose queue item has a side
 * item (lib/keys.ts queueCaptureStateKey: the stored rows' digests, the last bad body), with or without the
 * queue item (the side item may outlive a tombstone: it keeps the TTL of the item it was written for).
 */
export interface VisitorQueueScan {
  entries: VisitorQueueEntry[];
  captureStates: string[];
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
  /**
   * Deletes re-sent to the analytics copy's delivery stream after Firehose's buffer (absent when the erasure
   * re-sends none: `lpv forget` without LPV_ANALYTICS_STREAM, where the stream's own deletes are all there is).
   */
  analyticsDeletesResent?: number;
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
  /**
   * True when a hash key is configured but could not be read when the erasure began (the eraser: its secret
   * unreadable). The erasure ran all the same (it never waits on the hash); the audit names no visitor.
   */
  visitorHashUnavailable?: true;
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
  visitorHashUnavailable = false,
): ErasureAudit {
  return {
    requestId,
    status: 'running',
    ...(hashVisitorId !== undefined
      ? { visitorHash: hashVisitorId(visitorId) }
      : visitorHashUnavailable
        ? { visitorHashUnavailable: true as const }
        : {}),
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

// -------------------------------------------------------------------------------------------------------------
// The analytics copy: deletes re-sent after Firehose's buffer (docs/erasure.md, "The analytics copy")

/**
 * A deleted capture row as the analytics copy's delete needs it: its keys, its row type and the column its
 * Iceberg partition is computed from (lib/query/analytics-route.ts ROW_DAY_SOURCES, erasureDeleteRecord). Only
 * these attributes are read and kept, and only until the deletes have been re-sent.
 */
export interface ErasedRow {
  readonly pk: string;
  readonly sk: string;
  readonly [attribute: string]: string | number;
}

/**
 * The route processor's buffer in front of the route function (infra/analytics.ts, the Lambda processor's
 * BufferIntervalInSeconds; test/infra/erasure.test.ts checks the two agree): a record may wait this long before
 * it is even routed.
 */
export const ANALYTICS_PROCESSING_BUFFER_SEC = 60;
/** The feed pipe's batching window (infra/analytics.ts maximumBatchingWindowInSeconds): stream → Firehose. */
export const ANALYTICS_PIPE_BATCHING_SEC = 30;
/** Added for the route function's run, the commit itself and the stream's own delay (sub-second normally). */
export const ANALYTICS_RESEND_MARGIN_SEC = 60;
/** Firehose's buffer interval when the stack sets none (infra/analytics.ts CaptureAnalytics). */
export const DEFAULT_ANALYTICS_BUFFER_INTERVAL_SEC = 300;

/**
 * How long after a capture row's last delete its delete is re-sent: by then every stream record written before
 * the delete (an update of the row among them) has been through the pipe's batching window, the route
 * processor's buffer and Firehose's buffer interval, and committed; the re-sent delete lands in a later commit,
 * so a late update cannot outlive it. 450 s with the stack's defaults.
 */
export function analyticsResendWaitMs(bufferIntervalSec: number): number {
  return (
    (bufferIntervalSec +
      ANALYTICS_PROCESSING_BUFFER_SEC +
      ANALYTICS_PIPE_BATCHING_SEC +
      ANALYTICS_RESEND_MARGIN_SEC) *
    1000
  );
}

/**
 * When the deletes are re-sent: the wait after the last row delete. When the second pass deleted nothing, no
 * row was written after the first pass (a poll's late write would have been found by the second pass), so the
 * wait counts from the first pass and overlaps the wait before the second.
 */
export function analyticsResendAtMs(
  passes: { firstPassEndMs: number; secondPassEndMs: number; secondPassRows: number },
  waitMs: number,
): number {
  const lastDeleteMs = passes.secondPassRows > 0 ? passes.secondPassEndMs : passes.firstPassEndMs;
  return lastDeleteMs + waitMs;
}

/** Each (pk, sk) once (a row a late poll wrote again is deleted, and kept, twice), in key order. */
export function uniqueErasedRows(rows: Iterable<ErasedRow>): ErasedRow[] {
  const byKey = new Map<string, ErasedRow>();
  for (const row of rows) byKey.set(`${row.pk}\u0000${row.sk}`, row);
  return [...byKey.entries()].sort(([a], [b]) => compare(a, b)).map(([, row]) => row);
}

/**
 * Splits items into consecutive chunks of at most `maxItems` and at most `maxBytes` (by `sizeOf`), in order: a
 * PutRecordBatch (500 records, 4 MiB) or a kept page of erased rows. An item larger than `maxBytes` alone is a
 * chunk of its own (the caller's limit per item refuses it).
 */
export function chunkBySize<T>(
  items: readonly T[],
  maxItems: number,
  maxBytes: number,
  sizeOf: (item: T) => number,
): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length > 0 && (current.length >= maxItems || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
