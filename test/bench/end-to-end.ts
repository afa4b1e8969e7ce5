/**
 * Figure 2: end to end with dynalite. Poller.tick (wired as the Lambda wires it) over N queued sessions, the
 * simulator and dynalite each in a process of their own, against the lower of
 *   - C / L, what the fetches alone allow, and
 *   - dynalite's own rate for a reference session's writes (a claim UpdateItem, one 11-item BatchWriteItem,
 *     an ack UpdateItem) at the same concurrency against the same dynalite process, measured in this run
 *     just before and just after the tick (their mean is the floor).
 *
 * The poller fetches at most C at once but has up to ITEMS_PER_FETCH_SLOT × C sessions in flight (claims and
 * writes overlap the fetches); the reference stays at C: measured here, dynalite's rate for the reference at
 * 2C was the same or a little lower (medians 157/s at 64 against 168/s at 32), so C is the stricter floor.
 *
 * run.ts runs this module in a child process of its own, bundled as the Lambda is (bundle.ts): the tick and the
 * reference writer both run the deployed build.
 *
 * This machine's speed drifts by ±25 % within a minute, so one tick against one floor says little: the figure
 * is the median of `rounds` rounds, each a tick over a cohort of sessions of its own (fresh tables) between two
 * reference measurements (a round's "after" is the next round's "before").
 *
 * So that a tick writes what the reference writes, the simulator's sessions are SESSION_AGE_MS old (--age-ms,
 * at real speed): a first poll then writes about REFERENCE_ROWS rows, as the reference does.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import pLimit from 'p-limit';
import { flattenVisitState } from '../../lib/capture/flatten';
import { MINUTE_MS, ManualClock, systemClock } from '../../lib/clock';
import type { TickSummary } from '../../lib/poller/poller';
import { rowDigest, serializeDigests } from '../../lib/poller/digests';
import type { DueItem } from '../../lib/queue/model';
import { SimulatedWorld, type SessionInfo } from '../../lib/simulator/world';
import type { StoredRow } from '../../lib/store/capture-store';
import { benchPoller } from './bench-poller';
import {
  coresSince,
  processCpuMs,
  startDynamoProcess,
  startSimulatorProcess,
  type SimulatorProcess,
} from './processes';
import { fixed, median, perSecond, type Figure } from './report';
import { bulkEnqueue, freshStorage } from './storage';

export interface EndToEndOptions {
  concurrency: number;
  latencyMs: number;
  /** Sessions per round (each round polls a cohort of its own). */
  sessions: number;
  rounds: number;
  /** Sessions per reference measurement (rounds + 1 of them: before the first tick and after each). */
  referenceSessions: number;
  /**
   * Unmeasured reference passes first: dynalite's own rate keeps rising over its first ~1,500 reference
   * sessions (JIT), from ~75/s to ~130–160/s here, so a cold floor would flatter the tick.
   */
  warmupPasses: number;
}

/** Rows in the reference session's one BatchWriteItem. */
export const REFERENCE_ROWS = 11;
/**
 * Session age at which a first poll writes about REFERENCE_ROWS rows: measured on the simulator (seed 2), a
 * first poll writes 10.6 rows on average at 26 minutes and 11.3 at 28.
 */
const SESSION_AGE_MS = 27 * MINUTE_MS;
const REFERENCE_ACCOUNT = 'bench-reference';
/**
 * Unmeasured ticks first, each over a cohort of its own, as the reference gets warm-up passes: the first tick
 * of a process runs cold code (measured: the first of five rounds was the lowest in every run), and a Lambda
 * container's first tick is the only cold one of its life.
 */
const WARMUP_TICKS = 1;

export interface ReferenceSession {
  visitorId: string;
  sid: string;
  startTimeMs: number;
  rows: StoredRow[];
  rowDigests: string;
  events: number;
}

/**
 * Real capture rows of simulator sessions: the first REFERENCE_ROWS rows of the answer about a session at
 * SESSION_AGE_MS (where answers have about that many rows; sessions with fewer are skipped).
 */
export function referenceSessions(count: number, startTimeMs: number): ReferenceSession[] {
  const clock = new ManualClock(startTimeMs);
  const world = new SimulatedWorld({ seed: 21, accountId: REFERENCE_ACCOUNT, clock, earlyEndProbability: 0 });
  const sessions: ReferenceSession[] = [];
  while (sessions.length < count) {
    const info = world.startSession({ startTimeMs });
    const flat = flattenVisitState({
      accountId: REFERENCE_ACCOUNT,
      visitorId: info.visitorId,
      sid: info.sid,
      state: world.stateAt(info.visitorId, info.sid, startTimeMs + SESSION_AGE_MS),
    });
    if (flat.rows.length < REFERENCE_ROWS) continue;
    const flatRows = flat.rows.slice(0, REFERENCE_ROWS);
    const rows = flatRows.map((row): StoredRow => ({ ...row, capturedAtMs: startTimeMs }));
    sessions.push({
      visitorId: info.visitorId,
      sid: info.sid,
      startTimeMs,
      rows,
      rowDigests: serializeDigests(flatRows.map(rowDigest)),
      events: rows.filter((r) => r.rowType === 'event').length,
    });
  }
  return sessions;
}

interface Reference {
  perSec: number;
  wallMs: number;
  batchCalls: number;
  /** CPU of this (the writing) process per reference session, ms. */
  clientCpuMsPerSession: number;
  dynaliteCores?: number;
}

/** dynalite's rate (sessions/s) for the reference writes of every session, at `concurrency`. */
export async function referenceRate(
  dynamo: { endpoint: string; pid: number },
  sessions: readonly ReferenceSession[],
  concurrency: number,
): Promise<Reference> {
  const { storage, settings } = await freshStorage(dynamo.endpoint, 'bench-ref', systemClock);
  try {
    await bulkEnqueue(
      storage,
      settings,
      REFERENCE_ACCOUNT,
      sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    const bySid = new Map(sessions.map((s) => [s.sid, s]));
    const items: DueItem[] = [];
    for await (const page of storage.queue.duePages(REFERENCE_ACCOUNT, Date.now(), {
      pageSize: 100,
      force: false,
    }))
      items.push(...page);
    if (items.length !== sessions.length)
      throw new Error(`reference: ${items.length} due of ${sessions.length}`);

    const owner = randomUUID();
    const tickStartMs = Date.now();
    const limit = pLimit(concurrency);
    let batchCalls = 0;
    const dynaliteCpuMs = processCpuMs(dynamo.pid);
    const cpuBefore = process.cpuUsage();
    const startMs = performance.now();
    await Promise.all(
      items.map((item) =>
        limit(async () => {
          const session = bySid.get(item.sid) as ReferenceSession;
          const nowMs = Date.now();
          const claimed = await storage.queue.claim(item, {
            owner,
            nowMs,
            tickStartMs,
            leaseUntilMs: nowMs + 300_000,
            force: false,
          });
          if (claimed === undefined) throw new Error('reference: claim refused');
          batchCalls += (await storage.store.putRows(session.rows)).batchCalls;
          const ackMs = Date.now();
          const acked = await storage.queue.ack(claimed, owner, {
            state: 'ACTIVE',
            nextPollAtMs: ackMs + 200_000,
            attempts: 0,
            pollCount: 1,
            successCount: 1,
            lastOutcome: '200',
            lastPolledAtMs: ackMs,
            lastCapturedAtMs: ackMs,
            rowDigests: session.rowDigests,
            rowsStored: session.rows.length,
            eventsSeen: session.events,
          });
          if (!acked) throw new Error('reference: ack refused');
        }),
      ),
    );
    const wallMs = performance.now() - startMs;
    const cpu = process.cpuUsage(cpuBefore);
    const dynaliteCores = coresSince(dynamo.pid, dynaliteCpuMs, wallMs);
    return {
      perSec: perSecond(items.length, wallMs),
      wallMs,
      batchCalls,
      clientCpuMsPerSession: (cpu.user + cpu.system) / 1000 / items.length,
      ...(dynaliteCores !== undefined ? { dynaliteCores } : {}),
    };
  } finally {
    storage.documentClient.destroy();
  }
}

interface Round {
  rate: number;
  wallMs: number;
  summary: TickSummary;
  meanAgeMin: number;
  /** CPU cores each process used during the tick. */
  cores: { poller: number; dynalite?: number; simulator?: number };
  pollerCpuMsPerSession: number;
}

/** One measured tick over `cohort`, enqueued into fresh tables of `dynamo`. */
async function tickRound(
  dynamo: { endpoint: string; pid: number },
  simulator: SimulatorProcess,
  cohort: readonly SessionInfo[],
  concurrency: number,
  profileFile: string | undefined,
): Promise<Round> {
  const { storage, settings } = await freshStorage(dynamo.endpoint, 'bench-e2e', systemClock);
  try {
    await bulkEnqueue(
      storage,
      settings,
      simulator.accountId,
      cohort.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    const poller = benchPoller(storage, simulator.accountId, simulator.baseUrl, concurrency);
    const meanAgeMin =
      (Date.now() - cohort.reduce((sum, s) => sum + s.startTimeMs, 0) / cohort.length) / MINUTE_MS;
    const profile = await startProfile(profileFile);
    const cpuBefore = process.cpuUsage();
    const dynaliteCpuMs = processCpuMs(dynamo.pid);
    const simulatorCpuMs = processCpuMs(simulator.child.pid);
    const startMs = performance.now();
    const summary = await poller.tick({ budgetMs: 30 * MINUTE_MS, safetyMarginMs: 0 });
    const wallMs = performance.now() - startMs;
    const cpu = process.cpuUsage(cpuBefore);
    const dynaliteCores = coresSince(dynamo.pid, dynaliteCpuMs, wallMs);
    const simulatorCores = coresSince(simulator.child.pid, simulatorCpuMs, wallMs);
    await profile.stop();
    const pollerCpuMs = (cpu.user + cpu.system) / 1000;
    return {
      rate: perSecond(summary.itemsClaimed, wallMs),
      wallMs,
      summary,
      meanAgeMin,
      cores: {
        poller: pollerCpuMs / wallMs,
        ...(dynaliteCores !== undefined ? { dynalite: dynaliteCores } : {}),
        ...(simulatorCores !== undefined ? { simulator: simulatorCores } : {}),
      },
      pollerCpuMsPerSession: pollerCpuMs / Math.max(1, summary.itemsClaimed),
    };
  } finally {
    storage.documentClient.destroy();
  }
}

/**
 * With a file name (BENCH_PROFILE_TICK=file.cpuprofile), a CPU profile of this process during the last round's
 * tick only, for Chrome DevTools or any .cpuprofile reader. Set BENCH_UNMINIFIED=1 for readable names.
 */
async function startProfile(file: string | undefined): Promise<{ stop(): Promise<void> }> {
  if (file === undefined || file === '') return { stop: async () => undefined };
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  return {
    stop: async () => {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      writeFileSync(file, JSON.stringify(profile));
      session.disconnect();
    },
  };
}

export async function benchEndToEnd(options: EndToEndOptions): Promise<Figure[]> {
  const { concurrency, latencyMs } = options;
  const reference = referenceSessions(options.referenceSessions, Date.now() - SESSION_AGE_MS);
  const dynamo = await startDynamoProcess();
  try {
    const target = { endpoint: dynamo.endpoint, pid: dynamo.child.pid };
    for (let pass = 0; pass < options.warmupPasses; pass++)
      await referenceRate(target, reference, concurrency);
    const simulator = await startSimulatorProcess({
      seed: 2,
      sessions: options.sessions * (WARMUP_TICKS + options.rounds),
      'age-ms': SESSION_AGE_MS,
      'latency-ms': latencyMs,
      'early-end-probability': 0,
    });
    try {
      const cohort = (n: number): SessionInfo[] =>
        simulator.sessions.slice(n * options.sessions, (n + 1) * options.sessions);
      for (let n = 0; n < WARMUP_TICKS; n++)
        await tickRound(target, simulator, cohort(n), concurrency, undefined);
      const references = [await referenceRate(target, reference, concurrency)];
      const rounds: Round[] = [];
      for (let r = 0; r < options.rounds; r++) {
        const last = r === options.rounds - 1;
        rounds.push(
          await tickRound(
            target,
            simulator,
            cohort(WARMUP_TICKS + r),
            concurrency,
            last ? process.env.BENCH_PROFILE_TICK : undefined,
          ),
        );
        references.push(await referenceRate(target, reference, concurrency));
      }

      const fetchCeiling = concurrency / (latencyMs / 1000);
      const measured = rounds.map((round, r) => {
        const before = references[r] as Reference;
        const after = references[r + 1] as Reference;
        const dynaliteRate = (before.perSec + after.perSec) / 2;
        const floor = Math.min(fetchCeiling, dynaliteRate);
        return { round, before, after, dynaliteRate, floor, ratio: round.rate / floor };
      });
      const ratios = measured.map((m) => m.ratio);
      const mid = [...measured].sort((a, b) => a.ratio - b.ratio)[Math.floor(measured.length / 2)];
      if (mid === undefined) throw new Error('end to end: no rounds');
      const { round, before, after, dynaliteRate, floor } = mid;
      const { summary } = round;
      const cores = (n: number | undefined): string => (n === undefined ? 'n/a' : fixed(n, 2));
      const polled = Math.max(1, summary.itemsClaimed);
      return [
        {
          id: '2',
          title: `end to end, Poller.tick over ${options.sessions} sessions (C=${concurrency}, L=${latencyMs} ms)`,
          ratio: median(ratios),
          against:
            `median of ${rounds.length} rounds (${ratios.map((x) => fixed(x, 2)).join(', ')}); median round: ` +
            `of ${fixed(floor, 0)} sessions/s = min(C/L ${fixed(fetchCeiling, 0)}/s, dynalite reference ${fixed(dynaliteRate, 0)}/s)`,
          target: { op: '>=', value: 0.8 },
          raw:
            `median round: ${fixed(round.rate)} sessions/s; ${summary.itemsClaimed} claimed in ${fixed(round.wallMs / 1000, 2)} s; ` +
            `fetches ok ${summary.fetches.ok} of ${summary.fetchAttempts}; sessions ${fixed(round.meanAgeMin, 0)} min old; ` +
            `${fixed(summary.rowsWritten / polled, 1)} rows and ${fixed(summary.batchCalls / polled, 2)} BatchWriteItem ` +
            `per session (reference: ${REFERENCE_ROWS} rows, 1 call); reference (${reference.length} sessions, after ` +
            `${options.warmupPasses} warm-up passes; the poller after ${WARMUP_TICKS} unmeasured tick) ${fixed(before.perSec)}/s before and ${fixed(after.perSec)}/s after, ` +
            `dynalite at ${cores(before.dynaliteCores)} core, writer CPU ` +
            `${fixed((before.clientCpuMsPerSession + after.clientCpuMsPerSession) / 2, 1)} ms/session; CPU cores during ` +
            `the tick: poller ${cores(round.cores.poller)}, dynalite ${cores(round.cores.dynalite)}, simulator ` +
            `${cores(round.cores.simulator)}; poller CPU ${fixed(round.pollerCpuMsPerSession, 1)} ms/session; ` +
            `stopped by ${summary.stoppedBy}` +
            (summary.itemErrors + summary.claimConflicts + summary.leasesLost > 0
              ? `; item errors ${summary.itemErrors}, claim conflicts ${summary.claimConflicts}, leases lost ${summary.leasesLost}`
              : ''),
        },
      ];
    } finally {
      await simulator.child.stop();
    }
  } finally {
    await dynamo.child.stop();
  }
}
