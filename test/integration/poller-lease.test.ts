import { systemClock } from '../../lib/clock';
import type { VisitStateSource } from '../../lib/liveperson/client';
import type { FetchOutcome } from '../../lib/liveperson/outcome';
import { silentLog } from '../../lib/log';
import { ITEM_ACK_MARGIN_MS, minimumLeaseMs } from '../../lib/poll-timing';
import { Poller, type PollerOptions } from '../../lib/poller/poller';
import { defaultPollPolicy } from '../../lib/poller/policy';
import type { Queue, QueueItem } from '../../lib/queue/model';
import type { PutRowsOptions } from '../../lib/store/capture-store';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { buildPipeline, type Pipeline } from '../support/pipeline';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

/**
 * Each claimed item's work is bounded by its own lease, not by the tick (lib/poll-timing.ts, condition 2): an
 * item that waits for its fetch slot too long is handed back untouched, its row writes stop at its item
 * deadline, a held 400/33 item is released at it, and no ack lands after the lease. Real queue and capture
 * store on dynalite, the real client against the simulator, every clock the wall clock (leases, as in the Lambda
 * and the CLI, are session time running at wall speed). One backend only: what is tested is the poller's own
 * timing (tens of seconds of wall-clock waits per backend); the lease conditions that refuse a late ack are the
 * store's, tested on both backends in dynamo-queue.test.ts and poller-faults.test.ts (a lost lease).
 */

jest.setTimeout(60_000);

const BAD_REQUEST_33: FetchOutcome = { kind: 'bad_request_33', httpStatus: 400 };

/** What the queue was asked to do, and when each call had landed (wall clock = session clock here). */
interface QueueWrite {
  op: 'ack' | 'release';
  sid: string;
  /** The lease of the item as claimed (the claim's answer). */
  leaseUntilMs: number | undefined;
  landedAtMs: number;
}

function watchQueue(queue: Queue, writes: QueueWrite[]): Queue {
  const record = (op: QueueWrite['op'], item: QueueItem) =>
    writes.push({ op, sid: item.sid, leaseUntilMs: item.leaseUntilMs, landedAtMs: systemClock.nowMs() });
  return {
    enqueue: (accountId, requests) => queue.enqueue(accountId, requests),
    duePages: (accountId, nowMs, options) => queue.duePages(accountId, nowMs, options),
    claim: (item, claim) => queue.claim(item, claim),
    loadRowDigests: (item) => queue.loadRowDigests(item),
    async release(item, owner) {
      await queue.release(item, owner);
      record('release', item);
    },
    async ack(item, owner, update) {
      const acked = await queue.ack(item, owner, update);
      record('ack', item);
      return acked;
    },
    list: (accountId) => queue.list(accountId),
    saveTickSummary: (accountId, summary) => queue.saveTickSummary(accountId, summary),
    loadTickSummary: (accountId) => queue.loadTickSummary(accountId),
  };
}

/** Every ack and release landed within the lease of the item it was for. */
function expectWithinLeases(writes: QueueWrite[]): void {
  expect(writes.length).toBeGreaterThan(0);
  const late = writes.filter((w) => w.leaseUntilMs === undefined || w.landedAtMs > w.leaseUntilMs);
  expect(late).toEqual([]);
}

describe.each([{ name: 'dynalite', start: startDynalite }])('on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let sim: SimulatorFixture;

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    // Sessions on the wall clock, as the queue and the poller below.
    sim = await startSimulator({ earlyEndProbability: 0, clock: systemClock });
  });
  afterEach(async () => {
    await sim.stop();
  });

  /** A pipeline whose client and poller share one request timeout, the poller over a watched queue. */
  async function leasePipeline(
    requestTimeoutMs: number,
    poller: Partial<PollerOptions>,
    parts: { wrapSource?: (client: VisitStateSource) => VisitStateSource; deadlines?: number[] } = {},
  ): Promise<{ p: Pipeline; poller: Poller; writes: QueueWrite[]; fetched: string[] }> {
    const fetched: string[] = [];
    const p = await buildPipeline(dynamo, sim, { clock: systemClock, requestTimeoutMs });
    const source = parts.wrapSource ? parts.wrapSource(p.client) : p.client;
    const writes: QueueWrite[] = [];
    const deadlines = parts.deadlines;
    return {
      p,
      writes,
      fetched,
      poller: new Poller(
        {
          queue: watchQueue(p.storage.queue, writes),
          store: {
            sessionRows: (accountId, sid) => p.storage.store.sessionRows(accountId, sid),
            updateRows: (updates, options) => p.storage.store.updateRows(updates, options),
            putRows(rows, options?: PutRowsOptions) {
              if (options?.deadlineMs !== undefined) deadlines?.push(options.deadlineMs);
              return p.storage.store.putRows(rows, options);
            },
          },
          source: {
            refreshCredentials: () => source.refreshCredentials(),
            fetchState(visitorId, sid, options) {
              fetched.push(sid);
              return source.fetchState(visitorId, sid, options);
            },
          },
          clock: systemClock,
          log: silentLog,
          random: () => 0.5,
        },
        {
          accountId: TEST_ACCOUNT,
          concurrency: 1,
          policy: defaultPollPolicy(600),
          pageSize: 10,
          safetyMarginMs: 0,
          requestTimeoutMs,
          leaseMs: minimumLeaseMs(requestTimeoutMs),
          ...poller,
        },
      ),
    };
  }

  it('hands back untouched, never fetched, a claimed item that waits for its fetch slot past its item deadline', async () => {
    // Request timeout 3 s, lease 13 s (the least condition 2 allows): the item deadline is 11 s after the claim,
    // and a first fetch needs 3 × 3 s + 1 s before it, so an item may wait 1 s for its fetch slot. LivePerson
    // answers in 2 s, and with one fetch slot the second item claimed waits for the first one's answer.
    const { p, poller, writes, fetched } = await leasePipeline(3_000, {});
    expect(minimumLeaseMs(3_000)).toBe(13_000);
    const sessions = [sim.world.startSession(), sim.world.startSession()];
    await p.storage.queue.enqueue(TEST_ACCOUNT, sessions);
    const before = new Map((await p.items()).map((i) => [i.sid, i]));
    sim.simulator.setFaults({ latencyMs: 2_000 });

    const summary = await poller.tick({ budgetMs: 60_000 });

    expect(summary).toMatchObject({ itemsClaimed: 2, itemsDeferred: 1, leasesLost: 0, stoppedBy: 'done' });
    expect(summary.itemsDeferredBy).toEqual({ budget: 0, lease: 1, tick_stopped: 0 });
    expect(summary.fetches.ok).toBe(1);
    // One request in all: none was made for the item handed back.
    expect(fetched).toHaveLength(1);
    expect(sim.simulator.stats().requests).toBe(1);
    const [fetchedSid] = fetched;
    const waited = sessions.find((s) => s.sid !== fetchedSid);
    if (waited === undefined) throw new Error('no session waited');
    const handedBack = await p.item(waited.sid);
    const { nextPollAtMs, pollCount, attempts, state } = before.get(waited.sid) as QueueItem;
    expect(handedBack).toMatchObject({ state, nextPollAtMs, pollCount, attempts });
    expect(handedBack.leaseOwner).toBeUndefined();
    expect(handedBack.lastOutcome).toBeUndefined();
    expect(await p.sessionRows(waited.sid)).toHaveLength(0);
    expect(await p.item(fetchedSid as string)).toMatchObject({
      state: 'ACTIVE',
      pollCount: 1,
      lastOutcome: '200',
    });
    expect(writes.map((w) => [w.op, w.sid]).sort()).toEqual(
      [
        ['ack', fetchedSid],
        ['release', waited.sid],
      ].sort(),
    );
    expectWithinLeases(writes);
  });

  it('gives the row writes the item deadline when it comes before the tick budget end', async () => {
    const deadlines: number[] = [];
    const { p, poller, writes } = await leasePipeline(2_000, { leaseMs: 10_000 }, { deadlines });
    const live = sim.world.startSession({ eventRatePerHour: 30 });
    const gone = sim.world.startSession({ durationMs: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await p.storage.queue.enqueue(TEST_ACCOUNT, [live, gone]);
    const startedWallMs = Date.now();
    const summary = await poller.tick({ budgetMs: 60_000 });
    const finishedWallMs = Date.now();
    expect(summary.sessions.LOST).toBe(1); // an outcome row was written too
    expect(summary.fetches.ok).toBe(1);
    expect(deadlines).toHaveLength(2);
    for (const deadline of deadlines) {
      // claim + lease − ack margin, long before the budget's end (start + 60 s).
      expect(deadline).toBeGreaterThanOrEqual(startedWallMs + 10_000 - ITEM_ACK_MARGIN_MS);
      expect(deadline).toBeLessThanOrEqual(finishedWallMs + 10_000 - ITEM_ACK_MARGIN_MS);
    }
    expectWithinLeases(writes);
  });

  it('releases a held 400/33 item untouched at its item deadline when the tick runs on past it', async () => {
    // Request timeout 1.5 s, lease 9 s: the item deadline is 7 s after the claim. The first item fetched answers
    // 400/33 and is held until the tick's other work is done: 19 more items at 0.7 s each, one at a time.
    let held: string | undefined;
    const { p, poller, writes } = await leasePipeline(
      1_500,
      { leaseMs: 9_000 },
      {
        wrapSource: (client) => ({
          refreshCredentials: () => client.refreshCredentials(),
          async fetchState(visitorId, sid, options) {
            if (held === undefined) {
              held = sid;
              return BAD_REQUEST_33;
            }
            return client.fetchState(visitorId, sid, options);
          },
        }),
      },
    );
    const sessions = Array.from({ length: 20 }, () => sim.world.startSession());
    await p.storage.queue.enqueue(TEST_ACCOUNT, sessions);
    const before = new Map((await p.items()).map((i) => [i.sid, i]));
    sim.simulator.setFaults({ latencyMs: 700 });

    const startedWallMs = Date.now();
    const summary = await poller.tick({ budgetMs: 60_000 });
    // The premise: the tick ran on well past the held item's lease.
    expect(Date.now() - startedWallMs).toBeGreaterThan(9_000 + 2_000);
    // No ack, the held item's included, after its lease.
    expectWithinLeases(writes);

    expect(summary).toMatchObject({ badRequest33Sessions: 1, leasesLost: 0, stoppedBy: 'done' });
    expect(summary.fetches).toMatchObject({ bad_request_33: 1, ok: 19 });
    expect(summary.itemsDeferredBy).toEqual({ budget: 0, lease: 1, tick_stopped: 0 });
    expect(summary.sessions.INVALID).toBe(0);
    const item = await p.item(held as string);
    const { nextPollAtMs, pollCount, attempts } = before.get(held as string) as QueueItem;
    expect(item).toMatchObject({ state: 'ACTIVE', nextPollAtMs, pollCount, attempts });
    expect(item.leaseOwner).toBeUndefined();
    expect(await p.sessionRows(held as string)).toHaveLength(0);
    expect(writes.filter((w) => w.sid === held).map((w) => w.op)).toEqual(['release']);
  });
});
