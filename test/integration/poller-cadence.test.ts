import { HOUR_MS, SECOND_MS } from '../../lib/clock';
import { loadPollerSettings, type Env } from '../../lib/config';
import { silentLog } from '../../lib/log';
import { createPrivacyPolicy } from '../../lib/privacy/policy';
import type { QueueItem } from '../../lib/queue/model';
import type { SessionInfo } from '../../lib/simulator/world';
import { createPoller, createStorage, type Storage } from '../../lib/wiring';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

/**
 * The poller following the cadence (lib/poll-cadence.ts) end to end: settings from the environment
 * (loadPollerSettings), the poller as the Lambda wires it (createPoller), the simulator over HTTP, the queue and
 * capture table on dynalite, one manual clock moved to the next due time (a tick exactly when an item is due:
 * the cadence alone decides the poll times). dynalite only, not storageBackends(): nothing here depends on the
 * storage's behaviour, and one server keeps the file within a few seconds.
 */
describe('Poller following the poll cadence', () => {
  let dynamo: LocalDynamo;
  let sim: SimulatorFixture;

  beforeAll(async () => {
    dynamo = await startDynalite();
  }, 30_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    sim = await startSimulator({ earlyEndProbability: 0 });
  });
  afterEach(async () => {
    await sim.stop();
  });

  async function pipeline(env: Env) {
    const settings = dynamo.settings('cadence');
    await dynamo.createTables(settings);
    const storage: Storage = createStorage(settings, sim.clock);
    const poller = createPoller(TEST_ACCOUNT, loadPollerSettings(env), {
      storage,
      source: sim.client(),
      clock: sim.clock,
      log: silentLog,
      privacy: createPrivacyPolicy(),
    });
    const items = async (): Promise<QueueItem[]> => {
      const all: QueueItem[] = [];
      for await (const page of storage.queue.list(TEST_ACCOUNT)) all.push(...page);
      return all;
    };
    return { storage, poller, items };
  }

  /**
   * Enqueues the sessions, then ticks at each next due time until every item has ended. Returns each session's
   * poll times (session-clock ms) as the queue items recorded them.
   */
  async function runUntilEnded(sessions: SessionInfo[], env: Env = {}) {
    const p = await pipeline(env);
    await p.storage.queue.enqueue(
      TEST_ACCOUNT,
      sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
    );
    const polls = new Map<string, number[]>(sessions.map((s) => [s.sid, []]));
    const pollCounts = new Map<string, number>();
    let items = await p.items();
    for (let ticks = 0; ticks < 200; ticks++) {
      const active = items.filter((i) => i.state === 'ACTIVE');
      if (active.length === 0) return { ...p, polls, items };
      const due = Math.min(...active.map((i) => i.nextPollAtMs ?? 0));
      if (due > sim.clock.nowMs()) sim.clock.setMs(due);
      const summary = await p.poller.tick({ budgetMs: 60_000 });
      expect(summary.itemErrors).toBe(0);
      items = await p.items();
      for (const item of items) {
        if (item.pollCount !== (pollCounts.get(item.sid) ?? 0)) {
          pollCounts.set(item.sid, item.pollCount);
          polls.get(item.sid)?.push(item.lastPolledAtMs as number);
        }
      }
    }
    throw new Error('sessions still ACTIVE after 200 ticks');
  }

  const gapsSec = (times: readonly number[]): number[] =>
    times.slice(1).map((t, i) => (t - (times[i] as number)) / SECOND_MS);

  it('backs a quiet session off to the cap, keeps the final poll and the last look, and ends it at the deadline', async () => {
    const quiet = sim.world.startSession({ eventRatePerHour: 0 });
    const { polls, items } = await runUntilEnded([quiet]);
    // Quiet since its start: 840 s (the interval), again 840 s (quiet 14 min), then the 1200 s cap; the final
    // poll at D − 180 s (540 s after the last regular one), the last look at D − 70 s.
    expect(gapsSec(polls.get(quiet.sid) ?? [])).toEqual([840, 840, ...Array(16).fill(1200), 540, 110]);
    const deadline = quiet.startTimeMs + 6 * HOUR_MS;
    expect(polls.get(quiet.sid)?.at(-1)).toBe(deadline - 70 * SECOND_MS);
    // No request at the deadline: the item ends CAPTURED when it is claimed there.
    expect(items[0]).toMatchObject({
      state: 'CAPTURED',
      pollCount: 21,
      successCount: 21,
      endedAtMs: deadline,
    });
  });

  it('polls an active session at the interval after new events and by its quiet time otherwise; when LivePerson ends it early, loses only what came after its last answered poll', async () => {
    // Ended by LivePerson 3 h in: the last look and the final poll are the quiet session's test above.
    const active = sim.world.startSession({ eventRatePerHour: 4, durationMs: 3 * HOUR_MS });
    const events = sim.world.groundTruth(active.sid).events.map((e) => e.serverTimeStamp);
    const { polls, items, storage } = await runUntilEnded([active]);
    const times = polls.get(active.sid) ?? [];
    // The last poll met 404/12; the ones before it were answered.
    const answered = times.slice(0, -1);
    // The oracle: from the ground truth, whether each poll saw new events and since when the session was quiet.
    let seen = 0;
    let afterEvents = 0;
    let quietBackOff = 0;
    answered.forEach((t, i) => {
      const upTo = events.filter((e) => e <= t);
      const newEvents = upTo.length !== seen;
      seen = upTo.length;
      const quietMs = t - Math.max(active.startTimeMs, ...upTo);
      const interval = newEvents
        ? 840 * SECOND_MS
        : Math.min(1200 * SECOND_MS, Math.max(840 * SECOND_MS, quietMs));
      if (newEvents) afterEvents++;
      else if (interval > 840 * SECOND_MS) quietBackOff++;
      expect((times[i + 1] as number) - t).toBe(interval);
    });
    // Both rules were exercised.
    expect(afterEvents).toBeGreaterThan(0);
    expect(quietBackOff).toBeGreaterThan(0);
    // The bound: the session ended within one capped interval of its last answered poll, and every event up to
    // that poll is stored, none after it.
    const lastOk = answered.at(-1) as number;
    expect(times.at(-1)).toBeGreaterThanOrEqual(active.endTimeMs);
    expect(active.endTimeMs - lastOk).toBeLessThanOrEqual(1200 * SECOND_MS);
    const stored = (await storage.store.sessionRows(TEST_ACCOUNT, active.sid)).filter(
      (r) => r.rowType === 'event',
    );
    expect(stored).toHaveLength(events.filter((e) => e <= lastOk).length);
    expect(items[0]).toMatchObject({ state: 'CAPTURED', lastOutcome: '404/12' });
  });

  it('takes its settings from the environment: a fixed 600 s interval with a wider cap and no last look', async () => {
    const quiet = sim.world.startSession({ eventRatePerHour: 0 });
    const { polls } = await runUntilEnded([quiet], {
      POLL_INTERVAL_SECONDS: '600',
      POLL_QUIET_MAX_INTERVAL_SECONDS: '2400',
      POLL_LAST_LOOK: 'false',
    });
    // Quiet since its start: 600, 600, 1200, then the 2400 s cap; the final poll at D − 180 s, and nothing after.
    const gaps = gapsSec(polls.get(quiet.sid) ?? []);
    expect(gaps.slice(0, 4)).toEqual([600, 600, 1200, 2400]);
    expect(gaps.slice(4, -1).every((g) => g === 2400)).toBe(true);
    expect(polls.get(quiet.sid)?.at(-1)).toBe(quiet.startTimeMs + 6 * HOUR_MS - 180 * SECOND_MS);
  });
});
