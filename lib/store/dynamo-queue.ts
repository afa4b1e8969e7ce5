import { ConditionalCheckFailedException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import pLimit from 'p-limit';
import { SESSION_MAX_AGE_MS } from '../clock';
import {
  dueShardKey,
  dueShardOf,
  QUEUE_DUE_INDEX,
  QUEUE_DUE_SHARDS,
  queueCaptureStateKey,
  queueKey,
  tickSummaryKey,
} from '../keys';
import {
  ACK_OPTIONAL_FIELDS,
  CAPTURE_STATE_FIELDS,
  ERASED_STATE,
  type AckUpdate,
  type ClaimRequest,
  type DueItem,
  type EnqueueRequest,
  type EnqueueResult,
  type Queue,
  type QueueItem,
} from '../queue/model';
import { MARSHALL_OPTIONS, UNMARSHALL_OPTIONS } from './dynamo';

/** Queue items outlive their deadline by this much before DynamoDB's TTL removes them (operators look back). */
export const QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS = 7 * 24 * 60 * 60 * 1000;

type StoredQueueItem = QueueItem & { pk: string; dueShard?: string; prevNextPollAtMs?: number };

function isConditionFailure(error: unknown): boolean {
  return (
    error instanceof ConditionalCheckFailedException ||
    (error as Error)?.name === 'ConditionalCheckFailedException'
  );
}

function toItem(stored: Record<string, unknown>): QueueItem {
  const {
    pk: _pk,
    dueShard: _dueShard,
    prevNextPollAtMs: _prev,
    ...item
  } = stored as unknown as StoredQueueItem;
  return item;
}

/** What a due page's item holds: the due index's projection (lib/store/schema.ts), keys aside. */
function toDueItem(stored: Record<string, unknown>): DueItem {
  const { accountId, visitorId, sid, state, deadlineMs, nextPollAtMs, leaseUntilMs } = stored as Partial<
    StoredQueueItem & DueItem
  >;
  return {
    accountId: accountId as string,
    visitorId: visitorId as string,
    sid: sid as string,
    state: state as DueItem['state'],
    deadlineMs: deadlineMs as number,
    ...(nextPollAtMs !== undefined ? { nextPollAtMs } : {}),
    ...(leaseUntilMs !== undefined ? { leaseUntilMs } : {}),
  };
}

export interface DynamoQueueOptions {
  /**
   * The index due items are read from. @default QUEUE_DUE_INDEX.indexName; the legacy `due` index only while a
   * stack is migrated (StorageSettings.queueDueIndex).
   */
  dueIndexName?: string;
}

/**
 * The queue on DynamoDB. Correctness rests on conditional single-item writes only (no transactions).
 *
 * Cost (issue 16, docs/cost.md): every poll claims and acks its item, and DynamoDB bills a write on the whole
 * item (the larger of before and after, per KB) in the table, and on the index item in each index whose copy it
 * changes (twice when it moves the index key). So the queue item holds only small fields (~0.5 KB: 1 unit), the
 * due index copies only what its readers need (below 1 KB: 1 unit), a claim leaves the index key alone (the
 * lease, projected, makes the due query skip the item), and what is large and changes seldom (the stored rows'
 * digests, the last bad body) lives on a side item (queueCaptureStateKey), written only when it changes and read
 * only when an answer is to be stored.
 */
export class DynamoQueue implements Queue {
  private readonly dueIndexName: string;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly clockNowMs: () => number,
    options: DynamoQueueOptions = {},
  ) {
    this.dueIndexName = options.dueIndexName ?? QUEUE_DUE_INDEX.indexName;
  }

  async enqueue(accountId: string, requests: readonly EnqueueRequest[]): Promise<EnqueueResult[]> {
    const limit = pLimit(16);
    return Promise.all(
      requests.map((request) =>
        limit(async (): Promise<EnqueueResult> => {
          const nowMs = this.clockNowMs();
          const startTimeMs = request.startTimeMs ?? nowMs;
          const deadlineMs = startTimeMs + SESSION_MAX_AGE_MS;
          const item: StoredQueueItem = {
            pk: queueKey(accountId, request.visitorId, request.sid),
            accountId,
            visitorId: request.visitorId,
            sid: request.sid,
            state: 'ACTIVE',
            startTimeMs,
            deadlineMs,
            enqueuedAtMs: nowMs,
            // First poll as soon as possible.
            nextPollAtMs: nowMs,
            dueShard: dueShardOf(accountId, request.visitorId, request.sid),
            attempts: 0,
            pollCount: 0,
            successCount: 0,
            expiresAtSec: Math.ceil((deadlineMs + QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS) / 1000),
          };
          try {
            await this.client.send(
              new PutCommand({
                TableName: this.tableName,
                Item: item,
                ConditionExpression: 'attribute_not_exists(pk)',
                // DynamoDB answers a refused put with the item there: is it a tombstone? (Saves a read.)
                ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
              }),
            );
            return { status: 'created', visitorId: request.visitorId, sid: request.sid };
          } catch (error) {
            if (!isConditionFailure(error)) throw error;
            if (await this.isTombstone(item.pk, error)) {
              return { status: 'refused', reason: 'erased', visitorId: request.visitorId, sid: request.sid };
            }
            return { status: 'exists', visitorId: request.visitorId, sid: request.sid };
          }
        }),
      ),
    );
  }

  /**
   * Whether the item whose existence refused an enqueue is a tombstone (`lpv forget`). DynamoDB hands the item
   * back with the refusal (ReturnValuesOnConditionCheckFailure); servers that do not (dynalite) are asked.
   */
  private async isTombstone(pk: string, refusal: unknown): Promise<boolean> {
    // The exception's Item is as on the wire (DocumentClient does not unmarshall exceptions); either shape is read.
    const returned = (refusal as { Item?: Record<string, unknown> }).Item;
    if (returned !== undefined) {
      const state = returned.state as { S?: string } | string | undefined;
      return (typeof state === 'string' ? state : state?.S) === ERASED_STATE;
    }
    const answer = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk },
        ProjectionExpression: '#state',
        ExpressionAttributeNames: { '#state': 'state' },
        ConsistentRead: true,
      }),
    );
    return answer.Item?.state === ERASED_STATE;
  }

  /**
   * Due items, one bounded page (per shard) at a time, taking the shards in turn so that every shard's most
   * urgent items come early. The total is not bounded: pages keep coming until every shard is exhausted.
   */
  async *duePages(
    accountId: string,
    nowMs: number,
    options: { pageSize: number; force: boolean },
  ): AsyncIterable<DueItem[]> {
    type Cursor = { shard: string; startKey?: Record<string, unknown>; done: boolean };
    const cursors: Cursor[] = Array.from({ length: QUEUE_DUE_SHARDS }, (_, i) => ({
      shard: dueShardKey(accountId, i),
      done: false,
    }));
    // One page from every unfinished shard per round, read in parallel: a round costs one query's latency.
    while (cursors.some((c) => !c.done)) {
      const pages = await Promise.all(
        cursors
          .filter((c) => !c.done)
          .map(async (cursor) => {
            const answer = await this.client.send(
              new QueryCommand({
                TableName: this.tableName,
                IndexName: this.dueIndexName,
                KeyConditionExpression: options.force
                  ? 'dueShard = :shard'
                  : 'dueShard = :shard AND nextPollAtMs <= :now',
                // A claimed item keeps its place in the index (a claim does not move the key): its live lease
                // hides it, so that an overlapping tick does not spend a refused claim on it. A filtered item
                // is still read (and billed), but reads cost a fifth of a write.
                FilterExpression:
                  '#state = :active AND (attribute_not_exists(leaseUntilMs) OR leaseUntilMs <= :now)',
                ExpressionAttributeNames: { '#state': 'state' },
                ExpressionAttributeValues: {
                  ':shard': cursor.shard,
                  ':active': 'ACTIVE',
                  ':now': nowMs,
                },
                Limit: options.pageSize,
                ...(cursor.startKey ? { ExclusiveStartKey: cursor.startKey } : {}),
              }),
            );
            cursor.startKey = answer.LastEvaluatedKey;
            cursor.done = answer.LastEvaluatedKey === undefined;
            return (answer.Items ?? []).map(toDueItem);
          }),
      );
      for (const items of pages) if (items.length > 0) yield items;
    }
  }

  // claim and ack run once each per poll: they send low-level commands with values marshalled here, which
  // skips DocumentClient's generic walk over every command's input and output (measured 0.1–0.3 ms of CPU per
  // call on this machine, against ~1.5 ms for the whole call). Same expressions, same items.

  async claim(item: DueItem, claim: ClaimRequest): Promise<QueueItem | undefined> {
    try {
      const answer = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: queueKey(item.accountId, item.visitorId, item.sid) } },
          // While leased, the item is not due (the due query skips a live lease): if this poller dies, it is due
          // again when the lease ends. nextPollAtMs, the index's sort key, stays: moving it would cost the index
          // a delete and a put, where the lease (projected) costs one small update.
          UpdateExpression: 'SET leaseOwner = :owner, leaseUntilMs = :leaseUntil, lastClaimedAtMs = :now',
          ConditionExpression:
            '#state = :active AND attribute_exists(dueShard) ' +
            'AND (attribute_not_exists(leaseUntilMs) OR leaseUntilMs <= :now) ' +
            'AND (attribute_not_exists(lastClaimedAtMs) OR lastClaimedAtMs < :tickStart)' +
            (claim.force ? '' : ' AND nextPollAtMs <= :now'),
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: marshall(
            {
              ':owner': claim.owner,
              ':leaseUntil': claim.leaseUntilMs,
              ':now': claim.nowMs,
              ':tickStart': claim.tickStartMs,
              ':active': 'ACTIVE',
            },
            MARSHALL_OPTIONS,
          ),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return answer.Attributes ? toItem(unmarshall(answer.Attributes, UNMARSHALL_OPTIONS)) : undefined;
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async release(item: QueueItem, owner: string): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: queueKey(item.accountId, item.visitorId, item.sid) },
          // The claim left nextPollAtMs as it was: without the lease the item is due again at that time.
          UpdateExpression: 'REMOVE leaseOwner, leaseUntilMs',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': owner },
        }),
      );
    } catch (error) {
      // Lease already lost to another poller: nothing of ours to hand back.
      if (!isConditionFailure(error)) throw error;
    }
  }

  async ack(item: QueueItem, owner: string, update: AckUpdate): Promise<boolean> {
    const terminal = update.state !== 'ACTIVE';
    const set: Record<string, unknown> = {
      state: update.state,
      attempts: update.attempts,
      pollCount: update.pollCount,
      successCount: update.successCount,
      lastOutcome: update.lastOutcome,
      lastPolledAtMs: update.lastPolledAtMs,
    };
    const captureState: Partial<Pick<QueueItem, (typeof CAPTURE_STATE_FIELDS)[number]>> = {};
    for (const key of ACK_OPTIONAL_FIELDS) {
      if (update[key] === undefined) continue;
      if ((CAPTURE_STATE_FIELDS as readonly string[]).includes(key)) {
        (captureState as Record<string, unknown>)[key] = update[key];
      } else {
        set[key] = update[key];
      }
    }
    // The side item first: if the ack is then refused (the lease lost), the digests it holds are still those of
    // rows that were stored, and the next owner writes fewer rows again. An item written by an older version
    // held these fields itself: once they are on the side item, the item's own copies go (REMOVE below).
    const movedToSide = Object.keys(captureState);
    if (movedToSide.length > 0) await this.saveCaptureState(item, captureState);
    if (!terminal) {
      if (update.nextPollAtMs === undefined) throw new TypeError('an ACTIVE ack needs nextPollAtMs');
      set.nextPollAtMs = update.nextPollAtMs;
    }
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = { ':owner': owner };
    const assignments = Object.entries(set).map(([key, value], i) => {
      names[`#a${i}`] = key;
      values[`:v${i}`] = value;
      return `#a${i} = :v${i}`;
    });
    // A terminal item leaves the sparse due index: dueShard and nextPollAtMs go.
    // prevNextPollAtMs: left by a claim of an older version (which moved nextPollAtMs), never written now.
    const removals = [
      'leaseOwner',
      'leaseUntilMs',
      'prevNextPollAtMs',
      ...movedToSide,
      ...(terminal ? ['dueShard', 'nextPollAtMs'] : []),
    ];
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { pk: { S: queueKey(item.accountId, item.visitorId, item.sid) } },
          UpdateExpression: `SET ${assignments.join(', ')} REMOVE ${removals.join(', ')}`,
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: marshall(values, MARSHALL_OPTIONS),
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * The digests of the rows stored for the claimed item's session: from its side item, or from the item itself
   * when an older version wrote them there. No read when the item says no row was stored yet. Eventually
   * consistent (half the price): the side item was written by an earlier poll, and digests read stale only make
   * rows be written again (idempotent puts), never skipped (digests are only ever added).
   */
  async loadRowDigests(item: QueueItem): Promise<string | undefined> {
    if (item.rowDigests !== undefined) return item.rowDigests;
    if (!((item.rowsStored ?? 0) > 0)) return undefined;
    const answer = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: queueCaptureStateKey(item.accountId, item.visitorId, item.sid) },
        ProjectionExpression: 'rowDigests',
      }),
    );
    const digests = answer.Item?.rowDigests;
    return typeof digests === 'string' ? digests : undefined;
  }

  /**
   * Writes the given side-item fields (an UpdateItem: the other field stays). It expires with its queue item
   * (same TTL); `lpv forget` deletes it with the item's tombstone (lib/store/dynamo-erasure.ts).
   */
  private async saveCaptureState(
    item: QueueItem,
    fields: Partial<Pick<QueueItem, (typeof CAPTURE_STATE_FIELDS)[number]>>,
  ): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const assignments: string[] = [];
    // A hand-edited item may lack its TTL: the side item then lacks one too, as the item does.
    if (typeof item.expiresAtSec === 'number') {
      names['#ttl'] = 'expiresAtSec';
      values[':ttl'] = item.expiresAtSec;
      assignments.push('#ttl = :ttl');
    }
    for (const [i, [key, value]] of Object.entries(fields).entries()) {
      names[`#c${i}`] = key;
      values[`:c${i}`] = value;
      assignments.push(`#c${i} = :c${i}`);
    }
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: queueCaptureStateKey(item.accountId, item.visitorId, item.sid) } },
        UpdateExpression: `SET ${assignments.join(', ')}`,
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: marshall(values, MARSHALL_OPTIONS),
      }),
    );
  }

  /** Every item of the account (operators' listing; a Scan is fine for this rare, small, admin read). */
  async *list(accountId: string): AsyncIterable<QueueItem[]> {
    let startKey: Record<string, unknown> | undefined;
    do {
      const answer = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'accountId = :account AND attribute_exists(#state)',
          ExpressionAttributeNames: { '#state': 'state' },
          ExpressionAttributeValues: { ':account': accountId },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      startKey = answer.LastEvaluatedKey;
      const items = (answer.Items ?? []).map(toItem);
      if (items.length > 0) yield items;
    } while (startKey);
  }

  async saveTickSummary(accountId: string, summary: object): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { pk: tickSummaryKey(accountId), summary: JSON.stringify(summary) },
      }),
    );
  }

  async loadTickSummary(accountId: string): Promise<object | undefined> {
    const answer = await this.client.send(
      new GetCommand({ TableName: this.tableName, Key: { pk: tickSummaryKey(accountId) } }),
    );
    const summary = answer.Item?.summary;
    return typeof summary === 'string' ? (JSON.parse(summary) as object) : undefined;
  }
}
