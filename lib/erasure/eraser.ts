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
 * function's timeout would leave a poll in flight unanswered by a second pass.
 */
import type { Clock } from '../clock';
import type { Log } from '../log';
import { ERASURE_METRIC, type MetricsSink } from '../metrics';
import { forgetVisitor, SECOND_PASS_MARGIN_MS, type ErasureCapture, type ErasureQueue } from './forget';
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
  /** The project's keyed hash of a visitor id, for the audit item (none: the audit names no visitor). */
  hashVisitorId?: (visitorId: string) => string;
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
  // At most `max` at once: the slice above is the bound.
  const outcomes = await Promise.all(
    chosen.map((request) => runOne(request, options, deps, marginMs, workBudgetMs)),
  );
  const doneIds = new Set(chosen.filter((_, i) => outcomes[i] === 'done').map((r) => r.requestId));
  const summary: EraserRunSummary = {
    pending: pending.length,
    done: doneIds.size,
    failed: outcomes.filter((o) => o === 'failed').length,
    deferred: outcomes.filter((o) => o === 'deferred').length,
    oldestPendingAgeMs: oldestPendingAgeMs(
      pending.filter((r) => !doneIds.has(r.requestId)),
      deps.clock.nowMs(),
    ),
  };
  deps.metrics.milliseconds(ERASURE_METRIC.oldestPendingAgeMs, summary.oldestPendingAgeMs);
  deps.metrics.count(ERASURE_METRIC.pending, summary.pending - summary.done);
  deps.metrics.count(ERASURE_METRIC.done, summary.done);
  deps.metrics.count(ERASURE_METRIC.failures, summary.failed);
  deps.metrics.flush();
  if (summary.pending > 0) deps.log.info('eraser run', { ...summary });
  return summary;
}

async function runOne(
  request: PendingErasure,
  options: EraserOptions,
  deps: EraserDeps,
  marginMs: number,
  workBudgetMs: number,
): Promise<'done' | 'failed' | 'deferred'> {
  const { accountId } = options;
  const remainingMs = deps.remainingMs();
  if (!runFits(remainingMs, options.leaseMs + marginMs, workBudgetMs)) return 'deferred';
  const nowMs = deps.clock.nowMs();
  const claimed = await deps.requests.claim(accountId, request.requestId, {
    owner: deps.owner,
    leaseUntilMs: nowMs + remainingMs + LEASE_SLACK_MS,
    nowMs,
  });
  if (claimed === undefined) return 'deferred';
  try {
    await forgetVisitor(
      {
        accountId,
        visitorId: claimed.visitorId,
        requestId: claimed.requestId,
        dryRun: false,
        leaseMs: options.leaseMs,
        marginMs,
        hashVisitorId: deps.hashVisitorId,
        leaseOwner: deps.owner,
      },
      { queue: deps.queue, capture: deps.capture, clock: deps.clock, sleep: deps.sleep },
    );
    deps.log.info('erasure done', { requestId: claimed.requestId, attempt: claimed.attempts });
    return 'done';
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
    return 'failed';
  }
}
