import { systemClock } from '../../lib/clock';
import { flattenVisitState } from '../../lib/capture/flatten';
import { NO_FAULTS } from '../../lib/simulator/server';
import type { StorageSettings } from '../../lib/config';
import type { QueueItem } from '../../lib/queue/model';
import { createStorage } from '../../lib/wiring';
import { runLpv, spawnLpv } from '../support/cli';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

// The CLI runs in child processes on the wall clock; the simulator shares it.
jest.setTimeout(120_000);

let dynamo: LocalDynamo;
let sim: SimulatorFixture;
let settings: StorageSettings;
let env: Record<string, string>;

beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(async () => {
  sim = await startSimulator({ clock: systemClock, earlyEndProbability: 0 });
  settings = dynamo.settings('cli');
  env = {
    LP_ACCOUNT_ID: TEST_ACCOUNT,
    LP_BASE_URL: sim.simulator.baseUrl,
    LP_CONSUMER_KEY: sim.credentials.consumerKey,
    LP_CONSUMER_SECRET: sim.credentials.consumerSecret,
    LP_TOKEN: sim.credentials.token,
    LP_TOKEN_SECRET: sim.credentials.tokenSecret,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    AWS_REGION: 'local',
    QUEUE_TABLE: settings.queueTable,
    CAPTURE_TABLE: settings.captureTable,
    LOG_LEVEL: 'warn',
  };
});
afterEach(async () => {
  await sim.stop();
});

async function queueItems(): Promise<Array<Record<string, unknown>>> {
  const result = await runLpv(['queue', '--format', 'json'], env);
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Array<Record<string, unknown>>;
}

describe('lpv end to end (separate processes, dynalite, simulator)', () => {
  it('creates tables, enqueues (reporting bad lines), polls, re-polls, and records each outcome', async () => {
    expect((await runLpv(['tables', 'create'], env)).code).toBe(0);
    const again = await runLpv(['tables', 'create'], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already exists/);

    const live = sim.world.startSession({ eventRatePerHour: 3600 });
    const ending = sim.world.startSession({ eventRatePerHour: 3600 });
    const gone = sim.world.startSession({ durationMs: 1 });
    const other = sim.world.startSession();
    const lines = [
      JSON.stringify({ visitorId: live.visitorId, sid: live.sid, startTime: live.startTimeMs }),
      '{not json',
      JSON.stringify({ visitorId: ending.visitorId, sid: ending.sid }),
      JSON.stringify({ visitorId: '../etc', sid: 'x' }),
      JSON.stringify({ visitorId: gone.visitorId, sid: gone.sid }),
      JSON.stringify({ visitorId: live.visitorId, sid: other.sid }),
      JSON.stringify({ visitorId: live.visitorId, sid: live.sid }),
    ];
    const enqueued = await runLpv(['enqueue'], env, lines.join('\n') + '\n');
    expect(enqueued.code).toBe(2);
    expect(enqueued.stderr).toMatch(/line 2: not valid JSON/);
    expect(enqueued.stderr).toMatch(/line 4: visitorId contains '\/'/);
    expect(enqueued.stderr).toMatch(/enqueued 4 new, 1 already queued, 2 rejected/);
    expect(enqueued.stdout).toBe('');

    await new Promise((resolve) => setTimeout(resolve, 20));
    const polled = await runLpv(['poll'], env);
    expect(polled.code).toBe(0);
    const summary = JSON.parse(polled.stdout) as {
      fetches: Record<string, number>;
      sessions: Record<string, number>;
    };
    expect(summary.fetches).toMatchObject({ ok: 2, expired_12: 1, invalid_session_39: 1 });
    expect(summary.sessions).toMatchObject({ LOST: 1, INVALID: 1 });

    let items = await queueItems();
    const bySid = (sid: string, visitorId: string) =>
      items.find((i) => i.sid === sid && i.visitorId === visitorId);
    expect(bySid(live.sid, live.visitorId)).toMatchObject({
      state: 'ACTIVE',
      lastOutcome: '200',
      attempts: 0,
    });
    expect(bySid(gone.sid, gone.visitorId)).toMatchObject({ state: 'LOST', lastOutcome: '404/12' });
    expect(bySid(other.sid, live.visitorId)).toMatchObject({ state: 'INVALID', lastOutcome: '404/39' });
    expect(typeof bySid(live.sid, live.visitorId)?.deadline).toBe('string');

    // A re-poll (forced) after more activity stores only the new rows, no duplicates.
    await new Promise((resolve) => setTimeout(resolve, 50));
    sim.world.endSession(ending.sid);
    const repoll = await runLpv(['poll', '--force'], env);
    expect(repoll.code).toBe(0);
    const second = JSON.parse(repoll.stdout) as {
      fetches: Record<string, number>;
      sessions: Record<string, number>;
    };
    expect(second.fetches).toMatchObject({ ok: 1, expired_12: 1 });
    expect(second.sessions).toMatchObject({ CAPTURED: 1 });
    items = await queueItems();
    expect(bySid(ending.sid, ending.visitorId)).toMatchObject({ state: 'CAPTURED', lastOutcome: '404/12' });
    expect(bySid(live.sid, live.visitorId)).toMatchObject({ state: 'ACTIVE', pollCount: 2 });

    const storage = createStorage(settings, systemClock);
    const rows = await storage.store.sessionRows(TEST_ACCOUNT, ending.sid);
    expect(rows.find((r) => r.rowType === 'outcome')).toMatchObject({ finalState: 'CAPTURED' });
    const events = rows.filter((r) => r.rowType === 'event');
    expect(new Set(events.map((r) => r.sk)).size).toBe(events.length);

    const status = await runLpv(['status', '--format', 'json'], env);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      counts: { ACTIVE: 1, CAPTURED: 1, LOST: 1, INVALID: 1, FAILED: 0 },
      lastTick: { stoppedBy: 'done' },
    });
    storage.documentClient.destroy();
  });

  it('answers bad flags with usage and exit 2, and --help with exit 0', async () => {
    const bad = await runLpv(['poll', '--bogus'], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Usage: lpv poll/);
    expect((await runLpv(['enqueue', '--visitor', 'abc'], env)).code).toBe(2);
    expect((await runLpv(['nosuch'], env)).code).toBe(2);
    const help = await runLpv(['enqueue', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/NDJSON/);
    const missing = await runLpv(['poll'], { ...env, LP_ACCOUNT_ID: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
    expect(missing.stderr).toMatch(/LP_ACCOUNT_ID/);
  });

  it('exits 3 when the tick stops on a credential fault', async () => {
    await runLpv(['tables', 'create'], env);
    const s = sim.world.startSession();
    await runLpv(['enqueue', '--visitor', s.visitorId, '--sid', s.sid], env);
    const result = await runLpv(['poll'], { ...env, LP_TOKEN_SECRET: 'wrong' });
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/configuration_fault/);
    expect(result.stderr).not.toMatch(/wrong|sim-access-token-secret/);
    expect((await queueItems())[0]).toMatchObject({ state: 'ACTIVE', pollCount: 0 });
  });

  it('fetches every item exactly once when two ticks run at once', async () => {
    await runLpv(['tables', 'create'], env);
    const sessions = Array.from({ length: 60 }, () => sim.world.startSession());
    await runLpv(
      ['enqueue'],
      env,
      sessions.map((s) => JSON.stringify({ visitorId: s.visitorId, sid: s.sid })).join('\n'),
    );
    sim.simulator.setFaults({ ...NO_FAULTS, latencyMs: { min: 5, max: 40 } });
    sim.simulator.resetStats();
    const tickEnv = { ...env, POLL_CONCURRENCY: '4' };
    // Not --force: a tick that starts after the other polled an item may rightly poll it again when forced.
    const [a, b] = await Promise.all([runLpv(['poll'], tickEnv), runLpv(['poll'], tickEnv)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const okA = (JSON.parse(a.stdout) as { fetches: { ok: number } }).fetches.ok;
    const okB = (JSON.parse(b.stdout) as { fetches: { ok: number } }).fetches.ok;
    expect(okA + okB).toBe(60);
    const okBySid = sim.simulator.stats().okBySid;
    expect(Object.keys(okBySid)).toHaveLength(60);
    expect(Object.values(okBySid).every((n) => n === 1)).toBe(true);
  });

  it('loses and duplicates nothing when a tick is killed midway and the next runs after the lease', async () => {
    await runLpv(['tables', 'create'], env);
    const sessions = Array.from({ length: 24 }, () =>
      sim.world.startSession({ eventRatePerHour: 3600, durationMs: 10 * 60_000 }),
    );
    await runLpv(
      ['enqueue'],
      env,
      sessions.map((s) => JSON.stringify({ visitorId: s.visitorId, sid: s.sid })).join('\n'),
    );
    sim.simulator.setFaults({ ...NO_FAULTS, latencyMs: 400 });
    sim.simulator.resetStats();
    // A 6 s lease passes the timing check (lib/poll-timing.ts) only with requests bounded well below it:
    // 3 × 0.65 s + 4 s ≤ 6 s (one item's wait for a fetch slot, requests, rows and ack within its lease).
    const tickEnv = { ...env, POLL_CONCURRENCY: '4', LEASE_SECONDS: '6', LP_REQUEST_TIMEOUT_MS: '650' };
    const victim = spawnLpv(['poll'], tickEnv);
    // Kill it once it is mid-flight: some items acked, some leased with requests outstanding.
    while (sim.simulator.stats().requests < 10) await new Promise((resolve) => setTimeout(resolve, 20));
    victim.child.kill('SIGKILL');
    const killed = await victim.done;
    expect(killed.signal).toBe('SIGKILL');
    const afterKill = await queueItems();
    const untouchedOrLeased = afterKill.filter((i) => i.pollCount === 0);
    expect(untouchedOrLeased.length).toBeGreaterThan(0);

    sim.simulator.setFaults({ ...NO_FAULTS });
    await new Promise((resolve) => setTimeout(resolve, 6100));
    const rerun = await runLpv(['poll'], tickEnv);
    expect(rerun.code).toBe(0);
    const items = await queueItems();
    expect(
      items.every((i) => (i.pollCount as number) >= 1 && i.state === 'ACTIVE' && i.lastOutcome === '200'),
    ).toBe(true);

    const storage = createStorage(settings, systemClock);
    const queueState: QueueItem[] = [];
    for await (const page of storage.queue.list(TEST_ACCOUNT)) queueState.push(...page);
    for (const session of sessions) {
      const rows = await storage.store.sessionRows(TEST_ACCOUNT, session.sid);
      const events = rows.filter((r) => r.rowType === 'event');
      // No duplicates: every stored event is a distinct event of the ground truth, each once.
      expect(new Set(events.map((r) => r.sk)).size).toBe(events.length);
      // Nothing lost: the stored events are exactly the session's events up to the last capture, no gap.
      const flat = flattenVisitState({
        accountId: TEST_ACCOUNT,
        visitorId: session.visitorId,
        sid: session.sid,
        state: sim.world.stateAt(session.visitorId, session.sid, Date.now()),
      });
      const stored = new Set(events.map((r) => r.sk as string));
      const lastStoredMs = Math.max(...events.map((r) => r.serverTimeStamp as number));
      const expected = flat.rows.filter(
        (r) => r.rowType === 'event' && (r.serverTimeStamp as number) <= lastStoredMs,
      );
      // ...and at least every event produced before the poll that captured it was claimed.
      const item = queueState.find((i) => i.sid === session.sid);
      const producedBeforeClaim = flat.rows.filter(
        (r) => r.rowType === 'event' && (r.serverTimeStamp as number) <= (item?.lastClaimedAtMs ?? 0),
      );
      expect(producedBeforeClaim.filter((r) => !stored.has(r.sk as string))).toEqual([]);
      expect(expected.map((r) => r.sk).filter((sk) => !stored.has(sk as string))).toEqual([]);
      expect(events.length).toBe(expected.length);
    }
    storage.documentClient.destroy();
  });
});
