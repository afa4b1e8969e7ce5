import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { flattenVisitState } from '../../lib/capture/flatten';
import { HOUR_MS, MINUTE_MS, SESSION_MAX_AGE_MS } from '../../lib/clock';
import { CredentialsError } from '../../lib/errors';
import { queueKey } from '../../lib/keys';
import { DomainApiBaseUrl } from '../../lib/liveperson/base-url';
import { VisitInformationClient, type VisitStateSource } from '../../lib/liveperson/client';
import { StaticCredentialsProvider, type CredentialsProvider } from '../../lib/liveperson/credentials';
import { createAgents } from '../../lib/liveperson/http';
import type { LivePersonCredentials } from '../../lib/liveperson/oauth';
import type { FetchOutcome } from '../../lib/liveperson/outcome';
import type { VisitState } from '../../lib/liveperson/types';
import { silentLog } from '../../lib/log';
import { Poller, type TickSummary } from '../../lib/poller/poller';
import { defaultPollPolicy } from '../../lib/poller/policy';
import type { AckUpdate, DueItem, Queue, QueueItem } from '../../lib/queue/model';
import { NO_FAULTS } from '../../lib/simulator/server';
import type { CaptureStore, PutRowsOptions } from '../../lib/store/capture-store';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { buildPipeline, type Pipeline } from '../support/pipeline';
import { startSimulator, TEST_ACCOUNT, type SimulatorFixture } from '../support/simulator';

/**
 * The poller's answers to what LivePerson or our own storage may do wrong (issue 13): empty answers, 400/33,
 * 404/37 after a success, partial captures, per-item storage errors, the Domain API and the secret, the time
 * limits, and when the counters count. Real queue and capture store (dynalite, DynamoDB Local when java is
 * there), the real client against the simulator; a scripted source or a failing port only where the simulator
 * cannot yet answer that way.
 */

const BUDGET = { budgetMs: 60_000 };
const EMPTY: FetchOutcome = { kind: 'empty', httpStatus: 200, bodyBytes: 18 };
const BAD_REQUEST_33: FetchOutcome = { kind: 'bad_request_33', httpStatus: 400 };
const INVALID_VISITOR_37: FetchOutcome = { kind: 'invalid_visitor_37', httpStatus: 404 };
/** An answer the flattener refuses (the client would never pass it on: only a scripted source can). */
const UNFLATTENABLE: FetchOutcome = {
  kind: 'ok',
  httpStatus: 200,
  state: { appSessions: 'not a list' } as unknown as VisitState,
  bodyBytes: 30,
};

/** Answers from the script while it lasts (per sid), then from the real client. */
function scripted(script: Map<string, FetchOutcome[]>): (client: VisitStateSource) => VisitStateSource {
  return (client) => ({
    refreshCredentials: () => client.refreshCredentials(),
    async fetchState(visitorId, sid, options) {
      return script.get(sid)?.shift() ?? client.fetchState(visitorId, sid, options);
    },
  });
}

/** The queue port with some methods replaced (a storage call that fails after the SDK's retries). */
function wrapQueue(queue: Queue, overrides: Partial<Queue>): Queue {
  return {
    enqueue: (accountId, requests) => queue.enqueue(accountId, requests),
    duePages: (accountId, nowMs, options) => queue.duePages(accountId, nowMs, options),
    claim: (item, claim) => queue.claim(item, claim),
    loadRowDigests: (item) => queue.loadRowDigests(item),
    release: (item, owner) => queue.release(item, owner),
    ack: (item, owner, update) => queue.ack(item, owner, update),
    list: (accountId) => queue.list(accountId),
    saveTickSummary: (accountId, summary) => queue.saveTickSummary(accountId, summary),
    loadTickSummary: (accountId) => queue.loadTickSummary(accountId),
    ...overrides,
  };
}

function throughputExceeded(): Error {
  return Object.assign(
    new Error('The level of configured provisioned throughput for the table was exceeded'),
    {
      name: 'ProvisionedThroughputExceededException',
    },
  );
}

describe.each(storageBackends())('on $name', ({ start }) => {
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

  async function enqueue(
    p: Pipeline,
    sessions: Array<{ visitorId: string; sid: string; startTimeMs?: number }>,
  ) {
    await p.storage.queue.enqueue(
      TEST_ACCOUNT,
      sessions.map((s) => ({
        visitorId: s.visitorId,
        sid: s.sid,
        ...(s.startTimeMs !== undefined ? { startTimeMs: s.startTimeMs } : {}),
      })),
    );
  }

  /** A poller over the pipeline's tables and client, with the queue, store or source given. */
  function pollerOver(
    p: Pipeline,
    parts: { queue?: Queue; store?: CaptureStore; source?: VisitStateSource },
  ) {
    return new Poller(
      {
        queue: parts.queue ?? p.storage.queue,
        store: parts.store ?? p.storage.store,
        source: parts.source ?? p.client,
        clock: sim.clock,
        log: silentLog,
        random: () => 0.5,
      },
      {
        accountId: TEST_ACCOUNT,
        concurrency: 4,
        policy: defaultPollPolicy(600),
        leaseMs: 300_000,
        pageSize: 10,
        safetyMarginMs: 0,
      },
    );
  }

  const essentials = (items: QueueItem[]) =>
    items
      .map((i) => ({
        sid: i.sid,
        state: i.state,
        nextPollAtMs: i.nextPollAtMs,
        attempts: i.attempts,
        pollCount: i.pollCount,
        leaseOwner: i.leaseOwner,
      }))
      .sort((a, b) => a.sid.localeCompare(b.sid));

  describe('empty answers (no app session)', () => {
    it('are never a success: polled again at the normal interval; a session that only answered empty ends LOST', async () => {
      const script = new Map<string, FetchOutcome[]>();
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, wrapSource: scripted(script) });
      const session = sim.world.startSession();
      script.set(session.sid, [EMPTY, EMPTY]);
      await enqueue(p, [session]);

      const first = await p.poller.tick(BUDGET);
      expect(first.fetches.empty).toBe(1);
      expect(first.fetches.ok).toBe(0);
      const item = await p.item(session.sid);
      expect(item).toMatchObject({
        state: 'ACTIVE',
        attempts: 0,
        successCount: 0,
        emptyCount: 1,
        lastOutcome: '200/empty',
      });
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 600_000);
      expect(await p.sessionRows(session.sid)).toHaveLength(0);

      sim.clock.advanceMs(600_000);
      expect((await p.poller.tick(BUDGET)).fetches.empty).toBe(1);
      sim.clock.advanceMs(SESSION_MAX_AGE_MS);
      const last = await p.poller.tick(BUDGET);
      expect(last.sessions).toEqual({ CAPTURED: 0, LOST: 1, INVALID: 0, FAILED: 0 });
      expect(await p.item(session.sid)).toMatchObject({
        state: 'LOST',
        reason: 'no app session in any answer',
        emptyCount: 2,
      });
      expect(await p.sessionRows(session.sid)).toEqual([
        expect.objectContaining({
          rowType: 'outcome',
          finalState: 'LOST',
          reason: 'no app session in any answer',
        }),
      ]);
    });

    it('change nothing captured after a success; the session still ends CAPTURED', async () => {
      const script = new Map<string, FetchOutcome[]>();
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, wrapSource: scripted(script) });
      const session = sim.world.startSession({ eventRatePerHour: 20, durationMs: 2 * HOUR_MS });
      sim.clock.advanceMs(30 * MINUTE_MS);
      await enqueue(p, [session]);
      expect((await p.poller.tick(BUDGET)).fetches.ok).toBe(1);
      const before = await p.item(session.sid);
      const rowsBefore = await p.sessionRows(session.sid);

      script.set(session.sid, [EMPTY]);
      sim.clock.advanceMs(1);
      const empty = await p.poller.tick({ ...BUDGET, force: true });
      expect(empty.fetches.empty).toBe(1);
      expect(empty.rowsWritten).toBe(0);
      const after = await p.item(session.sid);
      expect(after).toMatchObject({
        state: 'ACTIVE',
        attempts: 0,
        successCount: before.successCount,
        rowsStored: before.rowsStored,
        eventsSeen: before.eventsSeen,
        lastCapturedAtMs: before.lastCapturedAtMs,
        complete: true,
        lastOutcome: '200/empty',
      });
      expect(after.nextPollAtMs).toBe(sim.clock.nowMs() + 600_000);
      expect(await p.sessionRows(session.sid)).toEqual(rowsBefore);

      sim.clock.advanceMs(3 * HOUR_MS);
      const last = await p.poller.tick(BUDGET);
      expect(last.sessions.CAPTURED).toBe(1);
      expect(await p.item(session.sid)).toMatchObject({
        state: 'CAPTURED',
        reason: 'session ended (404/12)',
      });
    });
  });

  describe('400/33', () => {
    it('holds its items until the tick ends, then ends them INVALID when fewer than 3 sessions answered it', async () => {
      const script = new Map<string, FetchOutcome[]>();
      const p = await buildPipeline(dynamo, sim);
      const sessions = Array.from({ length: 6 }, () => sim.world.startSession());
      const rejected = sessions.slice(0, 2).map((s) => s.sid);
      for (const sid of rejected) script.set(sid, [BAD_REQUEST_33]);
      await enqueue(p, sessions);
      const acked: string[] = [];
      const queue = wrapQueue(p.storage.queue, {
        async ack(item, owner, update) {
          acked.push(item.sid);
          return p.storage.queue.ack(item, owner, update);
        },
      });
      const summary = await pollerOver(p, { queue, source: scripted(script)(p.client) }).tick(BUDGET);
      expect(summary).toMatchObject({ stoppedBy: 'done', badRequest33Sessions: 2 });
      expect(summary.fetches).toMatchObject({ ok: 4, bad_request_33: 2 });
      expect(summary.sessions.INVALID).toBe(2);
      // Acked after every other item of the tick.
      expect(acked.slice(-2).sort()).toEqual([...rejected].sort());
      for (const sid of rejected) {
        expect(await p.item(sid)).toMatchObject({
          state: 'INVALID',
          lastOutcome: '400/33',
          reason: 'LivePerson rejected the request (400/33)',
        });
        expect((await p.sessionRows(sid)).find((r) => r.rowType === 'outcome')).toMatchObject({
          finalState: 'INVALID',
        });
      }
    });

    it('stops the tick as a configuration fault when 3 sessions answer it, leaving them as they were', async () => {
      const script = new Map<string, FetchOutcome[]>();
      const p = await buildPipeline(dynamo, sim, {
        clock: sim.clock,
        wrapSource: scripted(script),
        poller: { concurrency: 1 },
      });
      const sessions = Array.from({ length: 8 }, () => sim.world.startSession());
      const rejected = sessions.slice(0, 3).map((s) => s.sid);
      for (const sid of rejected) script.set(sid, [BAD_REQUEST_33]);
      await enqueue(p, sessions);
      const before = (await p.items()).filter((i) => rejected.includes(i.sid));
      const summary = await p.poller.tick(BUDGET);
      expect(summary.stoppedBy).toBe('configuration_fault');
      expect(summary.configurationFault).toMatch(/^400\/33: 3 sessions/);
      expect(summary.badRequest33Sessions).toBe(3);
      expect(summary.sessions.INVALID).toBe(0);
      const after = (await p.items()).filter((i) => rejected.includes(i.sid));
      expect(essentials(after)).toEqual(essentials(before));
      for (const sid of rejected) expect(await p.sessionRows(sid)).toHaveLength(0);
    });
  });

  it('ends a session CAPTURED on a 404/37 after a success, saying what LivePerson answered', async () => {
    const script = new Map<string, FetchOutcome[]>();
    const p = await buildPipeline(dynamo, sim, { clock: sim.clock, wrapSource: scripted(script) });
    const session = sim.world.startSession({ eventRatePerHour: 20 });
    sim.clock.advanceMs(30 * MINUTE_MS);
    await enqueue(p, [session]);
    await p.poller.tick(BUDGET);
    script.set(session.sid, [INVALID_VISITOR_37]);
    sim.clock.advanceMs(1);
    const summary = await p.poller.tick({ ...BUDGET, force: true });
    expect(summary.sessions).toEqual({ CAPTURED: 1, LOST: 0, INVALID: 0, FAILED: 0 });
    const item = await p.item(session.sid);
    expect(item).toMatchObject({ state: 'CAPTURED', lastOutcome: '404/37', complete: true });
    expect(item.reason).toMatch(/404\/37/);
    expect((await p.sessionRows(session.sid)).find((r) => r.rowType === 'outcome')).toMatchObject({
      finalState: 'CAPTURED',
      lastOutcome: '404/37',
      complete: true,
    });
  });

  describe('counters', () => {
    it('count a 404/12 only once its ack lands (a lost lease leaves it to the next owner)', async () => {
      const p = await buildPipeline(dynamo, sim, {
        clock: sim.clock,
        wrapSource: (client) => ({
          refreshCredentials: () => client.refreshCredentials(),
          async fetchState(visitorId, sid, options) {
            const outcome = await client.fetchState(visitorId, sid, options);
            // Another poller takes the item while this one waits for the answer (a slow poll).
            await p.storage.documentClient.send(
              new UpdateCommand({
                TableName: (p.storage.queue as unknown as { tableName: string }).tableName,
                Key: { pk: queueKey(TEST_ACCOUNT, visitorId, sid) },
                UpdateExpression: 'SET leaseOwner = :other',
                ExpressionAttributeValues: { ':other': 'another-tick' },
              }),
            );
            return outcome;
          },
        }),
      });
      const session = sim.world.startSession({ durationMs: 10 * MINUTE_MS });
      sim.clock.advanceMs(20 * MINUTE_MS);
      await enqueue(p, [session]);
      const summary = await p.poller.tick(BUDGET);
      expect(summary.fetches.expired_12).toBe(1);
      expect(summary.leasesLost).toBe(1);
      expect(summary.expiredBeforeCapture).toBe(0);
      expect(summary.sessions.LOST).toBe(0);
    });

    it('count the first 401/10 of a credential reread and the answer after it', async () => {
      let current: LivePersonCredentials = { ...sim.credentials, consumerSecret: 'old-rotated-out' };
      const credentials: CredentialsProvider = {
        get: async () => current,
        refresh: async () => {
          current = { ...sim.credentials };
          return current;
        },
      };
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, credentials });
      const session = sim.world.startSession();
      await enqueue(p, [session]);
      const summary = await p.poller.tick(BUDGET);
      expect(summary.fetches).toMatchObject({ unauthorized_10: 1, ok: 1 });
      const counted = Object.values(summary.fetches).reduce((a, b) => a + b, 0);
      expect(counted).toBe(summary.fetchAttempts);
    });
  });

  describe('claims and the side item (issue 16)', () => {
    it('counts a claim lost to an overlapping tick (claimConflicts), and polls the item once', async () => {
      const p = await buildPipeline(dynamo, sim);
      const sessions = Array.from({ length: 3 }, () => sim.world.startSession());
      await enqueue(p, sessions);
      let rivalClaimed = false;
      const queue = wrapQueue(p.storage.queue, {
        // Another tick claims the page's first item between this tick's query and its claim.
        async *duePages(accountId, nowMs, options) {
          for await (const page of p.storage.queue.duePages(accountId, nowMs, options)) {
            if (!rivalClaimed && page[0] !== undefined) {
              rivalClaimed = true;
              const now = sim.clock.nowMs();
              const rival = { owner: 'rival', nowMs: now, tickStartMs: now, leaseUntilMs: now + 60_000 };
              expect(await p.storage.queue.claim(page[0], { ...rival, force: false })).toBeDefined();
            }
            yield page;
          }
        },
      });
      const summary = await pollerOver(p, { queue }).tick(BUDGET);
      expect(summary).toMatchObject({ claimConflicts: 1, itemsClaimed: 2, itemErrors: 0 });
      expect(summary.fetches.ok).toBe(2);
      // The rival's lease hides its item from the next tick's query: no second conflict.
      sim.clock.advanceMs(1);
      const next = await pollerOver(p, { queue: p.storage.queue }).tick({ ...BUDGET, force: true });
      expect(next).toMatchObject({ claimConflicts: 0, itemsClaimed: 2 });
    });

    it('writes the stored rows’ digests only when the rows changed', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession();
      await enqueue(p, [session]);
      // The same answer on every poll: the second one stores no row.
      let first: Awaited<ReturnType<VisitStateSource['fetchState']>> | undefined;
      const source: VisitStateSource = {
        async fetchState(visitorId, sid, options) {
          first ??= await p.client.fetchState(visitorId, sid, options);
          return first;
        },
        refreshCredentials: () => p.client.refreshCredentials(),
      };
      const acks: AckUpdate[] = [];
      const digestReads: string[] = [];
      const queue = wrapQueue(p.storage.queue, {
        async ack(item, owner, update) {
          acks.push(update);
          return p.storage.queue.ack(item, owner, update);
        },
        async loadRowDigests(item) {
          const digests = await p.storage.queue.loadRowDigests(item);
          digestReads.push(digests ?? '');
          return digests;
        },
      });
      const poller = pollerOver(p, { queue, source });
      expect((await poller.tick(BUDGET)).rowsWritten).toBeGreaterThan(0);
      sim.clock.advanceMs(1);
      expect(await poller.tick({ ...BUDGET, force: true })).toMatchObject({
        itemsClaimed: 1,
        rowsWritten: 0,
      });
      expect(acks).toHaveLength(2);
      expect(acks[0]!.rowDigests).toEqual(expect.any(String));
      expect(acks[1]).not.toHaveProperty('rowDigests');
      expect(acks[1]!.rowsStored).toBe(acks[0]!.rowsStored);
      // The first poll had nothing stored to read; the second read what the first wrote.
      expect(digestReads).toEqual(['', acks[0]!.rowDigests]);
    });
  });

  describe('per-item storage errors never reject the tick', () => {
    it('a failed claim: counted, the other items polled', async () => {
      const p = await buildPipeline(dynamo, sim);
      const sessions = Array.from({ length: 3 }, () => sim.world.startSession());
      await enqueue(p, sessions);
      const failing = sessions[0]!.sid;
      const queue = wrapQueue(p.storage.queue, {
        async claim(item, claim) {
          if (item.sid === failing) throw throughputExceeded();
          return p.storage.queue.claim(item, claim);
        },
      });
      const summary = await pollerOver(p, { queue }).tick(BUDGET);
      expect(summary).toMatchObject({ itemErrors: 1, itemsClaimed: 2, stoppedBy: 'done' });
      expect(summary.fetches.ok).toBe(2);
      expect(await p.item(failing)).toMatchObject({ state: 'ACTIVE', pollCount: 0 });
    });

    it('a failed due-index query: the tick ends its claiming cleanly with what it has', async () => {
      const p = await buildPipeline(dynamo, sim);
      const sessions = Array.from({ length: 12 }, () => sim.world.startSession());
      await enqueue(p, sessions);
      let firstPage: DueItem[] = [];
      const queue = wrapQueue(p.storage.queue, {
        async *duePages(accountId, nowMs, options) {
          for await (const page of p.storage.queue.duePages(accountId, nowMs, options)) {
            firstPage = page;
            yield page;
            throw throughputExceeded();
          }
        },
      });
      const summary = await pollerOver(p, { queue }).tick(BUDGET);
      expect(firstPage.length).toBeGreaterThan(0);
      expect(summary).toMatchObject({ itemErrors: 1, itemsClaimed: firstPage.length });
      expect(summary.fetches.ok).toBe(firstPage.length);
      expect((await p.items()).filter((i) => i.leaseOwner !== undefined)).toHaveLength(0);
    });

    it('a failed row write: the item handed back with a jittered backoff, captured on the retry', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession({ eventRatePerHour: 30 });
      sim.clock.advanceMs(HOUR_MS);
      await enqueue(p, [session]);
      let failures = 1;
      const store: CaptureStore = {
        sessionRows: (accountId, sid) => p.storage.store.sessionRows(accountId, sid),
        updateRows: (updates, options) => p.storage.store.updateRows(updates, options),
        async putRows(rows, options) {
          if (failures-- > 0) throw throughputExceeded();
          return p.storage.store.putRows(rows, options);
        },
      };
      const poller = pollerOver(p, { store });
      const summary = await poller.tick(BUDGET);
      expect(summary).toMatchObject({ itemErrors: 1, stoppedBy: 'done' });
      const item = await p.item(session.sid);
      // random() = 0.5: the first backoff step, 5 s, without jitter.
      expect(item).toMatchObject({
        state: 'ACTIVE',
        attempts: 1,
        lastOutcome: 'storage_error',
        pollCount: 0,
      });
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 5_000);
      expect(item.leaseOwner).toBeUndefined();

      sim.clock.advanceMs(5_000);
      const retry = await poller.tick(BUDGET);
      expect(retry.fetches.ok).toBe(1);
      expect(await p.item(session.sid)).toMatchObject({ attempts: 0, successCount: 1, complete: true });
    });

    it('a failed ack: the item handed back with a backoff', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession();
      await enqueue(p, [session]);
      let failures = 1;
      const queue = wrapQueue(p.storage.queue, {
        async ack(item, owner, update) {
          if (failures-- > 0) throw throughputExceeded();
          return p.storage.queue.ack(item, owner, update);
        },
      });
      const summary = await pollerOver(p, { queue }).tick(BUDGET);
      expect(summary).toMatchObject({ itemErrors: 1, stoppedBy: 'done' });
      expect(summary.fetches.ok).toBe(1);
      const item = await p.item(session.sid);
      expect(item).toMatchObject({ state: 'ACTIVE', attempts: 1, lastOutcome: 'storage_error' });
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 5_000);
    });
  });

  it('gives every row write the tick’s budget end as its deadline', async () => {
    const deadlines: Array<number | undefined> = [];
    const p = await buildPipeline(dynamo, sim, {
      clock: sim.clock,
      wrapStore: (store) => ({
        sessionRows: (accountId, sid) => store.sessionRows(accountId, sid),
        updateRows: (updates, options) => store.updateRows(updates, options),
        putRows(rows, options?: PutRowsOptions) {
          deadlines.push(options?.deadlineMs);
          return store.putRows(rows, options);
        },
      }),
    });
    const live = sim.world.startSession({ eventRatePerHour: 30 });
    const gone = sim.world.startSession({ durationMs: 10 * MINUTE_MS });
    sim.clock.advanceMs(20 * MINUTE_MS);
    await enqueue(p, [live, gone]);
    const startedWallMs = Date.now();
    const summary = await p.poller.tick({ budgetMs: 30_000 });
    const finishedWallMs = Date.now();
    expect(summary.sessions.LOST).toBe(1); // an outcome row was written too
    expect(deadlines).toHaveLength(2);
    for (const deadline of deadlines) {
      expect(deadline).toBeGreaterThanOrEqual(startedWallMs + 30_000);
      expect(deadline).toBeLessThanOrEqual(finishedWallMs + 30_000);
    }
  });

  describe('time limits', () => {
    it('caps Retry-After at 2 minutes', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession();
      await enqueue(p, [session]);
      sim.simulator.setFaults({ throttleRate: 1, retryAfterSec: 3600 });
      await p.poller.tick(BUDGET);
      const item = await p.item(session.sid);
      expect(item).toMatchObject({ state: 'ACTIVE', lastOutcome: '429' });
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 2 * MINUTE_MS);
    });

    it('moves a retry that would land past the retry-safe deadline to now, and ends the item only at its deadline', async () => {
      const p = await buildPipeline(dynamo, sim);
      const session = sim.world.startSession();
      // 30 s before the deadline: deadline − (schedule period 60 s + request timeout 10 s) has passed.
      await enqueue(p, [{ ...session, startTimeMs: sim.clock.nowMs() - SESSION_MAX_AGE_MS + 30_000 }]);
      sim.simulator.setFaults({ serverErrorRate: 1 });
      const failing = await p.poller.tick(BUDGET);
      expect(failing.fetches.retryable).toBe(1);
      const item = await p.item(session.sid);
      expect(item).toMatchObject({ state: 'ACTIVE', attempts: 1 });
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs());
      sim.simulator.setFaults({ ...NO_FAULTS });
      sim.clock.advanceMs(60_000);
      const closing = await p.poller.tick(BUDGET);
      expect(closing.fetchAttempts).toBe(0);
      expect(await p.item(session.sid)).toMatchObject({ state: 'FAILED', reason: 'deadline passed' });
    });
  });

  describe('partial captures', () => {
    /** Stores every row but the last of a session's answer, and says so, while `rejecting` is true. */
    function rejectingStore(store: CaptureStore, state: { rejecting: boolean }): CaptureStore {
      return {
        sessionRows: (accountId, sid) => store.sessionRows(accountId, sid),
        updateRows: (updates, options) => store.updateRows(updates, options),
        async putRows(rows, options) {
          const answerRows = rows.filter((r) => r.rowType !== 'outcome');
          if (!state.rejecting || answerRows.length === 0) return store.putRows(rows, options);
          const stats = await store.putRows(rows.slice(0, -1), options);
          return { ...stats, rowsRejected: stats.rowsRejected + 1 };
        },
      };
    }

    it('go on as usual with complete=false; a later complete store makes the capture complete again', async () => {
      const state = { rejecting: true };
      const p = await buildPipeline(dynamo, sim, {
        clock: sim.clock,
        wrapStore: (store) => rejectingStore(store, state),
      });
      const session = sim.world.startSession({ eventRatePerHour: 30, durationMs: 5 * HOUR_MS });
      sim.clock.advanceMs(HOUR_MS);
      await enqueue(p, [{ ...session, startTimeMs: session.startTimeMs }]);
      const partial = await p.poller.tick(BUDGET);
      expect(partial.rowsRejected).toBe(1);
      let item = await p.item(session.sid);
      expect(item).toMatchObject({ state: 'ACTIVE', complete: false, attempts: 0, successCount: 1 });
      // Its normal schedule (new events: a third of the interval), not every tick.
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 200_000);
      expect((await p.poller.tick(BUDGET)).fetchAttempts).toBe(0);

      state.rejecting = false;
      sim.clock.advanceMs(200_000);
      await p.poller.tick(BUDGET);
      item = await p.item(session.sid);
      expect(item).toMatchObject({ complete: true, successCount: 2 });
      // The row refused the first time is stored now: the table holds every row of the last answer.
      const expected = flattenVisitState({
        accountId: TEST_ACCOUNT,
        visitorId: session.visitorId,
        sid: session.sid,
        state: sim.world.stateAt(session.visitorId, session.sid, sim.clock.nowMs()),
      });
      const stored = await p.sessionRows(session.sid);
      expect(stored.map((r) => r.sk).sort()).toEqual(expected.rows.map((r) => r.sk).sort());
    });

    it('end CAPTURED with complete=false and a reason starting "partial:", counted once acked', async () => {
      const p = await buildPipeline(dynamo, sim, {
        clock: sim.clock,
        wrapStore: (store) => rejectingStore(store, { rejecting: true }),
      });
      const session = sim.world.startSession({ eventRatePerHour: 30, durationMs: HOUR_MS });
      sim.clock.advanceMs(30 * MINUTE_MS);
      await enqueue(p, [{ ...session, startTimeMs: session.startTimeMs }]);
      await p.poller.tick(BUDGET);
      sim.clock.advanceMs(2 * HOUR_MS);
      const last = await p.poller.tick(BUDGET);
      expect(last).toMatchObject({
        sessionsPartial: 1,
        sessions: { CAPTURED: 1, LOST: 0, INVALID: 0, FAILED: 0 },
      });
      expect(await p.item(session.sid)).toMatchObject({
        state: 'CAPTURED',
        complete: false,
        reason: 'partial: session ended (404/12)',
      });
      expect((await p.sessionRows(session.sid)).find((r) => r.rowType === 'outcome')).toMatchObject({
        finalState: 'CAPTURED',
        complete: false,
        reason: 'partial: session ended (404/12)',
      });
    });

    it('include an answer the flattener refuses (nothing stored, complete=false, the normal schedule)', async () => {
      const script = new Map<string, FetchOutcome[]>();
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, wrapSource: scripted(script) });
      const session = sim.world.startSession();
      script.set(session.sid, [UNFLATTENABLE]);
      await enqueue(p, [session]);
      const summary = await p.poller.tick(BUDGET);
      expect(summary).toMatchObject({ itemErrors: 0, rowsWritten: 0 });
      const item = await p.item(session.sid);
      expect(item).toMatchObject({ state: 'ACTIVE', complete: false, successCount: 1, attempts: 0 });
      expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 600_000);
    });
  });

  describe('the Domain API and the secret', () => {
    function clientWith(options: {
      domainApiUrl?: string;
      accountForDomainApi?: string;
      credentials?: CredentialsProvider;
    }) {
      return new VisitInformationClient({
        accountId: TEST_ACCOUNT,
        baseUrl: new DomainApiBaseUrl({
          accountId: options.accountForDomainApi ?? TEST_ACCOUNT,
          domainApiUrl: options.domainApiUrl ?? sim.simulator.baseUrl,
          agents: createAgents(),
          clock: sim.clock,
          requestTimeoutMs: 1000,
        }),
        credentials: options.credentials ?? new StaticCredentialsProvider(sim.credentials),
      });
    }

    async function stopsAsConfigurationFault(source: VisitStateSource, fault: RegExp): Promise<TickSummary> {
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, wrapSource: () => source });
      const sessions = Array.from({ length: 5 }, () => sim.world.startSession());
      await enqueue(p, sessions);
      const before = await p.items();
      const summary = await p.poller.tick(BUDGET);
      expect(summary.stoppedBy).toBe('configuration_fault');
      expect(summary.configurationFault).toMatch(fault);
      expect(essentials(await p.items())).toEqual(essentials(before));
      expect(await p.captureRows()).toHaveLength(0);
      return summary;
    }

    it('an account the Domain API does not know stops the tick, every item left as it was', async () => {
      const summary = await stopsAsConfigurationFault(
        clientWith({ accountForDomainApi: 'nosuchaccount' }),
        /base URI/,
      );
      expect(summary.itemErrors).toBe(0);
    });

    it('an unreadable secret stops the tick, every item left as it was', async () => {
      const unreadable: CredentialsProvider = {
        get: async () => {
          throw new CredentialsError('secret lpv/liveperson is not a JSON object');
        },
        refresh: async () => {
          throw new CredentialsError('secret lpv/liveperson is not a JSON object');
        },
      };
      await stopsAsConfigurationFault(clientWith({ credentials: unreadable }), /credentials/);
    });

    it('a Domain API that cannot be reached: each item handed back with backoff, counted apart', async () => {
      const closed = http.createServer();
      await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
      const port = (closed.address() as AddressInfo).port;
      await new Promise((resolve) => closed.close(resolve));
      const source = clientWith({ domainApiUrl: `http://127.0.0.1:${port}` });
      const p = await buildPipeline(dynamo, sim, { clock: sim.clock, wrapSource: () => source });
      const sessions = Array.from({ length: 3 }, () => sim.world.startSession());
      await enqueue(p, sessions);
      const summary = await p.poller.tick(BUDGET);
      expect(summary).toMatchObject({ stoppedBy: 'done', domainApiFailures: 3, itemErrors: 3 });
      for (const item of await p.items()) {
        expect(item).toMatchObject({
          state: 'ACTIVE',
          attempts: 1,
          pollCount: 0,
          lastOutcome: 'domain_api_unavailable',
        });
        expect(item.nextPollAtMs).toBe(sim.clock.nowMs() + 5_000);
        expect(item.leaseOwner).toBeUndefined();
      }
    });
  });
});
