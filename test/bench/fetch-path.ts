/**
 * Figure 1: the fetch path alone (VisitInformationClient over its keep-alive http.Agent, p-limit, flatten; no
 * storage) against the simulator in its own process, as a ratio of the ideal rate concurrency / latency.
 * Global fetch (undici with default settings) runs the same path in the same run, as a comparison.
 *
 * run.ts runs this module in a child process of its own, bundled as the Lambda is (bundle.ts).
 */
import type { IncomingHttpHeaders } from 'node:http';
import pLimit from 'p-limit';
import { flattenVisitState } from '../../lib/capture/flatten';
import { FixedBaseUrl } from '../../lib/liveperson/base-url';
import { VisitInformationClient } from '../../lib/liveperson/client';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { createAgents } from '../../lib/liveperson/http';
import { signRequest } from '../../lib/liveperson/oauth';
import type { FetchOutcome } from '../../lib/liveperson/outcome';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../../lib/simulator/server';
import type { SessionInfo } from '../../lib/simulator/world';
import { startSimulatorProcess } from './processes';
import { fixed, perSecond, type Figure } from './report';

export interface FetchPathOptions {
  concurrency: number;
  latencyMs: number;
  /** Measured fetches per path. */
  fetches: number;
  /** Unmeasured fetches per path first (JIT warm-up, connections opened). */
  warmupFetches: number;
  sessions: number;
}

interface PathRun {
  fetches: number;
  wallMs: number;
  notOk: number;
  rows: number;
  bodyBytes: number;
  /** CPU time of this (the client's) process, user + system. */
  cpuMs: number;
}

type FetchOne = (session: SessionInfo) => Promise<FetchOutcome>;

async function runPath(
  fetchOne: FetchOne,
  accountId: string,
  sessions: readonly SessionInfo[],
  count: number,
  concurrency: number,
): Promise<PathRun> {
  const limit = pLimit(concurrency);
  const run: PathRun = { fetches: count, wallMs: 0, notOk: 0, rows: 0, bodyBytes: 0, cpuMs: 0 };
  const cpuBefore = process.cpuUsage();
  const startMs = performance.now();
  await Promise.all(
    Array.from({ length: count }, (_, i) =>
      limit(async () => {
        const session = sessions[i % sessions.length] as SessionInfo;
        const outcome = await fetchOne(session);
        if (outcome.kind !== 'ok') {
          run.notOk++;
          return;
        }
        run.bodyBytes += outcome.bodyBytes;
        run.rows += flattenVisitState({
          accountId,
          visitorId: session.visitorId,
          sid: session.sid,
          state: outcome.state,
        }).rows.length;
      }),
    ),
  );
  run.wallMs = performance.now() - startMs;
  const cpu = process.cpuUsage(cpuBefore);
  run.cpuMs = (cpu.user + cpu.system) / 1000;
  return run;
}

function sumRuns(runs: readonly PathRun[]): PathRun {
  const total: PathRun = { fetches: 0, wallMs: 0, notOk: 0, rows: 0, bodyBytes: 0, cpuMs: 0 };
  for (const run of runs) {
    total.fetches += run.fetches;
    total.wallMs += run.wallMs;
    total.notOk += run.notOk;
    total.rows += run.rows;
    total.bodyBytes += run.bodyBytes;
    total.cpuMs += run.cpuMs;
  }
  return total;
}

function headersOf(response: Response): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return headers;
}

export async function benchFetchPath(options: FetchPathOptions): Promise<Figure[]> {
  const simulator = await startSimulatorProcess({
    seed: 1,
    sessions: options.sessions,
    'latency-ms': options.latencyMs,
    'early-end-probability': 0,
  });
  const agents = createAgents();
  try {
    const client = new VisitInformationClient({
      accountId: simulator.accountId,
      baseUrl: new FixedBaseUrl(simulator.baseUrl),
      credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS),
      agents,
    });
    const viaAgent: FetchOne = (s) => client.fetchState(s.visitorId, s.sid);
    // The same request, signature and classification, over global fetch (undici's default dispatcher).
    const viaGlobalFetch: FetchOne = async (s) => {
      const url = await client.urlFor(s.visitorId, s.sid);
      const authorization = signRequest('GET', url.href, DEFAULT_SIMULATOR_CREDENTIALS);
      const response = await fetch(url, {
        headers: { authorization, accept: 'application/json' },
        signal: AbortSignal.timeout(10_000),
      });
      const body = Buffer.from(await response.arrayBuffer());
      return client.classify({
        status: response.status,
        headers: headersOf(response),
        body,
        truncated: false,
        totalBytes: body.length,
      });
    };

    const { accountId, sessions } = simulator;
    const { concurrency } = options;
    // JIT warm-up: the client's per-fetch CPU time only settles after a few thousand fetches.
    await runPath(viaAgent, accountId, sessions, options.warmupFetches, concurrency);
    await runPath(viaGlobalFetch, accountId, sessions, options.warmupFetches, concurrency);
    // Measured in alternation (A B A B), so that neither path gets a quieter or warmer half of the run.
    const half = Math.ceil(options.fetches / 2);
    const agentRuns: PathRun[] = [];
    const fetchRuns: PathRun[] = [];
    for (let round = 0; round < 2; round++) {
      agentRuns.push(await runPath(viaAgent, accountId, sessions, half, concurrency));
      fetchRuns.push(await runPath(viaGlobalFetch, accountId, sessions, half, concurrency));
    }
    const agentRun = sumRuns(agentRuns);
    const fetchRun = sumRuns(fetchRuns);

    const idealPerSec = concurrency / (options.latencyMs / 1000);
    const figure = (run: PathRun, title: string, comparison: boolean): Figure => {
      const rate = perSecond(run.fetches, run.wallMs);
      return {
        id: '1',
        title,
        ratio: rate / idealPerSec,
        against: `of ${fixed(idealPerSec, 0)}/s (= ${concurrency} / ${options.latencyMs} ms)`,
        ...(comparison ? {} : { target: { op: '>=' as const, value: 0.9 } }),
        raw:
          `${fixed(rate)} fetches/s; ${run.fetches} fetches in ${fixed(run.wallMs / 1000, 2)} s; ` +
          `not ok ${run.notOk}; ${fixed(run.bodyBytes / Math.max(1, run.fetches - run.notOk) / 1024, 1)} KiB and ` +
          `${fixed(run.rows / Math.max(1, run.fetches - run.notOk), 1)} rows per answer; ` +
          `client CPU ${fixed(run.cpuMs / run.wallMs, 2)} core (${fixed((run.cpuMs * 1000) / run.fetches, 0)} µs/fetch)`,
      };
    };
    return [
      figure(
        agentRun,
        `fetch path, keep-alive http.Agent (C=${concurrency}, L=${options.latencyMs} ms)`,
        false,
      ),
      figure(fetchRun, `fetch path, global fetch, undici defaults (same run)`, true),
    ];
  } finally {
    agents.http.destroy();
    agents.https.destroy();
    await simulator.child.stop();
  }
}
