import http from 'node:http';
import { HOUR_MS, ManualClock } from '../../lib/clock';
import { signRequest, type LivePersonCredentials } from '../../lib/liveperson/oauth';
import type { AppSession, VisitState } from '../../lib/liveperson/types';
import { NO_FAULTS, VisitSimulator } from '../../lib/simulator/server';
import { SimulatedWorld, type SessionInfo } from '../../lib/simulator/world';

const ACCOUNT = '12345678';
const CREDENTIALS: LivePersonCredentials = {
  consumerKey: 'test-key',
  consumerSecret: 'test-secret',
  token: 'test-token',
  tokenSecret: 'test-token-secret',
};

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One GET on a fresh connection (no agent), so a reset or hang only affects this request. */
function get(
  url: string,
  headers: Record<string, string> = {},
  timeoutMs = 5000,
  method = 'GET',
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('client timeout')));
    req.on('error', reject);
    req.end();
  });
}

interface SignedOptions {
  credentials?: LivePersonCredentials;
  timestampSec?: number;
  nonce?: string;
  /** Sign this URL but send `url` (tampering after signing). */
  signedUrl?: string;
  timeoutMs?: number;
}

function signedGet(url: string, options: SignedOptions = {}): Promise<Reply> {
  const authorization = signRequest('GET', options.signedUrl ?? url, options.credentials ?? CREDENTIALS, {
    ...(options.timestampSec !== undefined ? { timestampSec: options.timestampSec } : {}),
    ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
  });
  return get(url, { Authorization: authorization }, options.timeoutMs);
}

function json(reply: Reply): Record<string, unknown> {
  expect(reply.headers['content-type']).toMatch(/^application\/json/);
  return JSON.parse(reply.body) as Record<string, unknown>;
}

function expectError(reply: Reply, status: number, internalCode: number): void {
  expect(reply.status).toBe(status);
  const body = json(reply);
  expect(body.internalCode).toBe(internalCode);
  expect(typeof body.time).toBe('number');
  expect(typeof body.message).toBe('string');
}

describe('VisitSimulator over HTTP', () => {
  const clock = new ManualClock(Date.now());
  const world = new SimulatedWorld({ seed: 3, accountId: ACCOUNT, clock, earlyEndProbability: 0 });
  const simulator = new VisitSimulator({ world, credentials: CREDENTIALS, seed: 9 });
  let a: SessionInfo;
  let b: SessionInfo;

  const visitUrl = (
    s: Pick<SessionInfo, 'visitorId' | 'sid'>,
    query = `v=1&sid=${encodeURIComponent(s.sid)}&filter=agent`,
    account = ACCOUNT,
  ) =>
    `${simulator.baseUrl}/api/account/${account}/monitoring/visitors/${s.visitorId}/visits/current/state?${query}`;

  beforeAll(async () => {
    a = world.startSession({ eventRatePerHour: 30 });
    b = world.startSession();
    await simulator.start();
  });
  afterAll(() => simulator.stop());
  beforeEach(() => {
    simulator.setFaults(NO_FAULTS);
    simulator.resetStats();
  });

  it('answers 200 with the state the world holds now', async () => {
    clock.advanceMs(HOUR_MS);
    const reply = await signedGet(visitUrl(a));
    expect(reply.status).toBe(200);
    const state = json(reply) as unknown as VisitState;
    expect(state).toEqual(JSON.parse(JSON.stringify(world.stateAt(a.visitorId, a.sid, clock.nowMs()))));
    expect(state.id).toBe(a.sid);
    const session = state.appSessions[0] as AppSession;
    expect(session.id).toBe(a.sid);
    expect(Array.isArray(session.events)).toBe(true);
    expect(Array.isArray(session.pages)).toBe(true);
    expect(simulator.stats().okBySid).toEqual({ [a.sid]: 1 });
    expect(simulator.stats().byStatus).toEqual({ '200': 1 });
  });

  it('answers 400/33 for a missing or wrong v and a missing sid', async () => {
    expectError(await signedGet(visitUrl(a, `sid=${a.sid}&filter=agent`)), 400, 33);
    expectError(await signedGet(visitUrl(a, `v=2&sid=${a.sid}`)), 400, 33);
    expectError(await signedGet(visitUrl(a, 'v=1&filter=agent')), 400, 33);
  });

  it('answers 401/10 to every authentication failure', async () => {
    const url = visitUrl(a);
    expectError(await signedGet(url, { credentials: { ...CREDENTIALS, consumerSecret: 'wrong' } }), 401, 10);
    expectError(await signedGet(url, { credentials: { ...CREDENTIALS, tokenSecret: 'wrong' } }), 401, 10);
    expectError(await signedGet(url, { credentials: { ...CREDENTIALS, consumerKey: 'other-key' } }), 401, 10);
    // A query parameter changed after signing.
    expectError(await signedGet(url.replace('filter=agent', 'filter=all'), { signedUrl: url }), 401, 10);
    expectError(await signedGet(visitUrl(b), { signedUrl: url.replace(a.visitorId, b.visitorId) }), 401, 10);
    // Stale (or future) timestamps, beyond the 300 s skew.
    const nowSec = Math.floor(Date.now() / 1000);
    expectError(await signedGet(url, { timestampSec: nowSec - 3600 }), 401, 10);
    expectError(await signedGet(url, { timestampSec: nowSec + 3600 }), 401, 10);
    // No Authorization header at all.
    expectError(await get(url), 401, 10);
    // A replayed nonce: the identical header sent twice.
    const authorization = signRequest('GET', url, CREDENTIALS);
    expect((await get(url, { Authorization: authorization })).status).toBe(200);
    expectError(await get(url, { Authorization: authorization }), 401, 10);
    expect(simulator.stats().authFailures).toEqual({
      unknown_consumer: 1,
      bad_signature: 4,
      stale: 2,
      missing: 1,
      replayed: 1,
    });
  });

  it('answers 404/6, 404/37, 404/39 and, after the session ends, 404/12', async () => {
    expectError(await signedGet(visitUrl(a, undefined, '99999999')), 404, 6);
    expectError(await signedGet(visitUrl({ visitorId: 'noSuchVisitor123', sid: a.sid })), 404, 37);
    expectError(await signedGet(visitUrl({ visitorId: a.visitorId, sid: b.sid })), 404, 39);

    const short = world.startSession({ durationMs: 10 * 60_000 });
    expect((await signedGet(visitUrl(short))).status).toBe(200);
    clock.advanceMs(10 * 60_000);
    expectError(await signedGet(visitUrl(short)), 404, 12);
    expect(simulator.stats().byCode).toMatchObject({
      '404/6': 1,
      '404/37': 1,
      '404/39': 1,
      '404/12': 1,
      '200': 1,
    });
  });

  it('answers unknown paths like a proxy (no internal code) and other methods with 405', async () => {
    const reply = await signedGet(
      `${simulator.baseUrl}/api/account/${ACCOUNT}/monitoring/visitors/x/visits/state`,
    );
    expect(reply.status).toBe(404);
    expect(reply.headers['content-type']).toMatch(/^text\/html/);
    expect(reply.body).not.toMatch(/internalCode/);
    const post = await get(visitUrl(a), {}, 5000, 'POST');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
  });

  it('serves the Domain API, whose baseURI leads back to this server', async () => {
    const domain = (account: string, service: string, query = '?version=1.0') =>
      get(`${simulator.baseUrl}/api/account/${account}/service/${service}/baseURI.json${query}`);
    const ok = await domain(ACCOUNT, 'smt');
    expect(ok.status).toBe(200);
    expect(json(ok)).toEqual({ service: 'smt', account: ACCOUNT, baseURI: simulator.host });
    expect(simulator.baseUrl).toBe(`http://${simulator.host}`);
    expect(simulator.host).toMatch(/^127\.0\.0\.1:\d+$/);

    const unknownAccount = await domain('99999999', 'smt');
    expect(unknownAccount.status).toBe(404);
    expect(typeof json(unknownAccount).internalCode).toBe('number');
    const otherService = await domain(ACCOUNT, 'SMT');
    expect(otherService.status).toBe(404);
    expect(json(otherService).internalCode).toBeUndefined();
    expect((await domain(ACCOUNT, 'smt', '')).status).toBe(400);

    const base = (json(ok) as { baseURI: string }).baseURI;
    const viaDomain = `http://${base}/api/account/${ACCOUNT}/monitoring/visitors/${a.visitorId}/visits/current/state?v=1&sid=${a.sid}`;
    expect((await signedGet(viaDomain)).status).toBe(200);
  });

  describe('faults', () => {
    it('server errors: 500 (sometimes 502/503) with a JSON or HTML body', async () => {
      simulator.setFaults({ serverErrorRate: 1 });
      const replies = await Promise.all(Array.from({ length: 20 }, () => signedGet(visitUrl(a))));
      for (const r of replies) expect([500, 502, 503]).toContain(r.status);
      expect(replies.some((r) => r.status === 500)).toBe(true);
      expect(new Set(replies.map((r) => r.headers['content-type']?.split(';')[0])).size).toBe(2);
      expect(simulator.stats().byFault.server_error).toBe(20);
    });

    it('throttling: 429 with Retry-After', async () => {
      simulator.setFaults({ throttleRate: 1, retryAfterSec: 7 });
      const reply = await signedGet(visitUrl(a));
      expect(reply.status).toBe(429);
      expect(reply.headers['retry-after']).toBe('7');
      expect(simulator.stats().byFault.throttle).toBe(1);
    });

    it('resets: the socket closes without an answer', async () => {
      simulator.setFaults({ resetRate: 1 });
      await expect(signedGet(visitUrl(a))).rejects.toMatchObject({
        message: expect.stringMatching(/socket hang up|ECONNRESET/) as unknown as string,
      });
      expect(simulator.stats().byFault.reset).toBe(1);
      expect(simulator.stats().byStatus).toEqual({});
    });

    it('malformed: a 200 whose body is truncated or of the wrong shape', async () => {
      simulator.setFaults({ malformedRate: 1 });
      const replies = await Promise.all(Array.from({ length: 20 }, () => signedGet(visitUrl(a))));
      for (const r of replies) {
        expect(r.status).toBe(200);
        let wellFormed = false;
        try {
          const body = JSON.parse(r.body) as { appSessions?: unknown } | null;
          wellFormed = body !== null && !Array.isArray(body) && Array.isArray(body.appSessions);
        } catch {
          wellFormed = false;
        }
        expect(wellFormed).toBe(false);
      }
      expect(simulator.stats().byFault.malformed).toBe(20);
      expect(simulator.stats().okBySid).toEqual({});
    });

    it('hangs: no answer until the client gives up', async () => {
      simulator.setFaults({ hangRate: 1 });
      const started = Date.now();
      await expect(signedGet(visitUrl(a), { timeoutMs: 300 })).rejects.toThrow('client timeout');
      expect(Date.now() - started).toBeGreaterThanOrEqual(280);
      expect(simulator.stats().byFault.hang).toBe(1);
    });

    it('latency: fixed or within a range', async () => {
      simulator.setFaults({ latencyMs: 200 });
      let started = Date.now();
      expect((await signedGet(visitUrl(a))).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(195);
      simulator.setFaults({ latencyMs: { min: 50, max: 100 } });
      started = Date.now();
      const replies = await Promise.all(Array.from({ length: 10 }, () => signedGet(visitUrl(a))));
      expect(replies.every((r) => r.status === 200)).toBe(true);
      expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    });

    it('mixes faults at the configured rates, reproducibly from the seed', async () => {
      const run = async (): Promise<string[]> => {
        const w = new SimulatedWorld({ seed: 1, accountId: ACCOUNT, clock, earlyEndProbability: 0 });
        const s = w.startSession();
        const sim = new VisitSimulator({
          world: w,
          credentials: CREDENTIALS,
          seed: 77,
          faults: { serverErrorRate: 0.5 },
        });
        await sim.start();
        try {
          const statuses: string[] = [];
          for (let i = 0; i < 30; i++) {
            const url = `${sim.baseUrl}/api/account/${ACCOUNT}/monitoring/visitors/${s.visitorId}/visits/current/state?v=1&sid=${s.sid}`;
            statuses.push(String((await signedGet(url)).status));
          }
          return statuses;
        } finally {
          await sim.stop();
        }
      };
      const first = await run();
      expect(first.filter((s) => s === '200').length).toBeGreaterThan(5);
      expect(first.filter((s) => s !== '200').length).toBeGreaterThan(5);
      expect(await run()).toEqual(first);
    });

    it('rejects impossible fault settings', () => {
      expect(() => simulator.setFaults({ resetRate: 0.7, hangRate: 0.7 })).toThrow(RangeError);
      expect(() => simulator.setFaults({ throttleRate: -1 })).toThrow(RangeError);
      expect(() => simulator.setFaults({ latencyMs: { min: 10, max: 5 } })).toThrow(RangeError);
    });
  });

  it('keeps connections alive, and stop() closes idle and hanging ones at once', async () => {
    const w = new SimulatedWorld({ seed: 2, accountId: ACCOUNT, clock });
    const s = w.startSession();
    const sim = new VisitSimulator({ world: w, credentials: CREDENTIALS });
    await sim.start();
    const url = `${sim.baseUrl}/api/account/${ACCOUNT}/monitoring/visitors/${s.visitorId}/visits/current/state?v=1&sid=${s.sid}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    const sockets = new Set<unknown>();
    const once = () =>
      new Promise<number>((resolve, reject) => {
        const req = http.get(
          url,
          { agent, headers: { Authorization: signRequest('GET', url, CREDENTIALS) } },
          (res) => {
            sockets.add(res.socket);
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
      });
    for (let i = 0; i < 5; i++) expect(await once()).toBe(200);
    expect(sockets.size).toBe(1);

    sim.setFaults({ hangRate: 1 });
    const hanging = once().catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await sim.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    // Errors from node's http come from another realm than jest's: compare the message, not the class.
    expect(String(await hanging)).toMatch(/socket hang up|ECONNRESET/);
    agent.destroy();
  });

  it('serves many concurrent requests', async () => {
    const started = Date.now();
    const replies = await Promise.all(Array.from({ length: 300 }, () => signedGet(visitUrl(b))));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(simulator.stats().okBySid[b.sid]).toBe(300);
  });
});
