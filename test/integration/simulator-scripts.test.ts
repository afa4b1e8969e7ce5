import http from 'node:http';
import { HOUR_MS, ManualClock } from '../../lib/clock';
import { signRequest } from '../../lib/liveperson/oauth';
import type { AppSession, JsonObject, VisitEvent, VisitState } from '../../lib/liveperson/types';
import { OVERSIZED_EVENT_TYPE } from '../../lib/simulator/scripts';
import { DEFAULT_SIMULATOR_CREDENTIALS, NO_FAULTS, VisitSimulator } from '../../lib/simulator/server';
import { SimulatedWorld, type SessionInfo } from '../../lib/simulator/world';

const ACCOUNT = '12345678';
const CREDENTIALS = DEFAULT_SIMULATOR_CREDENTIALS;

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One GET on a fresh connection: a reset only affects this request. Resolves `error` on a socket error. */
function get(url: string, headers: Record<string, string> = {}): Promise<Reply | { error: string }> {
  return new Promise((resolve) => {
    const req = http.request(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.setTimeout(5000, () => req.destroy(new Error('client timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
    req.end();
  });
}

function reply(r: Reply | { error: string }): Reply {
  if ('error' in r) throw new Error(`expected an answer, got ${r.error}`);
  return r;
}

function json(r: Reply | { error: string }): Record<string, unknown> {
  return JSON.parse(reply(r).body) as Record<string, unknown>;
}

describe('VisitSimulator scripted answers and Domain API faults', () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 15, 9));
  const world = new SimulatedWorld({ seed: 4, accountId: ACCOUNT, clock, earlyEndProbability: 0 });
  const simulator = new VisitSimulator({ world, credentials: CREDENTIALS, seed: 2 });
  let a: SessionInfo;
  let b: SessionInfo;
  let c: SessionInfo;

  const ask = (s: SessionInfo): Promise<Reply | { error: string }> => {
    const url = `${simulator.baseUrl}/api/account/${ACCOUNT}/monitoring/visitors/${s.visitorId}/visits/current/state?v=1&sid=${s.sid}`;
    return get(url, { Authorization: signRequest('GET', url, CREDENTIALS) });
  };
  const domain = (): Promise<Reply | { error: string }> =>
    get(`${simulator.baseUrl}/api/account/${ACCOUNT}/service/smt/baseURI.json?version=1.0`);
  const worldState = (s: SessionInfo): VisitState =>
    JSON.parse(JSON.stringify(world.stateAt(s.visitorId, s.sid, clock.nowMs()))) as VisitState;

  beforeAll(async () => {
    a = world.startSession({ eventRatePerHour: 30 });
    b = world.startSession({ eventRatePerHour: 30 });
    c = world.startSession({ eventRatePerHour: 30 });
    clock.advanceMs(HOUR_MS);
    await simulator.start();
  });
  afterAll(() => simulator.stop());
  beforeEach(() => {
    simulator.setFaults(NO_FAULTS);
    simulator.clearScripts();
    simulator.setDomainApiFault(undefined);
    simulator.resetStats();
  });

  it('answers empty bodies to a session scripted empty, and only to it', async () => {
    simulator.scriptSession(a.sid, [{ kind: 'empty', times: 2 }, 'empty_no_app_sessions', 'live']);
    expect(reply(await ask(a)).body).toBe('{"appSessions":[]}');
    expect(reply(await ask(a)).body).toBe('{"appSessions":[]}');
    expect(json(await ask(a))).toEqual({ id: a.sid });
    expect(json(await ask(a))).toEqual(worldState(a));
    expect(json(await ask(b))).toEqual(worldState(b));
    const stats = simulator.stats();
    expect(stats.byCode).toEqual({ '200/empty': 3, '200': 2 });
    expect(stats.scripted).toEqual({ empty: 2, empty_no_app_sessions: 1, live: 1 });
    // Empty answers hold nothing a capture could keep.
    expect(stats.okBySid).toEqual({ [a.sid]: 1, [b.sid]: 1 });
  });

  it('answers the flat shape: the app session fields at the top level, nothing else', async () => {
    simulator.scriptSession(b.sid, ['flat']);
    const r = reply(await ask(b));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const flat = JSON.parse(r.body) as JsonObject;
    expect(flat).not.toHaveProperty('appSessions');
    expect(Object.keys(flat)[0]).toBe('id');
    expect(flat).toEqual(worldState(b).appSessions[0]);
    expect(simulator.stats().okBySid).toEqual({ [b.sid]: 1 });
    expect(simulator.stats().lastOkAtMsBySid).toEqual({ [b.sid]: clock.nowMs() });
  });

  it('answers 400/33 to one session, then to every session without a script of its own', async () => {
    simulator.scriptSession(a.sid, ['bad_request_33']);
    const bad = reply(await ask(a));
    expect(bad.status).toBe(400);
    expect(json(bad)).toMatchObject({ internalCode: 33 });
    expect(reply(await ask(b)).status).toBe(200);

    simulator.scriptSession(c.sid, ['live']);
    simulator.scriptEverySession(['bad_request_33']);
    for (const s of [a, b]) expect(json(await ask(s))).toMatchObject({ internalCode: 33 });
    expect(reply(await ask(c)).status).toBe(200);
    expect(simulator.stats().byCode).toEqual({ '400/33': 3, '200': 2 });

    simulator.clearScripts();
    for (const s of [a, b, c]) expect(reply(await ask(s)).status).toBe(200);
  });

  it('answers 404/37 after a success, and each session goes through an every-session script on its own', async () => {
    simulator.scriptEverySession(['live', 'invalid_visitor_37']);
    expect(reply(await ask(a)).status).toBe(200);
    expect(json(await ask(a))).toMatchObject({ internalCode: 37 });
    // b's first request is its own first step.
    expect(reply(await ask(b)).status).toBe(200);
    expect(json(await ask(b))).toMatchObject({ internalCode: 37 });
    expect(json(await ask(a))).toMatchObject({ internalCode: 37 });
    expect(simulator.stats().byCode).toEqual({ '200': 2, '404/37': 3 });
  });

  it('answers the other scripted codes: 404/39, 404/12, 500, 429 with Retry-After, and resets', async () => {
    simulator.scriptSession(a.sid, [
      'invalid_session_39',
      'expired_12',
      'server_error',
      { kind: 'throttle', retryAfterSec: 3600 },
      'reset',
    ]);
    expect(json(await ask(a))).toMatchObject({ internalCode: 39 });
    expect(json(await ask(a))).toMatchObject({ internalCode: 12 });
    expect(reply(await ask(a)).status).toBe(500);
    const throttled = reply(await ask(a));
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('3600');
    expect(await ask(a)).toEqual({ error: 'ECONNRESET' });
  });

  it('answers an oversized event inside the world state, the same on every poll', async () => {
    simulator.scriptSession(c.sid, ['oversized']);
    const first = reply(await ask(c));
    expect(first.status).toBe(200);
    expect(first.body.length).toBeGreaterThan(400 * 1024);
    const state = JSON.parse(first.body) as VisitState;
    const events = (state.appSessions[0] as AppSession).events as VisitEvent[];
    const expected = worldState(c);
    expect(events.slice(1)).toEqual((expected.appSessions[0] as AppSession).events);
    const body = (events[0] as VisitEvent)[OVERSIZED_EVENT_TYPE] as JsonObject;
    expect(Object.keys((body[OVERSIZED_EVENT_TYPE] as JsonObject).readings as JsonObject)).toHaveLength(
      30_000,
    );
    expect(body.serverTimeStamp).toBe(c.startTimeMs);
    clock.advanceMs(60_000);
    const second = JSON.parse(reply(await ask(c)).body) as VisitState;
    expect(((second.appSessions[0] as AppSession).events as VisitEvent[])[0]).toEqual(events[0]);
    expect(simulator.stats().byCode).toEqual({ '200/oversized': 2 });
  });

  it('answers the world error when a shape step meets a session the world no longer holds', async () => {
    const gone = world.startSession({ durationMs: 1 });
    clock.advanceMs(10);
    simulator.scriptSession(gone.sid, ['flat']);
    expect(json(await ask(gone))).toMatchObject({ internalCode: 12 });
  });

  it('still checks OAuth before any scripted answer', async () => {
    simulator.scriptSession(a.sid, ['empty']);
    const url = `${simulator.baseUrl}/api/account/${ACCOUNT}/monitoring/visitors/${a.visitorId}/visits/current/state?v=1&sid=${a.sid}`;
    const unsigned = reply(await get(url));
    expect(unsigned.status).toBe(401);
    expect(simulator.stats().scripted).toEqual({});
  });

  it('random transport faults come first and do not use up a step', async () => {
    simulator.setFaults({ serverErrorRate: 1 });
    simulator.scriptSession(a.sid, ['empty', 'bad_request_33']);
    expect(reply(await ask(a)).status).toBeGreaterThanOrEqual(500);
    simulator.setFaults(NO_FAULTS);
    expect(reply(await ask(a)).body).toBe('{"appSessions":[]}');
    expect(reply(await ask(a)).status).toBe(400);
  });

  it('makes the Domain API unreachable, fail with 5xx, or not know the account, for N lookups or until cleared', async () => {
    expect(json(await domain())).toMatchObject({ service: 'smt', baseURI: simulator.host });

    simulator.setDomainApiFault({ kind: 'reset', times: 2 });
    expect(await domain()).toEqual({ error: 'ECONNRESET' });
    expect(await domain()).toEqual({ error: 'ECONNRESET' });
    expect(reply(await domain()).status).toBe(200);

    simulator.setDomainApiFault({ kind: 'server_error', status: 503 });
    for (let i = 0; i < 3; i++) expect(reply(await domain()).status).toBe(503);
    simulator.setDomainApiFault({ kind: 'server_error', times: 1 });
    expect(reply(await domain()).status).toBe(500);

    simulator.setDomainApiFault({ kind: 'account_not_found' });
    const notFound = reply(await domain());
    expect(notFound.status).toBe(404);
    expect(json(notFound)).toMatchObject({ internalCode: 6 });
    simulator.setDomainApiFault(undefined);
    expect(reply(await domain()).status).toBe(200);

    // The Visit Information API itself is not affected.
    simulator.setDomainApiFault({ kind: 'reset' });
    expect(reply(await ask(a)).status).toBe(200);
    const stats = simulator.stats();
    expect(stats.domainApiRequests).toBe(10);
    expect(stats.domainApiFaults).toBe(7);
    expect(() => simulator.setDomainApiFault({ kind: 'server_error', status: 404 })).toThrow(/5xx/);
    expect(() => simulator.setDomainApiFault({ kind: 'reset', times: 0 })).toThrow(/times/);
  });
});
