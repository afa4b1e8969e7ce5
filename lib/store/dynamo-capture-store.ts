/**
 * The capture table on DynamoDB: rows made to fit an item, written by BatchWriteItem in chunks of 25, and a
 * row DynamoDB refuses never costs its batch-mates their place.
 *
 * THE FITTING RULE (a row always fits). DynamoDB refuses an item over 400 KB (attribute names included), and
 * one refused item fails its whole BatchWriteItem. `itemByteSize` estimates a row's size as stored: names and
 * strings in UTF-8; a number at 2 + ⌈significant digits / 2⌉ bytes, + 1 if negative (DynamoDB's size, as
 * dynalite computes it and DynamoDB Local agrees, is 1 + ⌈digits / 2⌉, + 1 when the digits straddle the decimal
 * point unevenly, + 1 if negative: the estimate never counts less); a number DynamoDB cannot hold as its text,
 * plus its name in `numbersAsText`; a boolean or null 1 byte. A row is fitted when its estimate is over the limit
 * (MAX_ITEM_BYTES, 2 KB under DynamoDB's), or when a payload column has a name DynamoDB or our readers refuse
 * (empty, or over 255 UTF-8 bytes: the naming rule, Glue and Athena stop there). Fitting:
 *   1. Payload columns are every column but the key and index attributes, BOOKKEEPING_COLUMNS
 *      (lib/capture/naming.ts), the partition columns `capturedAtMs`/`endedAtMs` and the TTL attribute
 *      (CAPTURE_TTL_ATTRIBUTE: moved, the row would never expire): only these ever move.
 *   2. Moved first, always: payload columns with a refused name, and any payload column that holds one of the
 *      two names below. Then the largest payload columns (estimated bytes of name + value; ties in name order)
 *      until the rest of the row, plus both new column names and MAX_MARKER_BYTES for the marker, fits the limit.
 *   3. `overflowJson` holds the moved columns as one canonical JSON object (keys in code-unit order, each value
 *      its column's JSON scalar) within the room left: entries go in whole, smallest first (bytes of
 *      `"name":value`; ties in name order), while they fit; then the largest string left, if any, is cut to the
 *      room still left and ends with TRUNCATION_MARKER (the text stays valid JSON). Every moved column not in
 *      it whole (that cut one included) counts as cut. Moving the fewest columns loses the least: a column's
 *      JSON takes more room than the column did, so a row of many small numbers (30,000 numeric keys) keeps
 *      most of them as columns and its overflowJson may hold little: the marker counts and names what was lost.
 *   4. `overflowCut` is the marker, canonical JSON: `{"cut":n,"cutColumns":[…],"limitBytes":…,"moved":n,
 *      "pass":1|2,"rowBytes":…}`: how many columns moved, how many of them are not whole in overflowJson, the
 *      first cut names in name order (as many as fit in MAX_MARKER_BYTES: the list is shorter than `cut` when it
 *      is partial), the limit fitted to and the row's estimated size before. Key, bookkeeping and partition
 *      columns are never touched: a row whose own columns pass the limit stays too large, and is refused.
 * A fitted row counts as stored completely (rowsFitted): its marker says what was moved and what was cut.
 *
 * ONE BAD ROW NEVER FAILS ITS BATCH. A ValidationException for a BatchWriteItem sends that call's rows again one
 * by one (PutItem). A row refused alone is fitted again by the stricter second pass (the same rule at half the
 * limit, marker `"pass":2`) and sent once more if that changed it; refused again (or unchanged), it is counted
 * in rowsRejected and the others are stored.
 *
 * RETRIES AND THE DEADLINE. UnprocessedItems come back inside a successful answer (the SDK never resends
 * them), and a throttled call (ProvisionedThroughputExceeded, Throttling, RequestLimitExceeded) comes back as an
 * error after the SDK's own retries: both are resent here with exponential backoff and full jitter, up to
 * `maxBatchAttempts` calls. No call starts at or after `deadlineMs` (wall clock) and no backoff is waited for
 * that would end at or after it: what is left counts as rowsUnwritten, as do rows whose attempts ran out. Other
 * errors (network, 5xx after the SDK's retries, a missing table) are thrown.
 */
import {
  BatchWriteItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { scalarJson } from '../canonical';
import { systemClock, type Clock } from '../clock';
import { BOOKKEEPING_COLUMNS } from '../capture/naming';
import { CAPTURE_PRIMARY_KEY, CAPTURE_TTL_ATTRIBUTE, capturePk } from '../keys';
import {
  emptyWriteStats,
  type CaptureStore,
  type PutRowsOptions,
  type RowUpdate,
  type StoredRow,
  type StoredScalar,
  type UpdateStats,
  type WriteStats,
} from './capture-store';
import { batchBackoffMs, isThrottlingError } from './dynamo';

/** DynamoDB's item limit is 400 KB including attribute names; 2 KB under it, for the estimate's sake. */
export const MAX_ITEM_BYTES = 400 * 1024 - 2048;
const BATCH_SIZE = 25;
/** Ends a string value cut to fit inside `overflowJson`. */
export const TRUNCATION_MARKER = '…[truncated by lp-visit-capture]';
/** Column of a fitted row holding its moved columns as canonical JSON (see the header). */
export const OVERFLOW_COLUMN = 'overflowJson';
/** Column of a fitted row saying what was moved and cut (see the header). */
export const OVERFLOW_MARKER_COLUMN = 'overflowCut';
/** Most bytes the marker's JSON takes: its list of cut names stops before. */
export const MAX_MARKER_BYTES = 1024;
/** Longest payload column name kept as a column (UTF-8 bytes): the naming rule's, Glue's and Athena's limit. */
export const MAX_COLUMN_NAME_BYTES = 255;
/** Columns naming the UTC day a row was written (lib/query/partition.ts): never moved. */
const PARTITION_COLUMNS = ['capturedAtMs', 'endedAtMs'];
/** Columns DynamoDB itself reads: the TTL (a TTL moved into overflowJson would keep the row for ever). */
const TABLE_COLUMNS = [CAPTURE_TTL_ATTRIBUTE];

/** Magnitudes DynamoDB's number type holds: from 1e-130 to below 1e126 (and 0). */
const MIN_NUMBER_MAGNITUDE = 1e-130;
const MAX_NUMBER_MAGNITUDE = 1e126;
/** Column listing the columns whose numbers are stored as text (see `captureItem`). */
export const NUMBERS_AS_TEXT_COLUMN = 'numbersAsText';
const NUMBERS_AS_TEXT_BYTES = NUMBERS_AS_TEXT_COLUMN.length;

/** True when DynamoDB's number type holds `n` (else `captureItem` stores its text). */
function isStorableNumber(n: number): boolean {
  const magnitude = Math.abs(n);
  return magnitude === 0 || (magnitude >= MIN_NUMBER_MAGNITUDE && magnitude < MAX_NUMBER_MAGNITUDE);
}

/** Upper estimate of DynamoDB's size of a number it holds (see the header). */
function numberByteSize(n: number): number {
  let digits: number;
  if (Number.isSafeInteger(n)) {
    let m = Math.abs(n);
    if (m === 0) return 2;
    while (m % 10 === 0) m /= 10;
    digits = String(m).length;
  } else {
    digits = Math.max(
      String(Math.abs(n))
        .replace(/e.*$/i, '')
        .replace(/[^0-9]/g, '')
        .replace(/^0+/, '')
        .replace(/0+$/, '').length,
      1,
    );
  }
  return 2 + Math.ceil(digits / 2) + (n < 0 ? 1 : 0);
}

/** Estimated bytes of one column as stored (a number stored as text includes its `numbersAsText` entry). */
function columnByteSize(name: string, value: StoredScalar | undefined): number {
  if (value === undefined) return 0; // left out by captureItem
  const nameBytes = Buffer.byteLength(name, 'utf8');
  if (typeof value === 'string') return nameBytes + Buffer.byteLength(value, 'utf8');
  if (typeof value === 'number') {
    return isStorableNumber(value)
      ? nameBytes + numberByteSize(value)
      : nameBytes + String(value).length + nameBytes + 1;
  }
  return nameBytes + 1;
}

/** Estimated bytes of the row as DynamoDB will hold it (`captureItem` of it), never less than DynamoDB counts. */
export function itemByteSize(row: StoredRow): number {
  let size = 0;
  let textNumbers = false;
  for (const name of Object.keys(row)) {
    const value = row[name];
    size += columnByteSize(name, value);
    if (typeof value === 'number' && !isStorableNumber(value)) textNumbers = true;
  }
  return size + (textNumbers ? NUMBERS_AS_TEXT_BYTES : 0);
}

/**
 * True when the row may need fitting: a bound of `itemByteSize` cheap enough for every row (a UTF-16 code unit
 * is at most 3 bytes of UTF-8; a number at most 12 bytes, or its text of at most 24 and its name again when
 * stored as text), and names short enough to be valid in any encoding. Almost every row is far below.
 */
function mayNeedFitting(row: StoredRow, maxBytes: number): boolean {
  let bound = NUMBERS_AS_TEXT_BYTES;
  for (const name in row) {
    const value = row[name];
    if (name.length === 0 || name.length * 3 > MAX_COLUMN_NAME_BYTES) return true;
    bound += 3 * name.length + (typeof value === 'string' ? 3 * value.length : 3 * name.length + 26);
  }
  return bound > maxBytes;
}

function isRefusedName(name: string): boolean {
  return name.length === 0 || Buffer.byteLength(name, 'utf8') > MAX_COLUMN_NAME_BYTES;
}

/** `value` cut to its first `units` code units, never leaving half a surrogate pair. */
function prefixOf(value: string, units: number): string {
  const prefix = value.slice(0, units);
  const last = prefix.charCodeAt(prefix.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? prefix.slice(0, -1) : prefix;
}

/**
 * The moved columns as canonical JSON within `roomBytes` (step 3 of the rule), and the names of those not in
 * it whole, in name order.
 */
function overflowJson(
  row: StoredRow,
  moved: readonly string[],
  roomBytes: number,
): { json: string; cut: string[] } {
  // Each entry `"name":value` costs its bytes and a comma (one comma too many: the braces' room covers it).
  const entries = moved.map((name) => {
    const text = `${scalarJson(name)}:${scalarJson(row[name] as StoredScalar)}`;
    return { name, text, bytes: Buffer.byteLength(text, 'utf8') + 1 };
  });
  entries.sort((a, b) => a.bytes - b.bytes || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  let bytes = 2; // the braces
  const kept = new Map<string, string>();
  let whole = 0;
  for (const entry of entries) {
    if (bytes + entry.bytes > roomBytes) break; // every entry after it is larger
    kept.set(entry.name, entry.text);
    bytes += entry.bytes;
    whole++;
  }
  // The largest string left gets what room is left, cut on a character boundary, with the marker.
  const left = entries.slice(whole);
  const largestString = left.filter((entry) => typeof row[entry.name] === 'string').pop();
  if (largestString !== undefined) {
    const value = row[largestString.name] as string;
    const head = `${scalarJson(largestString.name)}:`;
    const fits = (units: number): string | undefined => {
      const text = head + scalarJson(prefixOf(value, units) + TRUNCATION_MARKER);
      return bytes + Buffer.byteLength(text, 'utf8') + 1 <= roomBytes ? text : undefined;
    };
    let best = fits(0);
    if (best !== undefined) {
      // The longest prefix that fits, by bisection over code units (the whole value does not fit).
      let lo = 0;
      let hi = value.length;
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1;
        const text = fits(mid);
        if (text === undefined) hi = mid;
        else {
          lo = mid;
          best = text;
        }
      }
      kept.set(largestString.name, best);
    }
  }
  const names = [...kept.keys()].sort();
  return {
    json: `{${names.map((name) => kept.get(name) as string).join(',')}}`,
    cut: left.map((entry) => entry.name).sort(),
  };
}

/** The marker (step 4 of the rule), within MAX_MARKER_BYTES. */
function overflowMarker(fields: {
  cut: readonly string[];
  limitBytes: number;
  moved: number;
  pass: 1 | 2;
  rowBytes: number;
}): string {
  // Keys in code-unit order: this is canonical JSON.
  const marker = (listed: readonly string[]): string =>
    JSON.stringify({
      cut: fields.cut.length,
      cutColumns: listed,
      limitBytes: fields.limitBytes,
      moved: fields.moved,
      pass: fields.pass,
      rowBytes: fields.rowBytes,
    });
  let bytes = Buffer.byteLength(marker([]), 'utf8');
  let listed = 0;
  for (const name of fields.cut) {
    const more = Buffer.byteLength(JSON.stringify(name), 'utf8') + (listed > 0 ? 1 : 0);
    if (bytes + more > MAX_MARKER_BYTES) break;
    bytes += more;
    listed++;
  }
  return marker(fields.cut.slice(0, listed));
}

/**
 * Makes a row fit in one item by the rule in this file's header; `neverMoved` are the key, bookkeeping and
 * partition columns. A row that needs nothing is returned as it is (`fitted: false`).
 */
export function fitRow(
  row: StoredRow,
  neverMoved: ReadonlySet<string>,
  maxBytes = MAX_ITEM_BYTES,
  pass: 1 | 2 = 1,
): { row: StoredRow; fitted: boolean } {
  if (!mayNeedFitting(row, maxBytes)) return { row, fitted: false };
  const names = Object.keys(row).filter((name) => row[name] !== undefined);
  const sizes = new Map<string, number>();
  let keptBytes = 0;
  let keptTextNumbers = 0;
  let refusedNames = false;
  for (const name of names) {
    const value = row[name];
    const size = columnByteSize(name, value);
    sizes.set(name, size);
    keptBytes += size;
    if (typeof value === 'number' && !isStorableNumber(value)) keptTextNumbers++;
    if (isRefusedName(name)) refusedNames = true;
  }
  const rowBytes = keptBytes + (keptTextNumbers > 0 ? NUMBERS_AS_TEXT_BYTES : 0);
  if (rowBytes <= maxBytes && !refusedNames) return { row, fitted: false };

  // Step 2: what moves, in order.
  const mustMove = (name: string): boolean =>
    isRefusedName(name) || name === OVERFLOW_COLUMN || name === OVERFLOW_MARKER_COLUMN;
  const payload = names.filter((name) => !neverMoved.has(name));
  const order = [
    ...payload.filter(mustMove).sort(),
    ...payload
      .filter((name) => !mustMove(name))
      .sort((a, b) => (sizes.get(b) as number) - (sizes.get(a) as number) || (a < b ? -1 : a > b ? 1 : 0)),
  ];
  const reserve =
    Buffer.byteLength(OVERFLOW_COLUMN) + Buffer.byteLength(OVERFLOW_MARKER_COLUMN) + MAX_MARKER_BYTES;
  const keptEstimate = (): number => keptBytes + (keptTextNumbers > 0 ? NUMBERS_AS_TEXT_BYTES : 0);
  const moved = new Set<string>();
  for (const name of order) {
    if (!mustMove(name) && keptEstimate() + reserve <= maxBytes) break;
    moved.add(name);
    keptBytes -= sizes.get(name) as number;
    const value = row[name];
    if (typeof value === 'number' && !isStorableNumber(value)) keptTextNumbers--;
  }

  // Steps 3 and 4.
  const room = Math.max(0, maxBytes - keptEstimate() - reserve);
  const overflow = overflowJson(row, [...moved], room);
  const fitted = Object.create(null) as StoredRow;
  for (const name of names) if (!moved.has(name)) fitted[name] = row[name] as StoredScalar;
  fitted[OVERFLOW_COLUMN] = overflow.json;
  fitted[OVERFLOW_MARKER_COLUMN] = overflowMarker({
    cut: overflow.cut,
    limitBytes: maxBytes,
    moved: moved.size,
    pass,
    rowBytes,
  });
  return { row: fitted, fitted: true };
}

/**
 * A capture row as a DynamoDB item. Rows hold scalars only, so this is done here rather than by
 * DocumentClient's generic marshalling, which refuses numbers past ±2^53 (an answer's numbers are doubles from
 * JSON.parse: nothing more precise ever existed, so `String(n)` is the whole value) and lets through numbers
 * DynamoDB rejects (magnitudes ≥ 1e126 or < 1e-130), either way failing the session's whole batch. Those
 * out-of-range numbers are stored as their text, and their columns named in `numbersAsText`: nothing is lost.
 * `undefined` columns are left out (as DocumentClient's removeUndefinedValues did).
 */
export function captureItem(row: StoredRow): Record<string, AttributeValue> {
  // Without prototype: a column name is only ever a key here (the naming rule never makes `__proto__` anyway).
  const item = Object.create(null) as Record<string, AttributeValue>;
  let asText: string[] | undefined;
  for (const name of Object.keys(row)) {
    const value = row[name];
    if (typeof value === 'string') item[name] = { S: value };
    else if (typeof value === 'number') {
      if (isStorableNumber(value)) {
        item[name] = { N: String(value) };
      } else {
        item[name] = { S: String(value) };
        (asText ??= []).push(name);
      }
    } else if (typeof value === 'boolean') item[name] = { BOOL: value };
    else if (value === null) item[name] = { NULL: true };
    else if (value !== undefined)
      throw new TypeError(`capture column ${JSON.stringify(name)} is not a scalar`);
  }
  if (asText !== undefined) item[NUMBERS_AS_TEXT_COLUMN] = { S: asText.sort().join(',') };
  return item;
}

export interface DynamoCaptureStoreOptions {
  /** Calls per write (resending throttled or unprocessed items) before its rows count as unwritten. @default 8 */
  maxBatchAttempts?: number;
  /** First backoff delay; doubles, with full jitter. @default 50 */
  baseDelayMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** The wall clock `deadlineMs` is read against. @default systemClock */
  clock?: Clock;
  /** Limit of the first fitting pass (the second fits to half of it). @default MAX_ITEM_BYTES */
  maxItemBytes?: number;
}

/** A row on its way: as given, as sent, and whether sending it fitted. */
interface Pending {
  readonly original: StoredRow;
  readonly fitted: boolean;
  readonly item: Record<string, AttributeValue>;
}

function errorName(error: unknown): string | undefined {
  return error instanceof Error ? error.name : undefined;
}

/** The primary key of an item, as one string: how UnprocessedItems are matched to the rows sent. */
function itemKey(item: Record<string, AttributeValue>): string {
  return JSON.stringify([item[CAPTURE_PRIMARY_KEY.partitionKey], item[CAPTURE_PRIMARY_KEY.sortKey]]);
}

/** The capture table on DynamoDB (see this file's header). */
export class DynamoCaptureStore implements CaptureStore {
  private readonly maxBatchAttempts: number;
  private readonly baseDelayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly maxItemBytes: number;
  /** Key and index attributes, bookkeeping, partition and TTL columns: never moved by fitting. */
  private readonly neverMoved: ReadonlySet<string>;

  constructor(
    private readonly client: DynamoDBDocumentClient,
    private readonly tableName: string,
    keyColumns: ReadonlySet<string>,
    options: DynamoCaptureStoreOptions = {},
  ) {
    this.maxBatchAttempts = options.maxBatchAttempts ?? 8;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? systemClock;
    this.maxItemBytes = options.maxItemBytes ?? MAX_ITEM_BYTES;
    this.neverMoved = new Set([
      ...keyColumns,
      ...BOOKKEEPING_COLUMNS,
      ...PARTITION_COLUMNS,
      ...TABLE_COLUMNS,
    ]);
  }

  async putRows(rows: readonly StoredRow[], options: PutRowsOptions = {}): Promise<WriteStats> {
    const stats = emptyWriteStats();
    const pending = rows.map((row) => this.pending(row, this.maxItemBytes, 1));
    for (let start = 0; start < pending.length; start += BATCH_SIZE) {
      await this.writeBatch(pending.slice(start, start + BATCH_SIZE), stats, options.deadlineMs);
    }
    return stats;
  }

  private pending(original: StoredRow, maxBytes: number, pass: 1 | 2): Pending {
    const fit = fitRow(original, this.neverMoved, maxBytes, pass);
    return { original, fitted: fit.fitted, item: captureItem(fit.row) };
  }

  private pastDeadline(deadlineMs: number | undefined, afterMs = 0): boolean {
    return deadlineMs !== undefined && this.clock.nowMs() + afterMs >= deadlineMs;
  }

  /** Waits before attempt `attempt + 1`; false (no wait) when the attempts ran out or the wait would pass the deadline. */
  private async backoff(attempt: number, deadlineMs: number | undefined): Promise<boolean> {
    if (attempt >= this.maxBatchAttempts) return false;
    const delayMs = batchBackoffMs(attempt, this.baseDelayMs, this.random);
    if (this.pastDeadline(deadlineMs, delayMs)) return false;
    await this.sleep(delayMs);
    return true;
  }

  private written(rows: readonly Pending[], stats: WriteStats): void {
    stats.rowsWritten += rows.length;
    for (const row of rows) {
      if (row.fitted) {
        stats.rowsFitted++;
        stats.rowsTruncated++;
      }
    }
  }

  private async writeBatch(
    batch: Pending[],
    stats: WriteStats,
    deadlineMs: number | undefined,
  ): Promise<void> {
    let pending = batch;
    for (let attempt = 1; ; attempt++) {
      if (this.pastDeadline(deadlineMs)) {
        stats.rowsUnwritten += pending.length;
        return;
      }
      stats.batchCalls++;
      let unprocessed: WriteRequest[];
      try {
        // The low-level command: items are already DynamoDB items (captureItem), and so are UnprocessedItems.
        const answer = await this.client.send(
          new BatchWriteItemCommand({
            RequestItems: { [this.tableName]: pending.map((row) => ({ PutRequest: { Item: row.item } })) },
          }),
        );
        unprocessed = answer.UnprocessedItems?.[this.tableName] ?? [];
      } catch (error) {
        const name = errorName(error);
        if (name === 'ValidationException') {
          // Some item of the call is refused (or two share a key): only the culprit may stay unwritten.
          for (const row of pending) await this.writeAlone(row, stats, deadlineMs);
          return;
        }
        if (!isThrottlingError(error)) throw error;
        unprocessed = pending.map((row) => ({ PutRequest: { Item: row.item } }));
      }
      if (unprocessed.length === 0) {
        this.written(pending, stats);
        return;
      }
      const left = new Set(unprocessed.map((request) => itemKey(request.PutRequest?.Item ?? {})));
      this.written(
        pending.filter((row) => !left.has(itemKey(row.item))),
        stats,
      );
      pending = pending.filter((row) => left.has(itemKey(row.item)));
      if (!(await this.backoff(attempt, deadlineMs))) {
        stats.rowsUnwritten += pending.length;
        return;
      }
    }
  }

  /** One row by PutItem; refused, it gets the stricter second fitting and one more chance. */
  private async writeAlone(row: Pending, stats: WriteStats, deadlineMs: number | undefined): Promise<void> {
    let sent = row;
    let result = await this.putItem(sent.item, stats, deadlineMs);
    if (result === 'refused') {
      const stricter = this.pending(row.original, Math.floor(this.maxItemBytes / 2), 2);
      // Unchanged by the second pass: sending it again would only be refused again.
      if (stricter.fitted) {
        sent = stricter;
        result = await this.putItem(sent.item, stats, deadlineMs);
      }
    }
    if (result === 'written') this.written([sent], stats);
    else if (result === 'refused') stats.rowsRejected++;
    else stats.rowsUnwritten++;
  }

  private async putItem(
    item: Record<string, AttributeValue>,
    stats: WriteStats,
    deadlineMs: number | undefined,
  ): Promise<'written' | 'refused' | 'unwritten'> {
    for (let attempt = 1; ; attempt++) {
      if (this.pastDeadline(deadlineMs)) return 'unwritten';
      stats.batchCalls++;
      try {
        await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: item }));
        return 'written';
      } catch (error) {
        const name = errorName(error);
        if (name === 'ValidationException') return 'refused';
        if (!isThrottlingError(error)) throw error;
      }
      if (!(await this.backoff(attempt, deadlineMs))) return 'unwritten';
    }
  }

  async updateRows(updates: readonly RowUpdate[], options: PutRowsOptions = {}): Promise<UpdateStats> {
    const stats: UpdateStats = { rowsUpdated: 0, rowsMissing: 0, rowsUnwritten: 0 };
    // One UpdateItem per row: a few rows, once per session (its end), each billed on its own size alone.
    for (const update of updates) {
      const names: Record<string, string> = { '#pk': CAPTURE_PRIMARY_KEY.partitionKey };
      const values: Record<string, AttributeValue> = {};
      const assignments = Object.entries(update.set).map(([column, value], i) => {
        names[`#c${i}`] = column;
        values[`:v${i}`] = captureItem({ v: value }).v as AttributeValue;
        return `#c${i} = :v${i}`;
      });
      if (assignments.length === 0) continue;
      for (let attempt = 1; ; attempt++) {
        if (this.pastDeadline(options.deadlineMs)) {
          stats.rowsUnwritten++;
          break;
        }
        try {
          await this.client.send(
            new UpdateItemCommand({
              TableName: this.tableName,
              Key: {
                [CAPTURE_PRIMARY_KEY.partitionKey]: { S: update.pk },
                [CAPTURE_PRIMARY_KEY.sortKey]: { S: update.sk },
              },
              UpdateExpression: `SET ${assignments.join(', ')}`,
              // An erased or expired row is not made again with only these columns.
              ConditionExpression: 'attribute_exists(#pk)',
              ExpressionAttributeNames: names,
              ExpressionAttributeValues: values,
            }),
          );
          stats.rowsUpdated++;
          break;
        } catch (error) {
          if (errorName(error) === 'ConditionalCheckFailedException') {
            stats.rowsMissing++;
            break;
          }
          if (!isThrottlingError(error)) throw error;
        }
        if (!(await this.backoff(attempt, options.deadlineMs))) {
          stats.rowsUnwritten++;
          break;
        }
      }
    }
    return stats;
  }

  async sessionRows(accountId: string, sid: string): Promise<StoredRow[]> {
    const rows: StoredRow[] = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const answer = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': capturePk(accountId, sid) },
          ...(startKey ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      rows.push(...((answer.Items ?? []) as StoredRow[]));
      startKey = answer.LastEvaluatedKey;
    } while (startKey);
    return rows;
  }
}
