import type { Clock } from '../clock';
import { requestErasure, type ErasureRequestReceipt, type ErasureRequests } from '../erasure/requests';
import type { Log } from '../log';
import type { MetricsSink } from '../metrics';
import type { BearerAuth } from './auth';
import { parseForgetBody } from './body';
import { reply, type HttpRequest, type HttpResponse } from './http';
import { handleRoute, queueUnavailable } from './route';

/** The 202 answer of POST /forget. */
export interface ForgetResponseBody extends ErasureRequestReceipt {
  /** Where to see when it is done (there is no HTTP route for it: the audit item is read by the CLI). */
  statusCommand: string;
}

export interface ForgetEndpointDeps {
  accountId: string;
  requests: ErasureRequests;
  /** Checks the /forget token: its own secret, never the enqueue token's. */
  auth: BearerAuth;
  clock: Clock;
  log: Log;
  /** enqueue_unauthorized and enqueue_server_errors per request (the enqueue API's alarms cover both routes). */
  metrics: MetricsSink;
  /** Largest body: a visitor id takes under 200 bytes. */
  maxBodyBytes: number;
  newRequestId: () => string;
}

/** The largest POST /forget body accepted (`{"visitorId": ...}` with a 128-character id is under 200 bytes). */
export const FORGET_MAX_BODY_BYTES = 1024;

/**
 * POST /forget: a site's privacy workflow asks for the erasure of one visitor. Order of checks: bearer token of
 * /forget (401), body size (413), body (400, never quoting the id), then the request is queued and 202 answered
 * at once with its id; the eraser (functions/eraser.ts) carries it out within minutes (docs/erasure.md). A
 * visitor with a request still pending gets that request's id again (`existing: true`), not a second request.
 * 503 (safe to retry) when the queue table or the token secret cannot be reached.
 */
export async function handleForgetRequest(
  request: HttpRequest,
  deps: ForgetEndpointDeps,
): Promise<HttpResponse> {
  return handleRoute(request, deps, { route: 'forget', maxBodyBytes: deps.maxBodyBytes }, (bytes) =>
    answer(bytes, deps),
  );
}

async function answer(bytes: Buffer, deps: ForgetEndpointDeps): Promise<HttpResponse> {
  const parsed = parseForgetBody(bytes);
  if (parsed.kind === 'bad_request') return reply(400, { error: parsed.error });

  let receipt: ErasureRequestReceipt;
  try {
    receipt = await requestErasure(deps.accountId, parsed.visitorId, {
      requests: deps.requests,
      nowMs: deps.clock.nowMs(),
      newRequestId: deps.newRequestId,
    });
  } catch (error) {
    // The error's name only: a store error's message could quote a key.
    deps.log.error('erasure request not stored', { errorName: (error as Error)?.name });
    return queueUnavailable();
  }
  deps.log.info('erasure requested', { requestId: receipt.requestId, existing: receipt.existing });
  const body: ForgetResponseBody = {
    ...receipt,
    statusCommand: `lpv forget --status ${receipt.requestId}`,
  };
  return reply(202, body);
}
