/**
 * Figure 6 (issue 16): what the poll cadence costs and buys. The curve of LivePerson calls per captured session
 * against the share of all produced events stored, one point per cadence setting (lib/poll-cadence.ts), each
 * measured against the simulator's ground truth.
 *
 * Every point runs the traffic of figure 7 (capacity.ts; `npm start -- --visitors 120 --seed 42`'s sessions,
 * arrivals over 90 minutes, its scripted sprinkle of 5xx, 429 and resets) through the real Poller, decision
 * rules and policy, the real HTTP client and the simulator's server, one tick per simulated minute on a manual
 * clock, so the numbers do not depend on the machine's speed and `npm run capacity` counts the same calls for
 * the default. Only the storage is in memory (due-queue.ts keeps the schedule): the figure counts calls and
 * events, not units, and DynamoDB would make seven runs take minutes.
 *
 *   calls per captured session   every request the simulator received (retries and 404/12 included) / CAPTURED
 *   produced events stored       stored / produced: events a session produced after its last answered poll are
 *                                the price of the cadence
 *   observable events stored     stored / what the simulator had served: must be 100 % at every setting
 */
import { newFlattenPlans } from '../../lib/capture/flatten';
import { HOUR_MS, MINUTE_MS, SESSION_MAX_AGE_MS, ManualClock } from '../../lib/clock';
import { measureCompleteness, type CompletenessReport } from '../../lib/completeness';
import { silentLog } from '../../lib/log';
import { DEFAULT_POLL_CADENCE, type PollCadence } from '../../lib/poll-cadence';
import { Poller } from '../../lib/poller/poller';
import { defaultPollPolicy, pollPolicy, type PollPolicy } from '../../lib/poller/policy';
import { createPrivacyPolicy } from '../../lib/privacy/policy';
import { DEFAULT_SIMULATOR_CREDENTIALS, VisitSimulator } from '../../lib/simulator/server';
import { SimulatedWorld, type SessionInfo } from '../../lib/simulator/world';
import {
  emptyWriteStats,
  type CaptureStore,
  type RowUpdate,
  type StoredRow,
  type UpdateStats,
} from '../../lib/store/capture-store';
import { simulatorClient, START_MS, startTraffic } from './capacity';
import { DueMemoryQueue } from './due-queue';
import { fixed, type Figure, type Line } from './report';

/** The target for the default: at most this many LivePerson calls per captured session. */
export const CALLS_PER_SESSION_TARGET = 25;

export interface CadenceSetting {
  /** Short name in the table. */
  name: string;
  policy: PollPolicy;
  /** The cadence before issue 16, which the default is compared with. */
  before?: true;
  /** The deployment's default. */
  default?: true;
}

function cadence(name: string, c: PollCadence, flags: Partial<Pick<CadenceSetting, 'default'>> = {}) {
  return { name, policy: pollPolicy(c), ...flags };
}

/**
 * The points of the curve: the cadence before issue 16, then one change at a time (the speed-up after events
 * gone, the last look, a longer interval), the default, a harder quiet back-off, and a long fixed interval.
 */
export const CADENCE_SETTINGS: readonly CadenceSetting[] = [
  { name: '600 s, 200 s after events (before)', policy: defaultPollPolicy(600), before: true },
  cadence('600 s fixed', { pollIntervalSec: 600, quietMaxIntervalSec: 600, lastLook: false }),
  cadence('600 s fixed + last look', { pollIntervalSec: 600, quietMaxIntervalSec: 600 }),
  cadence('840 s fixed + last look', { pollIntervalSec: 840, quietMaxIntervalSec: 840 }),
  cadence('840 s, quiet ≤ 1200 s + last look', DEFAULT_POLL_CADENCE, { default: true }),
  cadence('840 s, quiet ≤ 2400 s + last look', { pollIntervalSec: 840, quietMaxIntervalSec: 2400 }),
  cadence('1200 s fixed + last look', { pollIntervalSec: 1200, quietMaxIntervalSec: 1200 }),
];

export interface CadenceOptions {
  visitors: number;
  /** Each setting runs once per seed; the points sum them. */
  seeds: readonly number[];
  arrivalWindowMin: number;
  settings?: readonly CadenceSetting[];
}

export const DEFAULT_CADENCE_OPTIONS: CadenceOptions = { visitors: 120, seeds: [42], arrivalWindowMin: 90 };

export interface CadencePoint {
  name: string;
  sessions: number;
  captured: number;
  lost: number;
  calls: number;
  callsPerCaptured: number;
  completeness: CompletenessReport;
}

const ACCOUNT = 'cadence-bench';

/** Rows by session and sort key: what a table keyed like the capture table would hold. */
class KeyedMemoryStore implements CaptureStore {
  private readonly bySid = new Map<string, Map<string, StoredRow>>();
  async putRows(rows: readonly StoredRow[]): Promise<ReturnType<typeof emptyWriteStats>> {
    for (const row of rows) {
      const sid = String(row.sid);
      let session = this.bySid.get(sid);
      if (session === undefined) this.bySid.set(sid, (session = new Map()));
      session.set(String(row.sk), row);
    }
    return { ...emptyWriteStats(), rowsWritten: rows.length, batchCalls: 1 };
  }
  async updateRows(updates: readonly RowUpdate[]): Promise<UpdateStats> {
    const stats: UpdateStats = { rowsUpdated: 0, rowsMissing: 0, rowsUnwritten: 0 };
    for (const update of updates) {
      const row = [...this.bySid.values()].find((rows) => rows.has(update.sk))?.get(update.sk);
      if (row === undefined || row.pk !== update.pk) stats.rowsMissing++;
      else {
        Object.assign(row, update.set);
        stats.rowsUpdated++;
      }
    }
    return stats;
  }
  async sessionRows(_accountId: string, sid: string): Promise<StoredRow[]> {
    return [...(this.bySid.get(sid)?.values() ?? [])];
  }
}

/** One setting on one seed's traffic. */
async function runPoint(setting: CadenceSetting, seed: number, options: CadenceOptions) {
  const clock = new ManualClock(START_MS);
  const world = new SimulatedWorld({ seed, accountId: ACCOUNT, clock });
  const simulator = new VisitSimulator({
    world,
    credentials: DEFAULT_SIMULATOR_CREDENTIALS,
    faults: {},
    seed,
  });
  await simulator.start();
  try {
    // The sessions and scripted faults of figure 7 for the same seed.
    const sessions = startTraffic(world, simulator, { ...options, seed });
    const source = simulatorClient(ACCOUNT, simulator, clock);
    const queue = new DueMemoryQueue();
    const store = new KeyedMemoryStore();
    const poller = new Poller(
      {
        queue,
        store,
        source,
        clock,
        log: silentLog,
        flattenPlans: newFlattenPlans({ privacy: createPrivacyPolicy() }),
        random: () => 0.5,
      },
      {
        accountId: ACCOUNT,
        concurrency: 32,
        policy: setting.policy,
        leaseMs: 45_000,
        maxRequestsPerSec: 0,
        schedulePeriodMs: MINUTE_MS,
        requestTimeoutMs: source.requestTimeoutMs,
      },
    );
    const outcomes = { CAPTURED: 0, LOST: 0, INVALID: 0, FAILED: 0 };
    const lastDeadlineMs = (sessions.at(-1)?.startTimeMs ?? START_MS) + SESSION_MAX_AGE_MS;
    let next = 0;
    for (;;) {
      const starting: Array<{ visitorId: string; sid: string; startTimeMs: number }> = [];
      while (next < sessions.length && (sessions[next] as SessionInfo).startTimeMs <= clock.nowMs()) {
        const s = sessions[next++] as SessionInfo;
        starting.push({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs });
      }
      if (starting.length > 0) await queue.enqueue(ACCOUNT, starting);
      const summary = await poller.tick({ budgetMs: 300_000, safetyMarginMs: 15_000 });
      if (summary.stoppedBy !== 'done' || summary.itemErrors > 0 || summary.itemsDeferred > 0) {
        throw new Error(
          `${setting.name}, seed ${seed}: a tick stopped by ${summary.stoppedBy}, ${summary.itemErrors} item ` +
            `errors, ${summary.itemsDeferred} deferred: the run would not measure the cadence alone`,
        );
      }
      for (const state of Object.keys(outcomes) as Array<keyof typeof outcomes>)
        outcomes[state] += summary.sessions[state];
      if (outcomes.CAPTURED + outcomes.LOST + outcomes.INVALID + outcomes.FAILED >= sessions.length) break;
      if (clock.nowMs() > lastDeadlineMs + HOUR_MS) {
        throw new Error(
          `${setting.name}, seed ${seed}: sessions still ACTIVE an hour past the last deadline`,
        );
      }
      clock.setMs(clock.nowMs() + MINUTE_MS);
    }
    const stats = simulator.stats();
    const completeness = await measureCompleteness(
      ACCOUNT,
      sessions.map((s) => ({
        visitorId: s.visitorId,
        sid: s.sid,
        events: world.groundTruth(s.sid).events,
        ...(stats.lastOkAtMsBySid[s.sid] !== undefined ? { lastOkAtMs: stats.lastOkAtMsBySid[s.sid] } : {}),
      })),
      async (sid) =>
        (await store.sessionRows(ACCOUNT, sid)).filter((r) => r.rowType === 'event').map((r) => String(r.sk)),
    );
    return { sessions: sessions.length, outcomes, calls: stats.requests, completeness };
  } finally {
    await simulator.stop();
  }
}

/** The settings' points, each summed over the seeds. */
export async function measureCadence(options: CadenceOptions): Promise<CadencePoint[]> {
  const points: CadencePoint[] = [];
  for (const setting of options.settings ?? CADENCE_SETTINGS) {
    const point = {
      name: setting.name,
      sessions: 0,
      captured: 0,
      lost: 0,
      calls: 0,
      produced: 0,
      stored: 0,
      observable: 0,
      storedObservable: 0,
      duplicates: 0,
      incomplete: [] as CompletenessReport['incompleteSessions'],
    };
    for (const seed of options.seeds) {
      const r = await runPoint(setting, seed, options);
      point.sessions += r.sessions;
      point.captured += r.outcomes.CAPTURED;
      point.lost += r.outcomes.LOST;
      point.calls += r.calls;
      point.produced += r.completeness.producedEvents;
      point.stored += r.completeness.storedEvents;
      point.observable += r.completeness.observableEvents;
      point.storedObservable += r.completeness.storedObservableEvents;
      point.duplicates += r.completeness.duplicates;
      point.incomplete.push(...r.completeness.incompleteSessions);
    }
    points.push({
      name: point.name,
      sessions: point.sessions,
      captured: point.captured,
      lost: point.lost,
      calls: point.calls,
      callsPerCaptured: point.calls / Math.max(1, point.captured),
      completeness: {
        sessions: point.sessions,
        producedEvents: point.produced,
        observableEvents: point.observable,
        storedEvents: point.stored,
        storedObservableEvents: point.storedObservable,
        completeness: point.observable === 0 ? 1 : point.storedObservable / point.observable,
        completenessOfProduced: point.produced === 0 ? 1 : point.stored / point.produced,
        duplicates: point.duplicates,
        incompleteSessions: point.incomplete,
      },
    });
  }
  return points;
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(2)}%`;
}

/** The figure's lines: the default against the targets, then the curve as a table. */
export function cadenceLines(
  points: readonly CadencePoint[],
  options: CadenceOptions,
  settings: readonly CadenceSetting[] = options.settings ?? CADENCE_SETTINGS,
): Line[] {
  const setup =
    `${options.visitors} simulator visitors × seed${options.seeds.length > 1 ? 's' : ''} ${options.seeds.join(', ')}, ` +
    `arrivals over ${options.arrivalWindowMin} min, scripted 5xx/429/reset sprinkle, one tick a minute`;
  const index = (pick: (s: CadenceSetting) => boolean | undefined): number =>
    settings.findIndex((s) => pick(s));
  const before = points[index((s) => s.before)];
  const chosen = points[index((s) => s.default)];
  const figures: Figure[] = [];
  if (chosen !== undefined) {
    const c = chosen.completeness;
    const raw =
      `${fixed(chosen.callsPerCaptured, 1)} calls per captured session (${chosen.calls} calls, ${chosen.captured} ` +
      `captured, ${chosen.lost} lost); produced events stored ${pct(c.completenessOfProduced)} ` +
      `(${c.storedEvents}/${c.producedEvents}); observable ${c.storedObservableEvents}/${c.observableEvents}; ` +
      `duplicates ${c.duplicates}; ${setup}`;
    figures.push({
      id: '6',
      title: `default cadence (${chosen.name}): LivePerson calls per captured session`,
      ratio: chosen.callsPerCaptured / CALLS_PER_SESSION_TARGET,
      against: `of the issue's ${CALLS_PER_SESSION_TARGET}`,
      target: { op: '<=', value: 1 },
      raw,
    });
    if (before !== undefined) {
      const b = before.completeness;
      figures.push({
        id: '6',
        title: `default cadence: share of produced events stored`,
        ratio: c.completenessOfProduced / b.completenessOfProduced,
        against: `of the cadence before issue 16 (${pct(b.completenessOfProduced)}, same traffic)`,
        target: { op: '>=', value: 1 },
        raw: `${pct(c.completenessOfProduced)} against ${pct(b.completenessOfProduced)}; before: ${fixed(
          before.callsPerCaptured,
          1,
        )} calls per captured session; ${setup}`,
      });
    }
    figures.push({
      id: '6',
      title: `default cadence: observable events stored`,
      ratio: c.completeness,
      against: 'of observable (ground truth)',
      target: { op: '=', value: 1 },
      raw: `${c.storedObservableEvents}/${c.observableEvents}; duplicates ${c.duplicates}`,
    });
  }
  const width = Math.max(...points.map((p) => p.name.length));
  const table = [
    `    cadence → LivePerson calls per captured session → produced events stored (lost) → observable stored`,
    ...points.map((p) => {
      const c = p.completeness;
      const marks = settings.find((s) => s.name === p.name);
      const mark = marks?.default ? '  ← default' : marks?.before ? '  ← before issue 16' : '';
      return (
        `    ${p.name.padEnd(width)} → ${fixed(p.callsPerCaptured, 1).padStart(5)} → ` +
        `${pct(c.completenessOfProduced).padStart(7)} (${String(c.producedEvents - c.storedEvents).padStart(4)}) → ` +
        `${pct(c.completeness)}${mark}`
      );
    }),
  ];
  return [...figures, ...table];
}

/** Figure 6 for run.ts. */
export async function benchCadence(options: CadenceOptions = DEFAULT_CADENCE_OPTIONS): Promise<Line[]> {
  return cadenceLines(await measureCadence(options), options);
}
