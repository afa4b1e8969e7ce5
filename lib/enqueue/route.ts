import type { Log } from '../log';
import { ENQUEUE_METRIC, type MetricsSink } from '../metrics';
import { TokenUnavailableError, type BearerAuth } from './auth';
import { bodyBytes, header, reply, type HttpRequest, type HttpResponse } from './http';

/** What both routes of the enqueue API (POST /enqueue, POST /forget) need to check a request before its body. */
export interface RouteDeps {
  /** The route's own token (each route has its secret: neither token opens the other route). */
  auth: BearerAuth;
  log: Log;
  /** enqueue_unauthorized and enqueue_server_errors per request (the enqueue API's alarms cover both routes). */
  metrics: MetricsSink;
}

export interface RouteChecks {
  /** Names the token in the log line when its secret cannot be read: `enqueue`, `forget`. */
  route: string;
  /** Largest body accepted, in bytes. */
  maxBodyBytes: number;
}

/**
 * One request of either route: bearer token (401; 503 when the token secret cannot be read), body size (413),
 * then `answerBody` with the body's bytes. Every request counts enqueue_unauthorized (a 401) and
 * enqueue_server_errors (a 5xx, or a failure that escapes as an exception, which API Gateway answers with 500),
 * flushed before the answer: the alarms on them are how a locked-out caller or an unreachable queue shows.
 */
export async function handleRoute(
  request: HttpRequest,
  deps: RouteDeps,
  checks: RouteChecks,
  answerBody: (bytes: Buffer) => Promise<HttpResponse>,
): Promise<HttpResponse> {
  let statusCode = 500;
  try {
    const response = await answer(request, deps, checks, answerBody);
    statusCode = response.statusCode;
    return response;
  } finally {
    deps.metrics.count(ENQUEUE_METRIC.unauthorized, statusCode === 401 ? 1 : 0);
    deps.metrics.count(ENQUEUE_METRIC.serverErrors, statusCode >= 500 ? 1 : 0);
    deps.metrics.flush();
  }
}

async function answer(
  request: HttpRequest,
  deps: RouteDeps,
  checks: RouteChecks,
  answerBody: (bytes: Buffer) => Promise<HttpResponse>,
): Promise<HttpResponse> {
  let authorized: boolean;
  try {
    authorized = await deps.auth.check(header(request, 'authorization'));
  } catch (error) {
    if (!(error instanceof TokenUnavailableError)) throw error;
    deps.log.error(`${checks.route} token unavailable`, { error });
    return reply(503, { error: 'temporarily unavailable; retry later' }, { 'retry-after': '5' });
  }
  if (!authorized) {
    return reply(401, { error: 'missing or invalid bearer token' }, { 'www-authenticate': 'Bearer' });
  }

  const bytes = bodyBytes(request);
  if (bytes.length > checks.maxBodyBytes) {
    return reply(413, { error: `body of ${bytes.length} bytes: at most ${checks.maxBodyBytes}` });
  }
  return answerBody(bytes);
}

/** The 503 of either route when the queue table cannot be written: sending the request again is safe. */
export function queueUnavailable(): HttpResponse {
  return reply(503, { error: 'queue unavailable; the request is safe to retry' }, { 'retry-after': '5' });
}
