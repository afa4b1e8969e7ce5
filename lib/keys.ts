/**
 * Every key of both tables in one place: the key attribute names, the shard counts and the formats of the key
 * values. The table definitions (lib/store/schema.ts), the writers (lib/capture, lib/store) and the readers
 * (lib/query) all take their keys from here; this module imports nothing of theirs. See docs/access-patterns.md
 * for the questions each key answers.
 *
 * Queue table, one item per (accountId, visitorId, sid):
 *   pk       = `${accountId}#${visitorId}#${sid}`          ('#' cannot occur in a valid id)
 *              `TICK#${accountId}`                         the account's last tick summary
 *              `AUDIT#${accountId}#erasure#${requestId}`   the audit item of one erasure (`lpv forget`)
 *              `ERASED#${accountId}#rows#${visitorId}[#${n}]`  erased rows kept for the analytics re-send
 *              `${accountId}#${visitorId}#${sid}#capture:state`  a queue item's side item: row digests and the
 *                                                          last bad body (queueCaptureStateKey)
 *            Parts: a queue item's key has 3, a tick summary's 2, an audit item's 4, so none can be another's.
 *            An erased item keeps its key (a tombstone: state ERASED, expiresAtSec, nothing else); a visitor's
 *            items are the keys beginning with `${accountId}#${visitorId}#` (queueVisitorKeyPrefix).
 *   GSI dueV2 (formerly `due`): dueShard = `${accountId}#${0..QUEUE_DUE_SHARDS-1}` (S), nextPollAtMs (N)
 *            sparse: only ACTIVE items carry dueShard, so the index holds exactly the work left to do,
 *            spread over shards so that no single partition takes every poller's reads.
 *            `${accountId}#erasure` (erasureDueShardKey): the erasure requests of POST /forget still pending
 *            (an audit item carries it from the request until its erasure is done). The poller queries only
 *            the numbered shards, the eraser only this one.
 *            A claim sets the lease (leaseUntilMs, projected) and leaves nextPollAtMs, the sort key, alone; the
 *            poller's query skips items under a live lease. Only the ack moves the key.
 *
 * Capture table (single-table design):
 *   pk = `S#${accountId}#${sid}`                                          every row of one session
 *   sk   session     `SESSION#${appSessionId}`
 *        page        `PAGE#${appSessionId}#${pageId}#${startTime:13}`
 *        engagement  `ENG#${appSessionId}#${engagementId}`
 *        event       `EVENT#${eventType}#${serverTimeStamp:13}#${payloadHash}#${occurrence}`
 *        eventItem   `${eventSk}#ITEM#${childPath}#${childIndex:6}`
 *        outcome     `OUTCOME`                                            (lib/capture/outcome-row.ts)
 *   gsi1 (byVisitorKeys)   session, outcome: `V#${accountId}#${visitorId}` / `${startTime:13}#${sid}#SESSION#${appSessionId}`
 *                                                                       or `${startTime:13}#${sid}#OUTCOME`
 *                                                                       → a visitor's sessions
 *   gsi3 (byStartDayKeys)  session, outcome: `D#${accountId}#${yyyy-mm-dd}#${shard}` / same sort key as gsi1
 *                                                                       → sessions started in a time range
 *   gsi2 (byEventTypeKeys) event: `E#${accountId}#${eventType}#${yyyy-mm-dd}#${shard}` / `${serverTimeStamp:13}#${sid}#${eventSk}`
 *                                                                       → an event type over a time range
 *   The three indexes copy keys only (KEYS_ONLY: a rewrite of a 5-8 KB session row that keeps its index keys
 *   costs them nothing); readers fetch the rows by key (lib/query/reader.ts). Their first versions, `byVisitor`,
 *   `byStartDay` and `byEventType` (LEGACY_CAPTURE_INDEX_NAMES), copied whole rows; a projection cannot change in
 *   place, hence new names (docs/deploy.md, "Migrating the capture indexes").
 *
 * `:13` is a zero-padded epoch-ms (the index sort keys are strings, so unpadded numbers would sort wrongly,
 * e.g. the nested cart's serverTimeStamp 0). Child rows carry no GSI attribute: they are read with their session.
 *
 * Key parts that come from the answer (appSessionId, pageId, engagementId, eventType) go through `keyPart`:
 * characters outside [A-Za-z0-9._~-] become `%XXXX` (UTF-16 code unit, hex), so no payload can inject a `#`
 * into a key; parts longer than 128 characters are cut and end in `%~` + hash; a missing part is `%none`.
 * None of these markers can be produced by the encoding of a real value. accountId, visitorId and sid are
 * validated by lib/ids.ts instead (they cannot hold '#').
 *
 * Event identity: type + serverTimeStamp + payloadHash (hash of the canonical event body: keys sorted
 * recursively, JSON; lib/capture/rows.ts) + occurrence (0, 1, ... among IDENTICAL events of one answer, counted
 * in answer order over all app sessions). Two different events in one millisecond are two rows; the same event
 * seen on the next poll maps to the same row, also when more events have been appended.
 *
 * GSI attributes are OMITTED (never null) when they cannot be computed: a NULL in an index key attribute would
 * fail the write. gsi2/gsi3 need a timestamp that `isIndexableMs` accepts (their partition holds the day).
 */
import { createHash } from 'node:crypto';
import { shortHash } from './canonical';
import { DAY_MS } from './clock';
import { assertValidId } from './ids';

// ---------------------------------------------------------------------------------------------------------
// Shard counts

/** Shards of the queue's due index: 16 partitions can each serve 3,000 reads/s, far above our need. */
export const QUEUE_DUE_SHARDS = 16;
/** Shards per (account, event type, day) and per (account, day) in the capture table's time indexes. */
export const CAPTURE_DAY_SHARDS = 8;

// ---------------------------------------------------------------------------------------------------------
// Key attribute names (the table definitions in lib/store/schema.ts are built from these)

/** The key attributes of one secondary index. */
export interface IndexKeyNames {
  readonly indexName: string;
  readonly partitionKey: string;
  readonly sortKey: string;
}

export const QUEUE_PRIMARY_KEY = { partitionKey: 'pk' } as const;
/** The queue's sparse index of the work left to do (see the header). */
export const QUEUE_DUE_INDEX = {
  // `dueV2`: the index that projects only what the due query needs (lib/store/schema.ts). Its first version,
  // `due`, copied whole items; a projection cannot change in place, hence a new name (docs/deploy.md,
  // "Migrating the queue's due index").
  indexName: 'dueV2',
  partitionKey: 'dueShard',
  sortKey: 'nextPollAtMs',
} as const satisfies IndexKeyNames;

export const CAPTURE_PRIMARY_KEY = { partitionKey: 'pk', sortKey: 'sk' } as const;
export const CAPTURE_BY_VISITOR = {
  indexName: 'byVisitorKeys',
  partitionKey: 'gsi1pk',
  sortKey: 'gsi1sk',
} as const satisfies IndexKeyNames;
export const CAPTURE_BY_EVENT_TYPE = {
  indexName: 'byEventTypeKeys',
  partitionKey: 'gsi2pk',
  sortKey: 'gsi2sk',
} as const satisfies IndexKeyNames;
export const CAPTURE_BY_START_DAY = {
  indexName: 'byStartDayKeys',
  partitionKey: 'gsi3pk',
  sortKey: 'gsi3sk',
} as const satisfies IndexKeyNames;
/** The capture table's indexes, in gsi order. */
export const CAPTURE_INDEXES = [CAPTURE_BY_VISITOR, CAPTURE_BY_EVENT_TYPE, CAPTURE_BY_START_DAY] as const;

/**
 * The names the capture indexes had before issue 16 (projection ALL), by their current name: same keys. Only a
 * stack being migrated has them (lib/store/schema.ts captureTableDefinition), and readers of an older local
 * table find them (lib/query/indexes.ts).
 */
export const LEGACY_CAPTURE_INDEX_NAMES: Readonly<Record<string, string>> = Object.freeze({
  [CAPTURE_BY_VISITOR.indexName]: 'byVisitor',
  [CAPTURE_BY_EVENT_TYPE.indexName]: 'byEventType',
  [CAPTURE_BY_START_DAY.indexName]: 'byStartDay',
});

/**
 * The capture table's TTL attribute (epoch seconds), on every row of a session when a retention is configured
 * (lib/capture-retention.ts). The queue's TTL attribute has the same name. Not a key, but a payload key must
 * never take it either (it is reserved in lib/capture/naming.ts): a payload number under this name would make
 * DynamoDB delete the row.
 */
export const CAPTURE_TTL_ATTRIBUTE = 'expiresAtSec';

/** Names of the key attributes of the capture table, which a payload key must never overwrite. */
export const CAPTURE_KEY_ATTRIBUTES: readonly string[] = Object.freeze([
  CAPTURE_PRIMARY_KEY.partitionKey,
  CAPTURE_PRIMARY_KEY.sortKey,
  ...CAPTURE_INDEXES.flatMap((index) => [index.partitionKey, index.sortKey]),
]);

type KeysOf<I extends IndexKeyNames> = I['partitionKey'] | I['sortKey'];
type PrimaryKeyName = (typeof CAPTURE_PRIMARY_KEY)[keyof typeof CAPTURE_PRIMARY_KEY];

// ---------------------------------------------------------------------------------------------------------
// Queue table keys

export function queueKey(accountId: string, visitorId: string, sid: string): string {
  return `${accountId}#${visitorId}#${sid}`;
}

/** The queue item holding an account's last tick summary (no valid id holds '#', so no item's key is it). */
export function tickSummaryKey(accountId: string): string {
  return `TICK#${accountId}`;
}

/** What the keys of every queue item of one visitor begin with (and no other visitor's: ids hold no '#'). */
export function queueVisitorKeyPrefix(accountId: string, visitorId: string): string {
  return `${accountId}#${visitorId}#`;
}

/**
 * The queue-table item auditing one erasure (`lpv forget`). Four '#'-separated parts, where a queue item's key
 * has three and a tick summary's two: no valid ids make it another item's key. `requestId` must hold no '#'.
 */
export function erasureAuditKey(accountId: string, requestId: string): string {
  return `AUDIT#${accountId}#erasure#${requestId}`;
}

/**
 * The due-index partition of an account's pending erasure requests (POST /forget, lib/erasure/requests.ts).
 * It ends in a word, the poller's shards in a number: neither reads the other's items.
 */
export function erasureDueShardKey(accountId: string): string {
  return `${accountId}#erasure`;
}

/**
 * The queue-table item counting the pages of a visitor's erased capture rows kept until their deletes are
 * re-sent to the analytics copy (lib/store/dynamo-erasure.ts DynamoErasedRows), and page `n` (1, 2, …) of them.
 * Four and five '#'-separated parts beginning `ERASED`: no queue item's (three), tick summary's (`TICK`) or audit
 * item's (`AUDIT`) key. The items have no `state`, and what follows a visitor's prefix in them is no valid sid
 * (it holds '#'), so an erasure's scan of the visitor's queue items never takes one. Present only while an
 * erasure is between its deletes and that re-send.
 */
export function erasedRowsKey(accountId: string, visitorId: string): string {
  return `ERASED#${accountId}#rows#${visitorId}`;
}

export function erasedRowsPageKey(accountId: string, visitorId: string, page: number): string {
  return `${erasedRowsKey(accountId, visitorId)}#${page}`;
}

/**
 * The name of the due index before issue 16 (projection ALL). Only a stack being migrated has it, beside
 * QUEUE_DUE_INDEX (lib/store/schema.ts queueTableDefinition).
 */
export const LEGACY_QUEUE_DUE_INDEX_NAME = 'due';

/**
 * The side item of a queue item: what the poller keeps about the session's capture that is large and changes
 * seldom (the stored rows' digests, the last unusable body's diagnosis), kept off the queue item so that claims
 * and acks, which rewrite that item on every poll and are billed on its whole size, stay at 1 write unit.
 * Four parts, the fourth holding ':' (which no account, visitor, sid or erasure request id may hold), so no other
 * item's key; it begins with the visitor's prefix (queueVisitorKeyPrefix) but what follows is no valid sid.
 */
export function queueCaptureStateKey(accountId: string, visitorId: string, sid: string): string {
  return `${queueKey(accountId, visitorId, sid)}#capture:state`;
}

/** Partition `shard` (in [0, QUEUE_DUE_SHARDS)) of an account's due index. */
export function dueShardKey(accountId: string, shard: number): string {
  return `${accountId}#${shard}`;
}

/** Spreads due items over QUEUE_DUE_SHARDS partitions of the due index (no hot partition at scale). */
export function dueShardOf(accountId: string, visitorId: string, sid: string): string {
  const digest = createHash('sha1').update(`${visitorId}#${sid}`).digest();
  return dueShardKey(accountId, digest.readUInt32BE(0) % QUEUE_DUE_SHARDS);
}

// ---------------------------------------------------------------------------------------------------------
// Capture table: key parts

export const OUTCOME_SK = 'OUTCOME';

/** Key part of a missing value. '%' followed by a non-hex letter never comes out of `keyPart`'s encoding. */
export const MISSING_KEY_PART = '%none';
const MAX_KEY_PART_LENGTH = 128;
/** A value `keyPart` keeps as it is (the usual case: ids and event types). */
const KEY_SAFE = /^[A-Za-z0-9._~-]*$/;

/** A value from the answer made safe for a key (see the header). */
export function keyPart(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return MISSING_KEY_PART;
  if (typeof value === 'string' && value.length <= MAX_KEY_PART_LENGTH && KEY_SAFE.test(value)) return value;
  const encoded = String(value).replace(
    /[^A-Za-z0-9._~-]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`,
  );
  if (encoded.length <= MAX_KEY_PART_LENGTH) return encoded;
  return `${encoded.slice(0, 100)}%~${shortHash(encoded)}`;
}

/** Largest epoch-ms with 13 digits (year 2286): beyond it padded strings would stop sorting as numbers. */
const MAX_INDEXABLE_MS = 9_999_999_999_999;

/** An integer epoch-ms in [0, 9999999999999]: paddable to 13 digits and dated. */
export function isIndexableMs(ms: unknown): ms is number {
  return typeof ms === 'number' && Number.isInteger(ms) && ms >= 0 && ms <= MAX_INDEXABLE_MS;
}

/**
 * Epoch-ms as 13 digits. Other values still get a distinct, stable part: `%none` when missing or not a number,
 * `%` + the number's text otherwise (both sort before any digit).
 */
export function padMs(ms: unknown): string {
  // Every epoch-ms since 2001 already has 13 digits.
  if (isIndexableMs(ms)) return ms >= 1e12 ? String(ms) : String(ms).padStart(13, '0');
  if (typeof ms !== 'number') return MISSING_KEY_PART;
  return `%${keyPart(String(ms))}`;
}

/** Child index as 6 digits (an item of 400 KB cannot hold a million children). */
export function padIndex(index: number): string {
  return String(index).padStart(6, '0');
}

/** `yyyy-mm-dd` (UTC) of an epoch-ms; throws RangeError unless `isIndexableMs(ms)`. */
export function utcDay(ms: number): string {
  if (!isIndexableMs(ms)) throw new RangeError(`not an indexable epoch-ms: ${ms}`);
  // Every dated event row asks, and the events of one answer fall on one or two days: remember the last day
  // (formatting a Date costs more than the rest of an event's index keys).
  if (ms < lastDay.startMs || ms >= lastDay.startMs + DAY_MS) {
    const startMs = ms - (ms % DAY_MS);
    lastDay = { startMs, day: new Date(startMs).toISOString().slice(0, 10) };
  }
  return lastDay.day;
}
let lastDay = { startMs: -Infinity, day: '' };

/** Stable shard of a session in [0, CAPTURE_DAY_SHARDS): first 32 bits of sha256(sid). */
export function captureShardOf(sid: string): number {
  // Every event row of a session asks again: remember the last answer.
  if (lastShard?.sid !== sid) {
    lastShard = { sid, shard: parseInt(shortHash(sid).slice(0, 8), 16) % CAPTURE_DAY_SHARDS };
  }
  return lastShard.shard;
}
let lastShard: { sid: string; shard: number } | undefined;

// ---------------------------------------------------------------------------------------------------------
// Capture table: primary keys

export function capturePk(accountId: string, sid: string): string {
  return `S#${accountId}#${sid}`;
}

/** The sid of a capture partition key of `accountId`, or undefined when `pk` is not one. */
export function sidOfCapturePk(accountId: string, pk: unknown): string | undefined {
  const prefix = capturePk(accountId, '');
  if (typeof pk !== 'string' || !pk.startsWith(prefix) || pk.length === prefix.length) return undefined;
  const sid = pk.slice(prefix.length);
  // Valid sids hold no '#': anything else is not a key this code made.
  return sid.includes('#') ? undefined : sid;
}

export function sessionSk(appSessionId: string | null): string {
  return `SESSION#${keyPart(appSessionId)}`;
}

export function pageSk(appSessionId: string | null, pageId: string | null, startTime: unknown): string {
  return `PAGE#${keyPart(appSessionId)}#${keyPart(pageId)}#${padMs(startTime)}`;
}

export function engagementSk(appSessionId: string | null, engagementId: string | null): string {
  return `ENG#${keyPart(appSessionId)}#${keyPart(engagementId)}`;
}

/** The event sort key without its occurrence: identical events share it, `eventSk` adds the occurrence. */
export function eventSkBase(eventType: string, serverTimeStamp: unknown, payloadHash: string): string {
  return `EVENT#${keyPart(eventType)}#${padMs(serverTimeStamp)}#${payloadHash}`;
}

export function eventSk(base: string, occurrence: number): string {
  return `${base}#${occurrence}`;
}

/** What the sort key of every eventItem row of the event (or item) `parentSk` starts with. */
export function eventItemSkPrefix(parentSk: string): string {
  return `${parentSk}#ITEM#`;
}

export function eventItemSk(parentSk: string, childPath: string, childIndex: number): string {
  return `${eventItemSkPrefix(parentSk)}${childPath}#${padIndex(childIndex)}`;
}

// ---------------------------------------------------------------------------------------------------------
// Capture table: index keys

/** byVisitor partition of a visitor's session and outcome rows. */
export function visitorIndexPk(accountId: string, visitorId: string): string {
  return `V#${accountId}#${visitorId}`;
}

/** byStartDay partition: the sessions of one shard that started on `day` (`yyyy-mm-dd`, UTC). */
export function startDayIndexPk(accountId: string, day: string, shard: number): string {
  return `D#${accountId}#${day}#${shard}`;
}

/** byEventType partition: the events of one type and shard on `day` (`yyyy-mm-dd`, UTC). */
export function eventTypeIndexPk(accountId: string, eventType: string, day: string, shard: number): string {
  return `E#${accountId}#${keyPart(eventType)}#${day}#${shard}`;
}

/** byVisitor and byStartDay attributes: byVisitor always, byStartDay when the start time can be dated. */
export type SessionIndexKeys = Record<KeysOf<typeof CAPTURE_BY_VISITOR>, string> &
  Partial<Record<KeysOf<typeof CAPTURE_BY_START_DAY>, string>>;

/**
 * byVisitor and byStartDay attributes of a session row (`appSessionId` given) or of the outcome row (OUTCOME_SK).
 * byStartDay is left out when the start time cannot be dated.
 */
export function sessionIndexKeys(
  accountId: string,
  visitorId: string,
  sid: string,
  startTimeMs: unknown,
  appSessionId: string | null | typeof OUTCOME_SK,
): SessionIndexKeys {
  const tail = appSessionId === OUTCOME_SK ? OUTCOME_SK : sessionSk(appSessionId);
  const sortKey = `${padMs(startTimeMs)}#${sid}#${tail}`;
  const keys: SessionIndexKeys = { gsi1pk: visitorIndexPk(accountId, visitorId), gsi1sk: sortKey };
  if (isIndexableMs(startTimeMs)) {
    keys.gsi3pk = startDayIndexPk(accountId, utcDay(startTimeMs), captureShardOf(sid));
    keys.gsi3sk = sortKey;
  }
  return keys;
}

export type EventIndexKeys = Record<KeysOf<typeof CAPTURE_BY_EVENT_TYPE>, string>;

/** byEventType attributes of an event row, or undefined when its serverTimeStamp cannot be dated. */
export function eventIndexKeys(
  accountId: string,
  sid: string,
  eventType: string,
  serverTimeStamp: unknown,
  sk: string,
): EventIndexKeys | undefined {
  if (!isIndexableMs(serverTimeStamp)) return undefined;
  return {
    gsi2pk: eventTypeIndexPk(accountId, eventType, utcDay(serverTimeStamp), captureShardOf(sid)),
    gsi2sk: `${padMs(serverTimeStamp)}#${sid}#${sk}`,
  };
}

/** The key attributes a row of the capture table may carry: its primary key, and index keys when it has them. */
export type RowKeyColumns = Record<PrimaryKeyName, string> &
  Partial<SessionIndexKeys> &
  Partial<EventIndexKeys>;

/** The keys of a session's outcome row: primary key, byVisitor and byStartDay (an outcome is always dated). */
export type OutcomeKeys = Record<(typeof CAPTURE_PRIMARY_KEY)['partitionKey'], string> &
  Record<(typeof CAPTURE_PRIMARY_KEY)['sortKey'], typeof OUTCOME_SK> &
  Required<SessionIndexKeys>;

/**
 * Keys of a session's outcome row. `startTimeMs` is the session's start as the queue knows it; it must be
 * indexable (the outcome is always listed by day), and the ids must be valid (they are part of keys).
 */
export function outcomeKeys(
  accountId: string,
  visitorId: string,
  sid: string,
  startTimeMs: number,
): OutcomeKeys {
  assertValidId('accountId', accountId);
  assertValidId('visitorId', visitorId);
  assertValidId('sid', sid);
  if (!isIndexableMs(startTimeMs))
    throw new RangeError(`startTimeMs is not an indexable epoch-ms: ${startTimeMs}`);
  const idx = sessionIndexKeys(accountId, visitorId, sid, startTimeMs, OUTCOME_SK);
  return {
    pk: capturePk(accountId, sid),
    sk: OUTCOME_SK,
    gsi1pk: idx.gsi1pk,
    gsi1sk: idx.gsi1sk,
    gsi3pk: idx.gsi3pk as string,
    gsi3sk: idx.gsi3sk as string,
  };
}
