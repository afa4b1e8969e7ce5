import { SESSION_MAX_AGE_MS } from '../../lib/clock';
import type {
  AckUpdate,
  DueItem,
  EnqueueRequest,
  EnqueueResult,
  Queue,
  QueueItem,
} from '../../lib/queue/model';

/** A new ACTIVE item of the in-memory queues, due at its start (which doubles as its enqueue time). */
export function newMemoryQueueItem(accountId: string, request: EnqueueRequest): QueueItem {
  const startTimeMs = request.startTimeMs ?? 0;
  return {
    accountId,
    visitorId: request.visitorId,
    sid: request.sid,
    state: 'ACTIVE',
    startTimeMs,
    deadlineMs: startTimeMs + SESSION_MAX_AGE_MS,
    enqueuedAtMs: startTimeMs,
    nextPollAtMs: startTimeMs,
    attempts: 0,
    pollCount: 0,
    successCount: 0,
    expiresAtSec: 0,
  };
}

/**
 * An in-memory Queue: enough for the Poller to run ticks over a few items (the data-dictionary generator,
 * tools/docs/samples.ts, runs its samples through the real Poller with it). Deliberately not a model of
 * DynamoQueue: every ACTIVE item is due (callers tick with `force`), claims always succeed and take no lease,
 * items are told apart by sid alone, and an item's start time doubles as its enqueue time. Tests of leases,
 * due times or conditional writes belong against DynamoQueue (dynalite), not this.
 */
export class MemoryQueue implements Queue {
  readonly items: QueueItem[] = [];
  async enqueue(accountId: string, requests: readonly EnqueueRequest[]): Promise<EnqueueResult[]> {
    for (const r of requests) this.items.push(newMemoryQueueItem(accountId, r));
    return requests.map((r) => ({ status: 'created', visitorId: r.visitorId, sid: r.sid }));
  }
  async *duePages(): AsyncIterable<QueueItem[]> {
    yield this.items.filter((i) => i.state === 'ACTIVE').map((i) => ({ ...i }));
  }
  async claim(item: DueItem): Promise<QueueItem | undefined> {
    const stored = this.items.find((i) => i.sid === item.sid);
    return stored === undefined ? undefined : { ...stored };
  }
  async loadRowDigests(item: QueueItem): Promise<string | undefined> {
    return this.items.find((i) => i.sid === item.sid)?.rowDigests;
  }
  async release(): Promise<void> {}
  async ack(item: QueueItem, _owner: string, update: AckUpdate): Promise<boolean> {
    const stored = this.items.find((i) => i.sid === item.sid);
    if (stored) Object.assign(stored, update);
    return true;
  }
  async *list(): AsyncIterable<QueueItem[]> {
    yield this.items;
  }
  async saveTickSummary(): Promise<void> {}
  async loadTickSummary(): Promise<undefined> {
    return undefined;
  }
}
