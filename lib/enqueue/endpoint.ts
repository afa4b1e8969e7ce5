import type { Clock } from '../clock';
import type { Log } from '../log';
import type { MetricsSink } from '../metrics';
import { enqueueProblem, toEnqueueRequest, type EnqueueRequest, type Queue } from '../queue/model';
import type { BearerAuth } from './auth';
import { parseEnqueueBody } from './body';
import { reply, type HttpRequest, type HttpResponse } from './http';
import { handleRoute, queueUnavailable } from './route';

export type { HttpRequest, HttpResponse } from './http';

/** One entry per submitted item, in order. Ids are never echoed: `index` is the item's position. */
export interface ItemResult {
  index: number;
  /**
   * created: newly queued; exists: already queued (harmless duplicate); refused: the pair's visitor was erased
   * (`lpv forget`), not queued and not an error (sending it again changes nothing); rejected: invalid, not
   * queued.
   */
  status: 'created' | 'exists' | 'refused' | 'rejected';
  /** Why an item was refused: `erased`. */
  reason?: 'erased';
  error?: string;
}

export interface EnqueueResponseBody {
  accepted: number;
  rejected: number;
  results: ItemResult[];
}

export interface EnqueueEndpointDeps {
  accountId: string;
  queue: Pick<Queue, 'enqueue'>;
  auth: BearerAuth;
  clock: Clock;
  log: Log;
  /** Per request: enqueue_unauthorized and enqueue_server_errors (1 or 0), flushed before the answer. */
  metrics: MetricsSink;
  limits: { maxBatchItems: number; maxBodyBytes: number };
}

/**
 * POST /enqueue. Order of checks: bearer token (401), body size (413), body shape (400), batch size (413),
 * then each item exactly as `lpv enqueue` validates a line (lib/queue/model.ts enqueueProblem).
 *
 * Status: 200 when every item was queued (created or already there) or refused (an erased visitor's pair: an
 * answer, not an error), 207 when some were rejected and the rest queued or refused, 400 when every item was
 * rejected. 503 (safe to retry: enqueueing is idempotent) when the queue or the
 * token secret cannot be reached.
 *
 * Every request counts enqueue_unauthorized (a 401) and enqueue_server_errors (a 5xx, or a failure that escapes
 * as an exception, which API Gateway answers with 500): the alarms on them are how a locked-out site backend or
 * an unreachable queue shows (a pair the backend does not retry is lost).
 */
export async function handleEnqueueRequest(
  request: HttpRequest,
  deps: EnqueueEndpointDeps,
): Promise<HttpResponse> {
  return handleRoute(request, deps, { route: 'enqueue', maxBodyBytes: deps.limits.maxBodyBytes }, (bytes) =>
    answer(bytes, deps),
  );
}

async function answer(bytes: Buffer, deps: EnqueueEndpointDeps): Promise<HttpResponse> {
  const parsed = parseEnqueueBody(bytes, deps.limits);
  if (parsed.kind === 'bad_request') return reply(400, { error: parsed.error });
  if (parsed.kind === 'too_large') return reply(413, { error: parsed.error });

  const nowMs = deps.clock.nowMs();
  const results: ItemResult[] = [];
  const requests: EnqueueRequest[] = [];
  const positions: number[] = [];
  parsed.items.forEach((item, index) => {
    const problem = enqueueProblem(item, nowMs);
    if (problem !== undefined) {
      results[index] = { index, status: 'rejected', error: problem };
      return;
    }
    requests.push(toEnqueueRequest(item as Record<string, unknown>));
    positions.push(index);
  });

  if (requests.length > 0) {
    try {
      const queued = await deps.queue.enqueue(deps.accountId, requests);
      queued.forEach((result, i) => {
        const index = positions[i] as number;
        results[index] =
          result.status === 'refused'
            ? { index, status: result.status, reason: result.reason }
            : { index, status: result.status };
      });
    } catch (error) {
      deps.log.error('enqueue failed', { error, items: requests.length });
      return queueUnavailable();
    }
  }

  const rejected = parsed.items.length - requests.length;
  const created = results.filter((r) => r.status === 'created').length;
  const refused = results.filter((r) => r.status === 'refused').length;
  deps.log.info('enqueue request', {
    items: parsed.items.length,
    created,
    existing: requests.length - created - refused,
    refused,
    rejected,
  });
  const statusCode = rejected === 0 ? 200 : requests.length > 0 ? 207 : 400;
  const body: EnqueueResponseBody = { accepted: requests.length, rejected, results };
  return reply(statusCode, body);
}
