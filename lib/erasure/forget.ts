/**
 * Erasing one visitor (`lpv forget`; docs/erasure.md). The steps, each safe to repeat, so that an interrupted
 * run completes on the next one:
 *
 *   0. The audit item is written (`running`): it holds no personal data (lib/erasure/plan.ts ErasureAudit).
 *   1. Every queue item of the visitor becomes a tombstone (state ERASED, only its key and a TTL left): no poll
 *      claims it again, an in-flight poll's ack fails its lease condition, and a re-enqueue of the pair is
 *      refused. Tombstones keep their keys, which name the sids: a run killed after this step finds them again.
 *   2. First pass: every capture row of every session of the visitor is deleted (sessions from the queue items
 *      and tombstones, and from the capture table's byVisitor index).
 *   3. A wait until every poll claimed before its item's tombstone has ended (a lease and a margin), if one may
 *      be in flight, then a second pass as in 2: it removes what such a poll wrote meanwhile.
 *   4. The audit item is completed (`done`, the counts).
 *
 * With `dryRun` nothing is written: the report says what a run would do.
 */
import pLimit from 'p-limit';
import type { Clock } from '../clock';
import {
  finishedAudit,
  planQueueErasure,
  secondPassWaitMs,
  sessionsToErase,
  startedAudit,
  type ErasureAudit,
  type ErasureCounts,
  type VisitorQueueEntry,
} from './plan';

/** The queue table's part of an erasure (lib/store/dynamo-erasure.ts). */
export interface ErasureQueue {
  /** Every queue item of the visitor, tombstones included. */
  visitorItems(accountId: string, visitorId: string): Promise<VisitorQueueEntry[]>;
  /** Replaces the item, whatever it holds, by its tombstone (key, state ERASED, expiresAtSec). */
  tombstone(accountId: string, visitorId: string, sid: string, expiresAtSec: number): Promise<void>;
  /**
   * Records the audit fields of `audit`, keeping the item's other fields (a POST /forget request's) and its
   * first start. When `audit.status` is `done`, the fields of a pending request go (the raw visitor id, the
   * due-index keys, the lease): only the audit is left. With `leaseOwner`, only while that lease is held
   * (else ErasureLeaseLostError: another eraser took the request over).
   */
  saveAudit(accountId: string, audit: ErasureAudit, leaseOwner?: string): Promise<void>;
  loadAudit(accountId: string, requestId: string): Promise<ErasureAudit | undefined>;
}

/** The capture table's part of an erasure (lib/store/dynamo-erasure.ts). */
export interface ErasureCapture {
  /** The sids of the visitor's sessions that the byVisitor index lists (session and outcome rows). */
  visitorSessionIds(accountId: string, visitorId: string): Promise<string[]>;
  /** How many rows the session's partition holds. */
  countSessionRows(accountId: string, sid: string): Promise<number>;
  /** Deletes every row of the session's partition; how many were deleted. Throws if some could not be. */
  deleteSessionRows(accountId: string, sid: string): Promise<number>;
}

export interface ForgetRequest {
  accountId: string;
  visitorId: string;
  /** Names the audit item (lib/erasure/plan.ts REQUEST_ID_PATTERN). */
  requestId: string;
  dryRun: boolean;
  /** The poller's lease (LEASE_SECONDS): how long a poll claimed before a tombstone may go on writing. */
  leaseMs: number;
  /** Added to the lease before the second pass. @default SECOND_PASS_MARGIN_MS */
  marginMs?: number;
  /** The project's keyed hash of a visitor id, for the audit item; without it the audit names no visitor. */
  hashVisitorId?: (visitorId: string) => string;
  /** The eraser's lease on a POST /forget request: the audit is written only while it holds it. */
  leaseOwner?: string;
}

export interface ForgetDeps {
  queue: ErasureQueue;
  capture: ErasureCapture;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  /** One line of progress (the CLI writes it to stderr). Never holds an id. */
  onProgress?: (message: string) => void;
}

/** What a run did (printed as JSON by `lpv forget`). */
export interface ForgetReport extends ErasureCounts {
  requestId: string;
  dryRun: false;
  /** Seconds waited before the second pass (0 when no poll could be in flight). */
  waitedSeconds: number;
  startedAt: string;
  finishedAt: string;
}

/** What a run would do (`--dry-run`). */
export interface ForgetDryRunReport {
  dryRun: true;
  queueItemsToTombstone: number;
  queueItemsAlreadyErased: number;
  sessions: number;
  rowsToDelete: number;
  /** Seconds a run would wait before its second pass (from now, if it started now). */
  secondPassWaitSeconds: number;
}

/**
 * Added to the lease before the second pass: a poll's item deadline is its lease's end less 2 s, and write
 * calls it began just before (a row batch, the ack) may take some seconds more when DynamoDB throttles.
 */
export const SECOND_PASS_MARGIN_MS = 15_000;
/** Longest single sleep of the wait, so its progress shows. */
const WAIT_PROGRESS_MS = 10_000;
/** Sessions erased at once (each is a Query and BatchWriteItem calls). */
const SESSION_CONCURRENCY = 4;
/** Queue items tombstoned at once (one PutItem each). */
const TOMBSTONE_CONCURRENCY = 16;

export async function forgetVisitor(
  request: ForgetRequest,
  deps: ForgetDeps,
): Promise<ForgetReport | ForgetDryRunReport> {
  const { accountId, visitorId } = request;
  const marginMs = request.marginMs ?? SECOND_PASS_MARGIN_MS;
  const progress = deps.onProgress ?? ((): void => undefined);

  if (request.dryRun) {
    const nowMs = deps.clock.nowMs();
    const plan = planQueueErasure(
      await deps.queue.visitorItems(accountId, visitorId),
      request.leaseMs,
      nowMs,
    );
    const sids = sessionsToErase(
      plan.tombstones.map((t) => t.sid),
      plan.alreadyErased,
      await deps.capture.visitorSessionIds(accountId, visitorId),
    );
    const limit = pLimit(SESSION_CONCURRENCY);
    const counts = await Promise.all(
      sids.map((sid) => limit(() => deps.capture.countSessionRows(accountId, sid))),
    );
    return {
      dryRun: true,
      queueItemsToTombstone: plan.tombstones.length,
      queueItemsAlreadyErased: plan.alreadyErased.length,
      sessions: sids.length,
      rowsToDelete: counts.reduce((a, b) => a + b, 0),
      secondPassWaitSeconds: Math.ceil(
        secondPassWaitMs(plan, nowMs, request.leaseMs, marginMs, nowMs) / 1000,
      ),
    };
  }

  const startedAtMs = deps.clock.nowMs();
  const audit = startedAudit(request.requestId, visitorId, startedAtMs, request.hashVisitorId);
  await deps.queue.saveAudit(accountId, audit, request.leaseOwner);

  // 1. Tombstones.
  const plan = planQueueErasure(
    await deps.queue.visitorItems(accountId, visitorId),
    request.leaseMs,
    deps.clock.nowMs(),
  );
  const tombstoneLimit = pLimit(TOMBSTONE_CONCURRENCY);
  await Promise.all(
    plan.tombstones.map((t) =>
      tombstoneLimit(() => deps.queue.tombstone(accountId, visitorId, t.sid, t.expiresAtSec)),
    ),
  );
  const tombstonedAtMs = deps.clock.nowMs();
  progress(
    `queue: ${plan.tombstones.length} item(s) tombstoned, ${plan.alreadyErased.length} already erased`,
  );
  const queueSids = [...plan.tombstones.map((t) => t.sid), ...plan.alreadyErased];

  // 2. First pass.
  const first = await deletePass(request, deps, queueSids);
  progress(`first pass: ${first.rows} row(s) deleted in ${first.sessions.length} session(s)`);

  // 3. Wait for in-flight polls, then the second pass.
  const waitMs = secondPassWaitMs(plan, tombstonedAtMs, request.leaseMs, marginMs, deps.clock.nowMs());
  for (let leftMs = waitMs; leftMs > 0;) {
    progress(
      `waiting ${Math.ceil(leftMs / 1000)} s for polls in flight to end ` +
        `(lease ${Math.ceil(request.leaseMs / 1000)} s + ${Math.ceil(marginMs / 1000)} s) before the second pass`,
    );
    const stepMs = Math.min(leftMs, WAIT_PROGRESS_MS);
    await deps.sleep(stepMs);
    leftMs -= stepMs;
  }
  const second = await deletePass(request, deps, [...queueSids, ...first.sessions]);
  progress(`second pass: ${second.rows} row(s) deleted in ${second.sessions.length} session(s)`);

  // 4. Audit.
  const counts: ErasureCounts = {
    queueItemsTombstoned: plan.tombstones.length,
    queueItemsAlreadyErased: plan.alreadyErased.length,
    sessions: second.sessions.length,
    rowsDeleted: { firstPass: first.rows, secondPass: second.rows },
  };
  const finishedAtMs = deps.clock.nowMs();
  await deps.queue.saveAudit(accountId, finishedAudit(audit, finishedAtMs, counts), request.leaseOwner);
  return {
    requestId: request.requestId,
    dryRun: false,
    ...counts,
    waitedSeconds: Math.ceil(waitMs / 1000),
    startedAt: new Date(startedAtMs).toISOString(),
    finishedAt: new Date(finishedAtMs).toISOString(),
  };
}

/** One pass: the sessions known so far and those byVisitor lists now, every row of each deleted. */
async function deletePass(
  request: ForgetRequest,
  deps: ForgetDeps,
  knownSids: readonly string[],
): Promise<{ sessions: string[]; rows: number }> {
  const sessions = sessionsToErase(
    knownSids,
    await deps.capture.visitorSessionIds(request.accountId, request.visitorId),
  );
  const limit = pLimit(SESSION_CONCURRENCY);
  const deleted = await Promise.all(
    sessions.map((sid) => limit(() => deps.capture.deleteSessionRows(request.accountId, sid))),
  );
  return { sessions, rows: deleted.reduce((a, b) => a + b, 0) };
}
