/**
 * The erasure ports (lib/erasure/forget.ts) on DynamoDB.
 *
 * QUEUE LOOKUP: a Scan of the queue table with `begins_with(pk, "<account>#<visitor>#")`, strongly consistent,
 * in parallel segments. No index: the queue is small (TTL removes an item 7 days after its session's deadline,
 * a tombstone after its deadline plus the lease), so one scan per erasure costs the table's size in read
 * units (1 per 4 KB read, consistent) and nothing on the write path, where a visitor index would cost a write
 * per enqueue and miss the items enqueued before it existed. docs/erasure.md has the numbers.
 *
 * TOMBSTONE: a PutItem of `{pk, state: ERASED, expiresAtSec}` replacing the item whatever it holds, so no
 * attribute of it survives, including any an ack wrote meanwhile. The conditions of the queue's writes hold
 * for it (lib/store/dynamo-queue.ts): a claim needs state ACTIVE and a dueShard, an ack and a release
 * `leaseOwner = :owner`, an enqueue `attribute_not_exists(pk)` (and is answered `refused`).
 *
 * CAPTURE ROWS: the visitor's sessions from the byVisitor index (keys only are read), then each session's
 * partition by Query (keys only, strongly consistent), deleted by BatchWriteItem, 25 keys a call;
 * UnprocessedItems and throttled calls are resent with exponential backoff and full jitter. Rows left after
 * the last attempt fail the erasure (it is run again; it resumes).
 */
import {
  BatchWriteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  ScanCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import type { ErasureCapture, ErasureQueue } from '../erasure/forget';
import type { ErasureAudit, ErasureCounts, VisitorQueueEntry } from '../erasure/plan';
import { LpvError } from '../errors';
import { idProblem } from '../ids';
import {
  CAPTURE_BY_VISITOR,
  CAPTURE_PRIMARY_KEY,
  capturePk,
  erasureAuditKey,
  QUEUE_PRIMARY_KEY,
  queueKey,
  queueVisitorKeyPrefix,
  visitorIndexPk,
} from '../keys';
import { ERASED_STATE, type QueueTombstone, type StoredQueueState } from '../queue/model';
import { batchBackoffMs, isThrottlingError } from './dynamo';

/** Parallel segments of the queue scan. */
export const QUEUE_SCAN_SEGMENTS = 4;
const BATCH_SIZE = 25;

export interface ErasureCaptureOptions {
  /** Calls per batch (resending unprocessed or throttled deletes) before the erasure fails. @default 10 */
  maxBatchAttempts?: number;
  /** First backoff delay; doubles, with full jitter. @default 50 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** DynamoDB's `Limit` per Query page of a session's keys; undefined lets DynamoDB fill its 1 MB pages. */
  pageSize?: number;
}

/** The audit item as stored: no `state` and no `accountId`, so `lpv queue` and `lpv status` never list it. */
interface StoredAudit {
  pk: string;
  kind: 'erasure';
  requestId: string;
  erasureStatus: ErasureAudit['status'];
  visitorHash?: string;
  startedAtMs: number;
  finishedAtMs?: number;
  counts?: ErasureCounts;
}

export class DynamoErasureQueue implements ErasureQueue {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: { scanSegments?: number } = {},
  ) {}

  async visitorItems(accountId: string, visitorId: string): Promise<VisitorQueueEntry[]> {
    const prefix = queueVisitorKeyPrefix(accountId, visitorId);
    const segments = this.options.scanSegments ?? QUEUE_SCAN_SEGMENTS;
    const pages = await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        const entries: VisitorQueueEntry[] = [];
        let startKey: Record<string, unknown> | undefined;
        do {
          const answer = await this.client.send(
            new ScanCommand({
              TableName: this.tableName,
              Segment: segment,
              TotalSegments: segments,
              ConsistentRead: true,
              FilterExpression: 'begins_with(#pk, :prefix) AND attribute_exists(#state)',
              ProjectionExpression: '#pk, #state, deadlineMs, expiresAtSec',
              ExpressionAttributeNames: { '#pk': QUEUE_PRIMARY_KEY.partitionKey, '#state': 'state' },
              ExpressionAttributeValues: { ':prefix': prefix },
              ...(startKey ? { ExclusiveStartKey: startKey } : {}),
            }),
          );
          startKey = answer.LastEvaluatedKey;
          for (const item of answer.Items ?? []) {
            const sid = String(item[QUEUE_PRIMARY_KEY.partitionKey]).slice(prefix.length);
            // Only a valid sid can follow the prefix of a queue item's key (an audit key cannot: see lib/keys.ts).
            if (idProblem('sid', sid) !== undefined) continue;
            entries.push({
              sid,
              state: item.state as StoredQueueState,
              ...(typeof item.deadlineMs === 'number' ? { deadlineMs: item.deadlineMs } : {}),
              ...(typeof item.expiresAtSec === 'number' ? { expiresAtSec: item.expiresAtSec } : {}),
            });
          }
        } while (startKey);
        return entries;
      }),
    );
    return pages.flat();
  }

  async tombstone(accountId: string, visitorId: string, sid: string, expiresAtSec: number): Promise<void> {
    const tombstone: QueueTombstone & { pk: string } = {
      pk: queueKey(accountId, visitorId, sid),
      state: ERASED_STATE,
      expiresAtSec,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: tombstone }));
  }

  async saveAudit(accountId: string, audit: ErasureAudit): Promise<void> {
    const item: StoredAudit = {
      pk: erasureAuditKey(accountId, audit.requestId),
      kind: 'erasure',
      requestId: audit.requestId,
      erasureStatus: audit.status,
      ...(audit.visitorHash !== undefined ? { visitorHash: audit.visitorHash } : {}),
      startedAtMs: audit.startedAtMs,
      ...(audit.finishedAtMs !== undefined ? { finishedAtMs: audit.finishedAtMs } : {}),
      ...(audit.counts !== undefined ? { counts: audit.counts } : {}),
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: item }));
  }

  async loadAudit(accountId: string, requestId: string): Promise<ErasureAudit | undefined> {
    const answer = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: erasureAuditKey(accountId, requestId) },
        ConsistentRead: true,
      }),
    );
    const item = answer.Item as StoredAudit | undefined;
    if (item?.kind !== 'erasure') return undefined;
    return {
      requestId: item.requestId,
      status: item.erasureStatus,
      ...(item.visitorHash !== undefined ? { visitorHash: item.visitorHash } : {}),
      startedAtMs: item.startedAtMs,
      ...(item.finishedAtMs !== undefined ? { finishedAtMs: item.finishedAtMs } : {}),
      ...(item.counts !== undefined ? { counts: item.counts } : {}),
    };
  }
}

type RowKey = Record<string, unknown>;

export class DynamoErasureCapture implements ErasureCapture {
  private readonly maxBatchAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly pageSize: number | undefined;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: ErasureCaptureOptions = {},
  ) {
    this.pageSize = options.pageSize;
    this.maxBatchAttempts = options.maxBatchAttempts ?? 10;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async visitorSessionIds(accountId: string, visitorId: string): Promise<string[]> {
    const prefix = capturePk(accountId, '');
    const sids = new Set<string>();
    let startKey: Record<string, unknown> | undefined;
    do {
      const answer = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: CAPTURE_BY_VISITOR.indexName,
          KeyConditionExpression: '#gpk = :gpk',
          ProjectionExpression: '#pk',
          ExpressionAttributeNames: {
            '#gpk': CAPTURE_BY_VISITOR.partitionKey,
            '#pk': CAPTURE_PRIMARY_KEY.partitionKey,
          },
          ExpressionAttributeValues: { ':gpk': visitorIndexPk(accountId, visitorId) },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      startKey = answer.LastEvaluatedKey;
      for (const item of answer.Items ?? []) {
        const pk = String(item[CAPTURE_PRIMARY_KEY.partitionKey]);
        if (pk.startsWith(prefix)) sids.add(pk.slice(prefix.length));
      }
    } while (startKey);
    return [...sids];
  }

  async countSessionRows(accountId: string, sid: string): Promise<number> {
    let count = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const answer = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': CAPTURE_PRIMARY_KEY.partitionKey },
          ExpressionAttributeValues: { ':pk': capturePk(accountId, sid) },
          Select: 'COUNT',
          ConsistentRead: true,
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      count += answer.Count ?? 0;
      startKey = answer.LastEvaluatedKey;
    } while (startKey);
    return count;
  }

  async deleteSessionRows(accountId: string, sid: string): Promise<number> {
    let deleted = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const answer = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk',
          ProjectionExpression: '#pk, #sk',
          ExpressionAttributeNames: {
            '#pk': CAPTURE_PRIMARY_KEY.partitionKey,
            '#sk': CAPTURE_PRIMARY_KEY.sortKey,
          },
          ExpressionAttributeValues: { ':pk': capturePk(accountId, sid) },
          ConsistentRead: true,
          ...(this.pageSize !== undefined ? { Limit: this.pageSize } : {}),
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      startKey = answer.LastEvaluatedKey;
      const keys = answer.Items ?? [];
      for (let i = 0; i < keys.length; i += BATCH_SIZE) {
        await this.deleteBatch(keys.slice(i, i + BATCH_SIZE));
        deleted += Math.min(BATCH_SIZE, keys.length - i);
      }
    } while (startKey);
    return deleted;
  }

  /** Deletes up to 25 rows, resending what DynamoDB left unprocessed or throttled. */
  private async deleteBatch(keys: readonly RowKey[]): Promise<void> {
    let pending = keys.map((key) => ({ DeleteRequest: { Key: key } }));
    for (let attempt = 1; ; attempt++) {
      try {
        const answer = await this.client.send(
          new BatchWriteCommand({ RequestItems: { [this.tableName]: pending } }),
        );
        pending = (answer.UnprocessedItems?.[this.tableName] ?? []) as typeof pending;
      } catch (error) {
        if (!isThrottlingError(error)) throw error;
      }
      if (pending.length === 0) return;
      if (attempt >= this.maxBatchAttempts) {
        throw new LpvError(
          `${pending.length} capture row(s) still not deleted after ${attempt} attempts (throttled); ` +
            'run the erasure again: it resumes',
        );
      }
      await this.sleep(batchBackoffMs(attempt, this.baseDelayMs, this.random));
    }
  }
}
