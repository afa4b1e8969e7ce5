/**
 * Capture rows and their keys, following lib/store/schema.ts (capture table, single-table design):
 *
 *   pk = `S#${accountId}#${sid}`                                          every row of one session
 *   sk   session     `SESSION#${appSessionId}`
 *        page        `PAGE#${appSessionId}#${pageId}#${startTime:13}`
 *        engagement  `ENG#${appSessionId}#${engagementId}`
 *        event       `EVENT#${eventType}#${serverTimeStamp:13}#${payloadHash}#${occurrence}`
 *        eventItem   `${eventSk}#ITEM#${childPath}#${childIndex:6}`
 *        outcome     `OUTCOME`                                            (written by another module)
 *   gsi1 (byVisitor)   session, outcome: `V#${accountId}#${visitorId}` / `${startTime:13}#${sid}#SESSION#${appSessionId}`
 *                                                                       or `${startTime:13}#${sid}#OUTCOME`
 *   gsi3 (byStartDay)  session, outcome: `D#${accountId}#${yyyy-mm-dd}#${shard}` / same sort key as gsi1
 *   gsi2 (byEventType) event: `E#${accountId}#${eventType}#${yyyy-mm-dd}#${shard}` / `${serverTimeStamp:13}#${sid}#${eventSk}`
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
 * recursively, JSON) + occurrence (0, 1, ... among IDENTICAL events of one answer, counted in answer order over
 * all app sessions). Two different events in one millisecond are two rows; the same event seen on the next
 * poll maps to the same row, also when more events have been appended.
 *
 * GSI attributes are OMITTED (never null) when they cannot be computed: a NULL in an index key attribute would
 * fail the write. gsi2/gsi3 need a timestamp that `isIndexableMs` accepts (their partition holds the day).
 */
import { DAY_MS } from '../clock';
import { assertValidId } from '../ids';
import { CAPTURE_DAY_SHARDS } from '../store/schema';
import { canonicalJson, shortHash } from './canonical';
import { type BookkeepingColumn, type Scalar } from './naming';

export type { Scalar } from './naming';

/** One item of the capture table: a record of scalars that inherits nothing (see `ROW_PROTOTYPE`). */
export type CaptureRow = Record<string, Scalar>;

/**
 * The prototype of every row: one frozen object without prototype or properties, so a row inherits nothing
 * (no `toString`, no `__proto__` accessor: column names are data, as with a null prototype). A prototype rather
 * than none because V8 keeps objects built by a constructor with a prototype in fast mode, and a row's
 * prototype cannot be set to null afterwards without a costly change of its hidden class.
 */
export const ROW_PROTOTYPE: object = Object.freeze(Object.create(null) as object);

/**
 * Bump when a column's meaning or the naming rule changes; stored on every row. 2: the `contentHash` column is
 * gone (change detection digests the row itself, lib/poller/digests.ts), so a payload key `contentHash` is no
 * longer renamed.
 */
export const CAPTURE_SCHEMA_VERSION = 2;

export const ROW_TYPES = {
  session: 'session',
  page: 'page',
  engagement: 'engagement',
  event: 'event',
  eventItem: 'eventItem',
  /** Written by the outcome module (end of polling), not by the flattener. */
  outcome: 'outcome',
} as const;
export type RowType = (typeof ROW_TYPES)[keyof typeof ROW_TYPES];
export const OUTCOME_ROW_TYPE = ROW_TYPES.outcome;
export const OUTCOME_SK = 'OUTCOME';

/** eventType of an events[] element that is not `{ <type>: { ...body } }` (see flatten.ts). */
export const MALFORMED_EVENT_TYPE = '_malformed';

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

export function capturePk(accountId: string, sid: string): string {
  return `S#${accountId}#${sid}`;
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

export function eventItemSk(parentSk: string, childPath: string, childIndex: number): string {
  return `${parentSk}#ITEM#${childPath}#${padIndex(childIndex)}`;
}

/** Hash of an event body (or of a malformed element): 16 hex of sha256 over its canonical JSON. */
export function payloadHashOf(body: Parameters<typeof canonicalJson>[0]): string {
  return payloadHashOfCanonical(canonicalJson(body));
}

/** `payloadHashOf` for a body whose canonical JSON is already written. */
export function payloadHashOfCanonical(canonical: string): string {
  return shortHash(canonical);
}

export interface SessionIndexKeys {
  gsi1pk: string;
  gsi1sk: string;
  gsi3pk?: string;
  gsi3sk?: string;
}

/**
 * byVisitor and byStartDay attributes of a session row (`appSessionId` given) or of the outcome row (null).
 * byStartDay is left out when the start time cannot be dated.
 */
export function sessionIndexKeys(
  accountId: string,
  visitorId: string,
  sid: string,
  startTimeMs: unknown,
  appSessionId: string | null | typeof OUTCOME_SK,
): SessionIndexKeys {
  const tail = appSessionId === OUTCOME_SK ? OUTCOME_SK : `SESSION#${keyPart(appSessionId)}`;
  const sortKey = `${padMs(startTimeMs)}#${sid}#${tail}`;
  const keys: SessionIndexKeys = { gsi1pk: `V#${accountId}#${visitorId}`, gsi1sk: sortKey };
  if (isIndexableMs(startTimeMs)) {
    keys.gsi3pk = `D#${accountId}#${utcDay(startTimeMs)}#${captureShardOf(sid)}`;
    keys.gsi3sk = sortKey;
  }
  return keys;
}

export interface EventIndexKeys {
  gsi2pk: string;
  gsi2sk: string;
}

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
    gsi2pk: `E#${accountId}#${keyPart(eventType)}#${utcDay(serverTimeStamp)}#${captureShardOf(sid)}`,
    gsi2sk: `${padMs(serverTimeStamp)}#${sid}#${sk}`,
  };
}

export interface OutcomeKeys {
  pk: string;
  sk: typeof OUTCOME_SK;
  gsi1pk: string;
  gsi1sk: string;
  gsi3pk: string;
  gsi3sk: string;
}

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

export type RowKeyColumns = { pk: string; sk: string } & Partial<SessionIndexKeys> & Partial<EventIndexKeys>;

/**
 * The key and bookkeeping columns of one kind of row, in order. A row's columns: keys, ours, the payload's in
 * name order, then schemaVersion. This order depends only on the code, never on the answer's key order (the
 * poller's change digests rely on it).
 */
export interface RowLayout {
  readonly keyColumns: readonly (keyof RowKeyColumns)[];
  readonly ourColumns: readonly BookkeepingColumn[];
}

/** How rows of one layout and one payload shape are made; see `rowTemplate`. */
export interface RowTemplate {
  /** Every column in row order: the layout's, the payload's (name order), then schemaVersion. */
  readonly names: readonly string[];
  /** A row of these columns from the layout's values (in layout order) and the payload's (in name order). */
  readonly build: (fixed: readonly Scalar[], payload: readonly Scalar[]) => CaptureRow;
}

/**
 * How rows of `layout` with these payload columns are made: a constructor compiled for this list of columns
 * (`this["pk"] = f[0]; ...`, prototype ROW_PROTOTYPE). The flattener makes one row per event, page and item,
 * and this is why it is cheap: V8 gives the objects of one constructor one hidden class, ready-made, while an
 * object given its keys one by one through a variable name (past a dozen keys, or without prototype) becomes
 * a dictionary, and cloning templates of many shapes from one call site is no faster. Measured per row of
 * ~20 columns: ~0.04 µs against ~1.2 µs (dictionary) and ~0.15 µs (literal, then prototype set to null).
 *
 * The generated source holds only column names, each written with JSON.stringify (a JSON string is a valid
 * JavaScript string literal), and indexes: no value of an answer becomes code. Even `__proto__` would be a
 * plain column here (nothing in the prototype chain handles it), but the naming rule never gives that name
 * (rule 4) and it is refused anyway. Throws when a payload column would take one of our names, which the
 * naming rule rules out: reaching it is a bug, and silently overwriting a key would corrupt the table.
 */
export function rowTemplate(layout: RowLayout, payloadNames: readonly string[]): RowTemplate {
  const ours = new Set<string>([...layout.keyColumns, ...layout.ourColumns, 'schemaVersion']);
  for (const name of payloadNames) {
    if (ours.has(name)) throw new Error(`payload column ${JSON.stringify(name)} clashes with ours`);
    if (name === '__proto__') throw new Error('payload column "__proto__" is never made by the naming rule');
  }
  const fixedCount = layout.keyColumns.length + layout.ourColumns.length;
  const names = [...layout.keyColumns, ...layout.ourColumns, ...payloadNames, 'schemaVersion'];
  const payloadCount = payloadNames.length;
  let uses = 0;
  let Row: RowConstructor | undefined;
  return {
    names,
    build(fixed, payload) {
      if (fixed.length !== fixedCount || payload.length !== payloadCount) {
        throw new Error(`row of ${names.length} columns given ${fixed.length} + ${payload.length} values`);
      }
      // Compiling costs more than building a row key by key: only shapes met again get a constructor.
      uses += 1;
      if (Row === undefined && uses >= COMPILE_AFTER_USES) Row = rowConstructor(names, fixedCount);
      return Row === undefined
        ? rowKeyByKey(names, fixed, payload)
        : new Row(fixed, payload, CAPTURE_SCHEMA_VERSION);
    },
  };
}

/** Rows a template builds key by key before it compiles its constructor (see `rowTemplate`). */
export const COMPILE_AFTER_USES = 3;

type RowConstructor = new (f: readonly Scalar[], p: readonly Scalar[], v: number) => CaptureRow;

function rowConstructor(names: readonly string[], fixedCount: number): RowConstructor {
  const members = names.map((name, i) => {
    const source = i < fixedCount ? `f[${i}]` : i < names.length - 1 ? `p[${i - fixedCount}]` : 'v';
    return `this[${JSON.stringify(name)}]=${source};`;
  });
  const Row = new Function('f', 'p', 'v', members.join('')) as unknown as RowConstructor;
  Row.prototype = ROW_PROTOTYPE as CaptureRow;
  return Row;
}

/** The same row as the compiled constructor gives (same columns, order and prototype), built key by key. */
function rowKeyByKey(
  names: readonly string[],
  fixed: readonly Scalar[],
  payload: readonly Scalar[],
): CaptureRow {
  const row = Object.create(ROW_PROTOTYPE) as CaptureRow;
  let i = 0;
  for (const value of fixed) row[names[i++] as string] = value;
  for (const value of payload) row[names[i++] as string] = value;
  row[names[i] as string] = CAPTURE_SCHEMA_VERSION;
  return row;
}

/** DynamoDB's size of a number: about one byte per two significant digits, plus one. */
function numberByteSize(n: number): number {
  // Integers below 2^53 (timestamps, counts) are the usual case: count their significant digits directly.
  if (Number.isSafeInteger(n)) {
    let m = Math.abs(n);
    if (m === 0) return 2;
    while (m % 10 === 0) m /= 10;
    return Math.ceil(String(m).length / 2) + 1;
  }
  const digits = String(Math.abs(n))
    .replace(/e.*$/i, '')
    .replace(/[^0-9]/g, '')
    .replace(/^0+/, '')
    .replace(/0+$/, '');
  return Math.ceil(Math.max(digits.length, 1) / 2) + 1;
}

/**
 * Estimated DynamoDB item size in bytes (attribute names in UTF-8 + values: strings in UTF-8, numbers per
 * `numberByteSize`, booleans and nulls 1 byte), for splitting before the 400 KB item limit.
 */
export function rowByteSize(row: CaptureRow): number {
  let size = 0;
  for (const name of Object.keys(row)) {
    const v = row[name];
    size += Buffer.byteLength(name, 'utf8');
    if (typeof v === 'string') size += Buffer.byteLength(v, 'utf8');
    else if (typeof v === 'number') size += numberByteSize(v);
    else size += 1;
  }
  return size;
}

/**
 * An upper bound of `rowByteSize`, cheap enough for every row: a UTF-16 code unit is at most 3 bytes of UTF-8
 * (a surrogate pair, 2 units, is 4), and a number, boolean or null takes at most 21 bytes.
 */
export function rowByteSizeUpperBound(row: CaptureRow): number {
  let units = 0;
  for (const name in row) {
    const v = row[name];
    units += name.length + (typeof v === 'string' ? v.length : 7);
  }
  return units * 3;
}
