import { getEventListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { flattenVisitState } from '../../lib/capture/flatten';
import { HOUR_MS } from '../../lib/clock';
import { BaseUriResolutionError, RequestCancelledError } from '../../lib/errors';
import { InvalidIdError } from '../../lib/ids';
import { DomainApiBaseUrl, FixedBaseUrl } from '../../lib/liveperson/base-url';
import { VisitInformationClient } from '../../lib/liveperson/client';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { createAgents } from '../../lib/liveperson/http';
import type { AppSession, VisitState } from '../../lib/liveperson/types';
import { NO_FAULTS } from '../../lib/simulator/server';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

let sim: SimulatorFixture;

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});
afterEach(() => {
  sim.simulator.setFaults({ ...NO_FAULTS });
});

describe('VisitInformationClient against the simulator (real HTTP, OAuth verified)', () => {
  it('fetches a live session as a typed 200 state with every appSessions element', async () => {
    const session = sim.world.startSession({ eventRatePerHour: 30 });
    sim.clock.advanceMs(HOUR_MS);
    const outcome = await sim.client().fetchState(session.visitorId, session.sid);
    expect(outcome.kind).toBe('ok');
    if (outcome.kind !== 'ok') return;
    expect(Array.isArray(outcome.state.appSessions)).toBe(true);
    expect(outcome.state.appSessions.length).toBeGreaterThan(0);
    expect(outcome.state).toEqual(
      JSON.parse(JSON.stringify(sim.world.stateAt(session.visitorId, session.sid, sim.clock.nowMs()))),
    );
  });

  it('resolves the base URI through the Domain API (smt service)', async () => {
    const session = sim.world.startSession();
    const outcome = await sim.client({ viaDomainApi: true }).fetchState(session.visitorId, session.sid);
    expect(outcome.kind).toBe('ok');
  });

  it('gives a clear error when the Domain API knows no such account', async () => {
    const resolver = new DomainApiBaseUrl({
      accountId: 'nosuchaccount',
      domainApiUrl: sim.simulator.baseUrl,
      agents: createAgents(),
      clock: sim.clock,
    });
    await expect(resolver.resolve()).rejects.toThrow(BaseUriResolutionError);
    await expect(resolver.resolve()).rejects.toThrow(/nosuchaccount/);
  });

  it('classifies every response-code row of the spec', async () => {
    const client = sim.client();
    const live = sim.world.startSession({ durationMs: 2 * HOUR_MS });
    const other = sim.world.startSession();
    // 404/39: a sid that is not this visitor's
    expect((await client.fetchState(live.visitorId, other.sid)).kind).toBe('invalid_session_39');
    // 404/37: unknown visitor
    expect((await client.fetchState('unknownVisitor123', live.sid)).kind).toBe('invalid_visitor_37');
    // 401/10: wrong secret
    expect(
      (
        await sim
          .client({ credentials: { ...sim.credentials, consumerSecret: 'wrong' } })
          .fetchState(live.visitorId, live.sid)
      ).kind,
    ).toBe('unauthorized_10');
    // 404/6: unknown account (the client signs correctly; the account is what is wrong)
    const otherAccount = new VisitInformationClient({
      accountId: 'otheraccount',
      baseUrl: new FixedBaseUrl(sim.simulator.baseUrl),
      credentials: new StaticCredentialsProvider(sim.credentials),
    });
    expect((await otherAccount.fetchState(live.visitorId, live.sid)).kind).toBe('invalid_account_6');
    // 404/12: the session ended
    sim.clock.advanceMs(2 * HOUR_MS + 1);
    expect((await client.fetchState(live.visitorId, live.sid)).kind).toBe('expired_12');
  });

  it('answers 400/33 when v or sid is missing (raw request, signed)', async () => {
    const { signRequest } = await import('../../lib/liveperson/oauth');
    const session = sim.world.startSession();
    const url = `${sim.simulator.baseUrl}/api/account/${TEST_ACCOUNT}/monitoring/visitors/${session.visitorId}/visits/current/state?sid=${session.sid}`;
    const response = await fetch(url, {
      headers: { authorization: signRequest('GET', url, sim.credentials) },
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { internalCode: number }).internalCode).toBe(33);
    const client = sim.client();
    const answer = {
      status: 400,
      headers: {},
      body: Buffer.from(JSON.stringify({ time: 1, message: 'sid', internalCode: 33 })),
      truncated: false,
      totalBytes: 0,
    };
    expect(client.classify(answer).kind).toBe('bad_request_33');
  });

  it('rejects hostile ids before any request', async () => {
    const before = sim.simulator.stats().requests;
    const client = sim.client();
    for (const [visitorId, sid] of [
      ['../../admin', 'sid1'],
      ['visitor', 'a/b'],
      ['visitor', '..'],
      ['vis itor', 'sid'],
      ['visitor', 'x'.repeat(200)],
      ['visitor\u0000', 'sid'],
      ['visitor', 'sid&v=2'],
    ]) {
      await expect(client.fetchState(visitorId as string, sid as string)).rejects.toThrow(InvalidIdError);
    }
    expect(sim.simulator.stats().requests).toBe(before);
  });

  it.each([
    ['server_error', { serverErrorRate: 1 }, ['server_error_500', 'retryable']],
    ['throttle', { throttleRate: 1, retryAfterSec: 7 }, ['retryable']],
    ['reset', { resetRate: 1 }, ['retryable']],
    ['malformed', { malformedRate: 1 }, ['malformed']],
  ] as const)('classifies the %s fault', async (_name, faults, kinds) => {
    const session = sim.world.startSession();
    sim.simulator.setFaults(faults);
    const outcome = await sim.client().fetchState(session.visitorId, session.sid);
    expect(kinds).toContain(outcome.kind);
    if (_name === 'throttle')
      expect(outcome).toMatchObject({
        kind: 'retryable',
        reason: 'throttled',
        httpStatus: 429,
        retryAfterMs: 7000,
      });
    if (_name === 'reset') expect(outcome).toMatchObject({ kind: 'retryable', reason: 'connection_reset' });
    if (_name === 'malformed' && outcome.kind === 'malformed')
      expect(outcome.bodySnippet.length).toBeLessThanOrEqual(2048);
  });

  it('times out a hanging request as retryable, and cancels on the caller’s signal', async () => {
    const session = sim.world.startSession();
    sim.simulator.setFaults({ hangRate: 1 });
    const outcome = await sim.client({ requestTimeoutMs: 200 }).fetchState(session.visitorId, session.sid);
    expect(outcome).toMatchObject({ kind: 'retryable', reason: 'timeout' });
    const controller = new AbortController();
    const pending = sim.client().fetchState(session.visitorId, session.sid, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toThrow(RequestCancelledError);
  });

  it('leaves nothing hooked on a long-lived caller signal (the tick’s) once requests end', async () => {
    const session = sim.world.startSession();
    const tick = new AbortController();
    const client = sim.client();
    for (let i = 0; i < 20; i++) {
      expect((await client.fetchState(session.visitorId, session.sid, { signal: tick.signal })).kind).toBe(
        'ok',
      );
    }
    expect(getEventListeners(tick.signal, 'abort')).toHaveLength(0);
  });

  it('answers latency without failing', async () => {
    const session = sim.world.startSession();
    sim.simulator.setFaults({ latencyMs: 80 });
    const started = Date.now();
    expect((await sim.client().fetchState(session.visitorId, session.sid)).kind).toBe('ok');
    expect(Date.now() - started).toBeGreaterThanOrEqual(70);
  });

  it('classifies an oversized 200 as malformed without holding the whole body', async () => {
    const session = sim.world.startSession({ eventRatePerHour: 60 });
    sim.clock.advanceMs(3 * HOUR_MS);
    const outcome = await sim.client({ maxBodyBytes: 1024 }).fetchState(session.visitorId, session.sid);
    expect(outcome).toMatchObject({ kind: 'malformed', problem: 'body larger than 1024 bytes' });
  });
});

describe('VisitInformationClient classification of what the spec does not cover', () => {
  let server: http.Server;
  let reply: (res: http.ServerResponse) => void;
  let client: VisitInformationClient;
  beforeAll(async () => {
    server = http.createServer((_req, res) => reply(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    client = new VisitInformationClient({
      accountId: TEST_ACCOUNT,
      baseUrl: new FixedBaseUrl(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
      credentials: new StaticCredentialsProvider({
        consumerKey: 'a',
        consumerSecret: 'b',
        token: 'c',
        tokenSecret: 'd',
      }),
    });
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    ['a proxy 404 without an internal code', 404, 'text/html', '<html>404 Not Found</html>', 'unexpected'],
    ['a 404 with an unknown internal code', 404, 'application/json', '{"internalCode":99}', 'unexpected'],
    ['a 403', 403, 'application/json', '{"internalCode":10}', 'unexpected'],
    ['a 503', 503, 'text/plain', 'busy', 'retryable'],
    ['a 500', 500, 'application/json', '{}', 'server_error_500'],
    ['a 200 that is not JSON', 200, 'text/html', '<html>', 'malformed'],
    ['a 200 holding only an id (no app session)', 200, 'application/json', '{"id":"x"}', 'empty'],
    ['a 200 that is an empty object', 200, 'application/json', '{}', 'empty'],
    ['a 200 whose appSessions is null', 200, 'application/json', '{"appSessions":null}', 'empty'],
    ['a 200 of unknown fields only', 200, 'application/json', '{"time":1}', 'malformed'],
    ['a 200 whose appSessions is an object', 200, 'application/json', '{"appSessions":{}}', 'malformed'],
    [
      'a 200 whose events is not an array',
      200,
      'application/json',
      '{"appSessions":[{"events":{}}]}',
      'malformed',
    ],
    ['a 200 with an empty appSessions', 200, 'application/json', '{"id":"x","appSessions":[]}', 'empty'],
    ['a 200 in the flat shape', 200, 'application/json', '{"id":"x","pages":[],"events":[]}', 'ok'],
    [
      'a 200 in the flat shape with an empty appSessions',
      200,
      'application/json',
      '{"appSessions":[],"userAgent":"u"}',
      'ok',
    ],
    [
      'a 200 in the flat shape whose events is not an array',
      200,
      'application/json',
      '{"id":"x","events":{}}',
      'malformed',
    ],
    ['a 404/12 whose code is a string', 404, 'application/json', '{"internalCode":"12"}', 'expired_12'],
  ])('%s → %s', async (_name, status, type, body, kind) => {
    reply = (res) => res.writeHead(status, { 'content-type': type }).end(body);
    expect((await client.fetchState('visitor1', 'sid1')).kind).toBe(kind);
  });

  it('counts the size of an empty answer and keeps no body', async () => {
    reply = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"appSessions":[]}');
    expect(await client.fetchState('visitor1', 'sid1')).toStrictEqual({
      kind: 'empty',
      httpStatus: 200,
      bodyBytes: 18,
    });
  });

  it('reads the flat shape (fields at the top level) as one app session: the same rows as the nested form', async () => {
    const nested = JSON.parse(
      readFileSync(join(__dirname, '..', 'fixtures', 'example-state.json'), 'utf8'),
    ) as VisitState;
    const appSession = nested.appSessions[0] as AppSession;
    expect(nested.id).toBe(appSession.id);
    const rowsOf = async (body: unknown) => {
      reply = (res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      const outcome = await client.fetchState('visitor1', 'sid1');
      if (outcome.kind !== 'ok') throw new Error(`expected ok, got ${outcome.kind}`);
      return {
        state: outcome.state,
        rows: flattenVisitState({
          accountId: TEST_ACCOUNT,
          visitorId: 'visitor1',
          sid: 'sid1',
          state: outcome.state,
        }).rows,
      };
    };
    const fromNested = await rowsOf(nested);
    const fromFlat = await rowsOf(appSession);
    expect(fromFlat.state).toEqual(fromNested.state);
    expect(fromNested.rows.length).toBeGreaterThan(3);
    expect(fromFlat.rows).toEqual(fromNested.rows);
  });

  it('reads Retry-After as seconds or an HTTP date', async () => {
    reply = (res) => res.writeHead(429, { 'retry-after': '3' }).end();
    expect(await client.fetchState('visitor1', 'sid1')).toMatchObject({
      kind: 'retryable',
      retryAfterMs: 3000,
    });
    reply = (res) => res.writeHead(429, { 'retry-after': new Date(Date.now() + 60_000).toUTCString() }).end();
    const outcome = await client.fetchState('visitor1', 'sid1');
    expect(outcome.kind === 'retryable' && outcome.retryAfterMs).toBeGreaterThan(55_000);
  });

  it('refuses a plain-http base URL that is not loopback', () => {
    expect(() => new FixedBaseUrl('http://lo.v.liveperson.net')).toThrow(/must use https/);
  });
});
