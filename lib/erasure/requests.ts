/**
 * Erasure requests of POST /forget (docs/erasure.md, "POST /forget"): the decisions, pure, and the port the
 * endpoint and the eraser (lib/erasure/eraser.ts) use.
 *
 * A request IS the erasure's audit item (same key, erasureAuditKey; lib/store/dynamo-erasure.ts), in status
 * `requested`. While it is pending it also carries what the eraser needs and nothing more: the raw visitor id
 * (needed to find the visitor's items; removed when the erasure is done), the due-index keys (dueShard =
 * erasureDueShardKey(account), nextPollAtMs), so the eraser lists every pending request with one Query, and a
 * lease (leaseOwner, leaseUntilMs) so that two erasers never run one request at once, and a crashed one's
 * request is taken over when its lease ends.
 */
import type { ErasureStatus } from './plan';

/** A request not done yet, as the eraser lists it. */
export interface PendingErasure {
  requestId: string;
  /** The raw visitor id: the one piece of personal data, kept only until the erasure is done. */
  visitorId: string;
  status: Exclude<ErasureStatus, 'done'>;
  requestedAtMs: number;
  /** Not taken before this (a failed attempt's backoff, or a lease's end). */
  nextPollAtMs: number;
  leaseOwner?: string;
  leaseUntilMs?: number;
  /** Erasure attempts begun so far (claims). */
  attempts: number;
}

/** The request store (lib/store/dynamo-erasure.ts DynamoErasureRequests). */
export interface ErasureRequests {
  /** Writes a new request (`requested`, due at `requestedAtMs`). Never overwrites an item. */
  create(
    accountId: string,
    request: { requestId: string; visitorId: string; requestedAtMs: number },
  ): Promise<void>;
  /** Every pending request of the account (one Query of its erasure partition of the due index). */
  pending(accountId: string): Promise<PendingErasure[]>;
  /**
   * Takes the request for `owner` until `leaseUntilMs` (status `running`, attempts + 1) if it is still pending
   * and not leased at `nowMs`; the request as claimed, or undefined when another eraser has it or it is done.
   */
  claim(
    accountId: string,
    requestId: string,
    claim: { owner: string; leaseUntilMs: number; nowMs: number },
  ): Promise<PendingErasure | undefined>;
  /** Hands a failed attempt back: lease removed, due again at `nextPollAtMs`. A no-op when the lease is gone. */
  release(accountId: string, requestId: string, owner: string, nextPollAtMs: number): Promise<void>;
}

/** Whether the eraser may take the request at `nowMs`: due, and not leased (or its lease has ended). */
export function claimable(request: PendingErasure, nowMs: number): boolean {
  return (
    request.nextPollAtMs <= nowMs && (request.leaseUntilMs === undefined || request.leaseUntilMs <= nowMs)
  );
}

/** First delay after a failed attempt; doubles per attempt up to RETRY_MAX_DELAY_MS. */
export const RETRY_BASE_DELAY_MS = 60_000;
export const RETRY_MAX_DELAY_MS = 15 * 60_000;

/** When a request whose attempt number `attempts` (1 = the first) failed is tried again, from `nowMs`. */
export function retryAtMs(attempts: number, nowMs: number): number {
  const exponent = Math.max(0, Math.min(attempts - 1, 10));
  return nowMs + Math.min(RETRY_BASE_DELAY_MS * 2 ** exponent, RETRY_MAX_DELAY_MS);
}

/** Age of the oldest pending request at `nowMs` (0 when none): the metric the ErasureOverdue alarm watches. */
export function oldestPendingAgeMs(pending: readonly PendingErasure[], nowMs: number): number {
  let oldest = 0;
  for (const request of pending) oldest = Math.max(oldest, nowMs - request.requestedAtMs);
  return oldest;
}

/**
 * The requests to take in one run, oldest first, at most `max`: those claimable at `nowMs`. A request already
 * leased by a live eraser, or waiting out a failure's backoff, is left alone.
 */
export function requestsToRun(
  pending: readonly PendingErasure[],
  nowMs: number,
  max: number,
): PendingErasure[] {
  return pending
    .filter((request) => claimable(request, nowMs))
    .sort((a, b) => a.requestedAtMs - b.requestedAtMs || (a.requestId < b.requestId ? -1 : 1))
    .slice(0, max);
}

/**
 * Whether an erasure begun now can finish before the invocation ends: it waits up to the poller's lease plus
 * the margin before its second pass, and needs `workBudgetMs` for its reads and deletes around that wait.
 */
export function runFits(remainingMs: number, waitMs: number, workBudgetMs: number): boolean {
  return remainingMs >= waitMs + workBudgetMs;
}

/**
 * What POST /forget does with a visitor: the pending request of that visitor when there is one (a re-POST
 * while one is pending does not queue a second erasure of the same data), else a new request.
 */
export function requestDecision(
  pending: readonly PendingErasure[],
  visitorId: string,
): { kind: 'existing'; request: PendingErasure } | { kind: 'new' } {
  const existing = pending
    .filter((request) => request.visitorId === visitorId)
    .sort((a, b) => a.requestedAtMs - b.requestedAtMs)[0];
  return existing === undefined ? { kind: 'new' } : { kind: 'existing', request: existing };
}

/** The answer of POST /forget. */
export interface ErasureRequestReceipt {
  requestId: string;
  status: Exclude<ErasureStatus, 'done'>;
  /** True when the visitor already had a pending request (this is its id). */
  existing: boolean;
}

/** Queues the erasure of one visitor, or finds the one already pending (see requestDecision). */
export async function requestErasure(
  accountId: string,
  visitorId: string,
  deps: { requests: ErasureRequests; nowMs: number; newRequestId: () => string },
): Promise<ErasureRequestReceipt> {
  const decision = requestDecision(await deps.requests.pending(accountId), visitorId);
  if (decision.kind === 'existing') {
    return { requestId: decision.request.requestId, status: decision.request.status, existing: true };
  }
  const requestId = deps.newRequestId();
  await deps.requests.create(accountId, { requestId, visitorId, requestedAtMs: deps.nowMs });
  return { requestId, status: 'requested', existing: false };
}
