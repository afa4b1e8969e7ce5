import { DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';
import { captureExpiresAtSec } from '../../lib/capture-retention';
import { DAY_MS, HOUR_MS, MINUTE_MS, ManualClock } from '../../lib/clock';
import { CAPTURE_TTL_ATTRIBUTE } from '../../lib/keys';
import { silentLog } from '../../lib/log';
import { Poller } from '../../lib/poller/poller';
import { defaultPollPolicy } from '../../lib/poller/policy';
import { CaptureReader } from '../../lib/query/reader';
import { toAnalystRow } from '../../lib/query/rows';
import type { StoredRow } from '../../lib/store/capture-store';
import { createDocumentClient, ensureTables, ensureTimeToLive } from '../../lib/store/dynamo';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { buildPipeline, type Pipeline } from '../support/pipeline';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

const BUDGET = { budgetMs: 60_000 };
const RETENTION_DAYS = 30;

/** The capture table's name behind a pipeline's store (the store keeps it private). */
function captureTableOf(p: Pipeline): string {
  return (p.storage.store as unknown as { tableName: string }).tableName;
}

async function readAll(rows: AsyncIterable<StoredRow>): Promise<StoredRow[]> {
  const out: StoredRow[] = [];
  for await (const row of rows) out.push(row);
  return out;
}

describe.each(storageBackends())('capture retention on $name', ({ name, start }) => {
  let dynamo: LocalDynamo;
  let sim: SimulatorFixture;

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    sim = await startSimulator({ earlyEndProbability: 0 });
  });
  afterEach(async () => {
    await sim.stop();
  });

  /**
   * One session polled from its first answer to its end (404/12 and the outcome row), over several ticks that
   * each write different rows. Returns its rows and the queue item's start time.
   */
  async function pollWholeSession(
    p: Pipeline,
  ): Promise<{ rows: StoredRow[]; startTimeMs: number; sid: string }> {
    const session = sim.world.startSession({ eventRatePerHour: 20, durationMs: 2 * HOUR_MS });
    // The enqueuer's start time, a little off the world's: the TTL follows the queue item, not the answer.
    const startTimeMs = session.startTimeMs + 1_234;
    await p.storage.queue.enqueue(TEST_ACCOUNT, [
      { visitorId: session.visitorId, sid: session.sid, startTimeMs },
    ]);
    sim.clock.advanceMs(30 * MINUTE_MS);
    expect((await p.poller.tick(BUDGET)).rowsWritten).toBeGreaterThan(0);
    sim.clock.advanceMs(45 * MINUTE_MS);
    expect((await p.poller.tick(BUDGET)).rowsWritten).toBeGreaterThan(0);
    sim.clock.advanceMs(2 * HOUR_MS);
    expect((await p.poller.tick(BUDGET)).sessions.CAPTURED).toBe(1);
    const rows = await p.sessionRows(session.sid);
    // Written over three polls: the first rows and the outcome row carry different capture times.
    expect(new Set(rows.map((r) => r.capturedAtMs ?? r.endedAtMs)).size).toBeGreaterThan(1);
    expect(rows.some((r) => r.rowType === 'outcome')).toBe(true);
    expect(rows.some((r) => r.rowType === 'event')).toBe(true);
    return { rows, startTimeMs, sid: session.sid };
  }

  it('sets the TTL attribute of both tables where the server has TTL (DynamoDB Local), and again is a no-op', async () => {
    const settings = dynamo.settings('ttl');
    const client = createDocumentClient(settings);
    try {
      await ensureTables(client, settings);
      await ensureTables(client, settings); // enabling twice would be refused: it must see it is on
      for (const table of [settings.queueTable, settings.captureTable]) {
        const described = await client.send(new DescribeTimeToLiveCommand({ TableName: table }));
        if (name === 'dynalite') {
          // No UpdateTimeToLive in dynalite: left off, and said so.
          expect(await ensureTimeToLive(client, table, CAPTURE_TTL_ATTRIBUTE)).toBe(false);
        } else {
          expect(described.TimeToLiveDescription).toEqual({
            TimeToLiveStatus: 'ENABLED',
            AttributeName: CAPTURE_TTL_ATTRIBUTE,
          });
          expect(await ensureTimeToLive(client, table, CAPTURE_TTL_ATTRIBUTE)).toBe(true);
          await expect(ensureTimeToLive(client, table, 'otherAttribute')).rejects.toThrow(
            /expires items on expiresAtSec, not otherAttribute/,
          );
        }
      }
    } finally {
      client.destroy();
    }
  }, 60_000);

  it('gives every row of a session, from the first poll to the outcome row, the same TTL: the queue start + retention', async () => {
    const p = await buildPipeline(dynamo, sim, {
      clock: sim.clock,
      poller: { captureRetentionDays: RETENTION_DAYS },
    });
    const { rows, startTimeMs } = await pollWholeSession(p);
    const expected = captureExpiresAtSec(startTimeMs, RETENTION_DAYS);
    expect(expected).toBe(Math.floor((startTimeMs + RETENTION_DAYS * DAY_MS) / 1000));
    expect(rows.filter((r) => r[CAPTURE_TTL_ATTRIBUTE] !== expected)).toEqual([]);
  }, 60_000);

  it('writes no TTL with `keep`', async () => {
    const p = await buildPipeline(dynamo, sim);
    const { rows } = await pollWholeSession(p);
    expect(rows.filter((r) => CAPTURE_TTL_ATTRIBUTE in r)).toEqual([]);
  }, 60_000);

  it('a retention set while a session is live reaches all its rows at the next poll, not only the new ones', async () => {
    const p = await buildPipeline(dynamo, sim);
    const session = sim.world.startSession({ eventRatePerHour: 20, durationMs: 4 * HOUR_MS });
    await p.storage.queue.enqueue(TEST_ACCOUNT, [
      { visitorId: session.visitorId, sid: session.sid, startTimeMs: session.startTimeMs },
    ]);
    sim.clock.advanceMs(30 * MINUTE_MS);
    await p.poller.tick(BUDGET);
    const before = await p.sessionRows(session.sid);
    expect(before.filter((r) => CAPTURE_TTL_ATTRIBUTE in r)).toEqual([]);

    // The operator sets a retention: the next poller (a new deployment) runs over the same tables.
    const withRetention = new Poller(
      { queue: p.storage.queue, store: p.storage.store, source: p.client, clock: sim.clock, log: silentLog },
      {
        accountId: TEST_ACCOUNT,
        concurrency: 2,
        policy: defaultPollPolicy(600),
        leaseMs: 300_000,
        safetyMarginMs: 0,
        captureRetentionDays: RETENTION_DAYS,
      },
    );
    sim.clock.advanceMs(1);
    const tick = await withRetention.tick({ ...BUDGET, force: true });
    expect(tick.rowsWritten).toBeGreaterThanOrEqual(before.length);
    const after = await p.sessionRows(session.sid);
    const ttl = captureExpiresAtSec(session.startTimeMs, RETENTION_DAYS);
    expect(after.filter((r) => r[CAPTURE_TTL_ATTRIBUTE] !== ttl)).toEqual([]);

    // From then on, an unchanged answer rewrites nothing but the growing page: the TTL is stable across polls.
    sim.clock.advanceMs(1);
    expect((await withRetention.tick({ ...BUDGET, force: true })).rowsWritten).toBeLessThanOrEqual(1);
  }, 60_000);

  it('lpv query hides rows past their TTL (DynamoDB deletes them late) and shows no TTL column', async () => {
    const p = await buildPipeline(dynamo, sim, {
      clock: sim.clock,
      poller: { captureRetentionDays: 1 },
    });
    const kept = await buildPipeline(dynamo, sim);
    const { rows, sid, startTimeMs } = await pollWholeSession(p);
    const ttlMs = (captureExpiresAtSec(startTimeMs, 1) as number) * 1000;
    const keptSession = await pollWholeSession(kept);

    const readerAt = (nowMs: number, table: string): CaptureReader =>
      new CaptureReader(p.storage.documentClient, {
        tableName: table,
        accountId: TEST_ACCOUNT,
        clock: new ManualClock(nowMs),
      });
    const before = await readAll(readerAt(ttlMs - 1000, captureTableOf(p)).sessionRows(sid));
    expect(before).toHaveLength(rows.length);
    // Analysts do not see the TTL unless they ask for raw rows.
    expect(before.map((r) => toAnalystRow(r)).filter((r) => CAPTURE_TTL_ATTRIBUTE in r)).toEqual([]);
    expect(before.every((r) => CAPTURE_TTL_ATTRIBUTE in toAnalystRow(r, true))).toBe(true);

    const expired = readerAt(ttlMs, captureTableOf(p));
    expect(await readAll(expired.sessionRows(sid))).toEqual([]);
    const visitorId = String(rows[0]?.visitorId);
    expect(await readAll(expired.visitorSessions(visitorId))).toEqual([]);
    const day = { fromMs: startTimeMs - DAY_MS, toMs: startTimeMs + DAY_MS };
    expect(await readAll(expired.sessionsInRange(day))).toEqual([]);
    // Read and counted (DynamoDB still returned them), but not handed out.
    expect(expired.stats().itemsRead).toBeGreaterThan(0);

    // Rows without a TTL (kept) are never hidden, however late.
    const late = readerAt(ttlMs + 365 * DAY_MS, captureTableOf(kept));
    expect(await readAll(late.sessionRows(keptSession.sid))).toHaveLength(keptSession.rows.length);
  }, 60_000);
});
