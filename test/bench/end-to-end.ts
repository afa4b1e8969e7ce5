/**
 * Figure 2: end to end with dynalite. One Poller.tick (wired as the Lambda wires it) over N queued sessions,
 * the simulator and dynalite each in a process of their own, against the lower of
 *   - C / L, what the fetches alone allow, and
 *   - dynalite's own rate for a reference session's writes (a claim UpdateItem, one 11-item BatchWriteItem,
 *     an ack UpdateItem) at the same concurrency against the same dynalite process, measured in this run
 *     before and after the tick (their mean is the floor).
 *
 * So that the tick writes what the reference writes, the simulator's clock runs fast (--speed) and the tick
 * starts when the sessions are about half an hour old: a first poll then writes ~11 rows, as the reference.
 */
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { flattenVisitState } from '../../lib/capture/flatten';
import { MINUTE_MS, ManualClock, systemClock } from '../../lib/clock';
import { rowDigest, serializeDigests } from '../../lib/poller/digests';
import type { QueueItem } from '../../lib/queue/model';
import { SimulatedWorld } from '../../lib/simulator/world';
import type { StoredRow } from '../../lib/store/capture-store';
import type { Storage } from '../../lib/wiring';
import { benchPoller } from './bench-poller';
import { coresSince, processCpuMs, startDynamoProcess, startSimulatorProcess } from './processes';
import { fixed, perSecond, sleep, type Figure } from './report';
import { bulkEnqueue, freshStorage } from './storage';

export interface EndToEndOptions {
  concurrency: number;
  latencyMs: number;
  sessions: number;
  /** Sessions per reference measurement (there are two: before and after the tick). */
  referenceSessions: number;
  /**
   * Unmeasured reference passes first: dynalite's own rate keeps rising over its first ~1,500 reference
   * sessions (JIT), from ~75/s to ~130–160/s here, so a cold floor would flatter the tick.
   */
  warmupPasses: number;
}

/** Rows in the reference session's one BatchWriteItem. */
export const REFERENCE_ROWS = 11;
/** Simulated seconds per wall second on the simulator during this figure (sessions age while setup runs). */
const SIMULATOR_SPEED = 120;
/** Mean session age at which a first poll writes about REFERENCE_ROWS rows (measured on the simulator). */
const TARGET_MEAN_AGE_MS = 30 * MINUTE_MS;
const REFERENCE_ACCOUNT = 'bench-reference';

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
 * TARGET_MEAN_AGE_MS (where answers have about that many rows; sessions with fewer are skipped).
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
      state: world.stateAt(info.visitorId, info.sid, startTimeMs + TARGET_MEAN_AGE_MS),
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

/** dynalite's rate (sessions/s) for the reference writes of every session, at `concurrency`. */
export async function referenceRate(
  dynamo: { endpoint: string; pid: number },
  sessions: readonly ReferenceSession[],
  concurrency: number,
): Promise<{
  perSec: number;
  wallMs: number;
  batchCalls: number;
  /** CPU of this (the writing) process per reference session, ms. */
  clientCpuMsPerSession: number;
  dynaliteCores?: number;
}> {
  const { storage, settings } = await freshStorage(dynamo.endpoint, 'bench-ref', systemClock);
  try {
    await bulkEnqueue(
      storage,
      settings,
      REFERENCE_ACCOUNT,
      sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    const bySid = new Map(sessions.map((s) => [s.sid, s]));
    const items: QueueItem[] = [];
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

export async function benchEndToEnd(options: EndToEndOptions): Promise<Figure[]> {
  const { concurrency, latencyMs } = options;
  const reference = referenceSessions(options.referenceSessions, Date.now() - TARGET_MEAN_AGE_MS);
  const dynamo = await startDynamoProcess();
  let storage: Storage | undefined;
  try {
    const target = { endpoint: dynamo.endpoint, pid: dynamo.child.pid };
    for (let pass = 0; pass < options.warmupPasses; pass++)
      await referenceRate(target, reference, concurrency);
    // The simulator's sessions start aging now (--speed): the first reference measurement runs meanwhile.
    const simulator = await startSimulatorProcess({
      seed: 2,
      sessions: options.sessions,
      'latency-ms': latencyMs,
      'early-end-probability': 0,
      speed: SIMULATOR_SPEED,
    });
    try {
      const before = await referenceRate(target, reference, concurrency);

      const fresh = await freshStorage(dynamo.endpoint, 'bench-e2e', systemClock);
      storage = fresh.storage;
      await bulkEnqueue(
        storage,
        fresh.settings,
        simulator.accountId,
        simulator.sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
      );
      const poller = benchPoller(storage, simulator.accountId, simulator.baseUrl, concurrency);

      // Start when the sessions' mean age, halfway through the tick, is TARGET_MEAN_AGE_MS (simulated).
      const starts = simulator.sessions.map((s) => s.startTimeMs);
      const simStartWallMs = Math.min(...starts);
      const meanStartMs = starts.reduce((a, b) => a + b, 0) / starts.length;
      const expectedTickMs =
        (options.sessions / Math.min(before.perSec, concurrency / (latencyMs / 1000))) * 1000;
      const startAgeMs = Math.max(0, TARGET_MEAN_AGE_MS - (expectedTickMs / 2) * SIMULATOR_SPEED);
      const startAtWallMs = simStartWallMs + (startAgeMs + meanStartMs - simStartWallMs) / SIMULATOR_SPEED;
      const waitedMs = Math.max(0, startAtWallMs - Date.now());
      await sleep(waitedMs);
      const meanAgeAtStartMs =
        (Date.now() - simStartWallMs) * SIMULATOR_SPEED - (meanStartMs - simStartWallMs);

      const cpuBefore = process.cpuUsage();
      const dynaliteCpuMs = processCpuMs(dynamo.child.pid);
      const simulatorCpuMs = processCpuMs(simulator.child.pid);
      const startMs = performance.now();
      const summary = await poller.tick({ budgetMs: 30 * MINUTE_MS, safetyMarginMs: 0 });
      const wallMs = performance.now() - startMs;
      const cpu = process.cpuUsage(cpuBefore);
      const cores = (n: number | undefined): string => (n === undefined ? 'n/a' : fixed(n, 2));
      const cpuText =
        `CPU cores during the tick: poller ${cores((cpu.user + cpu.system) / 1000 / wallMs)}, ` +
        `dynalite ${cores(coresSince(dynamo.child.pid, dynaliteCpuMs, wallMs))}, ` +
        `simulator ${cores(coresSince(simulator.child.pid, simulatorCpuMs, wallMs))}; ` +
        `poller CPU ${fixed((cpu.user + cpu.system) / 1000 / Math.max(1, summary.itemsClaimed), 1)} ms/session`;

      const after = await referenceRate(target, reference, concurrency);

      const rate = perSecond(summary.itemsClaimed, wallMs);
      const fetchCeiling = concurrency / (latencyMs / 1000);
      const dynaliteRate = (before.perSec + after.perSec) / 2;
      const floor = Math.min(fetchCeiling, dynaliteRate);
      const polled = Math.max(1, summary.itemsClaimed);
      return [
        {
          id: '2',
          title: `end to end, Poller.tick over ${options.sessions} sessions (C=${concurrency}, L=${latencyMs} ms)`,
          ratio: rate / floor,
          against: `of ${fixed(floor, 0)} sessions/s = min(C/L ${fixed(fetchCeiling, 0)}/s, dynalite reference ${fixed(dynaliteRate, 0)}/s)`,
          target: { op: '>=', value: 0.8 },
          raw:
            `${fixed(rate)} sessions/s; ${summary.itemsClaimed} claimed in ${fixed(wallMs / 1000, 2)} s; ` +
            `fetches ok ${summary.fetches.ok} of ${summary.fetchAttempts}; sessions ${fixed(meanAgeAtStartMs / MINUTE_MS, 0)} min old ` +
            `at the start (simulator --speed ${SIMULATOR_SPEED}); ${fixed(summary.rowsWritten / polled, 1)} rows ` +
            `and ${fixed(summary.batchCalls / polled, 2)} BatchWriteItem per session (reference: ${REFERENCE_ROWS} rows, 1 call); ` +
            `reference (${reference.length} sessions, after ${options.warmupPasses} warm-up passes) ${fixed(before.perSec)}/s before and ` +
            `${fixed(after.perSec)}/s after the tick, dynalite at ${cores(before.dynaliteCores)} core, writer CPU ` +
            `${fixed((before.clientCpuMsPerSession + after.clientCpuMsPerSession) / 2, 1)} ms/session; ` +
            `${cpuText}; stopped by ${summary.stoppedBy}` +
            (summary.itemErrors + summary.claimConflicts + summary.leasesLost > 0
              ? `; item errors ${summary.itemErrors}, claim conflicts ${summary.claimConflicts}, leases lost ${summary.leasesLost}`
              : ''),
        },
      ];
    } finally {
      await simulator.child.stop();
    }
  } finally {
    storage?.documentClient.destroy();
    await dynamo.child.stop();
  }
}
