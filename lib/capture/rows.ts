/**
 * Capture rows: what one row of the capture table is, how it is built and how big it is. Its keys (pk, sk and
 * the index attributes: their names, formats and shards) are in lib/keys.ts, with the layout of both tables.
 *
 * Event identity: an event row's sort key holds a payloadHash (`payloadHashOf`: hash of the canonical event
 * body, keys sorted recursively, JSON); see lib/keys.ts for the rest of it.
 */
import { canonicalJson, shortHash } from '../canonical';
import type { RowKeyColumns } from '../keys';
import { type BookkeepingColumn, type Scalar } from './naming';

export type { Scalar } from './naming';

/** One item of the capture table: a record of scalars that inherits nothing (see `ROW_PROTOTYPE`). */
export type CaptureRow = Record<string, Scalar>;

/**
 * The prototype of every row: one frozen object without prototype or properties, so a row inherits nothing
 * (no `toString`, no `__proto__` accessor: column names are data, as with a null prototype).
 */
export const ROW_PROTOTYPE: object = Object.freeze(Object.create(null) as object);

/**
 * What `buildRow` makes rows with: `new RowObject()` is an empty object of prototype ROW_PROTOTYPE. Rows are
 * built by `new` rather than Object.create(ROW_PROTOTYPE) because V8 keeps the objects a constructor makes in
 * fast mode as their columns are added, where Object.create's turn into slower dictionaries past a dozen keys
 * (measured, 25 columns: ~0.5 µs against ~2.3–3.4 µs per row built).
 */
const RowObject = function RowObject() {} as unknown as new () => CaptureRow;
RowObject.prototype = ROW_PROTOTYPE as CaptureRow;

/**
 * Bump when a column's meaning or the naming rule changes; stored on every row. 2: the `contentHash` column is
 * gone (change detection digests the row itself, lib/poller/digests.ts), so a payload key `contentHash` is no
 * longer renamed. 3: id-keyed maps (revActiveVPs, campaignEntity_activeVPs, ...) are one JSON column each
 * instead of one column per id (naming.ts, rule 6); event keys and payload hashes are unchanged.
 */
export const CAPTURE_SCHEMA_VERSION = 3;

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

/** eventType of an events[] element that is not `{ <type>: { ...body } }` (see flatten.ts). */
export const MALFORMED_EVENT_TYPE = '_malformed';

/** Hash of an event body (or of a malformed element): 16 hex of sha256 over its canonical JSON. */
export function payloadHashOf(body: Parameters<typeof canonicalJson>[0]): string {
  return payloadHashOfCanonical(canonicalJson(body));
}

/** `payloadHashOf` for a body whose canonical JSON is already written. */
export function payloadHashOfCanonical(canonical: string): string {
  return shortHash(canonical);
}

/**
 * The key and bookkeeping columns of one kind of row, in order. A row's columns: keys, ours, the payload's in
 * name order, then schemaVersion. This order depends only on the code, never on the answer's key order (the
 * poller's change digests rely on it).
 */
export interface RowLayout {
  readonly keyColumns: readonly (keyof RowKeyColumns)[];
  readonly ourColumns: readonly BookkeepingColumn[];
}

/**
 * Every column of a row of `layout` with these payload columns, in row order: the layout's, the payload's (name
 * order), then schemaVersion. Throws when a payload column would take one of our names, which the naming rule
 * rules out: reaching it is a bug, and silently overwriting a key would corrupt the table.
 */
export function rowColumnNames(layout: RowLayout, payloadNames: readonly string[]): readonly string[] {
  const ours = new Set<string>([...layout.keyColumns, ...layout.ourColumns, 'schemaVersion']);
  for (const name of payloadNames) {
    if (ours.has(name)) throw new Error(`payload column ${JSON.stringify(name)} clashes with ours`);
    if (name === '__proto__') throw new Error('payload column "__proto__" is never made by the naming rule');
  }
  return Object.freeze([...layout.keyColumns, ...layout.ourColumns, ...payloadNames, 'schemaVersion']);
}

/**
 * A row of `names` (from `rowColumnNames`): the layout's values (in layout order), the payload's (in name
 * order), then the schema version. Its prototype is ROW_PROTOTYPE: it inherits nothing.
 */
export function buildRow(
  names: readonly string[],
  fixed: readonly Scalar[],
  payload: readonly Scalar[],
): CaptureRow {
  if (fixed.length + payload.length + 1 !== names.length) {
    throw new Error(`row of ${names.length} columns given ${fixed.length} + ${payload.length} values`);
  }
  const row = new RowObject();
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
