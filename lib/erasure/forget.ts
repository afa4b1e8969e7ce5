/**
 * Erasing one visitor (`lpv forget`; docs/erasure.md). The steps, each safe to repeat, so that an interrupted
 * run completes on the next one:
 *
 *   0. The audit item is written (`running`): it holds no personal data (lib/erasure/plan.ts ErasureAudit).
 *   1. Every queue item of the visitor becomes a tombstone (state ERASED, only its key and a TTL left): no poll
 *      claims it again, an in-flight poll's ack fails its lease condition, and a re-enqueue of the pair is
 *      refused. Tombstones keep their keys, which name the sids: a run killed after this step finds them again.
 *      The side item of each (lib/keys.ts queueCaptureStateKey: row digests and the last bad body, personal
 *      data) is deleted, as is any side item whose queue item is already gone.
 *   2. First pass: every capture row of every session of the visitor is deleted (sessions from the queue items
 *      and tombstones, and from the capture table's byVisitor index).
 *   3. A wait until every poll claimed before its item's tombstone has ended (a lease and a margin), if one may
 *      be in flight, then a second pass as in 2: it removes what such a poll wrote meanwhile, the side items
 *      included (a poll's ack writes its side item before the item itself, so a lost ack leaves one behind).
 *   4. With an analytics delivery stream (deps.analytics): once Firehose's buffer has passed since the last row
 *      delete, a delete of every deleted row is sent to the stream again, so that an update of a row that
 *      Firehose delivers after the stream's own delete cannot bring it back in the Iceberg copy. The rows'
 *      keys (and what the delete's partition needs) are kept in the queue table before each delete, so a run
 *      interrupted before the re-send re-sends on resume (deletes are idempotent).
 *   5. The audit item is completed (`done`, the counts).
 *
 * With `dryRun` nothing is written: the report says what a run would do.
 */
import pLimit from 'p-limit';
import type { Clock } from '../clock';
import {
  analyticsResendAtMs,
  finishedAudit,
  planQueueErasure,
  secondPassWaitMs,
  sessionsToErase,
  startedAudit,
  type ErasureAudit,
  type ErasedRow,
  type ErasureCounts,
  type VisitorQueueScan,
} from './plan';

/** The queue table's part of an erasure (lib/store/dynamo-erasure.ts). */
export interface ErasureQueue {
  /** Every queue item of the visitor, tombstones included, and the sids that have a side item. */
  visitorItems(accountId: string, visitorId: string): Promise<VisitorQueueScan>;
  /** Replaces the item, whatever it holds, by its tombstone (key, state ERASED, expiresAtSec). */
  tombstone(accountId: string, visitorId: string, sid: string, expiresAtSec: number): Promise<void>;
  /** Deletes the item's side item (queueCaptureStateKey), if there is one: nothing of it is kept. */
  deleteCaptureState(accountId: string, visitorId: string, sid: string): Promise<void>;
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
  /**
   * Deletes every row of the session's partition; how many were deleted. Throws if some could not be. With
   * `keep`, each set of rows is read with `keep.attributes` as well as its keys and handed to `keep.rows` BEFORE
   * it is deleted (so a run killed between the two still finds them kept).
   */
  deleteSessionRows(accountId: string, sid: string, keep?: KeepErasedRows): Promise<number>;
}

export interface KeepErasedRows {
  /** Attributes read besides pk and sk (a Query is charged for whole items: projecting more costs nothing). */
  attributes: readonly string[];
  rows(rows: readonly ErasedRow[]): Promise<void>;
}

/**
 * The analytics copy's side of an erasure: its delivery stream (lib/query/analytics-deletes.ts, Firehose). The
 * capture table's stream already turns each row delete into an Iceberg delete; these are sent again after
 * Firehose's buffer, because Firehose does not keep order.
 */
export interface AnalyticsDeletes {
  /** What a row's delete needs besides pk and sk (the row type, the partition's time column). */
  readonly rowAttributes: readonly string[];
  /** Waited after the last row delete before the re-send (lib/erasure/plan.ts analyticsResendWaitMs). */
  readonly waitMs: number;
  /** Sends a delete of each row; how many were sent. Throws (AnalyticsResendError) if some never went. */
  send(rows: readonly ErasedRow[]): Promise<number>;
}

/**
 * The deleted rows kept until their deletes are re-sent (lib/store/dynamo-erasure.ts DynamoErasedRows, in the
 * queue table), per visitor: an erasure of the same visitor that resumes an interrupted one (the eraser's next
 * attempt, or `lpv forget` run again under a new request id) finds them.
 */
export interface ErasedRowsStore {
  keep(accountId: string, visitorId: string, rows: readonly ErasedRow[]): Promise<void>;
  /** Every kept row (each key once), and how many pages hold them (for `drop`). */
  load(accountId: string, visitorId: string): Promise<{ rows: ErasedRow[]; pages: number }>;
  /** Removes the first `pages` pages (those `load` read); pages kept meanwhile by another erasure stay. */
  drop(accountId: string, visitorId: string, pages: number): Promise<void>;
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
  /** A hash key is configured but could not be read: the audit says so (visitorHashUnavailable). */
  visitorHashUnavailable?: boolean;
}

export interface ForgetDeps {
  queue: ErasureQueue;
  capture: ErasureCapture;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  /** One line of progress (the CLI writes it to stderr). Never holds an id. */
  onProgress?: (message: string) => void;
  /** The analytics copy's delivery stream, and where deleted rows are kept for it; none: no re-send. */
  analytics?: { deletes: AnalyticsDeletes; erasedRows: ErasedRowsStore };
}

/** What a run did (printed as JSON by `lpv forget`). */
export interface ForgetReport extends ErasureCounts {
  requestId: string;
  dryRun: false;
  /** Seconds waited before the second pass (0 when no poll could be in flight). */
  waitedSeconds: number;
  /** Seconds waited after the second pass for Firehose's buffer (absent without deps.analytics). */
  analyticsWaitedSeconds?: number;
  startedAt: string;
  finishedAt: string;
}

/** What a run would do (`--dry-run`). */
export interface ForgetDryRunReport {
  dryRun: true;
  queueItemsToTombstone: number;
  queueItemsAlreadyErased: number;
  /** Side items of queue items (row digests, the last bad body) a run would delete. */
  queueSideItemsToDelete: number;
  sessions: number;
  rowsToDelete: number;
  /** Seconds a run would wait before its second pass (from now, if it started now). */
  secondPassWaitSeconds: number;
  /** Seconds after the last row delete before the analytics deletes go (absent without deps.analytics). */
  analyticsResendWaitSeconds?: number;
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
    const scan = await deps.queue.visitorItems(accountId, visitorId);
    const plan = planQueueErasure(scan.entries, request.leaseMs, nowMs);
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
      queueSideItemsToDelete: scan.captureStates.length,
      sessions: sids.length,
      rowsToDelete: counts.reduce((a, b) => a + b, 0),
      secondPassWaitSeconds: Math.ceil(
        secondPassWaitMs(plan, nowMs, request.leaseMs, marginMs, nowMs) / 1000,
      ),
      ...(deps.analytics !== undefined
        ? { analyticsResendWaitSeconds: Math.ceil(deps.analytics.deletes.waitMs / 1000) }
        : {}),
    };
  }

  const startedAtMs = deps.clock.nowMs();
  const audit = startedAudit(
    request.requestId,
    visitorId,
    startedAtMs,
    request.hashVisitorId,
    request.visitorHashUnavailable === true,
  );
  await deps.queue.saveAudit(accountId, audit, request.leaseOwner);

  // 1. Tombstones, then the side items.
  const scan = await deps.queue.visitorItems(accountId, visitorId);
  const plan = planQueueErasure(scan.entries, request.leaseMs, deps.clock.nowMs());
  const tombstoneLimit = pLimit(TOMBSTONE_CONCURRENCY);
  await Promise.all(
    plan.tombstones.map((t) =>
      tombstoneLimit(() => deps.queue.tombstone(accountId, visitorId, t.sid, t.expiresAtSec)),
    ),
  );
  const tombstonedAtMs = deps.clock.nowMs();
  const queueSids = [...plan.tombstones.map((t) => t.sid), ...plan.alreadyErased];
  // Every sid of a queue item (deleted blindly: a poll may write one at any time until its lease ends) and those
  // of side items left without their queue item.
  const sideItemSids = sessionsToErase(queueSids, scan.captureStates);
  await deleteSideItems(request, deps, sideItemSids);
  progress(
    `queue: ${plan.tombstones.length} item(s) tombstoned, ${plan.alreadyErased.length} already erased, ` +
      `side items cleared for ${sideItemSids.length} session(s)`,
  );

  // 2. First pass.
  const first = await deletePass(request, deps, queueSids);
  const firstPassEndMs = deps.clock.nowMs();
  progress(`first pass: ${first.rows} row(s) deleted in ${first.sessions.length} session(s)`);

  // 3. Wait for in-flight polls, then the second pass.
  const waitMs = secondPassWaitMs(plan, tombstonedAtMs, request.leaseMs, marginMs, deps.clock.nowMs());
  await waitWithProgress(
    waitMs,
    deps,
    (leftS) =>
      `waiting ${leftS} s for polls in flight to end ` +
      `(lease ${Math.ceil(request.leaseMs / 1000)} s + ${Math.ceil(marginMs / 1000)} s) before the second pass`,
  );
  // Again after the wait: the ack of a poll claimed before its tombstone writes the side item before it fails.
  await deleteSideItems(request, deps, sideItemSids);
  const second = await deletePass(request, deps, [...queueSids, ...first.sessions]);
  const secondPassEndMs = deps.clock.nowMs();
  progress(`second pass: ${second.rows} row(s) deleted in ${second.sessions.length} session(s)`);

  // 4. The analytics copy: every kept row (of this run and of an interrupted one) re-sent once the buffer passed.
  let analytics: { resent: number; waitedMs: number } | undefined;
  if (deps.analytics !== undefined) {
    const { deletes, erasedRows } = deps.analytics;
    const kept = await erasedRows.load(accountId, visitorId);
    let waitedMs = 0;
    if (kept.rows.length > 0) {
      const resendAtMs = analyticsResendAtMs(
        { firstPassEndMs, secondPassEndMs, secondPassRows: second.rows },
        deletes.waitMs,
      );
      waitedMs = Math.max(0, resendAtMs - deps.clock.nowMs());
      await waitWithProgress(
        waitedMs,
        deps,
        (leftS) =>
          `waiting ${leftS} s for the analytics delivery buffer before re-sending ${kept.rows.length} delete(s)`,
      );
      await deletes.send(kept.rows);
    }
    // After the send only: a run killed before it finds the pages again.
    if (kept.pages > 0) await erasedRows.drop(accountId, visitorId, kept.pages);
    analytics = { resent: kept.rows.length, waitedMs };
    progress(`analytics copy: ${kept.rows.length} delete(s) re-sent`);
  }

  // 5. Audit.
  const counts: ErasureCounts = {
    queueItemsTombstoned: plan.tombstones.length,
    queueItemsAlreadyErased: plan.alreadyErased.length,
    sessions: second.sessions.length,
    rowsDeleted: { firstPass: first.rows, secondPass: second.rows },
    ...(analytics !== undefined ? { analyticsDeletesResent: analytics.resent } : {}),
  };
  const finishedAtMs = deps.clock.nowMs();
  await deps.queue.saveAudit(accountId, finishedAudit(audit, finishedAtMs, counts), request.leaseOwner);
  return {
    requestId: request.requestId,
    dryRun: false,
    ...counts,
    waitedSeconds: Math.ceil(waitMs / 1000),
    ...(analytics !== undefined ? { analyticsWaitedSeconds: Math.ceil(analytics.waitedMs / 1000) } : {}),
    startedAt: new Date(startedAtMs).toISOString(),
    finishedAt: new Date(finishedAtMs).toISOString(),
  };
}

/** Sleeps `waitMs` in steps of at most WAIT_PROGRESS_MS, announcing each (`say` gets the seconds left). */
async function waitWithProgress(
  waitMs: number,
  deps: ForgetDeps,
  say: (leftSeconds: number) => string,
): Promise<void> {
  for (let leftMs = waitMs; leftMs > 0;) {
    deps.onProgress?.(say(Math.ceil(leftMs / 1000)));
    const stepMs = Math.min(leftMs, WAIT_PROGRESS_MS);
    await deps.sleep(stepMs);
    leftMs -= stepMs;
  }
}

/** Deletes the side items of `sids` (idempotent: one that is not there is no error). */
async function deleteSideItems(
  request: ForgetRequest,
  deps: ForgetDeps,
  sids: readonly string[],
): Promise<void> {
  const limit = pLimit(TOMBSTONE_CONCURRENCY);
  await Promise.all(
    sids.map((sid) => limit(() => deps.queue.deleteCaptureState(request.accountId, request.visitorId, sid))),
  );
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
  const { analytics } = deps;
  const keep: KeepErasedRows | undefined =
    analytics === undefined
      ? undefined
      : {
          attributes: analytics.deletes.rowAttributes,
          rows: (rows) => analytics.erasedRows.keep(request.accountId, request.visitorId, rows),
        };
  const limit = pLimit(SESSION_CONCURRENCY);
  const deleted = await Promise.all(
    sessions.map((sid) => limit(() => deps.capture.deleteSessionRows(request.accountId, sid, keep))),
  );
  return { sessions, rows: deleted.reduce((a, b) => a + b, 0) };
}
