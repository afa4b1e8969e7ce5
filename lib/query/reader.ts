/**
 * CaptureReader: the analyst read side of the capture table. Every read is a DynamoDB Query on the table or
 * one of its indexes (keys: lib/keys.ts); nothing here ever Scans. See docs/access-patterns.md for which key
 * answers which question and what it costs.
 *
 *   sessionRows(sid)            pk = S#acct#sid                       one partition, all pages
 *   visitorSessions(visitorId)  byVisitorKeys  gsi1pk = V#acct#visitor    newest first (ScanIndexForward false)
 *   eventsInRange(type, range)  byEventTypeKeys gsi2pk = E#acct#type#day#shard, for each UTC day × shard
 *   sessionsInRange(range)      byStartDayKeys  gsi3pk = D#acct#day#shard, for each UTC day × shard
 *
 * The indexes copy keys only (lib/store/schema.ts): each index page is followed by BatchGetItem calls for its
 * rows (100 keys a call, unprocessed keys sent again with backoff), so every read yields whole rows, in index
 * order. A row deleted between the two reads (erased, expired) is left out. Which index answers is resolved once
 * per reader (lib/query/indexes.ts): on a table that still has the legacy ALL-projected indexes (a stack being
 * migrated, an older local table) those answer, and nothing is fetched.
 *
 * Ranges are [fromMs, toMs). The time indexes' sort keys start with a 13-digit epoch-ms followed by `#`, so
 * `BETWEEN padMs(from) AND padMs(to)` selects exactly from <= t < to: every key of time t >= from is >= the
 * bare padMs(from), and padMs(to) itself is never a whole key (keys go on with `#sid...`), so no key of time
 * `to` is <= it. Within a day the shards are merged by sort key (time, then sid, then row key), days follow
 * each other, so the result is in time order. Everything is an async iterator that reads a page only when it
 * needs one (apart from the first pages of the next DAYS_READ_AHEAD days of a range): a consumer that stops
 * early (`--limit`) stops the reads.
 *
 * Rows whose TTL (CAPTURE_TTL_ATTRIBUTE, when a retention is set) has passed are left out: DynamoDB deletes
 * expired items up to a few days late, and until then a Query still returns them. Left out here, after the read
 * (a FilterExpression would cost the same reads and make every Query longer): they are counted in itemsRead.
 */
import {
  BatchGetCommand,
  QueryCommand,
  type DynamoDBDocumentClient,
  type QueryCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { isExpired } from '../capture-retention';
import { systemClock, type Clock } from '../clock';
import { assertValidId } from '../ids';
import {
  CAPTURE_BY_EVENT_TYPE,
  CAPTURE_BY_START_DAY,
  CAPTURE_BY_VISITOR,
  CAPTURE_DAY_SHARDS,
  CAPTURE_PRIMARY_KEY,
  CAPTURE_TTL_ATTRIBUTE,
  capturePk,
  eventItemSkPrefix,
  eventTypeIndexPk,
  padMs,
  startDayIndexPk,
  visitorIndexPk,
  type IndexKeyNames,
} from '../keys';
import type { StoredRow } from '../store/capture-store';
import { CURRENT_CAPTURE_INDEX_LAYOUT, resolveCaptureIndexes, type CaptureIndexLayout } from './indexes';
import { checkRange, utcDaysOf, type TimeRange } from './time';
import { compareSessionRows } from './rows';

/** Reported after every Query page, so a caller can show progress on long reads. */
export interface ReadProgress {
  /** Query calls made so far (one per page). */
  queries: number;
  /** Items DynamoDB returned so far (before any limit cut). */
  itemsRead: number;
  /** Partitions (day × shard, or one key) whose every page has been read. */
  partitionsDone: number;
  /** Partitions this read will visit at most. */
  partitionsTotal: number;
  /** BatchGetItem calls made to fetch the rows of index pages (retries of unprocessed keys included). */
  batchGets: number;
  /** Rows those calls returned. */
  itemsFetched: number;
}

export interface CaptureReaderOptions {
  tableName: string;
  accountId: string;
  /** DynamoDB's `Limit` per Query page; undefined lets DynamoDB fill its 1 MB pages. */
  pageSize?: number;
  /** Days of a range whose first pages are read ahead (see timeIndex). @default DAYS_READ_AHEAD */
  daysReadAhead?: number;
  onProgress?: (progress: Readonly<ReadProgress>) => void;
  /** What "now" is for expired rows (wall time: DynamoDB's TTL is). @default systemClock */
  clock?: Clock;
  /**
   * Which index answers each question (lib/query/indexes.ts). @default resolved from one DescribeTable on the
   * first index read (CURRENT_CAPTURE_INDEX_LAYOUT when the caller may not describe the table)
   */
  indexes?: CaptureIndexLayout;
  /** Backoff before sending unprocessed BatchGetItem keys again (tests shorten it). @default 50 ms, doubling */
  batchGetBaseDelayMs?: number;
}

/** Most keys in one BatchGetItem call (DynamoDB's limit). */
export const BATCH_GET_KEYS = 100;
/** Calls per chunk of keys before a read gives up on unprocessed keys (throttling that does not pass). */
const MAX_BATCH_GET_ATTEMPTS = 8;

export interface EventsQueryOptions {
  /** Also read each event's eventItem child rows (one extra Query per event), yielded after the event. */
  withItems?: boolean;
  /** Only these shards (tests, and parallel readers that split the work). @default all */
  shards?: readonly number[];
}

type Key = Record<string, unknown>;

/** Days of a time-index read whose first pages are read ahead of the day being merged (see timeIndex). */
export const DAYS_READ_AHEAD = 3;

/** One partition's pages, read lazily. */
class Cursor {
  private buffer: StoredRow[] = [];
  private startKey: Key | undefined;
  private started = false;
  done = false;

  constructor(
    private readonly reader: CaptureReader,
    private readonly input: QueryCommandInput,
  ) {}

  /** The next row without taking it, reading a page when the buffer is empty; undefined at the end. */
  async peek(): Promise<StoredRow | undefined> {
    while (this.buffer.length === 0 && !this.done) {
      if (this.started && this.startKey === undefined) {
        this.done = true;
        this.reader.partitionDone();
        break;
      }
      this.started = true;
      const page = await this.reader.page(this.input, this.startKey);
      this.buffer = page.items;
      this.startKey = page.lastKey;
    }
    return this.buffer[0];
  }

  take(): StoredRow | undefined {
    return this.buffer.shift();
  }
}

export class CaptureReader {
  private readonly progress: ReadProgress = {
    queries: 0,
    itemsRead: 0,
    partitionsDone: 0,
    partitionsTotal: 0,
    batchGets: 0,
    itemsFetched: 0,
  };
  private layout: Promise<CaptureIndexLayout> | undefined;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly options: CaptureReaderOptions,
  ) {
    assertValidId('accountId', options.accountId);
    if (options.pageSize !== undefined && !(Number.isInteger(options.pageSize) && options.pageSize > 0)) {
      throw new TypeError(`pageSize must be a positive integer, got ${options.pageSize}`);
    }
  }

  /** The account whose rows this reader reads. */
  get accountId(): string {
    return this.options.accountId;
  }

  /** Counters of every read this reader made so far. */
  stats(): Readonly<ReadProgress> {
    return { ...this.progress };
  }

  /**
   * Every row of one session, the outcome row included, in the order of compareSessionRows (session, pages,
   * engagements, events with their items, outcome). One partition: read whole, then ordered.
   */
  async *sessionRows(sid: string): AsyncGenerator<StoredRow> {
    assertValidId('sid', sid);
    this.plan(1);
    const rows: StoredRow[] = [];
    const cursor = this.cursor({
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': CAPTURE_PRIMARY_KEY.partitionKey },
      ExpressionAttributeValues: { ':pk': capturePk(this.options.accountId, sid) },
    });
    for (let row = await cursor.peek(); row !== undefined; row = await cursor.peek()) {
      rows.push(cursor.take() as StoredRow);
    }
    yield* rows.sort(compareSessionRows);
  }

  /**
   * A visitor's sessions, newest first: the session rows (one per app session) and the outcome rows, which
   * byVisitor both carry. A lost or invalid session has only its outcome row.
   */
  async *visitorSessions(visitorId: string): AsyncGenerator<StoredRow> {
    assertValidId('visitorId', visitorId);
    this.plan(1);
    const cursor = this.cursor({
      IndexName: CAPTURE_BY_VISITOR.indexName,
      KeyConditionExpression: '#pk = :pk',
      ExpressionAttributeNames: { '#pk': CAPTURE_BY_VISITOR.partitionKey },
      ExpressionAttributeValues: { ':pk': visitorIndexPk(this.options.accountId, visitorId) },
      ScanIndexForward: false,
    });
    for (let row = await cursor.peek(); row !== undefined; row = await cursor.peek()) {
      yield cursor.take() as StoredRow;
    }
  }

  /**
   * Event rows of one type with fromMs <= serverTimeStamp < toMs, in time order (ties: sid, row key).
   * Events whose serverTimeStamp is missing or not an epoch-ms are in no time index and never listed.
   */
  async *eventsInRange(
    eventType: string,
    range: TimeRange,
    options: EventsQueryOptions = {},
  ): AsyncGenerator<StoredRow> {
    if (eventType === '') throw new TypeError('eventType must not be empty');
    const partition = (day: string, shard: number): string =>
      eventTypeIndexPk(this.options.accountId, eventType, day, shard);
    for await (const row of this.timeIndex(CAPTURE_BY_EVENT_TYPE, partition, range, options.shards)) {
      yield row;
      if (options.withItems === true) yield* this.itemsOf(row);
    }
  }

  /**
   * Session and outcome rows of the sessions that started in [fromMs, toMs) (session rows: the app session's
   * startTime; outcome rows: the start the queue knew), in start order. `fetchRows: false` yields the index's
   * items as they are (keys only on a KEYS_ONLY index: `lpv export` needs only the sid, from `pk`).
   */
  async *sessionsInRange(
    range: TimeRange,
    options: { shards?: readonly number[]; fetchRows?: boolean } = {},
  ): AsyncGenerator<StoredRow> {
    const partition = (day: string, shard: number): string =>
      startDayIndexPk(this.options.accountId, day, shard);
    yield* this.timeIndex(CAPTURE_BY_START_DAY, partition, range, options.shards, options.fetchRows);
  }

  private async *itemsOf(event: StoredRow): AsyncGenerator<StoredRow> {
    if (typeof event.sk !== 'string' || typeof event.sid !== 'string') return;
    this.plan(1);
    const cursor = this.cursor({
      KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
      ExpressionAttributeNames: {
        '#pk': CAPTURE_PRIMARY_KEY.partitionKey,
        '#sk': CAPTURE_PRIMARY_KEY.sortKey,
      },
      ExpressionAttributeValues: {
        ':pk': capturePk(this.options.accountId, event.sid),
        ':prefix': eventItemSkPrefix(event.sk),
      },
    });
    for (let row = await cursor.peek(); row !== undefined; row = await cursor.peek()) {
      yield cursor.take() as StoredRow;
    }
  }

  private async *timeIndex(
    index: IndexKeyNames,
    partition: (day: string, shard: number) => string,
    range: TimeRange,
    shards: readonly number[] = Array.from({ length: CAPTURE_DAY_SHARDS }, (_, i) => i),
    fetchRows = true,
  ): AsyncGenerator<StoredRow> {
    checkRange(range);
    for (const s of shards) {
      if (!Number.isInteger(s) || s < 0 || s >= CAPTURE_DAY_SHARDS) throw new RangeError(`no shard ${s}`);
    }
    const days = utcDaysOf(range);
    this.plan(days.length * shards.length);
    const pkName = index.partitionKey;
    const skName = index.sortKey;
    const openDay = (day: (typeof days)[number]): { cursors: Cursor[]; firstPages: Promise<unknown> } => {
      const cursors = shards.map((shard) =>
        this.cursor({
          IndexName: index.indexName,
          KeyConditionExpression: '#pk = :pk AND #sk BETWEEN :from AND :to',
          ExpressionAttributeNames: { '#pk': pkName, '#sk': skName },
          ExpressionAttributeValues: {
            ':pk': partition(day.day, shard),
            ':from': padMs(day.fromMs),
            ':to': padMs(day.toMs),
          },
          ...(fetchRows ? {} : { [KEYS_AS_STORED]: true }),
        }),
      );
      // The first pages of a day's shards are independent: read them together.
      const firstPages = Promise.all(cursors.map((c) => c.peek()));
      // Awaited when the day's turn comes; until then a failure must not count as unhandled.
      firstPages.catch(() => undefined);
      return { cursors, firstPages };
    };
    // A long range is mostly tiny partitions, one round trip per day: the next days' first pages are read
    // while this day's rows are merged and consumed. A consumer that stops early leaves at most `daysAhead`
    // days of first pages read for nothing.
    const daysAhead = this.options.daysReadAhead ?? DAYS_READ_AHEAD;
    const opened: Array<ReturnType<typeof openDay>> = [];
    let nextDay = 0;
    while (nextDay < days.length || opened.length > 0) {
      while (opened.length <= daysAhead && nextDay < days.length) {
        opened.push(openDay(days[nextDay++] as (typeof days)[number]));
      }
      const { cursors, firstPages } = opened.shift() as ReturnType<typeof openDay>;
      await firstPages;
      for (;;) {
        let best: { cursor: Cursor; key: string } | undefined;
        for (const cursor of cursors) {
          const head = await cursor.peek();
          if (head === undefined) continue;
          const key = String(head[skName]);
          if (best === undefined || key < best.key) best = { cursor, key };
        }
        if (best === undefined) break;
        yield best.cursor.take() as StoredRow;
      }
    }
  }

  private cursor(input: Omit<QueryCommandInput, 'TableName'>): Cursor {
    return new Cursor(this, { ...input, TableName: this.options.tableName });
  }

  private plan(partitions: number): void {
    this.progress.partitionsTotal += partitions;
  }

  /** @internal Called by Cursor when a partition has no page left. */
  partitionDone(): void {
    this.progress.partitionsDone += 1;
    this.options.onProgress?.({ ...this.progress });
  }

  /** The index layout, resolved once (see CaptureReaderOptions.indexes). */
  private indexLayout(): Promise<CaptureIndexLayout> {
    this.layout ??=
      this.options.indexes !== undefined
        ? Promise.resolve(this.options.indexes)
        : resolveCaptureIndexes(this.client, this.options.tableName).catch((error: unknown) => {
            // A caller allowed to query but not to describe the table reads the current indexes.
            if ((error as Error | undefined)?.name === 'AccessDeniedException') {
              return CURRENT_CAPTURE_INDEX_LAYOUT;
            }
            throw error;
          });
    return this.layout;
  }

  /**
   * @internal One Query page, as whole rows: on an index that copies keys only, its items are then fetched by
   * key (unless the read asked for the keys as stored). `input.IndexName` is the current index name; the
   * layout says which index answers for it.
   */
  async page(
    input: QueryCommandInput,
    startKey: Key | undefined,
  ): Promise<{ items: StoredRow[]; lastKey?: Key }> {
    const { [KEYS_AS_STORED]: keysAsStored, ...query } = input as QueryCommandInput & {
      [KEYS_AS_STORED]?: boolean;
    };
    let fetch = false;
    if (query.IndexName !== undefined) {
      const resolved = (await this.indexLayout())[query.IndexName];
      if (resolved !== undefined) {
        query.IndexName = resolved.indexName;
        fetch = !resolved.wholeRows && keysAsStored !== true;
      }
    }
    const answer = await this.client.send(
      new QueryCommand({
        ...query,
        ...(this.options.pageSize !== undefined ? { Limit: this.options.pageSize } : {}),
        ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    const listed = (answer.Items ?? []) as StoredRow[];
    this.progress.queries += 1;
    this.progress.itemsRead += listed.length;
    const read = fetch ? await this.fetchRows(listed) : listed;
    const nowMs = (this.options.clock ?? systemClock).nowMs();
    const items = read.filter((row) => !isExpired(row[CAPTURE_TTL_ATTRIBUTE], nowMs));
    this.options.onProgress?.({ ...this.progress });
    return { items, ...(answer.LastEvaluatedKey !== undefined ? { lastKey: answer.LastEvaluatedKey } : {}) };
  }

  /**
   * The rows of `listed` (index items: their pk and sk), fetched by BatchGetItem in `listed`'s order. A row no
   * longer there (deleted since the index read) is left out. Eventually consistent, as the index read before it.
   */
  private async fetchRows(listed: readonly StoredRow[]): Promise<StoredRow[]> {
    const pkName = CAPTURE_PRIMARY_KEY.partitionKey;
    const skName = CAPTURE_PRIMARY_KEY.sortKey;
    const id = (row: Record<string, unknown>): string => `${String(row[pkName])}\u0000${String(row[skName])}`;
    const found = new Map<string, StoredRow>();
    const keys = listed.map((row) => ({ [pkName]: row[pkName], [skName]: row[skName] }));
    for (let i = 0; i < keys.length; i += BATCH_GET_KEYS) {
      let pending: Array<Record<string, unknown>> = keys.slice(i, i + BATCH_GET_KEYS);
      for (let attempt = 1; pending.length > 0; attempt++) {
        if (attempt > MAX_BATCH_GET_ATTEMPTS) {
          throw new Error(
            `BatchGetItem left ${pending.length} keys unprocessed after ${MAX_BATCH_GET_ATTEMPTS} calls`,
          );
        }
        if (attempt > 1) await sleep(backoffMs(attempt - 1, this.options.batchGetBaseDelayMs ?? 50));
        const answer = await this.client.send(
          new BatchGetCommand({ RequestItems: { [this.options.tableName]: { Keys: pending } } }),
        );
        this.progress.batchGets += 1;
        for (const row of (answer.Responses?.[this.options.tableName] ?? []) as StoredRow[]) {
          found.set(id(row), row);
          this.progress.itemsFetched += 1;
        }
        pending = (answer.UnprocessedKeys?.[this.options.tableName]?.Keys ?? []) as Array<
          Record<string, unknown>
        >;
      }
    }
    const rows: StoredRow[] = [];
    for (const row of listed) {
      const whole = found.get(id(row));
      if (whole !== undefined) rows.push(whole);
    }
    return rows;
  }
}

/** Marks a Query input whose index items are wanted as stored (no fetch): never sent to DynamoDB. */
const KEYS_AS_STORED = Symbol('keysAsStored');

/** Full jitter-free exponential backoff, capped at 2 s: unprocessed keys mean throttling, which passes. */
function backoffMs(retry: number, baseMs: number): number {
  return Math.min(2000, baseMs * 2 ** (retry - 1));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
