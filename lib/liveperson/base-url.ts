import { checkServiceUrl, isLoopbackHost } from '../config';
import { MINUTE_MS, SECOND_MS, type Clock } from '../clock';
import { BaseUriResolutionError, RequestCancelledError } from '../errors';
import { assertValidId } from '../ids';
import { FailureBackoff, type FailureBackoffPolicy } from './failure-backoff';
import { httpGet, type HttpAgents } from './http';

/** Where the Visit Information API of an account lives. */
export interface BaseUrlResolver {
  resolve(signal?: AbortSignal): Promise<URL>;
}

export class FixedBaseUrl implements BaseUrlResolver {
  private readonly url: URL;
  constructor(url: string) {
    this.url = checkServiceUrl('LP_BASE_URL', url);
  }
  async resolve(): Promise<URL> {
    return this.url;
  }
}

export interface DomainApiOptions {
  accountId: string;
  /** @default https://api.liveperson.net */
  domainApiUrl: string;
  agents: HttpAgents;
  clock: Clock;
  /** How long a resolved base URI is reused. @default 3600000 (1 h): it changes only on account migration. */
  cacheTtlMs?: number;
  requestTimeoutMs?: number;
  /** How long a failed lookup is remembered. @default DOMAIN_API_FAILURE_BACKOFF */
  failureBackoff?: FailureBackoffPolicy;
  /** Jitter source for the failure backoff. @default Math.random */
  random?: () => number;
}

/**
 * After a failed lookup, every call fails at once with the same error for 5 s, then 10, 20, … up to 5 min
 * (±20 %) while the failures go on. A Domain API that is down is not asked once per item, and a wrong account
 * id (not going to change in seconds) is not asked again every tick.
 */
export const DOMAIN_API_FAILURE_BACKOFF: FailureBackoffPolicy = {
  initialMs: 5 * SECOND_MS,
  maxMs: 5 * MINUTE_MS,
  jitterRatio: 0.2,
};

/**
 * Resolves the `smt` service's host through LivePerson's Domain API
 * (`/api/account/{accountId}/service/smt/baseURI.json?version=1.0` → `{"baseURI":"lo.v.liveperson.net"}`)
 * and caches it. The answer is a host, used with https; http only when the Domain API itself is a loopback
 * http URL and the host it answers is loopback too (the simulator).
 *
 * Failures throw BaseUriResolutionError: fault `configuration` when the Domain API answers 400 or 404 (no such
 * account or service), `unavailable` otherwise (unreachable, timeout, another status, a 200 without a valid
 * baseURI). Either is remembered with backoff (DOMAIN_API_FAILURE_BACKOFF): until its retry time every call
 * throws the same error without a request. Concurrent calls share one request, which no single caller's signal
 * cancels: a caller whose signal fires stops waiting (RequestCancelledError, not remembered as a failure).
 */
export class DomainApiBaseUrl implements BaseUrlResolver {
  private cached?: { url: URL; untilMs: number };
  private inFlight?: Promise<URL>;
  private readonly domainApi: URL;
  private readonly failures: FailureBackoff<BaseUriResolutionError>;

  constructor(private readonly options: DomainApiOptions) {
    assertValidId('accountId', options.accountId);
    this.domainApi = checkServiceUrl('LP_DOMAIN_API_URL', options.domainApiUrl);
    this.failures = new FailureBackoff(
      options.failureBackoff ?? DOMAIN_API_FAILURE_BACKOFF,
      options.clock,
      options.random ?? Math.random,
    );
  }

  async resolve(signal?: AbortSignal): Promise<URL> {
    const now = this.options.clock.nowMs();
    if (this.cached && this.cached.untilMs > now) return this.cached.url;
    this.failures.throwIfWaiting();
    if (signal?.aborted) throw new RequestCancelledError('base URI lookup cancelled');
    this.inFlight ??= this.lookupAndRemember().finally(() => {
      this.inFlight = undefined;
    });
    return untilAborted(this.inFlight, signal);
  }

  private async lookupAndRemember(): Promise<URL> {
    try {
      const url = await this.lookup();
      this.failures.succeeded();
      this.cached = {
        url,
        untilMs: this.options.clock.nowMs() + (this.options.cacheTtlMs ?? 3_600_000),
      };
      return url;
    } catch (error) {
      const failure =
        error instanceof BaseUriResolutionError
          ? error
          : new BaseUriResolutionError(
              `Domain API lookup for account ${this.options.accountId} failed (${(error as Error).name})`,
              'unavailable',
              { cause: error },
            );
      this.failures.failed(failure);
      throw failure;
    }
  }

  private async lookup(): Promise<URL> {
    const url = new URL(
      `/api/account/${encodeURIComponent(this.options.accountId)}/service/smt/baseURI.json?version=1.0`,
      this.domainApi,
    );
    const timeoutMs = this.options.requestTimeoutMs ?? 10_000;
    const timeout = AbortSignal.timeout(timeoutMs);
    let answer;
    try {
      answer = await httpGet(url, {
        headers: {},
        agents: this.options.agents,
        signal: timeout,
        maxBodyBytes: 64 * 1024,
      });
    } catch (error) {
      const reason = timeout.aborted ? `no answer within ${timeoutMs} ms` : (error as Error).message;
      throw new BaseUriResolutionError(
        `Domain API ${this.domainApi.host} unreachable: ${reason}`,
        'unavailable',
        {
          cause: error,
        },
      );
    }
    if (answer.status === 404 || answer.status === 400) {
      throw new BaseUriResolutionError(
        `Domain API knows no 'smt' service for account ${this.options.accountId} (HTTP ${answer.status}): check LP_ACCOUNT_ID`,
        'configuration',
      );
    }
    if (answer.status !== 200) {
      throw new BaseUriResolutionError(
        `Domain API answered HTTP ${answer.status} for account ${this.options.accountId}`,
        'unavailable',
      );
    }
    let host: unknown;
    try {
      host = (JSON.parse(answer.body.toString('utf8')) as { baseURI?: unknown }).baseURI;
    } catch {
      host = undefined;
    }
    const invalid = new BaseUriResolutionError(
      `Domain API answer for account ${this.options.accountId} has no valid baseURI`,
      'unavailable',
    );
    if (typeof host !== 'string' || !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) throw invalid;
    const hostname = host.replace(/:\d+$/, '');
    const scheme = this.domainApi.protocol === 'http:' && isLoopbackHost(hostname) ? 'http' : 'https';
    try {
      return new URL(`${scheme}://${host}`);
    } catch {
      throw invalid; // e.g. a port past 65535
    }
  }
}

/**
 * Waits for `work` until the caller's signal fires, then stops waiting (RequestCancelledError) while `work`
 * goes on for the callers that share it. The listener is removed when either happens.
 */
function untilAborted<T>(work: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return work;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new RequestCancelledError('base URI lookup cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
