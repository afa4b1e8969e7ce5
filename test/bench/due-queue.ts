import type {
  AckUpdate,
  ClaimRequest,
  EnqueueRequest,
  EnqueueResult,
  Queue,
  QueueItem,
} from '../../lib/queue/model';
import { newMemoryQueueItem } from '../support/memory-queue';

/**
 * An in-memory Queue that keeps the schedule, for bench figure 6 (cadence.ts), with DynamoQueue's rules: an
 * item is due when its nextPollAtMs has come and no live lease holds it; a claim sets the lease and leaves
 * nextPollAtMs alone (so an item handed back, or whose lease ran out, is due at its previous time); an ack
 * writes what DynamoQueue's ack writes and drops the lease, and a terminal ack takes the item out of the due set.
 * What it leaves out (tick-start conditions, shards, pages, the side item) changes nothing for one poller ticking
 * alone, which is all the figure runs; the cadence under measurement is the poller's and the policy's, not the
 * queue's. test/support/memory-queue.ts takes every ACTIVE item at every tick, which would erase the cadence.
 */
export class DueMemoryQueue implements Queue {
  private readonly items = new Map<string, QueueItem>();

  async enqueue(accountId: string, requests: readonly EnqueueRequest[]): Promise<EnqueueResult[]> {
    return requests.map((r) => {
      if (this.items.has(r.sid)) return { status: 'exists', visitorId: r.visitorId, sid: r.sid };
      this.items.set(r.sid, newMemoryQueueItem(accountId, r));
      return { status: 'created', visitorId: r.visitorId, sid: r.sid };
    });
  }

  async *duePages(
    _accountId: string,
    nowMs: number,
    options: { pageSize: number; force: boolean },
  ): AsyncIterable<QueueItem[]> {
    const due = [...this.items.values()]
      .filter(
        (i) =>
          i.state === 'ACTIVE' &&
          !((i.leaseUntilMs ?? 0) > nowMs) &&
          (options.force || (i.nextPollAtMs ?? 0) <= nowMs),
      )
      .sort((a, b) => (a.nextPollAtMs ?? 0) - (b.nextPollAtMs ?? 0))
      .map((i) => ({ ...i }));
    for (let at = 0; at < due.length; at += options.pageSize) yield due.slice(at, at + options.pageSize);
  }

  async claim(item: Pick<QueueItem, 'sid'>, claim: ClaimRequest): Promise<QueueItem | undefined> {
    const stored = this.items.get(item.sid);
    if (stored === undefined || stored.state !== 'ACTIVE') return undefined;
    if (!claim.force && (stored.nextPollAtMs ?? 0) > claim.nowMs) return undefined;
    if ((stored.leaseUntilMs ?? 0) > claim.nowMs) return undefined;
    stored.leaseOwner = claim.owner;
    stored.leaseUntilMs = claim.leaseUntilMs;
    stored.lastClaimedAtMs = claim.nowMs;
    return { ...stored };
  }

  async loadRowDigests(item: Pick<QueueItem, 'sid'>): Promise<string | undefined> {
    return this.items.get(item.sid)?.rowDigests;
  }

  async release(item: Pick<QueueItem, 'sid'>): Promise<void> {
    const stored = this.items.get(item.sid);
    if (stored === undefined) return;
    delete stored.leaseOwner;
    delete stored.leaseUntilMs;
  }

  async ack(item: Pick<QueueItem, 'sid'>, owner: string, update: AckUpdate): Promise<boolean> {
    const stored = this.items.get(item.sid);
    if (stored === undefined || stored.leaseOwner !== owner) return false;
    Object.assign(stored, update);
    delete stored.leaseOwner;
    delete stored.leaseUntilMs;
    if (update.state !== 'ACTIVE') delete stored.nextPollAtMs;
    return true;
  }

  async *list(): AsyncIterable<QueueItem[]> {
    yield [...this.items.values()].map((i) => ({ ...i }));
  }

  async saveTickSummary(): Promise<void> {}

  async loadTickSummary(): Promise<undefined> {
    return undefined;
  }
}
