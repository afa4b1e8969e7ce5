import { ManualClock, SESSION_MAX_AGE_MS } from '../../lib/clock';
import { ACK_OPTIONAL_FIELDS, type AckUpdate, type QueueItem } from '../../lib/queue/model';
import { createDocumentClient } from '../../lib/store/dynamo';
import { DynamoQueue } from '../../lib/store/dynamo-queue';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';

const ACCOUNT = 'acct1';

describe.each(storageBackends())('on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let queue: DynamoQueue;
  let clock: ManualClock;
  let destroy: () => void;

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo.close();
  });
  beforeEach(async () => {
    const settings = dynamo.settings('queue');
    await dynamo.createTables(settings);
    const client = createDocumentClient(settings);
    destroy = () => client.destroy();
    clock = new ManualClock(1_700_000_000_000);
    queue = new DynamoQueue(client, settings.queueTable, () => clock.nowMs());
  });
  afterEach(() => destroy());

  async function due(nowMs: number, force = false): Promise<QueueItem[]> {
    const items: QueueItem[] = [];
    for await (const page of queue.duePages(ACCOUNT, nowMs, { pageSize: 7, force })) items.push(...page);
    return items;
  }

  describe('DynamoQueue', () => {
    it('keeps one item when the same pair is enqueued twice', async () => {
      const first = await queue.enqueue(ACCOUNT, [{ visitorId: 'v1', sid: 's1' }]);
      const second = await queue.enqueue(ACCOUNT, [
        { visitorId: 'v1', sid: 's1', startTimeMs: clock.nowMs() - 1000 },
      ]);
      expect(first[0]?.status).toBe('created');
      expect(second[0]?.status).toBe('exists');
      const items = await due(clock.nowMs());
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        accountId: ACCOUNT,
        visitorId: 'v1',
        sid: 's1',
        state: 'ACTIVE',
        startTimeMs: clock.nowMs(),
        deadlineMs: clock.nowMs() + SESSION_MAX_AGE_MS,
        attempts: 0,
      });
      expect(items[0]!.expiresAtSec).toBeGreaterThan((clock.nowMs() + SESSION_MAX_AGE_MS) / 1000);
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
      expect(again?.leaseOwner).toBe('dead');
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
        await queue.ack(item!, 'dead', {
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
      };
      expect(Object.keys(optional).sort()).toEqual([...ACK_OPTIONAL_FIELDS].sort());
      const base = { attempts: 0, pollCount: 1, successCount: 1, lastOutcome: '200', lastPolledAtMs: 10 };
      expect(await queue.ack(claimed!, 'o', { ...base, ...optional, state: 'CAPTURED' })).toBe(true);
      const stored: QueueItem[] = [];
      for await (const page of queue.list(ACCOUNT)) stored.push(...page);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ ...optional, state: 'CAPTURED' });
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
      expect(left[0]!.leaseOwner).toBeUndefined();
      const all: QueueItem[] = [];
      for await (const page of queue.list(ACCOUNT)) all.push(...page);
      expect(all.find((i) => i.sid === b!.sid)).toMatchObject({
        state: 'LOST',
        lastOutcome: '404/12',
        reason: 'expired',
      });
    });
  });
});
