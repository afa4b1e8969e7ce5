import { RequestCancelledError } from '../errors';
import { assertValidId } from '../ids';
import type { BaseUrlResolver } from './base-url';
import type { CredentialsProvider } from './credentials';
import { createAgents, httpGet, type HttpAgents, type HttpAnswer } from './http';
import { signRequest } from './oauth';
import type { FetchOutcome } from './outcome';
import { checkVisitState } from './validate';

/** The port the poller talks to: the current state of one visitor session, classified. */
export interface VisitStateSource {
  fetchState(visitorId: string, sid: string, options?: { signal?: AbortSignal }): Promise<FetchOutcome>;
  /** Rereads credentials (after a 401, a rotated secret must not page anyone). */
  refreshCredentials(): Promise<void>;
}

export interface VisitInformationClientOptions {
  accountId: string;
  baseUrl: BaseUrlResolver;
  credentials: CredentialsProvider;
  /** Per-request timeout. @default 10000 (10 s) */
  requestTimeoutMs?: number;
  /** Answers larger than this are cut and classified malformed. @default 4194304 (4 MiB) */
  maxBodyBytes?: number;
  /** How much of a malformed or unexpected body is kept for diagnosis. @default 2048 */
  snippetBytes?: number;
  agents?: HttpAgents;
}

/**
 * Client of LivePerson's Visit Information API:
 * `GET {base}/api/account/{accountId}/monitoring/visitors/{visitorId}/visits/current/state?v=1&sid={sid}&filter=agent`,
 * signed with OAuth 1.0a (HMAC-SHA1), over keep-alive connections.
 */
export class VisitInformationClient implements VisitStateSource {
  /** Per-request timeout; the poller's retry times allow for one (see lib/poll-timing.ts). */
  readonly requestTimeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly snippetBytes: number;
  private readonly agents: HttpAgents;

  constructor(private readonly options: VisitInformationClientOptions) {
    assertValidId('accountId', options.accountId);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.snippetBytes = options.snippetBytes ?? 2048;
    this.agents = options.agents ?? createAgents();
  }

  /** The request URL; ids are validated first and URL-encoded (defence in depth: valid ids need no encoding). */
  async urlFor(visitorId: string, sid: string, signal?: AbortSignal): Promise<URL> {
    assertValidId('visitorId', visitorId);
    assertValidId('sid', sid);
    const base = await this.options.baseUrl.resolve(signal);
    const path =
      `/api/account/${encodeURIComponent(this.options.accountId)}` +
      `/monitoring/visitors/${encodeURIComponent(visitorId)}/visits/current/state`;
    return new URL(`${path}?v=1&sid=${encodeURIComponent(sid)}&filter=agent`, base);
  }

  async refreshCredentials(): Promise<void> {
    await this.options.credentials.refresh();
  }

  async fetchState(
    visitorId: string,
    sid: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<FetchOutcome> {
    const url = await this.urlFor(visitorId, sid, options.signal);
    const credentials = await this.options.credentials.get();
    // Signed afresh for every attempt: new nonce and timestamp.
    const authorization = signRequest('GET', url.href, credentials);
    // One controller per request, aborted by the caller's signal or the timeout, and unhooked from the caller's
    // signal when the request ends. Not AbortSignal.any(): on Node 20-22 every call leaves a dependent signal on
    // a long-lived parent (the tick's stop signal) until that parent aborts (nodejs/node#54614).
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.requestTimeoutMs);
    const cancel = (): void => controller.abort();
    options.signal?.addEventListener('abort', cancel, { once: true });
    if (options.signal?.aborted) cancel();
    let answer: HttpAnswer;
    try {
      answer = await httpGet(url, {
        headers: { authorization },
        agents: this.agents,
        signal: controller.signal,
        maxBodyBytes: this.maxBodyBytes,
      });
    } catch (error) {
      if (options.signal?.aborted) throw new RequestCancelledError('request cancelled', { cause: error });
      if (timedOut)
        return { kind: 'retryable', reason: 'timeout', detail: `no answer in ${this.requestTimeoutMs} ms` };
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ECONNRESET' || code === 'EPIPE' || (error as Error).message === 'socket hang up') {
        return { kind: 'retryable', reason: 'connection_reset', detail: code ?? 'socket hang up' };
      }
      return { kind: 'retryable', reason: 'network', detail: code ?? (error as Error).name };
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', cancel);
    }
    return this.classify(answer);
  }

  private snippet(answer: HttpAnswer): string {
    return answer.body.subarray(0, this.snippetBytes).toString('utf8');
  }

  /** Maps an HTTP answer to its case of the spec's response-code table. */
  classify(answer: HttpAnswer): FetchOutcome {
    const { status } = answer;
    if (status === 200) {
      if (answer.truncated) {
        return {
          kind: 'malformed',
          httpStatus: 200,
          problem: `body larger than ${this.maxBodyBytes} bytes`,
          bodySnippet: this.snippet(answer),
          bodyBytes: answer.totalBytes,
        };
      }
      let json: unknown;
      try {
        json = JSON.parse(answer.body.toString('utf8'));
      } catch {
        return {
          kind: 'malformed',
          httpStatus: 200,
          problem: 'body is not JSON',
          bodySnippet: this.snippet(answer),
          bodyBytes: answer.totalBytes,
        };
      }
      const checked = checkVisitState(json);
      switch (checked.kind) {
        case 'malformed':
          return {
            kind: 'malformed',
            httpStatus: 200,
            problem: checked.problem,
            bodySnippet: this.snippet(answer),
            bodyBytes: answer.totalBytes,
          };
        case 'empty':
          return { kind: 'empty', httpStatus: 200, bodyBytes: answer.totalBytes };
        case 'state':
          // The flat shape arrives normalized: every reader downstream sees `appSessions[]` only.
          return { kind: 'ok', httpStatus: 200, state: checked.state, bodyBytes: answer.totalBytes };
      }
    }
    const retryAfterMs = parseRetryAfterMs(answer.headers['retry-after']);
    if (status === 429)
      return {
        kind: 'retryable',
        reason: 'throttled',
        httpStatus: 429,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    if (status === 500)
      return {
        kind: 'server_error_500',
        httpStatus: 500,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    if (status > 500 && status < 600) {
      return {
        kind: 'retryable',
        reason: 'server_error',
        httpStatus: status,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      };
    }
    const error = parseErrorBody(answer.body);
    const message = error?.message;
    const withMessage = message !== undefined ? { message } : {};
    switch (`${status}/${error?.internalCode ?? ''}`) {
      case '400/33':
        return { kind: 'bad_request_33', httpStatus: 400, ...withMessage };
      case '401/10':
        return { kind: 'unauthorized_10', httpStatus: 401, ...withMessage };
      case '404/6':
        return { kind: 'invalid_account_6', httpStatus: 404, ...withMessage };
      case '404/37':
        return { kind: 'invalid_visitor_37', httpStatus: 404, ...withMessage };
      case '404/39':
        return { kind: 'invalid_session_39', httpStatus: 404, ...withMessage };
      case '404/12':
        return { kind: 'expired_12', httpStatus: 404, ...withMessage };
    }
    // Any other status, or a 404 without an internal code (a proxy's or load balancer's 404): never mistaken
    // for an expired or invalid session.
    return {
      kind: 'unexpected',
      httpStatus: status,
      ...(error?.internalCode !== undefined ? { internalCode: error.internalCode } : {}),
      bodySnippet: this.snippet(answer),
    };
  }
}

/** LivePerson's error body `{"time","message","internalCode"}`, or undefined when the body is not one. */
export function parseErrorBody(body: Buffer): { internalCode: number; message?: string } | undefined {
  try {
    const json = JSON.parse(body.toString('utf8')) as unknown;
    if (json === null || typeof json !== 'object') return undefined;
    const { internalCode, message } = json as { internalCode?: unknown; message?: unknown };
    const code =
      typeof internalCode === 'string' && /^\d+$/.test(internalCode) ? Number(internalCode) : internalCode;
    if (typeof code !== 'number' || !Number.isInteger(code)) return undefined;
    return { internalCode: code, ...(typeof message === 'string' ? { message: message.slice(0, 200) } : {}) };
  } catch {
    return undefined;
  }
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from now; undefined when absent or invalid. */
export function parseRetryAfterMs(
  header: string | string[] | undefined,
  nowMs = Date.now(),
): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const dateMs = Date.parse(value);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}
