/**
 * A local stand-in for LivePerson's Visit Information API (and the Domain API that points to it): a real
 * HTTP server on 127.0.0.1 that checks OAuth 1.0a signatures, answers from a SimulatedWorld, and injects
 * the failures a client meets in production (latency, 5xx, 429, resets, malformed bodies, hangs), all decided
 * by a seeded PRNG so a run can be reproduced.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../clock';
import { verifySignature, type LivePersonCredentials, type VerifyFailure } from '../liveperson/oauth';
import { Random } from './random';
import {
  checkScript,
  emptyAnswer,
  flatAnswer,
  noAppSessionsAnswer,
  OVERSIZED_EVENT_NUMERIC_FIELDS,
  oversizedAnswer,
  ScriptCursor,
  type ScriptedAnswerKind,
  type ScriptStep,
  type ScriptStepOptions,
} from './scripts';
import type { LookupResult, SimulatedWorld } from './world';

export interface FaultOptions {
  /** Delay before answering: a fixed number of ms or a uniform range. */
  latencyMs: number | { min: number; max: number };
  /** Share of requests answered 500 (sometimes 502/503), with a JSON or HTML body. */
  serverErrorRate: number;
  /** Share of requests answered 429 with `Retry-After: retryAfterSec`. */
  throttleRate: number;
  retryAfterSec: number;
  /** Share of requests whose socket is destroyed without an answer. */
  resetRate: number;
  /** Share of requests answered 200 with a truncated or wrongly shaped body. */
  malformedRate: number;
  /** Share of requests never answered (until the client gives up or the server stops). */
  hangRate: number;
}

export const NO_FAULTS: Readonly<FaultOptions> = Object.freeze({
  latencyMs: 0,
  serverErrorRate: 0,
  throttleRate: 0,
  retryAfterSec: 1,
  resetRate: 0,
  malformedRate: 0,
  hangRate: 0,
});

export type FaultKind = 'server_error' | 'throttle' | 'reset' | 'malformed' | 'hang';
const FAULT_KINDS: readonly FaultKind[] = ['hang', 'reset', 'server_error', 'throttle', 'malformed'];
type RateKey = 'hangRate' | 'resetRate' | 'serverErrorRate' | 'throttleRate' | 'malformedRate';
const RATE_KEY: Record<FaultKind, RateKey> = {
  hang: 'hangRate',
  reset: 'resetRate',
  server_error: 'serverErrorRate',
  throttle: 'throttleRate',
  malformed: 'malformedRate',
};

/**
 * A fault of the Domain API (the `smt` baseURI lookup), for the next `times` lookups (all of them when unset):
 * `reset` destroys the socket without an answer (unreachable), `server_error` answers `status` (default 500)
 * with a JSON error body, `account_not_found` answers what the Domain API answers for an account it does not
 * know (404, internal code 6), as a wrong LP_ACCOUNT_ID would meet.
 */
export interface DomainApiFault {
  kind: 'reset' | 'server_error' | 'account_not_found';
  times?: number;
  status?: number;
}

export interface SimulatorStats {
  /** Every request received, whatever happened to it. */
  requests: number;
  /** Answers by HTTP status (resets and hangs have none). */
  byStatus: Record<string, number>;
  /** Answers by `status/internalCode` (`404/12`), `200/malformed`, or `reset` / `hang`. */
  byCode: Record<string, number>;
  byFault: Record<FaultKind, number>;
  /** 401s by the reason the signature check gave (`bad_signature`, `stale`, `replayed`, ...). */
  authFailures: Record<string, number>;
  /** Per sid, how many well-formed 200 states were served (malformed 200s are not counted here). */
  okBySid: Record<string, number>;
  /** Per sid, the session-clock instant of the last well-formed 200 state served (what a capture can hold). */
  lastOkAtMsBySid: Record<string, number>;
  /** Answers given by a script (scriptSession / scriptEverySession), by the step's kind. */
  scripted: Partial<Record<ScriptedAnswerKind, number>>;
  /** Domain API (`smt` baseURI) requests received, faulted or not. */
  domainApiRequests: number;
  /** Domain API requests answered by a DomainApiFault. */
  domainApiFaults: number;
}

export interface VisitSimulatorOptions {
  world: SimulatedWorld;
  credentials: LivePersonCredentials;
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  faults?: Partial<FaultOptions>;
  /** Seed of the fault PRNG (default 1). */
  seed?: number;
  /** Largest accepted |wall now - oauth_timestamp|, seconds (default 300). */
  maxClockSkewSec?: number;
  /** OAuth timestamps and error-body times use it; sessions use the world's clock (default systemClock). */
  wallClock?: Clock;
  /** Bound on remembered nonces (default 1,000,000); past it the oldest are forgotten. */
  maxRememberedNonces?: number;
}

/**
 * Fixed credentials for local runs and tests (process.ts uses them when LP_* variables are unset).
 * Not secrets: they only open this simulator.
 */
export const DEFAULT_SIMULATOR_CREDENTIALS: Readonly<LivePersonCredentials> = Object.freeze({
  consumerKey: 'sim-consumer-key',
  consumerSecret: 'sim-consumer-secret',
  token: 'sim-access-token',
  tokenSecret: 'sim-access-token-secret',
});

const VISIT_PATH = /^\/api\/account\/([^/]+)\/monitoring\/visitors\/([^/]+)\/visits\/current\/state$/;
const DOMAIN_PATH = /^\/api\/account\/([^/]+)\/service\/([^/]+)\/baseURI\.json$/;

/** What a reverse proxy answers for a path it does not know: HTML, no internal code. */
const PROXY_404_HTML =
  '<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n<center><h1>404 Not Found</h1></center>\r\n' +
  '<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n';

function proxyErrorHtml(status: number, reason: string): string {
  return `<html><head><title>${status} ${reason}</title></head><body><center><h1>${status} ${reason}</h1></center><hr><center>nginx</center></body></html>`;
}

function safeDecode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/**
 * Nonces seen recently. A nonce only needs remembering while its timestamp is still acceptable
 * (timestamp + max skew): after that the request is rejected as stale anyway. Map order is insertion
 * order, so expired entries are swept from the front; the size bound protects memory under floods.
 */
class NonceCache {
  private readonly expiries = new Map<string, number>();

  constructor(private readonly maxEntries: number) {}

  seen(nonce: string, nowMs: number): boolean {
    const expiry = this.expiries.get(nonce);
    return expiry !== undefined && expiry >= nowMs;
  }

  remember(nonce: string, expiresAtMs: number, nowMs: number): void {
    for (const [key, expiry] of this.expiries) {
      if (expiry >= nowMs) break;
      this.expiries.delete(key);
    }
    this.expiries.delete(nonce);
    this.expiries.set(nonce, expiresAtMs);
    while (this.expiries.size > this.maxEntries) {
      const oldest = this.expiries.keys().next();
      if (oldest.done === true) break;
      this.expiries.delete(oldest.value);
    }
  }

  clear(): void {
    this.expiries.clear();
  }
}

type Headers = Record<string, string | number>;

export class VisitSimulator {
  readonly world: SimulatedWorld;
  private readonly credentials: LivePersonCredentials;
  private readonly bindHost: string;
  private readonly requestedPort: number;
  private readonly maxClockSkewSec: number;
  private readonly wallClock: Clock;
  private readonly rng: Random;
  private readonly nonces: NonceCache;
  private faults: FaultOptions;
  private readonly server: http.Server;
  private readonly timers = new Set<NodeJS.Timeout>();
  private port: number | undefined;
  private counters = VisitSimulator.emptyStats();
  /** Scripts of single sessions, by sid (see scripts.ts). */
  private readonly sessionScripts = new Map<string, ScriptCursor>();
  /** The script of every session without its own, and each session's place in it. */
  private everySessionScript: ReturnType<typeof checkScript> | undefined;
  private readonly everySessionCursors = new Map<string, ScriptCursor>();
  private domainApiFault: { fault: DomainApiFault; left: number } | undefined;

  constructor(options: VisitSimulatorOptions) {
    this.world = options.world;
    this.credentials = { ...options.credentials };
    this.bindHost = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 0;
    this.maxClockSkewSec = options.maxClockSkewSec ?? 300;
    this.wallClock = options.wallClock ?? systemClock;
    this.rng = new Random(options.seed ?? 1);
    this.nonces = new NonceCache(options.maxRememberedNonces ?? 1_000_000);
    this.faults = VisitSimulator.validFaults({ ...NO_FAULTS, ...options.faults });
    this.server = http.createServer({ noDelay: true }, (req, res) => this.handle(req, res));
    // Longer than typical client keep-alive idle times (undici 4 s, agents up to 60 s), so the server is never
    // the side that closes an idle connection a client is about to reuse. headersTimeout must exceed it.
    this.server.keepAliveTimeout = 65_000;
    this.server.headersTimeout = 66_000;
  }

  async start(): Promise<void> {
    if (this.port !== undefined) throw new Error('simulator already started');
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.requestedPort, this.bindHost, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Stops listening and closes every socket, idle keep-alive and hanging ones included. */
  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    this.port = undefined;
  }

  /** `127.0.0.1:PORT`: what the Domain API answers as baseURI (host only, no scheme, like LivePerson's). */
  get host(): string {
    if (this.port === undefined) throw new Error('simulator not started');
    const h = this.bindHost.includes(':') ? `[${this.bindHost}]` : this.bindHost;
    return `${h}:${this.port}`;
  }

  get baseUrl(): string {
    return `http://${this.host}`;
  }

  setFaults(partial: Partial<FaultOptions>): void {
    this.faults = VisitSimulator.validFaults({ ...this.faults, ...partial });
  }

  getFaults(): FaultOptions {
    const latency = this.faults.latencyMs;
    return { ...this.faults, latencyMs: typeof latency === 'number' ? latency : { ...latency } };
  }

  stats(): SimulatorStats {
    const c = this.counters;
    return {
      requests: c.requests,
      byStatus: { ...c.byStatus },
      byCode: { ...c.byCode },
      byFault: { ...c.byFault },
      authFailures: { ...c.authFailures },
      okBySid: { ...c.okBySid },
      lastOkAtMsBySid: { ...c.lastOkAtMsBySid },
      scripted: { ...c.scripted },
      domainApiRequests: c.domainApiRequests,
      domainApiFaults: c.domainApiFaults,
    };
  }

  resetStats(): void {
    this.counters = VisitSimulator.emptyStats();
  }

  /**
   * Scripts what this session's requests are answered, one step after another (see scripts.ts); replaces any
   * script the session had, and starts from its first step.
   */
  scriptSession(sid: string, steps: readonly ScriptStep[]): void {
    this.sessionScripts.set(sid, new ScriptCursor(checkScript(steps)));
  }

  /**
   * Scripts every session that has no script of its own (400/33 for every request, say). Each session goes
   * through the steps on its own, from its first request after this call.
   */
  scriptEverySession(steps: readonly ScriptStep[]): void {
    this.everySessionScript = checkScript(steps);
    this.everySessionCursors.clear();
  }

  /** Back to the world's own answers for every session. */
  clearScripts(): void {
    this.sessionScripts.clear();
    this.everySessionScript = undefined;
    this.everySessionCursors.clear();
  }

  /** Makes the Domain API fail (see DomainApiFault); undefined ends the fault. */
  setDomainApiFault(fault: DomainApiFault | undefined): void {
    if (fault === undefined) {
      this.domainApiFault = undefined;
      return;
    }
    const times = fault.times ?? Infinity;
    if (!(times >= 1)) throw new RangeError('DomainApiFault.times must be >= 1');
    if (
      fault.status !== undefined &&
      !(Number.isInteger(fault.status) && fault.status >= 500 && fault.status <= 599)
    ) {
      throw new RangeError('DomainApiFault.status must be a 5xx status');
    }
    this.domainApiFault = { fault: { ...fault }, left: times };
  }

  /** Forgets seen nonces, as a restarted server would (lets a test replay a header on purpose). */
  forgetNonces(): void {
    this.nonces.clear();
  }

  private static emptyStats(): SimulatorStats {
    return {
      requests: 0,
      byStatus: {},
      byCode: {},
      byFault: { server_error: 0, throttle: 0, reset: 0, malformed: 0, hang: 0 },
      authFailures: {},
      okBySid: {},
      lastOkAtMsBySid: {},
      scripted: {},
      domainApiRequests: 0,
      domainApiFaults: 0,
    };
  }

  private static validFaults(f: FaultOptions): FaultOptions {
    let sum = 0;
    for (const kind of FAULT_KINDS) {
      const rate = f[RATE_KEY[kind]];
      if (!(rate >= 0 && rate <= 1)) {
        throw new RangeError(`${RATE_KEY[kind]} must be in [0, 1]`);
      }
      sum += rate;
    }
    // The fault kinds exclude each other (one draw decides), so their rates cannot add up past 1.
    if (sum > 1 + 1e-9) throw new RangeError(`fault rates add up to ${sum} > 1`);
    if (!(f.retryAfterSec >= 0)) throw new RangeError('retryAfterSec must be >= 0');
    const l = f.latencyMs;
    const ok = typeof l === 'number' ? l >= 0 : l.min >= 0 && l.max >= l.min;
    if (!ok) throw new RangeError('latencyMs must be >= 0 (or 0 <= min <= max)');
    return { ...f, latencyMs: typeof l === 'number' ? l : { min: l.min, max: l.max } };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.counters.requests++;
    // A GET has no body, but drain whatever comes so the connection stays usable for keep-alive.
    req.resume();
    const rawUrl = req.url ?? '/';
    const queryAt = rawUrl.indexOf('?');
    const pathname = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
    const query = new URLSearchParams(queryAt === -1 ? '' : rawUrl.slice(queryAt + 1));

    const visit = VISIT_PATH.exec(pathname);
    const domain = visit === null ? DOMAIN_PATH.exec(pathname) : null;
    const match = visit ?? domain;
    const accountId = match === null ? undefined : safeDecode(match[1] as string);
    const second = match === null ? undefined : safeDecode(match[2] as string);
    if (accountId === undefined || second === undefined) {
      this.send(res, 404, '404', PROXY_404_HTML, 'text/html');
      return;
    }
    if (req.method !== 'GET') {
      this.send(res, 405, '405', 'Method Not Allowed\n', 'text/plain', { Allow: 'GET' });
      return;
    }
    if (domain !== null) this.handleDomain(req, res, accountId, second, query);
    else this.handleVisit(req, res, rawUrl, accountId, second, query);
  }

  /**
   * Domain API: where the `smt` service (Visit Information) lives for an account. No OAuth, none of the random
   * faults: only the DomainApiFault a test sets.
   */
  private handleDomain(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    accountId: string,
    service: string,
    query: URLSearchParams,
  ): void {
    this.counters.domainApiRequests++;
    if (this.domainApiFault !== undefined) {
      const { fault } = this.domainApiFault;
      if (--this.domainApiFault.left <= 0) this.domainApiFault = undefined;
      this.counters.domainApiFaults++;
      switch (fault.kind) {
        case 'reset':
          this.count('domain/reset');
          req.socket.destroy();
          return;
        case 'server_error': {
          const status = fault.status ?? 500;
          this.sendJson(res, status, `domain/${status}`, {
            time: this.wallClock.nowMs(),
            message: status === 503 ? 'Service Unavailable' : 'Internal Server Error',
          });
          return;
        }
        case 'account_not_found':
          this.sendError(res, 404, 6, 'Invalid account id');
          return;
      }
    }
    if (query.get('version') !== '1.0') {
      this.sendError(res, 400, 33, 'version: must be 1.0');
      return;
    }
    if (accountId !== this.world.accountId) {
      this.sendError(res, 404, 6, 'Invalid account id');
      return;
    }
    // Service names are case-sensitive (Domain API page): `SMT` is not `smt`.
    if (service !== 'smt') {
      this.sendJson(res, 404, '404', {
        time: this.wallClock.nowMs(),
        message: `Service not found: ${service}`,
      });
      return;
    }
    this.sendJson(res, 200, '200', { service: 'smt', account: accountId, baseURI: this.host });
  }

  private handleVisit(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rawUrl: string,
    accountId: string,
    visitorId: string,
    query: URLSearchParams,
  ): void {
    const auth = this.authenticate(req, rawUrl);
    if (auth !== undefined) {
      this.counters.authFailures[auth] = (this.counters.authFailures[auth] ?? 0) + 1;
      this.sendError(res, 401, 10, 'Unauthorized');
      return;
    }
    if (query.get('v') !== '1') {
      this.sendError(res, 400, 33, 'v: missing or unsupported API version');
      return;
    }
    const sid = query.get('sid');
    if (sid === null || sid === '') {
      this.sendError(res, 400, 33, 'sid: missing');
      return;
    }

    const fault = this.drawFault();
    if (fault === 'hang') {
      // Never answered; stop() (closeAllConnections) or the client's timeout ends it.
      this.countFault('hang');
      this.count('hang');
      return;
    }
    const delayMs = this.drawLatency();
    const answer = (): void => {
      if (res.destroyed || res.writableEnded) return;
      this.answerVisit(req, res, fault, accountId, visitorId, sid);
    };
    if (delayMs <= 0) {
      answer();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      answer();
    }, delayMs);
    this.timers.add(timer);
    // A client that gives up early frees its timer at once (a benchmark's timeouts must not pile up timers).
    res.once('close', () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    });
  }

  private answerVisit(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    fault: FaultKind | undefined,
    accountId: string,
    visitorId: string,
    sid: string,
  ): void {
    switch (fault) {
      case 'reset':
        this.countFault('reset');
        this.count('reset');
        req.socket.destroy();
        return;
      case 'server_error':
        this.countFault('server_error');
        this.sendServerError(res);
        return;
      case 'throttle':
        this.countFault('throttle');
        this.sendJson(
          res,
          429,
          '429',
          { time: this.wallClock.nowMs(), message: 'Too Many Requests' },
          { 'Retry-After': String(this.faults.retryAfterSec) },
        );
        return;
      default:
        break;
    }
    // Session state is read when the answer is sent (after the latency), as a real server would.
    const stateAtMs = this.world.clock.nowMs();
    const result = this.world.lookup(accountId, visitorId, sid, stateAtMs);
    if (fault === 'malformed') {
      this.countFault('malformed');
      const body = this.malformedBody(result.kind === 'ok' ? JSON.stringify(result.state) : undefined, sid);
      this.send(res, 200, '200/malformed', body, 'application/json');
      return;
    }
    const step = this.scriptStep(sid);
    if (step !== undefined && step.kind !== 'live') {
      this.answerScripted(req, res, step, result, sid, stateAtMs);
      return;
    }
    this.answerLookup(res, result, sid, stateAtMs);
  }

  /** The script step that answers this request about `sid`, if a script covers it. */
  private scriptStep(sid: string): ScriptStepOptions | undefined {
    let cursor = this.sessionScripts.get(sid);
    if (cursor === undefined && this.everySessionScript !== undefined) {
      cursor = this.everySessionCursors.get(sid);
      if (cursor === undefined) {
        cursor = new ScriptCursor(this.everySessionScript);
        this.everySessionCursors.set(sid, cursor);
      }
    }
    if (cursor === undefined) return undefined;
    const step = cursor.take();
    this.counters.scripted[step.kind] = (this.counters.scripted[step.kind] ?? 0) + 1;
    return step;
  }

  /** A scripted answer (every kind but `live`, which is the world's own answer). */
  private answerScripted(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    step: ScriptStepOptions,
    result: LookupResult,
    sid: string,
    stateAtMs: number,
  ): void {
    switch (step.kind) {
      case 'live':
        this.answerLookup(res, result, sid, stateAtMs);
        return;
      case 'empty':
        this.send(res, 200, '200/empty', JSON.stringify(emptyAnswer()), 'application/json');
        return;
      case 'empty_no_app_sessions':
        this.send(res, 200, '200/empty', JSON.stringify(noAppSessionsAnswer(sid)), 'application/json');
        return;
      case 'flat':
      case 'oversized': {
        // Shapes of the world's 200; a session the world no longer answers gets the world's error.
        if (result.kind !== 'ok') {
          this.answerLookup(res, result, sid, stateAtMs);
          return;
        }
        const body =
          step.kind === 'flat'
            ? flatAnswer(result.state)
            : oversizedAnswer(result.state, step.numericFields ?? OVERSIZED_EVENT_NUMERIC_FIELDS);
        this.counters.okBySid[sid] = (this.counters.okBySid[sid] ?? 0) + 1;
        this.counters.lastOkAtMsBySid[sid] = stateAtMs;
        this.send(res, 200, `200/${step.kind}`, JSON.stringify(body), 'application/json');
        return;
      }
      case 'bad_request_33':
        this.sendError(res, 400, 33, 'Bad request');
        return;
      case 'invalid_visitor_37':
        this.sendError(res, 404, 37, 'Invalid visitor id');
        return;
      case 'invalid_session_39':
        this.sendError(res, 404, 39, 'Invalid session id');
        return;
      case 'expired_12':
        this.sendError(res, 404, 12, 'Requested session not found');
        return;
      case 'server_error':
        this.sendJson(res, 500, '500', { time: this.wallClock.nowMs(), message: 'Internal Server Error' });
        return;
      case 'throttle':
        this.sendJson(
          res,
          429,
          '429',
          { time: this.wallClock.nowMs(), message: 'Too Many Requests' },
          { 'Retry-After': String(step.retryAfterSec ?? 1) },
        );
        return;
      case 'reset':
        this.count('reset');
        req.socket.destroy();
        return;
    }
  }

  /** The world's own answer about the session. */
  private answerLookup(res: http.ServerResponse, result: LookupResult, sid: string, stateAtMs: number): void {
    switch (result.kind) {
      case 'ok':
        this.counters.okBySid[sid] = (this.counters.okBySid[sid] ?? 0) + 1;
        this.counters.lastOkAtMsBySid[sid] = stateAtMs;
        this.send(res, 200, '200', JSON.stringify(result.state), 'application/json');
        return;
      case 'unknown_account':
        this.sendError(res, 404, 6, 'Invalid account id');
        return;
      case 'unknown_visitor':
        this.sendError(res, 404, 37, 'Invalid visitor id');
        return;
      case 'sid_not_visitors':
        this.sendError(res, 404, 39, 'Invalid session id');
        return;
      case 'expired':
        this.sendError(res, 404, 12, 'Requested session not found');
        return;
    }
  }

  /**
   * Returns undefined when the request is authentic, else why not. The URL is rebuilt from the Host header
   * and the raw request target: exactly what the client signed (oauth-1.0a does no normalisation).
   */
  private authenticate(req: http.IncomingMessage, rawUrl: string): VerifyFailure | undefined {
    const host = req.headers.host;
    if (host === undefined) return 'missing';
    let verified: ReturnType<typeof verifySignature>;
    try {
      verified = verifySignature(
        req.method ?? 'GET',
        `http://${host}${rawUrl}`,
        req.headers.authorization,
        this.credentials,
      );
    } catch {
      // oauth-1.0a decodes the query with decodeURIComponent and throws on a malformed escape (`%zz`):
      // such a URL cannot have been signed correctly.
      return 'bad_signature';
    }
    if (!verified.ok) return verified.failure;
    const timestampSec = Number(verified.params.oauth_timestamp);
    const nowMs = this.wallClock.nowMs();
    if (!Number.isFinite(timestampSec) || Math.abs(nowMs / 1000 - timestampSec) > this.maxClockSkewSec) {
      return 'stale';
    }
    const nonce = verified.params.oauth_nonce;
    if (nonce === undefined || nonce === '') return 'missing';
    // Checked only after the signature: a forged request must not be able to burn a legitimate nonce.
    if (this.nonces.seen(nonce, nowMs)) return 'replayed';
    this.nonces.remember(nonce, (timestampSec + this.maxClockSkewSec) * 1000, nowMs);
    return undefined;
  }

  private drawFault(): FaultKind | undefined {
    const f = this.faults;
    if (f.hangRate + f.resetRate + f.serverErrorRate + f.throttleRate + f.malformedRate <= 0)
      return undefined;
    let r = this.rng.next();
    for (const kind of FAULT_KINDS) {
      r -= f[RATE_KEY[kind]];
      if (r < 0) return kind;
    }
    return undefined;
  }

  private drawLatency(): number {
    const l = this.faults.latencyMs;
    if (typeof l === 'number') return l;
    return l.max > l.min ? this.rng.float(l.min, l.max) : l.min;
  }

  private sendServerError(res: http.ServerResponse): void {
    const r = this.rng.next();
    if (r < 0.35) {
      this.sendJson(res, 500, '500', { time: this.wallClock.nowMs(), message: 'Internal Server Error' });
    } else if (r < 0.7) {
      this.send(res, 500, '500', proxyErrorHtml(500, 'Internal Server Error'), 'text/html');
    } else if (r < 0.85) {
      this.send(res, 502, '502', proxyErrorHtml(502, 'Bad Gateway'), 'text/html');
    } else {
      this.sendJson(res, 503, '503', { time: this.wallClock.nowMs(), message: 'Service Unavailable' });
    }
  }

  /** A 200 body a client must not accept as a state: cut short, or valid JSON of the wrong shape. */
  private malformedBody(stateJson: string | undefined, sid: string): string {
    const full = stateJson ?? JSON.stringify({ id: sid, appSessions: [{ id: sid, pages: [], events: [] }] });
    switch (this.rng.int(0, 4)) {
      case 0:
        return full.slice(0, this.rng.int(1, full.length - 1));
      case 1: {
        const parsed = JSON.parse(full) as { appSessions?: unknown[] };
        return JSON.stringify({ ...parsed, appSessions: parsed.appSessions?.[0] ?? {} });
      }
      case 2:
        return `[${full}]`;
      case 3:
        return 'null';
      default:
        return proxyErrorHtml(200, 'OK');
    }
  }

  private count(code: string, status?: number): void {
    const c = this.counters;
    c.byCode[code] = (c.byCode[code] ?? 0) + 1;
    if (status !== undefined) c.byStatus[String(status)] = (c.byStatus[String(status)] ?? 0) + 1;
  }

  private countFault(kind: FaultKind): void {
    this.counters.byFault[kind]++;
  }

  private sendError(res: http.ServerResponse, status: number, internalCode: number, message: string): void {
    this.sendJson(res, status, `${status}/${internalCode}`, {
      time: this.wallClock.nowMs(),
      message,
      internalCode,
    });
  }

  private sendJson(
    res: http.ServerResponse,
    status: number,
    code: string,
    body: unknown,
    headers?: Headers,
  ): void {
    this.send(res, status, code, JSON.stringify(body), 'application/json', headers);
  }

  private send(
    res: http.ServerResponse,
    status: number,
    code: string,
    body: string,
    contentType: string,
    headers: Headers = {},
  ): void {
    this.count(code, status);
    res.writeHead(status, {
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(body),
      ...headers,
    });
    res.end(body);
  }
}
