import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock, MINUTE_MS, SECOND_MS } from '../../lib/clock';
import { BaseUriResolutionError, RequestCancelledError } from '../../lib/errors';
import { DomainApiBaseUrl, type DomainApiOptions } from '../../lib/liveperson/base-url';
import { createAgents, type HttpAgents } from '../../lib/liveperson/http';
import { startSimulator, T0_MS, type SimulatorFixture } from '../support/simulator';

/**
 * DomainApiBaseUrl over real loopback sockets: the simulator's Domain API for "no such account", and a scripted
 * Domain API (a plain HTTP server answering what each test says, counting requests) for outages and odd answers.
 * The resolver's clock is a ManualClock and its jitter draw is fixed at the middle (no jitter), so the backoff
 * steps are exact: 5 s, 10 s, 20 s, … capped at 5 min.
 */

type Answer = { status: number; body?: string; delayMs?: number } | 'hang' | 'reset';

interface ScriptedDomainApi {
  url: string;
  /** `127.0.0.1:PORT`, what a 200 answers as baseURI. */
  host: string;
  requests: number;
  answer: (path: string) => Answer;
  stop(): Promise<void>;
}

async function startScriptedDomainApi(): Promise<ScriptedDomainApi> {
  const server = http.createServer();
  const api: ScriptedDomainApi = {
    url: '',
    host: '',
    requests: 0,
    answer: () => ({ status: 500 }),
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    api.requests += 1;
    const answer = api.answer(req.url ?? '');
    if (answer === 'hang') return;
    if (answer === 'reset') {
      req.socket.destroy();
      return;
    }
    const send = () => {
      res.writeHead(answer.status, { 'content-type': 'application/json' });
      res.end(answer.body ?? '{}');
    };
    if (answer.delayMs) setTimeout(send, answer.delayMs);
    else send();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  api.url = `http://127.0.0.1:${port}`;
  api.host = `127.0.0.1:${port}`;
  return api;
}

/** A loopback port nothing listens on (connection refused). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function failure(promise: Promise<unknown>): Promise<BaseUriResolutionError> {
  try {
    await promise;
  } catch (error) {
    return error as BaseUriResolutionError;
  }
  throw new Error('expected a rejection');
}

let api: ScriptedDomainApi;
let sim: SimulatorFixture;
let agents: HttpAgents;
let clock: ManualClock;

beforeAll(async () => {
  api = await startScriptedDomainApi();
  sim = await startSimulator();
  agents = createAgents();
});
afterAll(async () => {
  agents.http.destroy();
  await api.stop();
  await sim.stop();
});
beforeEach(() => {
  api.requests = 0;
  api.answer = () => ({ status: 500 });
  clock = new ManualClock(T0_MS);
});

function resolver(overrides: Partial<DomainApiOptions> = {}): DomainApiBaseUrl {
  return new DomainApiBaseUrl({
    accountId: '12345678',
    domainApiUrl: api.url,
    agents,
    clock,
    random: () => 0.5,
    requestTimeoutMs: 2_000,
    ...overrides,
  });
}

const OK = (): Answer => ({ status: 200, body: JSON.stringify({ service: 'smt', baseURI: api.host }) });

describe('DomainApiBaseUrl: a missing account is a configuration fault, remembered', () => {
  it('the simulator answering 404 (no such account): fault configuration, no request again until 5 s', async () => {
    const resolve = resolver({ accountId: 'nosuchaccount', domainApiUrl: sim.simulator.baseUrl });
    const before = sim.simulator.stats().requests;
    const first = await failure(resolve.resolve());
    expect(first).toBeInstanceOf(BaseUriResolutionError);
    expect(first.fault).toBe('configuration');
    expect(first.message).toMatch(/nosuchaccount.*HTTP 404.*LP_ACCOUNT_ID/);
    expect(sim.simulator.stats().requests).toBe(before + 1);

    // A second call (and a third, a second later) throws the same error without asking.
    expect(await failure(resolve.resolve())).toBe(first);
    clock.advanceMs(4_999);
    expect(await failure(resolve.resolve())).toBe(first);
    expect(sim.simulator.stats().requests).toBe(before + 1);

    // Once the backoff passes it asks again; still no account: remembered twice as long.
    clock.advanceMs(1);
    const second = await failure(resolve.resolve());
    expect(second.fault).toBe('configuration');
    expect(sim.simulator.stats().requests).toBe(before + 2);
    clock.advanceMs(9_999);
    expect(await failure(resolve.resolve())).toBe(second);
    expect(sim.simulator.stats().requests).toBe(before + 2);
  });

  it('a 400 is a configuration fault too, remembered', async () => {
    api.answer = () => ({ status: 400, body: '{"message":"bad account"}' });
    const resolve = resolver();
    const first = await failure(resolve.resolve());
    expect(first.fault).toBe('configuration');
    expect(await failure(resolve.resolve())).toBe(first);
    expect(api.requests).toBe(1);
  });
});

describe('DomainApiBaseUrl: an unavailable Domain API is remembered with backoff', () => {
  it('500: unavailable, no request until the backoff passes, then retried; the backoff doubles to 5 min', async () => {
    const resolve = resolver();
    const first = await failure(resolve.resolve());
    expect(first).toBeInstanceOf(BaseUriResolutionError);
    expect(first.fault).toBe('unavailable');
    expect(first.message).toBe('Domain API answered HTTP 500 for account 12345678');
    expect(api.requests).toBe(1);

    const expectedDelaysMs = [5, 10, 20, 40, 80, 160, 300, 300].map((s) => s * SECOND_MS);
    for (const delayMs of expectedDelaysMs) {
      const requests = api.requests;
      clock.advanceMs(delayMs - 1);
      expect((await failure(resolve.resolve())).fault).toBe('unavailable');
      expect(api.requests).toBe(requests); // still waiting
      clock.advanceMs(1);
      expect((await failure(resolve.resolve())).fault).toBe('unavailable');
      expect(api.requests).toBe(requests + 1); // retried once the backoff passed
    }
  });

  it('a success resets the backoff: the next failure waits 5 s again', async () => {
    const resolve = resolver({ cacheTtlMs: MINUTE_MS });
    await failure(resolve.resolve());
    clock.advanceMs(5 * SECOND_MS);
    await failure(resolve.resolve());
    clock.advanceMs(10 * SECOND_MS);
    await failure(resolve.resolve());
    expect(api.requests).toBe(3); // next wait would be 20 s

    api.answer = OK;
    clock.advanceMs(20 * SECOND_MS);
    expect((await resolve.resolve()).href).toBe(`http://${api.host}/`);
    expect(api.requests).toBe(4);

    // The base URI's cache lifetime runs out and the Domain API fails again: 5 s, not 40 s.
    api.answer = () => ({ status: 503 });
    clock.advanceMs(MINUTE_MS);
    const again = await failure(resolve.resolve());
    expect(again.fault).toBe('unavailable');
    expect(api.requests).toBe(5);
    clock.advanceMs(4_999);
    expect(await failure(resolve.resolve())).toBe(again);
    expect(api.requests).toBe(5);
    api.answer = OK;
    clock.advanceMs(1);
    expect((await resolve.resolve()).href).toBe(`http://${api.host}/`);
    expect(api.requests).toBe(6);
  });

  it('unreachable (connection refused): unavailable, the same error until the backoff passes; no secret in it', async () => {
    const port = await closedPort();
    const resolve = resolver({ domainApiUrl: `http://lpv-user:s3cret-pass@127.0.0.1:${port}` });
    const first = await failure(resolve.resolve());
    expect(first).toBeInstanceOf(BaseUriResolutionError);
    expect(first.fault).toBe('unavailable');
    expect(first.message).toMatch(
      new RegExp(`^Domain API 127\\.0\\.0\\.1:${port} unreachable: .*ECONNREFUSED`),
    );
    expect(first.message).not.toMatch(/s3cret|lpv-user/);
    clock.advanceMs(4_999);
    expect(await failure(resolve.resolve())).toBe(first);
    clock.advanceMs(1);
    const second = await failure(resolve.resolve());
    expect(second).not.toBe(first); // asked again
    expect(second.fault).toBe('unavailable');
  });

  it('no answer within the request timeout, or a reset connection: unavailable, remembered', async () => {
    api.answer = () => 'hang';
    const hanging = resolver({ requestTimeoutMs: 200 });
    const timedOut = await failure(hanging.resolve());
    expect(timedOut.fault).toBe('unavailable');
    expect(timedOut.message).toMatch(/unreachable: no answer within 200 ms$/);
    expect(await failure(hanging.resolve())).toBe(timedOut);
    expect(api.requests).toBe(1);

    api.answer = () => 'reset';
    const resetting = resolver();
    const reset = await failure(resetting.resolve());
    expect(reset.fault).toBe('unavailable');
    expect(await failure(resetting.resolve())).toBe(reset);
    expect(api.requests).toBe(2);
  });

  it.each([
    ['an empty object', '{}'],
    ['not JSON', '<html>maintenance</html>'],
    ['a URL rather than a host', JSON.stringify({ baseURI: 'https://lo.v.liveperson.net/' })],
    ['a number', JSON.stringify({ baseURI: 42 })],
    ['a port past 65535', JSON.stringify({ baseURI: 'lo.v.liveperson.net:99999' })],
  ])('a 200 holding %s as baseURI: unavailable, remembered', async (_, body) => {
    api.answer = () => ({ status: 200, body });
    const resolve = resolver();
    const first = await failure(resolve.resolve());
    expect(first).toBeInstanceOf(BaseUriResolutionError);
    expect(first.fault).toBe('unavailable');
    expect(first.message).toBe('Domain API answer for account 12345678 has no valid baseURI');
    expect(await failure(resolve.resolve())).toBe(first);
    expect(api.requests).toBe(1);
  });
});

describe('DomainApiBaseUrl: concurrent callers share one request', () => {
  it('a burst of 100 concurrent calls while failing makes 1 request; another burst in the backoff makes none', async () => {
    api.answer = () => ({ status: 502, delayMs: 50 });
    const resolve = resolver();
    const burst = () => Promise.all(Array.from({ length: 100 }, () => failure(resolve.resolve())));
    const first = await burst();
    expect(api.requests).toBe(1);
    expect(new Set(first).size).toBe(1);
    expect(first[0]?.fault).toBe('unavailable');

    clock.advanceMs(2 * SECOND_MS);
    const second = await burst();
    expect(api.requests).toBe(1);
    expect(second.every((error) => error === first[0])).toBe(true);

    clock.advanceMs(3 * SECOND_MS);
    await burst();
    expect(api.requests).toBe(2);
  });

  it('a caller whose signal fires stops waiting (cancelled); the others get the answer from the same request', async () => {
    api.answer = () => ({ ...(OK() as { status: number; body: string }), delayMs: 150 });
    const resolve = resolver();
    const caller = new AbortController();
    const cancelled = failure(resolve.resolve(caller.signal));
    const others = Promise.allSettled([resolve.resolve(), resolve.resolve(new AbortController().signal)]);
    setTimeout(() => caller.abort(), 20);
    expect(await cancelled).toBeInstanceOf(RequestCancelledError);
    const settled = await others;
    expect(
      settled.map((result) => (result.status === 'fulfilled' ? result.value.href : result.reason)),
    ).toEqual([`http://${api.host}/`, `http://${api.host}/`]);
    expect(api.requests).toBe(1);
    // The cancellation was not remembered as a failure: the base URI is cached.
    expect((await resolve.resolve()).href).toBe(`http://${api.host}/`);
    expect(api.requests).toBe(1);
  });

  it('a signal that already fired cancels at once and asks nothing', async () => {
    api.answer = OK;
    const resolve = resolver();
    expect(await failure(resolve.resolve(AbortSignal.abort()))).toBeInstanceOf(RequestCancelledError);
    expect(api.requests).toBe(0);
  });
});
