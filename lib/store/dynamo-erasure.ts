/**
 * The erasure ports (lib/erasure/forget.ts) on DynamoDB.
 *
 * QUEUE LOOKUP: a Scan of the queue table with `begins_with(pk, "<account>#<visitor>#")`, strongly consistent,
 * in parallel segments. No index: the queue is small (TTL removes an item 7 days after its session's deadline,
 * a tombstone after its deadline plus the lease), so one scan per erasure costs the table's size in read
 * units (1 per 4 KB read, consistent) and nothing on the write path, where a visitor index would cost a write
 * per enqueue and miss the items enqueued before it existed. docs/erasure.md has the numbers.
 *
 * The same scan finds the items' side items (queueCaptureStateKey: row digests, the last bad body), which have
 * no `state`; a Scan is charged for every item it reads whatever its filter keeps, so finding them costs nothing.
 *
 * TOMBSTONE: a PutItem of `{pk, state: ERASED, expiresAtSec}` replacing the item whatever it holds, so no
 * attribute of it survives, including any an ack wrote meanwhile. The conditions of the queue's writes hold
 * for it (lib/store/dynamo-queue.ts): a claim needs state ACTIVE and a dueShard, an ack and a release
 * `leaseOwner = :owner`, an enqueue `attribute_not_exists(pk)` (and is answered `refused`). The side item goes
 * by DeleteItem (unconditional: deleting one that is not there succeeds).
 *
 * CAPTURE ROWS: the visitor's sessions from the byVisitor index (only `pk` is read: a KEYS_ONLY index holds
 * it; its name is a parameter while the capture indexes are migrated, docs/deploy.md), then each session's
 * partition by Query (keys only, strongly consistent), deleted by BatchWriteItem, 25 keys a call;
 * UnprocessedItems and throttled calls are resent with exponential backoff and full jitter. Rows left after
 * the last attempt fail the erasure (it is run again; it resumes).
 *
 * ERASED ROWS (the analytics re-send, lib/erasure/forget.ts step 4): when the erasure re-sends its deletes to
 * the analytics copy, the key Query also projects the row type and the partition's time column (no extra read
 * units: a Query is charged for whole items whatever it projects), and each page of keys is kept in the queue
 * table (DynamoErasedRows: one UpdateItem of a page counter and one PutItem of the page, up to 1,000 rows or
 * 200 KB) BEFORE its rows are deleted, so an interrupted run still has them when it resumes.
 */
import pLimit from 'p-limit';
import {
  BatchWriteCommand,
  DeleteCommand,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
  type DynamoDBDocumentClient,
} from '@aws-sdk/lib-dynamodb';
import { ErasureLeaseLostError } from '../erasure/errors';
import type { ErasedRowsStore, ErasureCapture, ErasureQueue, KeepErasedRows } from '../erasure/forget';
import {
  chunkBySize,
  uniqueErasedRows,
  type ErasedRow,
  type ErasureAudit,
  type ErasureCounts,
  type ErasureStatus,
  type VisitorQueueEntry,
  type VisitorQueueScan,
} from '../erasure/plan';
import type { ErasureRequests, PendingErasure } from '../erasure/requests';
import { LpvError } from '../errors';
import { idProblem } from '../ids';
import {
  CAPTURE_BY_VISITOR,
  CAPTURE_PRIMARY_KEY,
  capturePk,
  erasedRowsKey,
  erasedRowsPageKey,
  erasureAuditKey,
  erasureDueShardKey,
  QUEUE_DUE_INDEX,
  QUEUE_PRIMARY_KEY,
  queueCaptureStateKey,
  queueKey,
  queueVisitorKeyPrefix,
  visitorIndexPk,
} from '../keys';
import { ERASED_STATE, type QueueTombstone, type StoredQueueState } from '../queue/model';
import { batchBackoffMs, isThrottlingError, queryPages } from './dynamo';

/** Parallel segments of the queue scan. */
export const QUEUE_SCAN_SEGMENTS = 4;
const BATCH_SIZE = 25;

export interface ErasureCaptureOptions {
  /**
   * The byVisitor index queried (StorageSettings.captureByVisitorIndex while the capture indexes are migrated).
   * @default CAPTURE_BY_VISITOR.indexName
   */
  byVisitorIndex?: string;
  /** Calls per batch (resending unprocessed or throttled deletes) before the erasure fails. @default 10 */
  maxBatchAttempts?: number;
  /** First backoff delay; doubles, with full jitter. @default 50 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** DynamoDB's `Limit` per Query page of a session's keys; undefined lets DynamoDB fill its 1 MB pages. */
  pageSize?: number;
}

/**
 * The one stored shape of an erasure's audit item, which is also a POST /forget request's item (lib/erasure/
 * requests.ts). No `state` and no `accountId`, so `lpv queue` and `lpv status` never list it, and the poller
 * never claims it. The fields under "pending only" exist from the request until its erasure is done.
 */
interface StoredErasureItem {
  pk: string;
  kind: 'erasure';
  requestId: string;
  erasureStatus: ErasureStatus;
  visitorHash?: string;
  /** The hash key could not be read when the erasure began (meaningless once visitorHash is set). */
  visitorHashUnavailable?: boolean;
  requestedAtMs?: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  counts?: ErasureCounts;
  // pending only (removed when done):
  /** The raw visitor id: the eraser needs it to find the visitor's items. */
  visitorId?: string;
  /** erasureDueShardKey(account): puts the request in the due index, where the eraser lists it. */
  dueShard?: string;
  nextPollAtMs?: number;
  leaseOwner?: string;
  leaseUntilMs?: number;
  attempts?: number;
}

/** Attributes a done erasure no longer has: what only a pending request needs. */
const PENDING_ONLY: ReadonlyArray<keyof StoredErasureItem> = [
  'visitorId',
  'dueShard',
  'nextPollAtMs',
  'leaseOwner',
  'leaseUntilMs',
];

function isConditionFailure(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'ConditionalCheckFailedException';
}

/** The audit an item shows (`lpv forget --status`), or undefined when it is not an erasure's item. */
function toAudit(item: Partial<StoredErasureItem> | undefined): ErasureAudit | undefined {
  if (item?.kind !== 'erasure' || typeof item.requestId !== 'string') return undefined;
  return {
    requestId: item.requestId,
    status: item.erasureStatus ?? 'requested',
    ...(item.visitorHash !== undefined
      ? { visitorHash: item.visitorHash }
      : item.visitorHashUnavailable === true
        ? { visitorHashUnavailable: true as const }
        : {}),
    ...(item.requestedAtMs !== undefined ? { requestedAtMs: item.requestedAtMs } : {}),
    ...(item.startedAtMs !== undefined ? { startedAtMs: item.startedAtMs } : {}),
    ...(item.finishedAtMs !== undefined ? { finishedAtMs: item.finishedAtMs } : {}),
    ...(item.counts !== undefined ? { counts: item.counts } : {}),
  };
}

/** A pending request as the eraser sees it, or undefined when the item is not one (done, or malformed). */
function toPending(item: Partial<StoredErasureItem> | undefined): PendingErasure | undefined {
  if (
    item?.kind !== 'erasure' ||
    typeof item.requestId !== 'string' ||
    typeof item.visitorId !== 'string' ||
    typeof item.nextPollAtMs !== 'number' ||
    (item.erasureStatus !== 'requested' && item.erasureStatus !== 'running')
  ) {
    return undefined;
  }
  return {
    requestId: item.requestId,
    visitorId: item.visitorId,
    status: item.erasureStatus,
    requestedAtMs: item.requestedAtMs ?? item.nextPollAtMs,
    nextPollAtMs: item.nextPollAtMs,
    ...(item.leaseOwner !== undefined ? { leaseOwner: item.leaseOwner } : {}),
    ...(item.leaseUntilMs !== undefined ? { leaseUntilMs: item.leaseUntilMs } : {}),
    attempts: item.attempts ?? 0,
  };
}

export class DynamoErasureQueue implements ErasureQueue {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly options: { scanSegments?: number } = {},
  ) {}

  async visitorItems(accountId: string, visitorId: string): Promise<VisitorQueueScan> {
    const prefix = queueVisitorKeyPrefix(accountId, visitorId);
    const segments = this.options.scanSegments ?? QUEUE_SCAN_SEGMENTS;
    const pages = await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        const entries: VisitorQueueEntry[] = [];
        const captureStates: string[] = [];
        let startKey: Record<string, unknown> | undefined;
        do {
          const answer = await this.client.send(
            new ScanCommand({
              TableName: this.tableName,
              Segment: segment,
              TotalSegments: segments,
              ConsistentRead: true,
              FilterExpression: 'begins_with(#pk, :prefix)',
              ProjectionExpression: '#pk, #state, deadlineMs, expiresAtSec',
              ExpressionAttributeNames: { '#pk': QUEUE_PRIMARY_KEY.partitionKey, '#state': 'state' },
              ExpressionAttributeValues: { ':prefix': prefix },
              ...(startKey ? { ExclusiveStartKey: startKey } : {}),
            }),
          );
          startKey = answer.LastEvaluatedKey;
          for (const item of answer.Items ?? []) {
            const pk = String(item[QUEUE_PRIMARY_KEY.partitionKey]);
            const sid = pk.slice(prefix.length);
            // Only a valid sid can follow the prefix of a queue item's key (an audit key cannot: see lib/keys.ts).
            if (idProblem('sid', sid) !== undefined) {
              const sideSid = sid.slice(0, Math.max(0, sid.indexOf('#')));
              if (
                idProblem('sid', sideSid) === undefined &&
                pk === queueCaptureStateKey(accountId, visitorId, sideSid)
              ) {
                captureStates.push(sideSid);
              }
              continue;
            }
            // A queue item always has a state (one edited by hand without it is not taken, as before).
            if (item.state === undefined) continue;
            entries.push({
              sid,
              state: item.state as StoredQueueState,
              ...(typeof item.deadlineMs === 'number' ? { deadlineMs: item.deadlineMs } : {}),
              ...(typeof item.expiresAtSec === 'number' ? { expiresAtSec: item.expiresAtSec } : {}),
            });
          }
        } while (startKey);
        return { entries, captureStates };
      }),
    );
    return {
      entries: pages.flatMap((page) => page.entries),
      captureStates: pages.flatMap((page) => page.captureStates),
    };
  }

  async tombstone(accountId: string, visitorId: string, sid: string, expiresAtSec: number): Promise<void> {
    const tombstone: QueueTombstone & { pk: string } = {
      pk: queueKey(accountId, visitorId, sid),
      state: ERASED_STATE,
      expiresAtSec,
    };
    await this.client.send(new PutCommand({ TableName: this.tableName, Item: tombstone }));
  }

  async deleteCaptureState(accountId: string, visitorId: string, sid: string): Promise<void> {
    await this.client.send(
      new DeleteCommand({
        TableName: this.tableName,
        Key: { [QUEUE_PRIMARY_KEY.partitionKey]: queueCaptureStateKey(accountId, visitorId, sid) },
      }),
    );
  }

  /**
   * An UpdateItem of the audit fields: a POST /forget request's other fields stay until the erasure is done,
   * the first start is kept (`if_not_exists`), and `lpv forget`'s audit item is created by the same call.
   */
  async saveAudit(accountId: string, audit: ErasureAudit, leaseOwner?: string): Promise<void> {
    const set: Record<string, unknown> = {
      kind: 'erasure',
      requestId: audit.requestId,
      erasureStatus: audit.status,
      ...(audit.visitorHash !== undefined ? { visitorHash: audit.visitorHash } : {}),
      // An attempt that could not read the key says so; one that could (a resume) clears it below.
      ...(audit.visitorHash === undefined && audit.visitorHashUnavailable === true
        ? { visitorHashUnavailable: true }
        : {}),
      ...(audit.finishedAtMs !== undefined ? { finishedAtMs: audit.finishedAtMs } : {}),
      ...(audit.counts !== undefined ? { counts: audit.counts } : {}),
    };
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const assignments = Object.entries(set).map(([name, value], i) => {
      names[`#a${i}`] = name;
      values[`:a${i}`] = value;
      return `#a${i} = :a${i}`;
    });
    if (audit.startedAtMs !== undefined) {
      names['#started'] = 'startedAtMs';
      values[':started'] = audit.startedAtMs;
      assignments.push('#started = if_not_exists(#started, :started)');
    }
    const removed: string[] = [
      ...(audit.status === 'done' ? PENDING_ONLY : []),
      ...(audit.visitorHash !== undefined ? ['visitorHashUnavailable'] : []),
    ];
    const removals = removed.map((name) => `#r_${name}`);
    for (const name of removed) names[`#r_${name}`] = name;
    if (leaseOwner !== undefined) {
      names['#owner'] = 'leaseOwner';
      values[':owner'] = leaseOwner;
    }
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: erasureAuditKey(accountId, audit.requestId) },
          UpdateExpression:
            `SET ${assignments.join(', ')}` + (removals.length > 0 ? ` REMOVE ${removals.join(', ')}` : ''),
          ...(leaseOwner !== undefined ? { ConditionExpression: '#owner = :owner' } : {}),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if (leaseOwner !== undefined && isConditionFailure(error)) {
        throw new ErasureLeaseLostError(
          `erasure request ${audit.requestId}: the lease passed to another eraser before the audit was saved`,
          { cause: error },
        );
      }
      throw error;
    }
  }

  async loadAudit(accountId: string, requestId: string): Promise<ErasureAudit | undefined> {
    const answer = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: erasureAuditKey(accountId, requestId) },
        ConsistentRead: true,
      }),
    );
    return toAudit(answer.Item as Partial<StoredErasureItem> | undefined);
  }
}

/**
 * The POST /forget requests (lib/erasure/requests.ts) in the queue table, on the erasure partition of its due
 * index (erasureDueShardKey): the eraser lists every pending request with one Query of that partition (no
 * Scan), the poller never reads it (it queries only its numbered shards). The index's projection is an
 * INCLUDE of what pending() reads (lib/store/schema.ts), so the listing needs no GetItem per request.
 */
export class DynamoErasureRequests implements ErasureRequests {
  /**
   * @param dueIndex the due index queried (StorageSettings.queueDueIndex while it is migrated:
   *   docs/deploy.md, "Migrating the queue's due index")
   */
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly dueIndex: string = QUEUE_DUE_INDEX.indexName,
  ) {}

  async create(
    accountId: string,
    request: { requestId: string; visitorId: string; requestedAtMs: number },
  ): Promise<void> {
    const item: StoredErasureItem = {
      pk: erasureAuditKey(accountId, request.requestId),
      kind: 'erasure',
      requestId: request.requestId,
      erasureStatus: 'requested',
      requestedAtMs: request.requestedAtMs,
      visitorId: request.visitorId,
      dueShard: erasureDueShardKey(accountId),
      nextPollAtMs: request.requestedAtMs,
      attempts: 0,
    };
    await this.client.send(
      new PutCommand({
        TableName: this.tableName,
        Item: item,
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async pending(accountId: string): Promise<PendingErasure[]> {
    const found: PendingErasure[] = [];
    for await (const answer of queryPages(this.client, {
      TableName: this.tableName,
      IndexName: this.dueIndex,
      KeyConditionExpression: '#shard = :shard',
      ExpressionAttributeNames: { '#shard': QUEUE_DUE_INDEX.partitionKey },
      ExpressionAttributeValues: { ':shard': erasureDueShardKey(accountId) },
    })) {
      for (const item of answer.Items ?? []) {
        const request = toPending(item as Partial<StoredErasureItem>);
        if (request !== undefined) found.push(request);
      }
    }
    return found;
  }

  async claim(
    accountId: string,
    requestId: string,
    claim: { owner: string; leaseUntilMs: number; nowMs: number },
  ): Promise<PendingErasure | undefined> {
    try {
      const answer = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: erasureAuditKey(accountId, requestId) },
          // While leased the request is not due: nextPollAtMs moves to the lease's end.
          UpdateExpression:
            'SET leaseOwner = :owner, leaseUntilMs = :until, nextPollAtMs = :until, erasureStatus = :running, ' +
            'attempts = if_not_exists(attempts, :zero) + :one, startedAtMs = if_not_exists(startedAtMs, :now)',
          ConditionExpression:
            'dueShard = :shard AND nextPollAtMs <= :now ' +
            'AND (attribute_not_exists(leaseUntilMs) OR leaseUntilMs <= :now)',
          ExpressionAttributeValues: {
            ':owner': claim.owner,
            ':until': claim.leaseUntilMs,
            ':now': claim.nowMs,
            ':running': 'running',
            ':zero': 0,
            ':one': 1,
            ':shard': erasureDueShardKey(accountId),
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toPending(answer.Attributes as Partial<StoredErasureItem> | undefined);
    } catch (error) {
      if (isConditionFailure(error)) return undefined;
      throw error;
    }
  }

  async release(accountId: string, requestId: string, owner: string, nextPollAtMs: number): Promise<void> {
    try {
      await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: erasureAuditKey(accountId, requestId) },
          UpdateExpression: 'SET nextPollAtMs = :next REMOVE leaseOwner, leaseUntilMs',
          ConditionExpression: 'leaseOwner = :owner AND attribute_exists(dueShard)',
          ExpressionAttributeValues: { ':owner': owner, ':next': nextPollAtMs },
        }),
      );
    } catch (error) {
      // The lease already passed to another eraser (or the erasure is done): nothing of ours to hand back.
      if (!isConditionFailure(error)) throw error;
    }
  }
}

type RowKey = Record<string, unknown>;

export class DynamoErasureCapture implements ErasureCapture {
  private readonly maxBatchAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly pageSize: number | undefined;
  private readonly byVisitorIndex: string;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    options: ErasureCaptureOptions = {},
  ) {
    this.pageSize = options.pageSize;
    this.byVisitorIndex = options.byVisitorIndex ?? CAPTURE_BY_VISITOR.indexName;
    this.maxBatchAttempts = options.maxBatchAttempts ?? 10;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
  }

  async visitorSessionIds(accountId: string, visitorId: string): Promise<string[]> {
    const prefix = capturePk(accountId, '');
    const sids = new Set<string>();
    for await (const answer of queryPages(this.client, {
      TableName: this.tableName,
      IndexName: this.byVisitorIndex,
      KeyConditionExpression: '#gpk = :gpk',
      ProjectionExpression: '#pk',
      ExpressionAttributeNames: {
        '#gpk': CAPTURE_BY_VISITOR.partitionKey,
        '#pk': CAPTURE_PRIMARY_KEY.partitionKey,
      },
      ExpressionAttributeValues: { ':gpk': visitorIndexPk(accountId, visitorId) },
    })) {
      for (const item of answer.Items ?? []) {
        const pk = String(item[CAPTURE_PRIMARY_KEY.partitionKey]);
        if (pk.startsWith(prefix)) sids.add(pk.slice(prefix.length));
      }
    }
    return [...sids];
  }

  async countSessionRows(accountId: string, sid: string): Promise<number> {
    let count = 0;
    for await (const answer of queryPages(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': CAPTURE_PRIMARY_KEY.partitionKey },
      ExpressionAttributeValues: { ':pk': capturePk(accountId, sid) },
      Select: 'COUNT',
      ConsistentRead: true,
    })) {
      count += answer.Count ?? 0;
    }
    return count;
  }

  async deleteSessionRows(accountId: string, sid: string, keep?: KeepErasedRows): Promise<number> {
    const names: Record<string, string> = {
      '#pk': CAPTURE_PRIMARY_KEY.partitionKey,
      '#sk': CAPTURE_PRIMARY_KEY.sortKey,
    };
    const extra = (keep?.attributes ?? []).map((name, i) => {
      names[`#k${i}`] = name;
      return `#k${i}`;
    });
    let deleted = 0;
    for await (const answer of queryPages(this.client, {
      TableName: this.tableName,
      KeyConditionExpression: '#pk = :pk',
      ProjectionExpression: ['#pk', '#sk', ...extra].join(', '),
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: { ':pk': capturePk(accountId, sid) },
      ConsistentRead: true,
      ...(this.pageSize !== undefined ? { Limit: this.pageSize } : {}),
    })) {
      const items = answer.Items ?? [];
      // Kept before they are deleted: a run killed between the two finds them on resume.
      if (keep !== undefined && items.length > 0) await keep.rows(items.map((item) => erasedRow(item, keep)));
      const keys = items.map((item) => ({
        [CAPTURE_PRIMARY_KEY.partitionKey]: item[CAPTURE_PRIMARY_KEY.partitionKey],
        [CAPTURE_PRIMARY_KEY.sortKey]: item[CAPTURE_PRIMARY_KEY.sortKey],
      }));
      for (let i = 0; i < keys.length; i += BATCH_SIZE) {
        await this.deleteBatch(keys.slice(i, i + BATCH_SIZE));
        deleted += Math.min(BATCH_SIZE, keys.length - i);
      }
    }
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

/** A deleted row as kept: its keys and, of `keep.attributes`, those it has as a string or a number. */
function erasedRow(item: Record<string, unknown>, keep: KeepErasedRows): ErasedRow {
  const row: Record<string, string | number> = {
    pk: String(item[CAPTURE_PRIMARY_KEY.partitionKey]),
    sk: String(item[CAPTURE_PRIMARY_KEY.sortKey]),
  };
  for (const name of keep.attributes) {
    const value = item[name];
    if (typeof value === 'string' || typeof value === 'number') row[name] = value;
  }
  return row as ErasedRow;
}

/** How long kept rows outlive their last page if no erasure of the visitor ever completes (a safety net). */
export const ERASED_ROWS_RETENTION_SEC = 7 * 24 * 60 * 60;
/** Rows per kept page, and its size (JSON characters): far under DynamoDB's 400 KB item limit. */
export const ERASED_ROWS_PAGE_ROWS = 1_000;
export const ERASED_ROWS_PAGE_BYTES = 200_000;
/** Pages read or deleted at once. */
const ERASED_ROWS_CONCURRENCY = 8;

/**
 * The erased rows kept in the queue table until their deletes are re-sent (lib/erasure/forget.ts
 * ErasedRowsStore), per visitor: a counter item `erasedRowsKey` (`pages`, ADDed atomically, so the concurrent
 * sessions of an erasure, or two erasures of one visitor, never take the same page number) and the pages
 * `erasedRowsPageKey(…, n)`, each `{pk, rows, expiresAtSec}`. They hold capture keys (which name sids) only
 * until the re-send; their TTL removes the pages of an erasure nobody completes.
 */
export class DynamoErasedRows implements ErasedRowsStore {
  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly nowMs: () => number = Date.now,
  ) {}

  async keep(accountId: string, visitorId: string, rows: readonly ErasedRow[]): Promise<void> {
    const chunks = chunkBySize(
      rows,
      ERASED_ROWS_PAGE_ROWS,
      ERASED_ROWS_PAGE_BYTES,
      (row) => JSON.stringify(row).length,
    );
    for (const chunk of chunks) {
      const expiresAtSec = Math.ceil(this.nowMs() / 1000) + ERASED_ROWS_RETENTION_SEC;
      const counted = await this.client.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { pk: erasedRowsKey(accountId, visitorId) },
          UpdateExpression: 'SET expiresAtSec = :expires ADD pages :one',
          ExpressionAttributeValues: { ':expires': expiresAtSec, ':one': 1 },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
      const page = Number(counted.Attributes?.pages);
      await this.client.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { pk: erasedRowsPageKey(accountId, visitorId, page), rows: chunk, expiresAtSec },
        }),
      );
    }
  }

  async load(accountId: string, visitorId: string): Promise<{ rows: ErasedRow[]; pages: number }> {
    const counter = await this.client.send(
      new GetCommand({
        TableName: this.tableName,
        Key: { pk: erasedRowsKey(accountId, visitorId) },
        ConsistentRead: true,
      }),
    );
    const pages = typeof counter.Item?.pages === 'number' ? counter.Item.pages : 0;
    const limit = pLimit(ERASED_ROWS_CONCURRENCY);
    const read = await Promise.all(
      Array.from({ length: pages }, (_, i) =>
        limit(async () => {
          const answer = await this.client.send(
            new GetCommand({
              TableName: this.tableName,
              Key: { pk: erasedRowsPageKey(accountId, visitorId, i + 1) },
              ConsistentRead: true,
            }),
          );
          // A page whose number was taken by a run that died before writing it does not exist: nothing lost,
          // that run had not deleted its rows yet.
          return Array.isArray(answer.Item?.rows) ? (answer.Item.rows as ErasedRow[]) : [];
        }),
      ),
    );
    return { rows: uniqueErasedRows(read.flat()), pages };
  }

  async drop(accountId: string, visitorId: string, pages: number): Promise<void> {
    const limit = pLimit(ERASED_ROWS_CONCURRENCY);
    await Promise.all(
      Array.from({ length: pages }, (_, i) =>
        limit(() =>
          this.client.send(
            new DeleteCommand({
              TableName: this.tableName,
              Key: { pk: erasedRowsPageKey(accountId, visitorId, i + 1) },
            }),
          ),
        ),
      ),
    );
    try {
      // Only if no page was added meanwhile (another erasure of the visitor): its pages stay counted.
      await this.client.send(
        new DeleteCommand({
          TableName: this.tableName,
          Key: { pk: erasedRowsKey(accountId, visitorId) },
          ConditionExpression: 'pages = :pages',
          ExpressionAttributeValues: { ':pages': pages },
        }),
      );
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
    }
  }
}
