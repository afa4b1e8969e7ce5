/**
 * What analysts see of a stored capture row. Stored rows carry the table's key attributes (pk, sk, gsi*) and
 * a content hash for change detection, and with a retention the TTL attribute; those are storage plumbing, so
 * they are dropped unless `raw` is asked for. Every row keeps `rowType`, `accountId`, `visitorId` and `sid`; event rows keep `eventType` and
 * `serverTimeStamp`. Columns come out in a stable order: LEAD_COLUMNS first (those the row has), then the
 * others sorted by name (code-unit order), so JSON output has stable field names and order whatever order
 * DynamoDB returned the attributes in.
 */
import { nullProtoRecord } from '../capture/naming';
import { CAPTURE_KEY_ATTRIBUTES, CAPTURE_TTL_ATTRIBUTE } from '../keys';
import type { StoredRow, StoredScalar } from '../store/capture-store';

/** A row as handed to analysts: a null-prototype record (column names are data). */
export type AnalystRow = Record<string, StoredScalar>;

/**
 * Columns dropped from analyst rows unless raw: the key attributes, and the TTL (a DynamoDB instruction, the
 * same on every row of a session; docs/privacy.md says when rows expire).
 */
export const INTERNAL_COLUMNS: readonly string[] = Object.freeze([
  ...CAPTURE_KEY_ATTRIBUTES,
  CAPTURE_TTL_ATTRIBUTE,
]);
const INTERNAL = new Set(INTERNAL_COLUMNS);

/** Identity columns, in the order every output puts them first. */
export const LEAD_COLUMNS: readonly string[] = Object.freeze([
  'rowType',
  'accountId',
  'visitorId',
  'sid',
  'appSessionId',
  'eventType',
  'serverTimeStamp',
  'pageId',
  'engagementId',
  'parentSk',
  'childPath',
  'childIndex',
]);
const LEAD_RANK = new Map(LEAD_COLUMNS.map((c, i) => [c, i]));

/** LEAD_COLUMNS first, then the rest by name. */
export function compareColumns(a: string, b: string): number {
  const ra = LEAD_RANK.get(a);
  const rb = LEAD_RANK.get(b);
  if (ra !== undefined || rb !== undefined) return (ra ?? Infinity) - (rb ?? Infinity);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The analyst view of a stored row (see the header); `raw` keeps every attribute. */
export function toAnalystRow(row: StoredRow, raw = false): AnalystRow {
  const out = nullProtoRecord<StoredScalar>();
  for (const name of Object.keys(row).sort(compareColumns)) {
    if (!raw && INTERNAL.has(name)) continue;
    out[name] = row[name] as StoredScalar;
  }
  return out;
}

/** Columns of a set of rows for a header: `base` always (even with no rows), then the rows' own, ordered. */
export function columnsFor(rows: readonly AnalystRow[], base: readonly string[]): string[] {
  const seen = new Set<string>(base);
  for (const row of rows) for (const name of Object.keys(row)) seen.add(name);
  return [...seen].sort(compareColumns);
}

const ROW_TYPE_ORDER = ['session', 'page', 'engagement', 'event', 'eventItem', 'outcome'];

function num(v: StoredScalar | undefined): number {
  return typeof v === 'number' ? v : -1;
}

/**
 * Order of one session's rows for people: session rows, pages (by start time), engagements, events (by
 * serverTimeStamp, each followed by its eventItem rows), the outcome row last; ties by sort key. Works on
 * stored rows (it needs `sk`).
 */
export function compareSessionRows(a: StoredRow, b: StoredRow): number {
  const group = (r: StoredRow): number => {
    const type = r.rowType === 'eventItem' ? 'event' : String(r.rowType);
    const i = ROW_TYPE_ORDER.indexOf(type);
    return i === -1 ? ROW_TYPE_ORDER.length : i;
  };
  const time = (r: StoredRow): number =>
    r.rowType === 'event' || r.rowType === 'eventItem' ? num(r.serverTimeStamp) : num(r.startTime);
  // An eventItem sorts with its parent event (parentSk), after it (its own sk extends the parent's).
  const anchor = (r: StoredRow): string => String(r.rowType === 'eventItem' ? r.parentSk : r.sk);
  const text = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
  return (
    group(a) - group(b) || time(a) - time(b) || text(anchor(a), anchor(b)) || text(String(a.sk), String(b.sk))
  );
}
