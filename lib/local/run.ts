import { HOUR_MS, MINUTE_MS, SESSION_MAX_AGE_MS, CompressedClock, systemClock } from '../clock';
import { measureCompleteness, type CompletenessReport } from '../completeness';
import { DEFAULT_POLL_INTERVAL_SEC, type PollerSettings, type StorageSettings } from '../config';
import { StaticCredentialsProvider } from '../liveperson/credentials';
import type { Log } from '../log';
import type { TickSummary } from '../poller/poller';
import { createPrivacyPolicy, type PrivacyPolicy } from '../privacy/policy';
import { FETCH_OUTCOMES, type FetchOutcomeMetric } from '../metrics';
import type { QueueItem } from '../queue/model';
import { Random } from '../simulator/random';
import { DEFAULT_SIMULATOR_CREDENTIALS, VisitSimulator, type FaultOptions } from '../simulator/server';
import { SimulatedWorld, type SessionInfo } from '../simulator/world';
import { ensureTables } from '../store/dynamo';
import { createPoller, createStorage, createVisitClient } from '../wiring';
import { startEmbeddedDynamo } from './dynalite';

/** The account the local run simulates. */
export const LOCAL_ACCOUNT_ID = 'local-demo';

export interface LocalRunOptions {
  /** Simulated seconds per wall second. @default 160 (6 h of traffic in 2¼ min) */
  speed: number;
  /** Visitor sessions started over the run. @default 300 */
  visitors: number;
  seed: number;
  /** LevelDB directory for dynalite; in memory when unset. */
  dataDir?: string;
  /** Sessions start over this much simulated time. @default 90 min */
  arrivalWindowMs?: number;
  /** The simulator's sprinkle of faults. @default a few 5xx, a 429, a malformed body */
  faults?: Partial<FaultOptions>;
  /** @default DEFAULT_POLL_INTERVAL_SEC (lib/poll-cadence.ts) */
  pollIntervalSec?: number;
  concurrency?: number;
  /**
   * The privacy policy rows are stored under (`npm start` reads it from the environment: lib/privacy/config.ts).
   * @default the default modes without a hash key (hashed categories dropped)
   */
  privacy?: PrivacyPolicy;
  log: Log;
  /** Called about once a second of wall time. */
  onProgress?: (progress: LocalRunProgress) => void;
}

export interface LocalRunProgress {
  simulatedElapsedMs: number;
  simulatedTotalMs: number;
  enqueued: number;
  live: number;
  captured: number;
  lost: number;
  invalid: number;
  failed: number;
  fetches: Record<FetchOutcomeMetric, number>;
  rowsWritten: number;
}

export interface LocalRunReport {
  seed: number;
  speed: number;
  visitors: number;
  wallMs: number;
  simulatedMs: number;
  dynamoEndpoint: string;
  dataDir?: string;
  settings: StorageSettings;
  /** Session-clock start of the first and the last session (for the query hint). */
  firstStartMs: number;
  lastStartMs: number;
  sessions: Record<QueueItem['state'], number>;
  rowsByType: Record<string, number>;
  apiCalls: number;
  fetches: Record<FetchOutcomeMetric, number>;
  ticks: number;
  completeness: CompletenessReport;
  simulatorFaults: Record<string, number>;
  /** True when the pipeline itself broke (a tick threw); the run still reports what it saw. */
  pipelineErrors: string[];
}

/** The default sprinkle: rare enough to be realistic, common enough that a run meets each kind. */
export const DEFAULT_LOCAL_FAULTS: Partial<FaultOptions> = {
  latencyMs: { min: 2, max: 25 },
  serverErrorRate: 0.004,
  throttleRate: 0.001,
  retryAfterSec: 1,
  malformedRate: 0.0008,
  resetRate: 0.0005,
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Runs the real pipeline locally on one compressed clock: dynalite, the LivePerson simulator with evolving
 * sessions, an enqueuer feeding sessions as they start, and the poller ticking once a simulated minute through
 * the same wiring as the Lambda handler. Ends when every session has reached a terminal state.
 */
export async function runLocal(options: LocalRunOptions): Promise<LocalRunReport> {
  const wallStartMs = Date.now();
  const startMs = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
  const clock = new CompressedClock(startMs, options.speed);
  const arrivalWindowMs = options.arrivalWindowMs ?? 90 * MINUTE_MS;
  const random = new Random(options.seed);

  const dynamo = await startEmbeddedDynamo(options.dataDir);
  const storageSettings: StorageSettings = {
    dynamoDbEndpoint: dynamo.endpoint,
    region: 'local',
    queueTable: 'lpv-queue',
    captureTable: 'lpv-capture',
  };
  const world = new SimulatedWorld({ seed: options.seed, accountId: LOCAL_ACCOUNT_ID, clock });
  const simulator = new VisitSimulator({
    world,
    credentials: DEFAULT_SIMULATOR_CREDENTIALS,
    faults: options.faults ?? DEFAULT_LOCAL_FAULTS,
    seed: options.seed,
  });
  await simulator.start();
  const storage = createStorage(storageSettings, clock);
  const pipelineErrors: string[] = [];
  try {
    await ensureTables(storage.documentClient, storageSettings);
    const source = createVisitClient(
      {
        accountId: LOCAL_ACCOUNT_ID,
        // Through the Domain API, as in production (the simulator serves it too).
        domainApiUrl: simulator.baseUrl,
        credentials: { source: 'env', ...DEFAULT_SIMULATOR_CREDENTIALS },
        requestTimeoutMs: 10_000,
        credentialsRefreshSec: 300,
      },
      { clock, credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS) },
    );
    const pollerSettings: PollerSettings = {
      concurrency: options.concurrency ?? 32,
      // The other cadence settings take their defaults too (lib/poll-cadence.ts): `npm start` runs as deployed.
      pollIntervalSec: options.pollIntervalSec ?? DEFAULT_POLL_INTERVAL_SEC,
      // A lease must outlast one item's wall-clock handling at any speed: ~2 wall seconds, in session time.
      // This breaks the timing rule of lib/poll-timing.ts on purpose, and these settings skip its check (no
      // loadPollerSettings): the rule keeps a poller that dies at the final poll from losing the session, but
      // the compressed clock turns each wall second into `speed` session seconds, so a lease that outlasts real
      // work (1,200 s at speed 600) can never fit the 3-minute final window (at most 50 s), and no poller dies
      // here (one poller, ticks back to back). The poller's item deadline (claim + lease − 2 s) reads the lease as
      // wall time, as it is in a deployment, so here it lies far beyond each tick's 30 s budget, which bounds an
      // item's work instead.
      leaseSec: Math.max(300, Math.ceil(options.speed * 2)),
      // One tick per simulated minute (the loop below).
      schedulePeriodSec: 60,
      maxRequestsPerSec: 0,
    };
    const poller = createPoller(LOCAL_ACCOUNT_ID, pollerSettings, {
      storage,
      source,
      clock,
      log: options.log,
      wallClock: systemClock,
      privacy: options.privacy ?? createPrivacyPolicy(),
    });

    // Sessions start over the arrival window (a third of them already in the first minutes).
    const sessions: SessionInfo[] = [];
    for (let i = 0; i < options.visitors; i++) {
      const offset = random.chance(0.3) ? random.int(0, 5 * MINUTE_MS) : random.int(0, arrivalWindowMs);
      sessions.push(world.startSession({ startTimeMs: startMs + offset }));
    }
    sessions.sort((a, b) => a.startTimeMs - b.startTimeMs);
    const simulatedTotalMs =
      (sessions.at(-1)?.startTimeMs ?? startMs) - startMs + SESSION_MAX_AGE_MS + 2 * MINUTE_MS;

    const fetches = Object.fromEntries(FETCH_OUTCOMES.map((o) => [o, 0])) as Record<
      FetchOutcomeMetric,
      number
    >;
    let rowsWritten = 0;
    let ticks = 0;
    let enqueued = 0;
    let terminal: Record<QueueItem['state'], number> = {
      ACTIVE: 0,
      CAPTURED: 0,
      LOST: 0,
      INVALID: 0,
      FAILED: 0,
    };
    let lastProgressWallMs = 0;

    const thisRun = new Set(sessions.map((s) => s.sid));
    const countStates = async (): Promise<Record<QueueItem['state'], number>> => {
      const counts = { ACTIVE: 0, CAPTURED: 0, LOST: 0, INVALID: 0, FAILED: 0 };
      for await (const page of storage.queue.list(LOCAL_ACCOUNT_ID)) {
        for (const item of page) if (thisRun.has(item.sid)) counts[item.state]++;
      }
      return counts;
    };
    const addTick = (summary: TickSummary): void => {
      ticks++;
      for (const outcome of FETCH_OUTCOMES) fetches[outcome] += summary.fetches[outcome];
      rowsWritten += summary.rowsWritten;
      terminal = {
        ACTIVE: 0,
        CAPTURED: terminal.CAPTURED + summary.sessions.CAPTURED,
        LOST: terminal.LOST + summary.sessions.LOST,
        INVALID: terminal.INVALID + summary.sessions.INVALID,
        FAILED: terminal.FAILED + summary.sessions.FAILED,
      };
    };

    // The schedule: one tick per simulated minute (EventBridge's rate(1 minute)), back to back when a tick
    // takes longer than that in wall time.
    while (true) {
      const nowMs = clock.nowMs();
      // The site's backend enqueues each session as it starts.
      const starting: SessionInfo[] = [];
      while (enqueued < sessions.length && (sessions[enqueued] as SessionInfo).startTimeMs <= nowMs) {
        starting.push(sessions[enqueued] as SessionInfo);
        enqueued++;
      }
      if (starting.length > 0) {
        await storage.queue.enqueue(
          LOCAL_ACCOUNT_ID,
          starting.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
        );
      }
      try {
        addTick(await poller.tick({ budgetMs: 30_000, safetyMarginMs: 2_000 }));
      } catch (error) {
        pipelineErrors.push((error as Error).message);
        options.log.error('tick failed', { error });
        if (pipelineErrors.length > 5) break;
      }
      const ended = terminal.CAPTURED + terminal.LOST + terminal.INVALID + terminal.FAILED;
      if (
        Date.now() - lastProgressWallMs >= 1000 ||
        (enqueued === sessions.length && ended >= sessions.length)
      ) {
        lastProgressWallMs = Date.now();
        options.onProgress?.({
          simulatedElapsedMs: Math.min(clock.nowMs() - startMs, simulatedTotalMs),
          simulatedTotalMs,
          enqueued,
          live: enqueued - ended,
          captured: terminal.CAPTURED,
          lost: terminal.LOST,
          invalid: terminal.INVALID,
          failed: terminal.FAILED,
          fetches,
          rowsWritten,
        });
      }
      if (enqueued === sessions.length && ended >= sessions.length) break;
      if (clock.nowMs() - startMs > simulatedTotalMs + HOUR_MS) {
        pipelineErrors.push('sessions still ACTIVE an hour past the last deadline');
        break;
      }
      const nextTickMs = nowMs + MINUTE_MS;
      const waitWallMs = clock.wallMsFor(nextTickMs - clock.nowMs());
      if (waitWallMs > 0) await sleep(waitWallMs);
    }

    // What the capture table holds, against the simulator's ground truth.
    const rowsByType: Record<string, number> = {};
    const storedEventKeys = new Map<string, string[]>();
    for (const session of sessions) {
      const rows = await storage.store.sessionRows(LOCAL_ACCOUNT_ID, session.sid);
      for (const row of rows) rowsByType[String(row.rowType)] = (rowsByType[String(row.rowType)] ?? 0) + 1;
      storedEventKeys.set(
        session.sid,
        rows.filter((r) => r.rowType === 'event').map((r) => String(r.sk)),
      );
    }
    const stats = simulator.stats();
    const completeness = await measureCompleteness(
      LOCAL_ACCOUNT_ID,
      sessions.map((s) => ({
        visitorId: s.visitorId,
        sid: s.sid,
        events: world.groundTruth(s.sid).events,
        ...(stats.lastOkAtMsBySid[s.sid] !== undefined ? { lastOkAtMs: stats.lastOkAtMsBySid[s.sid] } : {}),
      })),
      async (sid) => storedEventKeys.get(sid) ?? [],
    );
    return {
      seed: options.seed,
      speed: options.speed,
      visitors: options.visitors,
      wallMs: Date.now() - wallStartMs,
      simulatedMs: clock.nowMs() - startMs,
      dynamoEndpoint: dynamo.endpoint,
      ...(options.dataDir !== undefined ? { dataDir: options.dataDir } : {}),
      settings: storageSettings,
      firstStartMs: sessions[0]?.startTimeMs ?? startMs,
      lastStartMs: sessions.at(-1)?.startTimeMs ?? startMs,
      sessions: await countStates(),
      rowsByType,
      apiCalls: stats.requests,
      fetches,
      ticks,
      completeness,
      simulatorFaults: { ...stats.byFault },
      pipelineErrors,
    };
  } finally {
    storage.documentClient.destroy();
    await simulator.stop();
    await dynamo.close();
  }
}
