import { ManualClock, SESSION_MAX_AGE_MS } from '../../lib/clock';
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { queueCaptureStateKey } from '../../lib/keys';
import { ACK_OPTIONAL_FIELDS, type AckUpdate, type DueItem, type QueueItem } from '../../lib/queue/model';
import { createDocumentClient } from '../../lib/store/dynamo';
import { DynamoErasureQueue } from '../../lib/store/dynamo-erasure';
import { DynamoQueue } from '../../lib/store/dynamo-queue';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';

const ACCOUNT = 'acct1';

describe.each(storageBackends())('on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let queue: DynamoQueue;
  let clock: ManualClock;
  let destroy: () => void;
  let client: DynamoDBDocumentClient;
  let queueTable: string;

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    const settings = dynamo.settings('queue');
    await dynamo.createTables(settings);
    client = createDocumentClient(settings);
    queueTable = settings.queueTable;
    destroy = () => client.destroy();
    // In the future: DynamoDB Local runs TTL, and would delete items whose expiresAtSec has passed mid-test.
    clock = new ManualClock(Date.UTC(2099, 0, 12, 9));
    queue = new DynamoQueue(client, settings.queueTable, () => clock.nowMs());
  });
  afterEach(() => destroy());

  async function due(nowMs: number, force = false): Promise<DueItem[]> {
    const items: DueItem[] = [];
    for await (const page of queue.duePages(ACCOUNT, nowMs, { pageSize: 7, force })) items.push(...page);
    return items;
  }

  async function listed(): Promise<QueueItem[]> {
    const items: QueueItem[] = [];
    for await (const page of queue.list(ACCOUNT)) items.push(...page);
    return items;
  }

  /** The side item of (v1, s1), as stored. */
  async function sideItem(visitorId = 'v1', sid = 's1'): Promise<Record<string, unknown> | undefined> {
    const answer = await client.send(
      new GetCommand({
        TableName: queueTable,
        Key: { pk: queueCaptureStateKey(ACCOUNT, visitorId, sid) },
        ConsistentRead: true,
      }),
    );
    return answer.Item;
  }

  async function claimNow(item: DueItem, owner = 'o'): Promise<QueueItem> {
    const now = clock.nowMs();
    const claimed = await queue.claim(item, {
      owner,
      nowMs: now,
      tickStartMs: now,
      leaseUntilMs: now + 60_000,
      force: false,
    });
    if (claimed === undefined) throw new Error('claim refused');
    return claimed;
  }

  const activeAck = (nowMs: number, extra: Partial<AckUpdate> = {}): AckUpdate => ({
    state: 'ACTIVE',
    nextPollAtMs: nowMs + 600_000,
    attempts: 0,
    pollCount: 1,
    successCount: 1,
    lastOutcome: '200',
    lastPolledAtMs: nowMs,
    ...extra,
  });

  describe('DynamoQueue', () => {
    it('keeps one item when the same pair is enqueued twice', async () => {
      const first = await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      const second = await queue.enqueue(ACCOUNT, [
        { visitorId: 'v1', sid: 's1', startTimeMs: clock.nowMs() - 1000 },
      ]);
      expect(first[0]?.status).toBe('created');
      expect(second[0]?.status).toBe('exists');
      const items = await due(clock.nowMs());
      // A due page holds what the due index copies (lib/store/schema.ts), nothing more.
      expect(items).toEqual([
        {
          accountId: ACCOUNT,
          visitorId: 'v1',
          sid: 's1',
          state: 'ACTIVE',
          deadlineMs: clock.nowMs() + SESSION_MAX_AGE_MS,
          nextPollAtMs: clock.nowMs(),
        },
      ]);
      const stored = await listed();
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ startTimeMs: clock.nowMs(), attempts: 0 });
      expect(stored[0]!.expiresAtSec).toBeGreaterThan((clock.nowMs() + SESSION_MAX_AGE_MS) / 1000);
    });

    it('pages through every due item across shards, with a bounded page size', async () => {
      const pairs = Array.from({ length: 60 }, (_, i) => ({ visitorId: `v${i}`, sid: `s${i}` }));
      await queue.enqueue(ACCOUNT, pairs);
      const items = await due(clock.nowMs());
      expect(new Set(items.map((i) => i.sid)).size).toBe(60);
      expect(await due(clock.nowMs() - 1)).toHaveLength(0);
      expect(await due(clock.nowMs() - 1, true)).toHaveLength(60);
    });

    it('lets exactly one of two concurrent claimers take an item', async () => {
      await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      const [item] = await due(clock.nowMs());
      const claim = (owner: string) =>
        queue.claim(item!, {
          owner,
          nowMs: clock.nowMs(),
          tickStartMs: clock.nowMs(),
          leaseUntilMs: clock.nowMs() + 60_000,
          force: false,
        });
      const results = await Promise.all([claim('a'), claim('b'), claim('c')]);
      expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    });

    it('makes a claimed item due again when its lease runs out, and not before', async () => {
      await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      const [item] = await due(clock.nowMs());
      const tickStart = clock.nowMs();
      expect(
        await queue.claim(item!, {
          owner: 'dead',
          nowMs: tickStart,
          tickStartMs: tickStart,
          leaseUntilMs: tickStart + 60_000,
          force: false,
        }),
      ).toBeDefined();
      expect(await due(clock.nowMs())).toHaveLength(0);
      clock.advanceMs(59_999);
      const later = clock.nowMs();
      expect(
        await queue.claim(item!, {
          owner: 'b',
          nowMs: later,
          tickStartMs: later,
          leaseUntilMs: later + 60_000,
          force: true,
        }),
      ).toBeUndefined();
      clock.advanceMs(2);
      const [again] = await due(clock.nowMs());
      expect(again?.leaseUntilMs).toBe(tickStart + 60_000);
      const now = clock.nowMs();
      const reclaimed = await queue.claim(again!, {
        owner: 'b',
        nowMs: now,
        tickStartMs: now,
        leaseUntilMs: now + 60_000,
        force: false,
      });
      expect(reclaimed?.leaseOwner).toBe('b');
      // The dead owner's late ack is refused.
      expect(
        await queue.ack(reclaimed!, 'dead', {
          state: 'CAPTURED',
          attempts: 0,
          pollCount: 1,
          successCount: 1,
          lastOutcome: '404/12',
          lastPolledAtMs: now,
        }),
      ).toBe(false);
    });

    it('stores every field an ack is given (each of ACK_OPTIONAL_FIELDS)', async () => {
      await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      const [item] = await due(clock.nowMs());
      const claim = { owner: 'o', nowMs: clock.nowMs(), tickStartMs: clock.nowMs(), force: false };
      const claimed = await queue.claim(item!, { ...claim, leaseUntilMs: clock.nowMs() + 1000 });
      // A distinct value per field, of the field's own type.
      const optional: Required<Pick<AckUpdate, (typeof ACK_OPTIONAL_FIELDS)[number]>> = {
        lastCapturedAtMs: 11,
        reason: 'partial: one row refused',
        endedAtMs: 12,
        rowDigests: 'digests',
        lastBadBody: 'bad',
        rowsStored: 13,
        eventsSeen: 14,
        emptyCount: 15,
        complete: false,
        deferredColumns: '{"deferred":1}',
      };
      expect(Object.keys(optional).sort()).toEqual([...ACK_OPTIONAL_FIELDS].sort());
      const base = { attempts: 0, pollCount: 1, successCount: 1, lastOutcome: '200', lastPolledAtMs: 10 };
      expect(await queue.ack(claimed!, 'o', { ...base, ...optional, state: 'CAPTURED' })).toBe(true);
      const stored = await listed();
      expect(stored).toHaveLength(1);
      // The digests and the bad body on the side item (with the item's TTL), the rest on the item.
      const { rowDigests, lastBadBody, ...onItem } = optional;
      expect(stored[0]).toMatchObject({ ...onItem, state: 'CAPTURED' });
      expect(stored[0]!.rowDigests).toBeUndefined();
      expect(stored[0]!.lastBadBody).toBeUndefined();
      expect(await sideItem()).toEqual({
        pk: queueCaptureStateKey(ACCOUNT, 'v1', 's1'),
        rowDigests,
        lastBadBody,
        expiresAtSec: claimed!.expiresAtSec,
      });
      expect(await queue.loadRowDigests(stored[0]!)).toBe(rowDigests);
    });

    it('never gives an item to a tick that started before the item was last claimed, even forced', async () => {
      await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      const [item] = await due(clock.nowMs());
      const tickAStart = clock.nowMs();
      clock.advanceMs(10);
      const claimed = await queue.claim(item!, {
        owner: 'b',
        nowMs: clock.nowMs(),
        tickStartMs: clock.nowMs(),
        leaseUntilMs: clock.nowMs() + 1000,
        force: false,
      });
      await queue.ack(claimed!, 'b', {
        state: 'ACTIVE',
        nextPollAtMs: clock.nowMs(),
        attempts: 0,
        pollCount: 1,
        successCount: 1,
        lastOutcome: '200',
        lastPolledAtMs: clock.nowMs(),
      });
      clock.advanceMs(10);
      expect(
        await queue.claim(item!, {
          owner: 'a',
          nowMs: clock.nowMs(),
          tickStartMs: tickAStart,
          leaseUntilMs: clock.nowMs() + 1000,
          force: true,
        }),
      ).toBeUndefined();
    });

    it('release hands an item back due at its previous time; a terminal ack removes it from the due index', async () => {
      await queue.enqueue(ACCOUNT, [
        { visitorId: 'v1', sid: 's1' },
        { visitorId: 'v2', sid: 's2' },
      ]);
      const items = await due(clock.nowMs());
      const now = clock.nowMs();
      const claimRequest = {
        owner: 'o',
        nowMs: now,
        tickStartMs: now,
        leaseUntilMs: now + 60_000,
        force: false,
      };
      const a = await queue.claim(items[0]!, claimRequest);
      const b = await queue.claim(items[1]!, claimRequest);
      await queue.release(a!, 'o');
      expect(
        await queue.ack(b!, 'o', {
          state: 'LOST',
          attempts: 0,
          pollCount: 1,
          successCount: 0,
          lastOutcome: '404/12',
          lastPolledAtMs: now,
          reason: 'expired',
          endedAtMs: now,
        }),
      ).toBe(true);
      const left = await due(clock.nowMs());
      expect(left.map((i) => i.sid)).toEqual([a!.sid]);
      expect(left[0]!.nextPollAtMs).toBe(now);
      expect(left[0]!.leaseUntilMs).toBeUndefined();
      const all: QueueItem[] = [];
      for await (const page of queue.list(ACCOUNT)) all.push(...page);
      expect(all.find((i) => i.sid === b!.sid)).toMatchObject({
        state: 'LOST',
        lastOutcome: '404/12',
        reason: 'expired',
      });
    });

    it('a claim leaves the index key alone: the live lease keeps the item out of the due query, forced too', async () => {
      await queue.enqueue(ACCOUNT, [
        { visitorId: 'v1', sid: 's1' },
        { visitorId: 'v2', sid: 's2' },
      ]);
      const enqueuedAt = clock.nowMs();
      const [first] = await due(enqueuedAt);
      const claimed = await claimNow(first!);
      // nextPollAtMs, the index's sort key, did not move.
      expect(claimed.nextPollAtMs).toBe(enqueuedAt);
      expect((await listed()).find((i) => i.sid === first!.sid)?.nextPollAtMs).toBe(enqueuedAt);
      const other = first!.sid === 's1' ? 's2' : 's1';
      expect((await due(clock.nowMs())).map((i) => i.sid)).toEqual([other]);
      expect((await due(clock.nowMs(), true)).map((i) => i.sid)).toEqual([other]);
      // Back in the query when the lease has run out, at its old place.
      clock.advanceMs(60_000);
      expect((await due(clock.nowMs())).map((i) => i.sid).sort()).toEqual(['s1', 's2']);
    });

    it('writes the side item only when an ack gives digests or a bad body, and reads it only after a stored row', async () => {
      await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      let claimed = await claimNow((await due(clock.nowMs()))[0]!);
      // Nothing stored yet: no read (no side item could hold anything), and an ack without digests writes none.
      expect(await queue.loadRowDigests(claimed)).toBeUndefined();
      expect(await queue.ack(claimed, 'o', activeAck(clock.nowMs(), { nextPollAtMs: clock.nowMs() }))).toBe(
        true,
      );
      expect(await sideItem()).toBeUndefined();
      clock.advanceMs(1000);
      claimed = await claimNow((await due(clock.nowMs()))[0]!);
      const ack = activeAck(clock.nowMs(), {
        nextPollAtMs: clock.nowMs(),
        rowDigests: 'aaaaaaaaaa',
        rowsStored: 1,
      });
      expect(await queue.ack(claimed, 'o', ack)).toBe(true);
      expect(await sideItem()).toMatchObject({
        rowDigests: 'aaaaaaaaaa',
        expiresAtSec: claimed.expiresAtSec,
      });
      clock.advanceMs(1000);
      claimed = await claimNow((await due(clock.nowMs()))[0]!);
      expect(claimed.rowDigests).toBeUndefined();
      expect(await queue.loadRowDigests(claimed)).toBe('aaaaaaaaaa');
      // A bad body alone: the digests stay.
      expect(await queue.ack(claimed, 'o', activeAck(clock.nowMs(), { lastBadBody: '{"size":3}' }))).toBe(
        true,
      );
      expect(await sideItem()).toMatchObject({ rowDigests: 'aaaaaaaaaa', lastBadBody: '{"size":3}' });
      // The side item is no queue item: not listed, never due.
      expect((await listed()).map((i) => i.sid)).toEqual(['s1']);
      expect((await due(clock.nowMs() + 3_600_000, true)).map((i) => i.sid)).toEqual(['s1']);
    });

    it('moves digests an older version left on the item to the side item when they next change', async () => {
      await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      let claimed = await claimNow((await due(clock.nowMs()))[0]!);
      // As an older version stored them: on the item (written here as its ack did, in the item's own update).
      await client.send(
        new UpdateCommand({
          TableName: queueTable,
          Key: { pk: 'acct1#v1#s1' },
          UpdateExpression: 'SET rowDigests = :d, rowsStored = :n',
          ExpressionAttributeValues: { ':d': 'bbbbbbbbbb', ':n': 1 },
        }),
      );
      claimed = { ...claimed, rowDigests: 'bbbbbbbbbb', rowsStored: 1 };
      expect(await queue.loadRowDigests(claimed)).toBe('bbbbbbbbbb');
      const ack = activeAck(clock.nowMs(), { rowDigests: 'bbbbbbbbbbcccccccccc', rowsStored: 2 });
      expect(await queue.ack(claimed, 'o', ack)).toBe(true);
      expect((await listed())[0]!.rowDigests).toBeUndefined();
      expect(await sideItem()).toMatchObject({ rowDigests: 'bbbbbbbbbbcccccccccc' });
    });

    it('a tombstone still refuses a re-enqueue, side item or not', async () => {
      await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      const claimed = await claimNow((await due(clock.nowMs()))[0]!);
      await queue.ack(claimed, 'o', activeAck(clock.nowMs(), { rowDigests: 'aaaaaaaaaa', rowsStored: 1 }));
      await new DynamoErasureQueue(client, queueTable).tombstone(ACCOUNT, 'v1', 's1', 4_200_000_000);
      expect(await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }])).toEqual([
        { status: 'refused', reason: 'erased', visitorId: 'v1', sid: 's1' },
      ]);
      expect(await due(clock.nowMs() + 3_600_000, true)).toEqual([]);
    });
  });
});
