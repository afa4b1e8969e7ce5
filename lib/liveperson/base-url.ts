import { checkServiceUrl, isLoopbackHost } from '../config';
import { BaseUriResolutionError } from '../errors';
import { assertValidId } from '../ids';
import type { Clock } from '../clock';
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
}

/**
 * Resolves the `smt` service's host through LivePerson's Domain API
 * (`/api/account/{accountId}/service/smt/baseURI.json?version=1.0` → `{"baseURI":"lo.v.liveperson.net"}`)
 * and caches it. The answer is a host, used with https; http only when the Domain API itself is a loopback
 * http URL and the host it answers is loopback too (the simulator).
 */
export class DomainApiBaseUrl implements BaseUrlResolver {
  private cached?: { url: URL; untilMs: number };
  private inFlight?: Promise<URL>;
  private readonly domainApi: URL;

  constructor(private readonly options: DomainApiOptions) {
    assertValidId('accountId', options.accountId);
    this.domainApi = checkServiceUrl('LP_DOMAIN_API_URL', options.domainApiUrl);
  }

  async resolve(signal?: AbortSignal): Promise<URL> {
    const now = this.options.clock.nowMs();
    if (this.cached && this.cached.untilMs > now) return this.cached.url;
    // Concurrent fetches share one lookup.
    this.inFlight ??= this.lookup(signal).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async lookup(signal?: AbortSignal): Promise<URL> {
    const url = new URL(
      `/api/account/${encodeURIComponent(this.options.accountId)}/service/smt/baseURI.json?version=1.0`,
      this.domainApi,
    );
    const timeout = AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000);
    let answer;
    try {
      answer = await httpGet(url, {
        headers: {},
        agents: this.options.agents,
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        maxBodyBytes: 64 * 1024,
      });
    } catch (error) {
      throw new BaseUriResolutionError(
        `Domain API ${this.domainApi.host} unreachable: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (answer.status === 404 || answer.status === 400) {
      throw new BaseUriResolutionError(
        `Domain API knows no 'smt' service for account ${this.options.accountId} (HTTP ${answer.status}): check LP_ACCOUNT_ID`,
      );
    }
    if (answer.status !== 200) {
      throw new BaseUriResolutionError(
        `Domain API answered HTTP ${answer.status} for account ${this.options.accountId}`,
      );
    }
    let host: unknown;
    try {
      host = (JSON.parse(answer.body.toString('utf8')) as { baseURI?: unknown }).baseURI;
    } catch {
      host = undefined;
    }
    if (typeof host !== 'string' || !/^[A-Za-z0-9.-]+(:\d{1,5})?$/.test(host)) {
      throw new BaseUriResolutionError(
        `Domain API answer for account ${this.options.accountId} has no valid baseURI`,
      );
    }
    const hostname = host.replace(/:\d+$/, '');
    const scheme = this.domainApi.protocol === 'http:' && isLoopbackHost(hostname) ? 'http' : 'https';
    const resolved = new URL(`${scheme}://${host}`);
    this.cached = {
      url: resolved,
      untilMs: this.options.clock.nowMs() + (this.options.cacheTtlMs ?? 3_600_000),
    };
    return resolved;
  }
}
