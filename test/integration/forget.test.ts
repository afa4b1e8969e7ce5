/**
 * `lpv forget` on both storage backends: rows written through the real capture store (flattened from the
 * spec's example answer), queue items through the real queue, the CLI run in-process with a short lease and an
 * injected sleep (which is where a racing poll writes), and one race on real timers through lib/erasure.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FirehoseClient, PutRecordBatchCommand } from '@aws-sdk/client-firehose';
import { PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { flattenVisitState } from '../../lib/capture/flatten';
import { buildOutcomeRow } from '../../lib/capture/outcome-row';
import { HOUR_MS, ManualClock, systemClock } from '../../lib/clock';
import type { Env, StorageSettings } from '../../lib/config';
import { BearerAuth } from '../../lib/enqueue/auth';
import { handleEnqueueRequest } from '../../lib/enqueue/endpoint';
import { forgetVisitor, type ForgetReport } from '../../lib/erasure/forget';
import { planQueueErasure } from '../../lib/erasure/plan';
import { capturePk, queueCaptureStateKey, queueKey, queueVisitorKeyPrefix } from '../../lib/keys';
import { silentLog } from '../../lib/log';
import { MemoryMetrics } from '../../lib/metrics';
import type { AckUpdate, DueItem, QueueItem } from '../../lib/queue/model';
import type { StoredRow } from '../../lib/store/capture-store';
import { createDocumentClient } from '../../lib/store/dynamo';
import { DynamoCaptureStore } from '../../lib/store/dynamo-capture-store';
import { DynamoErasureCapture, DynamoErasureQueue } from '../../lib/store/dynamo-erasure';
import { DynamoQueue } from '../../lib/store/dynamo-queue';
import { CAPTURE_KEY_ATTRIBUTES } from '../../lib/keys';
import { DynamoFaultProxy } from '../support/dynamo-fault-proxy';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { KeyedHasher } from '../../lib/privacy/hash';
import { runCli, type CliResult } from '../support/query-cli';

const ACCOUNT = 'acct-forget';
/** Now (whole seconds): DynamoDB Local applies TTL on the wall clock, so items dated long ago would vanish. */
const T0 = Math.floor(Date.now() / 1000) * 1000;
const LEASE_SECONDS = 5;
const EXAMPLE = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/example-state.json'), 'utf8'),
) as Parameters<typeof flattenVisitState>[0]['state'];

/** The visitor to erase, and one whose id starts like it (its keys begin with A's prefix but one character). */
const A = 'visitorA';
const B = 'visitorA.2';

type Item = Record<string, unknown>;

/** What the report says of the analytics copy without LPV_ANALYTICS_STREAM. */
const STREAM_ONLY =
  "erased by the capture table's stream alone (LPV_ANALYTICS_STREAM not set: no deletes re-sent; " +
  'docs/erasure.md, "The analytics copy")';
const firehose = mockClient(FirehoseClient);
afterAll(() => firehose.restore());

/** The capture rows a successful poll of (visitor, sid) stores: the example answer, flattened. */
function pollRows(visitorId: string, sid: string, capturedAtMs: number): StoredRow[] {
  return flattenVisitState({ accountId: ACCOUNT, visitorId, sid, state: EXAMPLE }).rows.map((row) => ({
    ...row,
    capturedAtMs,
  })) as StoredRow[];
}

function outcomeRow(visitorId: string, sid: string, startTimeMs: number): StoredRow {
  const item: QueueItem = {
    accountId: ACCOUNT,
    visitorId,
    sid,
    state: 'CAPTURED',
    startTimeMs,
    deadlineMs: startTimeMs + 6 * HOUR_MS,
    enqueuedAtMs: startTimeMs,
    attempts: 0,
    pollCount: 3,
    successCount: 2,
    expiresAtSec: 0,
  };
  return buildOutcomeRow(item, {
    state: 'CAPTURED',
    reason: 'session ended (404/12)',
    lastOutcome: '404/12',
    pollCount: 3,
    endedAtMs: startTimeMs + HOUR_MS,
  }) as StoredRow;
}

const terminalAck = (atMs: number): AckUpdate => ({
  state: 'CAPTURED',
  attempts: 0,
  pollCount: 2,
  successCount: 1,
  lastOutcome: '200',
  lastPolledAtMs: atMs,
  lastCapturedAtMs: atMs,
  endedAtMs: atMs,
  reason: 'session ended (404/12)',
  rowDigests: 'AAAAAAAAAABBBBBBBBBB',
  lastBadBody: '{"personalInfo":"raw"}',
  rowsStored: 12,
});

async function scanAll(client: DynamoDBDocumentClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...((page.Items ?? []) as Item[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  const key = (i: Item): string => `${String(i.pk)}\u0000${String(i.sk ?? '')}`;
  return items.sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

describe.each(storageBackends())('lpv forget on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let settings: StorageSettings;
  let client: DynamoDBDocumentClient;
  let queue: DynamoQueue;
  let store: DynamoCaptureStore;
  let env: Env;
  let clock: ManualClock;
  /** What the injected sleep was asked to wait, and what it does meanwhile (a racing poll). */
  let slept: number[];
  let duringSleep: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    settings = dynamo.settings('forget');
    await dynamo.createTables(settings);
    client = createDocumentClient(settings);
    clock = new ManualClock(T0);
    queue = new DynamoQueue(client, settings.queueTable, () => clock.nowMs());
    store = new DynamoCaptureStore(client, settings.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES));
    env = {
      LP_ACCOUNT_ID: ACCOUNT,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      QUEUE_TABLE: settings.queueTable,
      CAPTURE_TABLE: settings.captureTable,
      // A short lease that still meets the timing rule (lib/poll-timing.ts).
      LEASE_SECONDS: String(LEASE_SECONDS),
      SCHEDULE_PERIOD_SECONDS: '1',
      LP_REQUEST_TIMEOUT_MS: '100',
      POLL_INTERVAL_SECONDS: '60',
    };
    slept = [];
    duringSleep = undefined;
  });
  afterEach(() => client.destroy());

  const cli = (argv: string[]): Promise<CliResult> =>
    runCli(argv, env, {
      clock,
      sleep: async (ms) => {
        slept.push(ms);
        const action = duringSleep;
        duringSleep = undefined;
        await action?.();
      },
    });
  const forget = async (...extra: string[]): Promise<ForgetReport> => {
    const result = await cli(['forget', '--visitor', A, ...extra]);
    expect(result.stderr).not.toMatch(/error|failed/i);
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as ForgetReport;
  };
  const queueItems = (): Promise<Item[]> => scanAll(client, settings.queueTable);
  const captureRows = (): Promise<Item[]> => scanAll(client, settings.captureTable);
  const ofA = (item: Item): boolean =>
    String(item.pk).startsWith(queueVisitorKeyPrefix(ACCOUNT, A)) ||
    ['sessionA1', 'sessionA2', 'sessionA3', 'sessionA4'].some((sid) => item.pk === capturePk(ACCOUNT, sid));
  const audits = (items: Item[]): Item[] => items.filter((i) => String(i.pk).startsWith('AUDIT#'));
  /** The keys of a visitor's queue side items (queueCaptureStateKey: row digests, the last bad body). */
  const sideItemKeys = async (visitorId: string): Promise<string[]> =>
    (await queueItems())
      .map((i) => String(i.pk))
      .filter(
        (pk) => pk.startsWith(queueVisitorKeyPrefix(ACCOUNT, visitorId)) && pk.endsWith('#capture:state'),
      );

  /** A's sessions: a1 live, a2 ended, a3 known only to the capture table (its queue item expired). B's: b1, b2. */
  let rowsOfA: number;
  async function seed(): Promise<void> {
    await queue.enqueue(ACCOUNT, [
      { visitorId: A, sid: 'sessionA1', startTimeMs: T0 - HOUR_MS },
      { visitorId: A, sid: 'sessionA2', startTimeMs: T0 - 2 * HOUR_MS },
      { visitorId: B, sid: 'b1', startTimeMs: T0 - HOUR_MS },
    ]);
    const [a2] = (await queue.list(ACCOUNT)[Symbol.asyncIterator]().next()).value.filter(
      (i: QueueItem) => i.sid === 'sessionA2',
    ) as QueueItem[];
    const claimed = await queue.claim(a2 as QueueItem, {
      owner: 'seed',
      nowMs: T0,
      tickStartMs: T0,
      leaseUntilMs: T0 + 5000,
      force: true,
    });
    expect(await queue.ack(claimed as QueueItem, 'seed', terminalAck(T0))).toBe(true);
    const rows = [
      ...pollRows(A, 'sessionA1', T0),
      ...pollRows(A, 'sessionA2', T0 - HOUR_MS),
      outcomeRow(A, 'sessionA2', T0 - 2 * HOUR_MS),
      ...pollRows(A, 'sessionA3', T0 - 30 * HOUR_MS),
      outcomeRow(A, 'sessionA3', T0 - 30 * HOUR_MS),
    ];
    rowsOfA = rows.length;
    const others = [
      ...pollRows(B, 'b1', T0),
      ...pollRows(B, 'b2', T0),
      outcomeRow(B, 'b2', T0 - 9 * HOUR_MS),
    ];
    for (const batch of [rows, others]) {
      const stats = await store.putRows(batch);
      expect(stats.rowsWritten).toBe(batch.length);
    }
  }

  const tombstoneOf = (sid: string, deadlineMs: number): Item => ({
    pk: queueKey(ACCOUNT, A, sid),
    state: 'ERASED',
    expiresAtSec: Math.ceil((deadlineMs + LEASE_SECONDS * 1000) / 1000),
  });

  it("tombstones the visitor's queue items, deletes every row of its sessions, and leaves the other visitor as it was", async () => {
    await seed();
    const before = { queue: await queueItems(), capture: await captureRows() };
    expect(before.capture.filter(ofA)).toHaveLength(rowsOfA);

    const result = await cli(['forget', '--visitor', A]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as ForgetReport;
    expect(report).toEqual({
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      dryRun: false,
      queueItemsTombstoned: 2,
      queueItemsAlreadyErased: 0,
      sessions: 3,
      rowsDeleted: { firstPass: rowsOfA, secondPass: 0 },
      waitedSeconds: LEASE_SECONDS + 15,
      startedAt: new Date(T0).toISOString(),
      finishedAt: new Date(T0).toISOString(),
      analyticsCopy: STREAM_ONLY,
    });
    // The wait: a lease and the margin, in steps of at most 10 s, each announced on stderr.
    expect(slept.reduce((a, b) => a + b, 0)).toBe((LEASE_SECONDS + 15) * 1000);
    expect(result.stderr).toMatch(/waiting 20 s for polls in flight/);
    expect(result.stderr).toContain(`request ${report.requestId}`);
    expect(result.stderr).not.toContain(A);

    const after = { queue: await queueItems(), capture: await captureRows() };
    // Tombstones hold their key, ERASED and a TTL past the deadline plus the lease: nothing else.
    expect(after.queue.filter(ofA)).toEqual([
      tombstoneOf('sessionA1', T0 - HOUR_MS + 6 * HOUR_MS),
      tombstoneOf('sessionA2', T0 - 2 * HOUR_MS + 6 * HOUR_MS),
    ]);
    expect(after.capture.filter(ofA)).toEqual([]);
    // The other visitor (whose id starts like A's) is untouched, in both tables.
    expect(after.capture).toEqual(before.capture.filter((i) => !ofA(i)));
    expect(after.queue.filter((i) => !ofA(i) && !String(i.pk).startsWith('AUDIT#'))).toEqual(
      before.queue.filter((i) => !ofA(i)),
    );

    // The analyst commands find nothing of A any more; B's sessions are still there.
    for (const argv of [
      ['query', 'visitor', A],
      ['query', 'session', 'sessionA1'],
      ['query', 'session', 'sessionA2'],
      ['query', 'session', 'sessionA3'],
    ]) {
      const answer = await cli([...argv, '--format', 'json']);
      expect(answer.code).toBe(0);
      expect(JSON.parse(answer.stdout)).toEqual([]);
    }
    const visitorB = await cli(['query', 'visitor', B, '--format', 'json']);
    expect((JSON.parse(visitorB.stdout) as unknown[]).length).toBeGreaterThan(0);
    // Operators' listings show neither tombstones nor the audit item.
    const listed = JSON.parse((await cli(['queue', '--format', 'json'])).stdout) as Item[];
    expect(listed.map((i) => i.visitorId)).toEqual([B]);

    // The audit item: done, the counts, the request id; no visitor id, no sid, no row.
    const [audit] = audits(after.queue);
    expect(audit).toEqual({
      pk: `AUDIT#${ACCOUNT}#erasure#${report.requestId}`,
      kind: 'erasure',
      requestId: report.requestId,
      erasureStatus: 'done',
      startedAtMs: T0,
      finishedAtMs: T0,
      counts: {
        queueItemsTombstoned: 2,
        queueItemsAlreadyErased: 0,
        sessions: 3,
        rowsDeleted: { firstPass: rowsOfA, secondPass: 0 },
      },
    });
    const status = await cli(['forget', '--status', report.requestId]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toEqual({
      requestId: report.requestId,
      status: 'done',
      startedAt: report.startedAt,
      finishedAt: report.finishedAt,
      queueItemsTombstoned: 2,
      queueItemsAlreadyErased: 0,
      sessions: 3,
      rowsDeleted: { firstPass: rowsOfA, secondPass: 0 },
    });
    for (const text of [JSON.stringify(audit), status.stdout]) {
      for (const id of [A, 'sessionA1', 'sessionA2', 'sessionA3']) expect(text).not.toContain(id);
    }
  });

  it('names the visitor in the audit by its keyed hash when a hash key is set (LPV_HASH_KEY), never raw', async () => {
    const key = Buffer.alloc(32, 7);
    env = { ...env, LPV_HASH_KEY: key.toString('base64') };
    const report = await forget();
    const status = await cli(['forget', '--status', report.requestId]);
    const view = JSON.parse(status.stdout) as { visitorHash?: string };
    expect(view.visitorHash).toBe(new KeyedHasher({ bytes: key, version: 1 }).hash(A));
    expect(status.stdout).not.toContain(A);
  });

  it('with LPV_ANALYTICS_STREAM, waits for its buffer after the last delete and re-sends a delete of every row', async () => {
    await seed();
    firehose.reset();
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    env = { ...env, LPV_ANALYTICS_STREAM: 'lpv-feed', LPV_ANALYTICS_RESEND_WAIT_SECONDS: '30' };
    const result = await cli(['forget', '--visitor', A]);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(report).toEqual(
      expect.objectContaining({
        rowsDeleted: { firstPass: rowsOfA, secondPass: 0 },
        analyticsDeletesResent: rowsOfA,
        // The clock stood still through the 20 s before the second pass: the buffer's 30 s from the first.
        analyticsWaitedSeconds: 30,
        analyticsCopy: expect.stringMatching(/^deletes re-sent to the delivery stream/),
      }),
    );
    expect(slept.reduce((a, b) => a + b, 0)).toBe((LEASE_SECONDS + 15 + 30) * 1000);
    expect(result.stderr).toMatch(/waiting 30 s for the analytics delivery buffer/);
    expect(result.stderr).not.toContain(A);
    const calls = firehose.commandCalls(PutRecordBatchCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.DeliveryStreamName)).toEqual(['lpv-feed']);
    expect(calls[0]?.Records).toHaveLength(rowsOfA);
    // Nothing kept after the re-send; the audit counts it.
    expect((await queueItems()).filter((i) => String(i.pk).startsWith('ERASED#'))).toEqual([]);
    expect(audits(await queueItems())[0]?.counts).toEqual(
      expect.objectContaining({ analyticsDeletesResent: rowsOfA }),
    );
  });

  it('--dry-run changes nothing and says what a run would do', async () => {
    await seed();
    const before = { queue: await queueItems(), capture: await captureRows() };
    const report = await forget('--dry-run');
    expect(report).toEqual({
      dryRun: true,
      queueItemsToTombstone: 2,
      queueItemsAlreadyErased: 0,
      // a2's: its terminal ack stored digests and a bad body.
      queueSideItemsToDelete: 1,
      sessions: 3,
      rowsToDelete: rowsOfA,
      secondPassWaitSeconds: LEASE_SECONDS + 15,
      analyticsCopy: STREAM_ONLY,
    });
    expect(slept).toEqual([]);
    expect({ queue: await queueItems(), capture: await captureRows() }).toEqual(before);
  });

  it('a second run finds nothing to do', async () => {
    await seed();
    await forget();
    const afterFirst = { queue: await queueItems(), capture: await captureRows() };
    const second = await forget();
    expect(second).toMatchObject({
      queueItemsTombstoned: 0,
      queueItemsAlreadyErased: 2,
      rowsDeleted: { firstPass: 0, secondPass: 0 },
    });
    const afterSecond = { queue: await queueItems(), capture: await captureRows() };
    expect(afterSecond.capture).toEqual(afterFirst.capture);
    // Only a second audit item is new.
    expect(afterSecond.queue.filter((i) => audits([i]).length === 0)).toEqual(
      afterFirst.queue.filter((i) => audits([i]).length === 0),
    );
    expect(audits(afterSecond.queue)).toHaveLength(2);
    expect(await forget('--dry-run')).toMatchObject({ queueItemsToTombstone: 0, rowsToDelete: 0 });
  });

  it('an interrupted run (queue tombstoned, capture rows not deleted) completes on the next run', async () => {
    await seed();
    // a4: a session only its queue item names (its session row was never written, so byVisitor misses it).
    await queue.enqueue(ACCOUNT, [{ visitorId: A, sid: 'sessionA4', startTimeMs: T0 - HOUR_MS }]);
    const hidden = pollRows(A, 'sessionA4', T0).filter((r) => r.rowType !== 'session');
    await store.putRows(hidden);
    // The run that was killed: step 1 done, nothing more.
    const eraser = new DynamoErasureQueue(client, settings.queueTable);
    const plan = planQueueErasure((await eraser.visitorItems(ACCOUNT, A)).entries, LEASE_SECONDS * 1000, T0);
    expect(plan.tombstones.map((t) => t.sid)).toEqual(['sessionA1', 'sessionA2', 'sessionA4']);
    for (const t of plan.tombstones) await eraser.tombstone(ACCOUNT, A, t.sid, t.expiresAtSec);
    expect((await captureRows()).filter(ofA)).toHaveLength(rowsOfA + hidden.length);
    expect(await sideItemKeys(A)).toEqual([queueCaptureStateKey(ACCOUNT, A, 'sessionA2')]);

    const report = await forget();
    expect(report).toMatchObject({
      queueItemsTombstoned: 0,
      queueItemsAlreadyErased: 3,
      sessions: 4,
      rowsDeleted: { firstPass: rowsOfA + hidden.length, secondPass: 0 },
      // The tombstones do not say when they were made: the run waits for polls that may still be in flight.
      waitedSeconds: LEASE_SECONDS + 15,
    });
    expect((await captureRows()).filter(ofA)).toEqual([]);
    // The three tombstones alone: a2's side item went with the resumed run.
    expect((await queueItems()).filter(ofA)).toHaveLength(3);
    expect(await sideItemKeys(A)).toEqual([]);
  });

  it('refuses a re-enqueue of an erased pair (queue, lpv enqueue and the HTTP endpoint), and no poll takes it', async () => {
    await seed();
    const [a1] = [
      ...((await queue.list(ACCOUNT)[Symbol.asyncIterator]().next()).value as QueueItem[]),
    ].filter((i) => i.sid === 'sessionA1');
    await forget();
    const tombstones = (await queueItems()).filter(ofA);

    expect(
      await queue.enqueue(ACCOUNT, [
        { visitorId: A, sid: 'sessionA1' },
        { visitorId: A, sid: 'sessionA2', startTimeMs: T0 },
        { visitorId: B, sid: 'b1' },
        { visitorId: B, sid: 'b9' },
      ]),
    ).toEqual([
      { status: 'refused', reason: 'erased', visitorId: A, sid: 'sessionA1' },
      { status: 'refused', reason: 'erased', visitorId: A, sid: 'sessionA2' },
      { status: 'exists', visitorId: B, sid: 'b1' },
      { status: 'created', visitorId: B, sid: 'b9' },
    ]);

    const enqueued = await cli(['enqueue', '--visitor', A, '--sid', 'sessionA1']);
    expect(enqueued.code).toBe(0);
    expect(enqueued.stderr).toBe(
      'enqueued 0 new, 0 already queued, 0 rejected, 1 refused (visitor erased: lpv forget)\n',
    );

    const token = 'forget-test-token-0123456789abcdef';
    const response = await handleEnqueueRequest(
      {
        headers: { authorization: `Bearer ${token}` },
        body: JSON.stringify({
          items: [
            { visitorId: A, sid: 'sessionA2' },
            { visitorId: B, sid: 'b1' },
          ],
        }),
      },
      {
        accountId: ACCOUNT,
        queue,
        auth: new BearerAuth(
          { current: async () => ({ token, createdAtMs: 0 }), previous: async () => undefined },
          clock,
        ),
        clock,
        log: silentLog,
        metrics: new MemoryMetrics(),
        limits: { maxBatchItems: 10, maxBodyBytes: 10_000 },
      },
    );
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body)).toEqual({
      accepted: 2,
      rejected: 0,
      results: [
        { index: 0, status: 'refused', reason: 'erased' },
        { index: 1, status: 'exists' },
      ],
    });

    // No poll claims a tombstone, and none is due.
    const claim = { owner: 'p2', nowMs: T0, tickStartMs: T0, leaseUntilMs: T0 + 5000, force: true };
    expect(await queue.claim(a1 as QueueItem, claim)).toBeUndefined();
    const due: DueItem[] = [];
    for await (const page of queue.duePages(ACCOUNT, T0 + 10 * HOUR_MS, { pageSize: 10, force: true }))
      due.push(...page);
    expect(due.map((i) => i.visitorId)).toEqual([B, B]);
    expect((await queueItems()).filter(ofA)).toEqual(tombstones);
  });

  it('a poll racing the erasure (claimed before, writing after the first pass) leaves nothing behind', async () => {
    await seed();
    const [a1] = [
      ...((await queue.list(ACCOUNT)[Symbol.asyncIterator]().next()).value as QueueItem[]),
    ].filter((i) => i.sid === 'sessionA1');
    // The poll claimed a1 before the erasure began...
    const claimed = await queue.claim(a1 as QueueItem, {
      owner: 'racing-poller',
      nowMs: T0,
      tickStartMs: T0,
      leaseUntilMs: T0 + LEASE_SECONDS * 1000,
      force: true,
    });
    expect(claimed).toBeDefined();
    // ...and stores its answer's rows and the outcome row while the erasure waits, then acks.
    const late = [...pollRows(A, 'sessionA1', T0 + 1000), outcomeRow(A, 'sessionA1', T0 - HOUR_MS)];
    let ackAccepted: boolean | undefined;
    let rowsWhileWaiting = 0;
    duringSleep = async () => {
      expect((await store.putRows(late)).rowsWritten).toBe(late.length);
      rowsWhileWaiting = (await captureRows()).filter(ofA).length;
      ackAccepted = await queue.ack(claimed as QueueItem, 'racing-poller', terminalAck(T0 + 1000));
    };

    const report = await forget();
    expect(rowsWhileWaiting).toBe(late.length);
    expect(ackAccepted).toBe(false);
    expect(report.rowsDeleted).toEqual({ firstPass: rowsOfA, secondPass: late.length });
    expect((await captureRows()).filter(ofA)).toEqual([]);
    // The lost ack wrote nothing into the tombstone.
    expect((await queueItems()).filter(ofA)).toEqual([
      tombstoneOf('sessionA1', T0 - HOUR_MS + 6 * HOUR_MS),
      tombstoneOf('sessionA2', T0 - 2 * HOUR_MS + 6 * HOUR_MS),
    ]);
    for (const argv of [
      ['query', 'visitor', A],
      ['query', 'session', 'sessionA1'],
    ]) {
      expect(JSON.parse((await cli([...argv, '--format', 'json'])).stdout)).toEqual([]);
    }
  });

  it('side items erased: with the tombstones, one without its queue item, and one a racing poll writes after the tombstone; --dry-run counts them', async () => {
    await seed();
    const listed = (await queue.list(ACCOUNT)[Symbol.asyncIterator]().next()).value as QueueItem[];
    const [a1, b1] = ['sessionA1', 'b1'].map((sid) => listed.find((i) => i.sid === sid) as QueueItem);
    const claim = (item: QueueItem, owner: string) =>
      queue.claim(item, { owner, nowMs: T0, tickStartMs: T0, leaseUntilMs: T0 + 5000, force: true });
    // B (whose id starts like A's) has a side item too: it stays.
    expect(await queue.ack((await claim(b1!, 'b-poller')) as QueueItem, 'b-poller', terminalAck(T0))).toBe(
      true,
    );
    const sideOfB = await sideItemKeys(B);
    expect(sideOfB).toEqual([queueCaptureStateKey(ACCOUNT, B, 'b1')]);
    // a3's side item outlived its queue item (the item's TTL, or its tombstone's, passed first).
    await client.send(
      new PutCommand({
        TableName: settings.queueTable,
        Item: {
          pk: queueCaptureStateKey(ACCOUNT, A, 'sessionA3'),
          rowDigests: 'CCCCCCCCCC',
          expiresAtSec: T0 / 1000 + 86_400,
        },
      }),
    );
    // A poll claimed a1 before the erasure; its ack (side item first, then the item) comes during the wait.
    const racing = await claim(a1!, 'racing-poller');
    expect(racing).toBeDefined();

    const before = await queueItems();
    expect(await forget('--dry-run')).toMatchObject({ queueSideItemsToDelete: 2 });
    expect(await queueItems()).toEqual(before);

    let afterTombstones: string[] | undefined;
    let afterLostAck: string[] | undefined;
    let ackAccepted: boolean | undefined;
    duringSleep = async () => {
      afterTombstones = await sideItemKeys(A);
      ackAccepted = await queue.ack(racing as QueueItem, 'racing-poller', terminalAck(T0 + 1000));
      afterLostAck = await sideItemKeys(A);
    };
    await forget();
    expect(afterTombstones).toEqual([]);
    expect(ackAccepted).toBe(false);
    // The lost ack wrote a1's side item after its tombstone: the second pass deleted it.
    expect(afterLostAck).toEqual([queueCaptureStateKey(ACCOUNT, A, 'sessionA1')]);
    expect(await sideItemKeys(A)).toEqual([]);
    expect(JSON.stringify((await queueItems()).filter(ofA))).not.toContain('personalInfo');
    expect(await sideItemKeys(B)).toEqual(sideOfB);
    expect(await forget('--dry-run')).toMatchObject({ queueSideItemsToDelete: 0 });
  });

  it('on real timers: rows a poll writes until its lease ends are gone after the second pass', async () => {
    await seed();
    const leaseMs = 2500;
    const wallQueue = new DynamoQueue(client, settings.queueTable, () => Date.now());
    await wallQueue.enqueue(ACCOUNT, [{ visitorId: A, sid: 'sessionA5' }]);
    const [a5] = [
      ...((await wallQueue.list(ACCOUNT)[Symbol.asyncIterator]().next()).value as QueueItem[]),
    ].filter((i) => i.sid === 'sessionA5');
    const claimedAtMs = Date.now();
    const claimed = await wallQueue.claim(a5 as QueueItem, {
      owner: 'poller',
      nowMs: claimedAtMs,
      tickStartMs: claimedAtMs,
      leaseUntilMs: claimedAtMs + leaseMs,
      force: true,
    });
    expect(claimed).toBeDefined();
    // The poll writes its rows again and again until just before its lease ends, then acks.
    const poll = (async (): Promise<{ writes: number; acked: boolean }> => {
      let writes = 0;
      while (Date.now() < claimedAtMs + leaseMs - 100) {
        await store.putRows(pollRows(A, 'sessionA5', Date.now()));
        writes++;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const acked = await wallQueue.ack(claimed as QueueItem, 'poller', terminalAck(Date.now()));
      return { writes, acked };
    })();
    const report = (await forgetVisitor(
      {
        accountId: ACCOUNT,
        visitorId: A,
        requestId: 'real-timers-0001',
        dryRun: false,
        leaseMs,
        marginMs: 200,
      },
      {
        queue: new DynamoErasureQueue(client, settings.queueTable),
        capture: new DynamoErasureCapture(client, settings.captureTable),
        clock: systemClock,
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      },
    )) as ForgetReport;
    const racing = await poll;
    expect(racing.acked).toBe(false);
    expect(racing.writes).toBeGreaterThan(1);
    // The poll wrote after the first pass: the second pass found its rows.
    expect(report.rowsDeleted.secondPass).toBeGreaterThan(0);
    expect(report.queueItemsTombstoned).toBe(3);
    expect((await captureRows()).filter((i) => ofA(i) || i.pk === capturePk(ACCOUNT, 'sessionA5'))).toEqual(
      [],
    );
  });

  it('deletes sessions of many pages, resends unprocessed and throttled deletes, and fails rather than stop short', async () => {
    await seed();
    const proxy = await DynamoFaultProxy.start({ target: dynamo.endpoint, seed: 5 });
    const viaProxy = createDocumentClient({ ...settings, dynamoDbEndpoint: proxy.endpoint });
    try {
      const deletes = { operations: ['BatchWriteItem'], tables: [settings.captureTable] };
      proxy.addRule({ ...deletes, fault: 'unprocessed', times: 2 });
      proxy.addRule({ ...deletes, fault: 'throughput_exceeded', times: 1 });
      const capture = (maxBatchAttempts: number): DynamoErasureCapture =>
        new DynamoErasureCapture(viaProxy, settings.captureTable, {
          pageSize: 30,
          maxBatchAttempts,
          sleep: async () => undefined,
        });
      // More rows in a1 than a page or a batch holds: pages of 30 keys, deleted 25 and 5 at a time.
      const copies = [1, 2, 3].flatMap((copy) =>
        pollRows(A, 'sessionA1', T0).map((row) => ({ ...row, sk: `${String(row.sk)}#copy${copy}` })),
      );
      await store.putRows(copies);
      const rowsOfA1 = (await captureRows()).filter((i) => i.pk === capturePk(ACCOUNT, 'sessionA1')).length;
      expect(rowsOfA1).toBeGreaterThan(2 * 30);
      expect(await capture(10).countSessionRows(ACCOUNT, 'sessionA1')).toBe(rowsOfA1);
      expect(await capture(10).deleteSessionRows(ACCOUNT, 'sessionA1')).toBe(rowsOfA1);
      expect(proxy.stats().faults).toMatchObject({
        'BatchWriteItem:unprocessed': 2,
        'BatchWriteItem:throughput_exceeded': 1,
      });
      expect((await captureRows()).filter((i) => i.pk === capturePk(ACCOUNT, 'sessionA1'))).toEqual([]);

      // Deletes that never go through fail the erasure (it is run again; it resumes).
      const stuck = proxy.addRule({ ...deletes, fault: 'unprocessed' });
      await expect(capture(3).deleteSessionRows(ACCOUNT, 'sessionA2')).rejects.toThrow(
        /still not deleted after 3 attempts.*run the erasure again/,
      );
      stuck.remove();
      expect(await capture(3).deleteSessionRows(ACCOUNT, 'sessionA2')).toBeGreaterThan(0);
      expect(await capture(3).countSessionRows(ACCOUNT, 'sessionA2')).toBe(0);
    } finally {
      viaProxy.destroy();
      await proxy.close();
    }
  });

  it('answers --help, bad usage, and unknown request ids', async () => {
    const help = await cli(['forget', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/lpv forget --visitor V \[--dry-run\]/);
    expect(help.stdout).toMatch(/lpv forget --status REQUEST_ID/);
    expect((await cli(['--help'])).stdout).toMatch(/forget +erase one visitor/);

    for (const argv of [
      ['forget'],
      ['forget', '--visitor', 'bad/id'],
      ['forget', '--status', 'x#y'],
      ['forget', '--status', 'abcdefgh-1234', '--visitor', A],
      ['forget', '--visitor', A, '--unknown'],
    ]) {
      const result = await cli(argv);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/Usage: lpv forget/);
    }
    expect((await cli(['forget', '--visitor', 'bad/id'])).stderr).not.toContain('bad/id');

    const unknown = await cli(['forget', '--status', 'abcdefgh-1234']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('lpv forget: no erasure request abcdefgh-1234\n');

    // A visitor the tables do not know: nothing to do, no wait.
    const nobody = await cli(['forget', '--visitor', 'nobody']);
    expect(nobody.code).toBe(0);
    expect(JSON.parse(nobody.stdout)).toMatchObject({
      queueItemsTombstoned: 0,
      queueItemsAlreadyErased: 0,
      sessions: 0,
      rowsDeleted: { firstPass: 0, secondPass: 0 },
      waitedSeconds: 0,
    });
    expect(slept).toEqual([]);
  });
});
