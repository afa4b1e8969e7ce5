/**
 * The eraser: one run of the scheduled function (functions/eraser.ts) carries out the pending requests of POST
 * /forget (lib/erasure/requests.ts). A run:
 *
 *   1. lists every pending request of the account (one Query of the due index's erasure partition);
 *   2. takes the claimable ones, oldest first, at most `maxRequestsPerRun`, each with a conditional lease that
 *      outlasts the invocation (so no other eraser takes a request whose eraser is alive, and the next run
 *      after the lease takes over the request of an eraser that crashed or timed out);
 *   3. runs forgetVisitor on each, concurrently (their waits before the second pass overlap), under the
 *      request's id, so the request item becomes the audit: `running`, then `done` with the counts, the raw
 *      visitor id and the due-index keys removed;
 *   4. hands a failed attempt back with backoff (retryAtMs), and publishes the run's metrics.
 *
 * An erasure is begun only if it can end before the invocation does (runFits): a wait cut short by the
 * function's timeout would leave a poll in flight unanswered by a second pass, or the analytics copy's deletes
 * unsent. The waits counted are the lease and margin before the second pass and, with the analytics re-send,
 * Firehose's buffer after it (counted in full: it overlaps the first only when the second pass deletes nothing).
 *
 * The audit names the visitor by the project's keyed hash, with the key the poller uses (its secret, read
 * through the same provider, once per run). An unreadable key never holds an erasure back: the erasure runs,
 * its audit says `visitorHashUnavailable`, and the run counts it (erasure_visitor_hash_unavailable).
 */
import type { Clock } from '../clock';
import type { Log } from '../log';
import { ERASURE_METRIC, type MetricsSink } from '../metrics';
import { KeyedHasher } from '../privacy/hash';
import type { HashKeyProvider } from '../privacy/key-provider';
import { AnalyticsResendError } from './errors';
import {
  forgetVisitor,
  SECOND_PASS_MARGIN_MS,
  type AnalyticsDeletes,
  type ErasedRowsStore,
  type ErasureCapture,
  type ErasureQueue,
  type ForgetReport,
} from './forget';
import {
  oldestPendingAgeMs,
  requestsToRun,
  retryAtMs,
  runFits,
  type ErasureRequests,
  type PendingErasure,
} from './requests';

export interface EraserOptions {
  accountId: string;
  /** The poller's lease (LEASE_SECONDS): each erasure waits it (plus the margin) before its second pass. */
  leaseMs: number;
  /** @default SECOND_PASS_MARGIN_MS */
  marginMs?: number;
  /** Requests taken by one run (they run concurrently). @default DEFAULT_MAX_REQUESTS_PER_RUN */
  maxRequestsPerRun?: number;
  /** Time an erasure needs besides its wait (queue scan, two passes, audit). @default DEFAULT_WORK_BUDGET_MS */
  workBudgetMs?: number;
}

export interface EraserDeps {
  requests: ErasureRequests;
  queue: ErasureQueue;
  capture: ErasureCapture;
  clock: Clock;
  sleep: (ms: number) => Promise<void>;
  log: Log;
  metrics: MetricsSink;
  /** This run's lease owner (unique per invocation). */
  owner: string;
  /** Time left before the invocation is stopped (Lambda's getRemainingTimeInMillis). */
  remainingMs: () => number;
  /**
   * The key of the audit's visitor hash (lib/wiring.ts createHashKeyProvider: the stack's secret). None, or a
   * provider that answers no key: the audit names no visitor. One that throws: the erasures run all the same,
   * their audits say `visitorHashUnavailable`.
   */
  hashKeys?: HashKeyProvider;
  /** The analytics copy's delivery stream and the kept rows (none: no re-send). */
  analytics?: { deletes: AnalyticsDeletes; erasedRows: ErasedRowsStore };
}

export interface EraserRunSummary {
  /** Pending requests found at the start. */
  pending: number;
  /** Erasures completed by this run. */
  done: number;
  /** Attempts that failed (handed back with backoff). */
  failed: number;
  /** Claimable requests left for a later run: too little time left, or another eraser claimed them first. */
  deferred: number;
  /** Age of the oldest request still pending at the end of the run (0 when none). */
  oldestPendingAgeMs: number;
  /** Erasures begun without the audit's visitor hash because the key could not be read. */
  visitorHashUnavailable: number;
  /** Deletes re-sent to the analytics copy by the erasures done. */
  analyticsDeletesResent: number;
  /** Deletes the delivery stream never accepted (their erasures failed, to be run again). */
  analyticsDeletesUnsent: number;
}

/** Ten erasures at once: their waits overlap, and ten sessions' deletes at a time stay gentle on the table. */
export const DEFAULT_MAX_REQUESTS_PER_RUN = 10;
/** Reads and deletes of one erasure, besides its wait: a visitor with many sessions takes seconds, not minutes. */
export const DEFAULT_WORK_BUDGET_MS = 90_000;
/**
 * Added to the invocation's remaining time for the lease: the lease ends after the invocation has surely
 * stopped (Lambda stops it at its timeout), never while it may still write.
 */
export const LEASE_SLACK_MS = 30_000;

export async function runEraser(options: EraserOptions, deps: EraserDeps): Promise<EraserRunSummary> {
  const { accountId } = options;
  const marginMs = options.marginMs ?? SECOND_PASS_MARGIN_MS;
  const workBudgetMs = options.workBudgetMs ?? DEFAULT_WORK_BUDGET_MS;
  const max = options.maxRequestsPerRun ?? DEFAULT_MAX_REQUESTS_PER_RUN;

  const pending = await deps.requests.pending(accountId);
  const chosen = requestsToRun(pending, deps.clock.nowMs(), max);
  // The key is read only when there is something to erase (and once for the run's erasures).
  const hashing = chosen.length > 0 ? await visitorHashing(deps) : { unavailable: false };
  // At most `max` at once: the slice above is the bound.
  const outcomes = await Promise.all(
    chosen.map((request) => runOne(request, options, deps, hashing, marginMs, workBudgetMs)),
  );
  const doneIds = new Set(chosen.filter((_, i) => outcomes[i]?.kind === 'done').map((r) => r.requestId));
  const sum = (pick: (o: RunOutcome) => number): number => outcomes.reduce((a, o) => a + pick(o), 0);
  const summary: EraserRunSummary = {
    pending: pending.length,
    done: doneIds.size,
    failed: outcomes.filter((o) => o.kind === 'failed').length,
    deferred: outcomes.filter((o) => o.kind === 'deferred').length,
    oldestPendingAgeMs: oldestPendingAgeMs(
      pending.filter((r) => !doneIds.has(r.requestId)),
      deps.clock.nowMs(),
    ),
    visitorHashUnavailable: hashing.unavailable ? outcomes.filter((o) => o.kind !== 'deferred').length : 0,
    analyticsDeletesResent: sum((o) => (o.kind === 'done' ? o.analyticsDeletesResent : 0)),
    analyticsDeletesUnsent: sum((o) => (o.kind === 'failed' ? o.analyticsDeletesUnsent : 0)),
  };
  deps.metrics.milliseconds(ERASURE_METRIC.oldestPendingAgeMs, summary.oldestPendingAgeMs);
  deps.metrics.count(ERASURE_METRIC.pending, summary.pending - summary.done);
  deps.metrics.count(ERASURE_METRIC.done, summary.done);
  deps.metrics.count(ERASURE_METRIC.failures, summary.failed);
  deps.metrics.count(ERASURE_METRIC.visitorHashUnavailable, summary.visitorHashUnavailable);
  deps.metrics.count(ERASURE_METRIC.analyticsDeletesResent, summary.analyticsDeletesResent);
  deps.metrics.count(ERASURE_METRIC.analyticsDeletesUnsent, summary.analyticsDeletesUnsent);
  deps.metrics.flush();
  if (summary.pending > 0) deps.log.info('eraser run', { ...summary });
  return summary;
}

type RunOutcome =
  | { kind: 'done'; analyticsDeletesResent: number }
  | { kind: 'failed'; analyticsDeletesUnsent: number }
  | { kind: 'deferred' };

interface VisitorHashing {
  hash?: (visitorId: string) => string;
  /** A key is configured but could not be read. */
  unavailable: boolean;
}

/** The run's visitor hash: the key read once; an unreadable key leaves the erasures without one, never stops them. */
async function visitorHashing(deps: EraserDeps): Promise<VisitorHashing> {
  if (deps.hashKeys === undefined) return { unavailable: false };
  try {
    const key = await deps.hashKeys.get();
    if (key === undefined) return { unavailable: false };
    const hasher = new KeyedHasher(key);
    return { hash: (visitorId) => hasher.hash(visitorId), unavailable: false };
  } catch (error) {
    // The error's name only (a HashKeyError names the secret, and says nothing an operator needs here).
    deps.log.warn('hash key unavailable: erasures run without the visitor hash in their audit', {
      errorName: error instanceof Error ? error.name : typeof error,
    });
    return { unavailable: true };
  }
}

/** The waits an erasure may take: the lease and margin before the second pass, and the analytics buffer. */
export function erasureWaitBudgetMs(leaseMs: number, marginMs: number, analyticsWaitMs: number): number {
  return leaseMs + marginMs + analyticsWaitMs;
}

async function runOne(
  request: PendingErasure,
  options: EraserOptions,
  deps: EraserDeps,
  hashing: VisitorHashing,
  marginMs: number,
  workBudgetMs: number,
): Promise<RunOutcome> {
  const { accountId } = options;
  const remainingMs = deps.remainingMs();
  const waitsMs = erasureWaitBudgetMs(options.leaseMs, marginMs, deps.analytics?.deletes.waitMs ?? 0);
  if (!runFits(remainingMs, waitsMs, workBudgetMs)) return { kind: 'deferred' };
  const nowMs = deps.clock.nowMs();
  const claimed = await deps.requests.claim(accountId, request.requestId, {
    owner: deps.owner,
    leaseUntilMs: nowMs + remainingMs + LEASE_SLACK_MS,
    nowMs,
  });
  if (claimed === undefined) return { kind: 'deferred' };
  try {
    const report = (await forgetVisitor(
      {
        accountId,
        visitorId: claimed.visitorId,
        requestId: claimed.requestId,
        dryRun: false,
        leaseMs: options.leaseMs,
        marginMs,
        hashVisitorId: hashing.hash,
        visitorHashUnavailable: hashing.unavailable,
        leaseOwner: deps.owner,
      },
      {
        queue: deps.queue,
        capture: deps.capture,
        clock: deps.clock,
        sleep: deps.sleep,
        ...(deps.analytics !== undefined ? { analytics: deps.analytics } : {}),
      },
    )) as ForgetReport;
    deps.log.info('erasure done', { requestId: claimed.requestId, attempt: claimed.attempts });
    return { kind: 'done', analyticsDeletesResent: report.analyticsDeletesResent ?? 0 };
  } catch (error) {
    // The error's name only: a store error's message could quote a key, and keys hold the visitor id.
    const errorName = error instanceof Error ? error.name : typeof error;
    const nextAtMs = retryAtMs(claimed.attempts, deps.clock.nowMs());
    deps.log.error('erasure attempt failed; handed back for a later run', {
      requestId: claimed.requestId,
      attempt: claimed.attempts,
      errorName,
      retryAt: new Date(nextAtMs).toISOString(),
    });
    try {
      await deps.requests.release(accountId, claimed.requestId, deps.owner, nextAtMs);
    } catch (releaseError) {
      // The lease ends anyway: the request is taken again after it, a little later than the backoff says.
      deps.log.warn('could not hand the request back; its lease will end', {
        requestId: claimed.requestId,
        errorName: releaseError instanceof Error ? releaseError.name : typeof releaseError,
      });
    }
    return {
      kind: 'failed',
      analyticsDeletesUnsent: error instanceof AnalyticsResendError ? error.unsent : 0,
    };
  }
}
