/**
 * The routing decision of the analytics copy (infra/analytics.ts): one capture-table stream record → which
 * Iceberg table, which operation, which row. Pure: no client, no configuration, no clock. The Firehose
 * record-transformation function (functions/analytics-route.ts) runs it on every record and hands Firehose the
 * answer as `metadata.otfMetadata`.
 *
 *   capture table stream (NEW_AND_OLD_IMAGES) → EventBridge Pipes → Firehose → THIS decision (Lambda) →
 *   Iceberg tables (Glue catalog, unique keys pk, sk, partitioned by rowday)
 *
 * Why a transformation Lambda and not Firehose's JSONQuery routing: JQ could pick the table and operation, but
 * it cannot check the row type against the tables that exist, so a record of an unknown row type would fail at
 * delivery and land in errors/ uncounted; here it is refused (`ProcessingFailed`, so Firehose writes it to
 * errors/processing-failed/) AND counted (an EMF metric with its alarm). A Pipes enrichment cannot set
 * `otfMetadata` at all.
 *
 * Operations:
 *   INSERT → update, MODIFY → update (an upsert: Firehose deletes the unique keys' current row, then inserts).
 *            INSERT is not sent as a plain insert on purpose: the stream, the pipe and Firehose all deliver at
 *            least once, and a retried plain insert leaves two rows with the same pk, sk; an upsert of a row
 *            that does not exist yet is an insert.
 *   REMOVE → delete, keyed by pk, sk and the partition column, all taken from the OLD image (a REMOVE's new
 *            image does not exist, and its keys alone name neither the table nor the partition). This is how an
 *            erasure (lpv forget, POST /forget) and a TTL expiry in DynamoDB reach S3.
 *
 * The partition column `rowday` must never change for a row: Iceberg equality deletes (what a Firehose delete or
 * update writes) apply within the partition they are written to, so an update or delete computed from a later
 * version must land in the partition of the first. It is the UTC day of a time fixed for the row's whole life
 * (ROW_DAY_SOURCES): the event time of event and eventItem rows and the start of a page (both part of the row's
 * sort key, so they cannot change without making another row), the app session's start on session rows and the
 * queue's start time on outcome rows. Engagement rows carry no time at all: they are `undated`, one partition,
 * like rows of any type whose time is missing. Never the capture time (`capturedAtMs`), which every version
 * changes.
 */
import type { AnalyticsSchema, AnalyticsTable, GlueType } from './analytics-schema';
import { isIndexableMs, utcDay } from '../keys';
import type { StoredRow, StoredScalar } from '../store/capture-store';

/** Powertools `service` dimension of the route function's metrics (infra/monitoring.ts reads the same). */
export const ANALYTICS_ROUTE_SERVICE_NAME = 'lpv-analytics-route';

/** The route function's EMF metrics (namespace LpVisitCapture, dimension service=lpv-analytics-route). */
export const ANALYTICS_ROUTE_METRIC = {
  /** Records handed to Firehose with a table and an operation. */
  routed: 'analytics_records_routed',
  /** Records refused (unknown row type, no image, not a stream record): they go to errors/processing-failed/. */
  unroutable: 'analytics_records_unroutable',
  /**
   * Values of columns the generated schema does not declare, one per column per record. Firehose drops a field
   * its table does not declare, so each of these is a value missing from the analytics copy (it stays in
   * DynamoDB) until `npm run docs` declares the column and tools/analytics/migrate.ts adds it to the table.
   */
  undeclaredColumns: 'analytics_undeclared_columns',
} as const;
export type AnalyticsRouteMetricName = (typeof ANALYTICS_ROUTE_METRIC)[keyof typeof ANALYTICS_ROUTE_METRIC];

/** Firehose's unique keys of every table: the capture table's own primary key. */
export const UNIQUE_KEYS = ['pk', 'sk'] as const;
/** The partition column of every table (see the header). */
export const PARTITION_COLUMN = 'rowday';
/** Its value for rows without a fixed time (engagement rows; any row whose time is missing). */
export const UNDATED = 'undated';

/** Where each row type's fixed time is, in order of preference (see the header). */
export const ROW_DAY_SOURCES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  session: ['startTime'],
  page: ['startTime'],
  engagement: [],
  event: ['serverTimeStamp'],
  eventItem: ['serverTimeStamp'],
  outcome: ['startTimeMs'],
});

/** The value of the partition column of a stored row (a stream image). */
export function rowDay(row: StoredRow): string {
  const rowType = typeof row.rowType === 'string' ? row.rowType : '';
  for (const column of ROW_DAY_SOURCES[rowType] ?? []) {
    const ms = row[column];
    if (isIndexableMs(ms)) return utcDay(ms);
  }
  return UNDATED;
}

export type IcebergOperation = 'insert' | 'update' | 'delete';

/** The Iceberg operation of each stream event (see the header for why INSERT is an upsert). */
export const OPERATION_OF_EVENT: Readonly<Record<'INSERT' | 'MODIFY' | 'REMOVE', IcebergOperation>> =
  Object.freeze({ INSERT: 'update', MODIFY: 'update', REMOVE: 'delete' });

/** A row as the Iceberg table receives it: lower-case column names (Glue's), values cast to the column types. */
export type IcebergRow = Record<string, StoredScalar>;

/** Why a record was refused. Fixed texts only: a reason never carries a value of the record. */
export type UnroutableReason =
  'not a DynamoDB stream record' | 'unknown event name' | 'no image' | 'no pk or sk' | 'unknown row type';

export type RouteDecision =
  | {
      kind: 'route';
      table: string;
      operation: IcebergOperation;
      row: IcebergRow;
      /** Columns of the image the generated schema does not declare for the table (lower case). */
      undeclaredColumns: string[];
    }
  | { kind: 'unroutable'; reason: UnroutableReason };

/** DynamoDB JSON, as a stream image holds it. */
type AttributeValue = Record<string, unknown>;

function scalar(value: AttributeValue): StoredScalar {
  if (typeof value.S === 'string') return value.S;
  if (typeof value.N === 'string') return Number(value.N);
  if (typeof value.BOOL === 'boolean') return value.BOOL;
  if (value.NULL === true) return null;
  // Capture rows are only ever written as scalars (S, N, BOOL, NULL); anything else is kept as JSON text.
  return JSON.stringify(value);
}

/** A stream image (DynamoDB JSON) → the stored row, or undefined when it is not an object. */
export function imageToRow(image: unknown): StoredRow | undefined {
  if (image === null || typeof image !== 'object' || Array.isArray(image)) return undefined;
  const row: StoredRow = Object.create(null) as StoredRow;
  for (const [name, value] of Object.entries(image as Record<string, unknown>)) {
    if (value !== null && typeof value === 'object') row[name] = scalar(value as AttributeValue);
  }
  return row;
}

function cast(value: StoredScalar, type: GlueType | undefined): StoredScalar {
  if (value === null || type === undefined) return value;
  // Declared strings (personal data among them: a hash replaces a number) take any scalar as its text, so a
  // number where the schema says string never fails the row at delivery.
  if (type === 'string') return typeof value === 'string' ? value : String(value);
  return value;
}

/** Per table: its columns by name, built once per schema. */
const columnIndex = new WeakMap<AnalyticsSchema, Map<string, Map<string, GlueType>>>();

function tableColumns(schema: AnalyticsSchema): Map<string, Map<string, GlueType>> {
  let index = columnIndex.get(schema);
  if (index === undefined) {
    index = new Map(
      schema.tables.map((t: AnalyticsTable) => [t.rowType, new Map(t.columns.map((c) => [c.name, c.type]))]),
    );
    columnIndex.set(schema, index);
  }
  return index;
}

function tableOf(schema: AnalyticsSchema, rowType: StoredScalar | undefined): AnalyticsTable | undefined {
  return typeof rowType === 'string' ? schema.tables.find((t) => t.rowType === rowType) : undefined;
}

/**
 * The whole row for an upsert: every attribute but the index keys (gsi*), lower case, cast to the declared
 * types, plus the partition column. Undeclared columns are reported (Firehose would drop them) and left out.
 */
function upsertRow(
  stored: StoredRow,
  columns: Map<string, GlueType>,
): { row: IcebergRow; undeclared: string[] } {
  const row: IcebergRow = Object.create(null) as IcebergRow;
  const undeclared: string[] = [];
  for (const [name, value] of Object.entries(stored)) {
    const lower = name.toLowerCase();
    if (/^gsi\d+(pk|sk)$/.test(lower)) continue;
    if (!columns.has(lower)) {
      undeclared.push(lower);
      continue;
    }
    row[lower] = cast(value, columns.get(lower));
  }
  row[PARTITION_COLUMN] = rowDay(stored);
  return { row, undeclared };
}

/** Only what a delete needs: the unique keys and the partition (no other value of the erased row travels). */
function deleteRow(stored: StoredRow): IcebergRow {
  const row: IcebergRow = Object.create(null) as IcebergRow;
  row.pk = stored.pk as StoredScalar;
  row.sk = stored.sk as StoredScalar;
  row[PARTITION_COLUMN] = rowDay(stored);
  return row;
}

/** One capture-table stream record (as EventBridge Pipes hands it to Firehose) → the routing decision. */
export function routeStreamRecord(record: unknown, schema: AnalyticsSchema): RouteDecision {
  if (record === null || typeof record !== 'object') return unroutable('not a DynamoDB stream record');
  const { eventName, dynamodb } = record as { eventName?: unknown; dynamodb?: unknown };
  if (dynamodb === null || typeof dynamodb !== 'object') return unroutable('not a DynamoDB stream record');
  if (eventName !== 'INSERT' && eventName !== 'MODIFY' && eventName !== 'REMOVE') {
    return unroutable('unknown event name');
  }
  const operation = OPERATION_OF_EVENT[eventName];
  const images = dynamodb as { NewImage?: unknown; OldImage?: unknown };
  const stored = imageToRow(operation === 'delete' ? images.OldImage : images.NewImage);
  if (stored === undefined) return unroutable('no image');
  if (typeof stored.pk !== 'string' || typeof stored.sk !== 'string') return unroutable('no pk or sk');
  const table = tableOf(schema, stored.rowType);
  if (table === undefined) return unroutable('unknown row type');
  if (operation === 'delete') {
    return { kind: 'route', table: table.name, operation, row: deleteRow(stored), undeclaredColumns: [] };
  }
  const columns = tableColumns(schema).get(table.rowType) ?? new Map<string, GlueType>();
  const { row, undeclared } = upsertRow(stored, columns);
  return { kind: 'route', table: table.name, operation, row, undeclaredColumns: undeclared };
}

function unroutable(reason: UnroutableReason): RouteDecision {
  return { kind: 'unroutable', reason };
}

// -------------------------------------------------------------------------------------------------------------
// Firehose's record-transformation contract

export interface FirehoseInputRecord {
  recordId: string;
  /** Base64 of the record Firehose received (here: the stream record's JSON, from the pipe). */
  data: string;
}

export interface OtfMetadata {
  destinationDatabaseName: string;
  destinationTableName: string;
  operation: IcebergOperation;
}

export interface FirehoseOutputRecord {
  recordId: string;
  result: 'Ok' | 'ProcessingFailed';
  data: string;
  metadata?: { otfMetadata: OtfMetadata };
}

export interface RouteBatchResult {
  records: FirehoseOutputRecord[];
  counts: Record<AnalyticsRouteMetricName, number>;
  /** Refusals by reason (for one log line per batch: reasons only, never values). */
  unroutableByReason: Partial<Record<UnroutableReason, number>>;
  /** Undeclared column names seen in the batch, by table (names are schema, not personal data). */
  undeclaredByTable: Record<string, string[]>;
}

/**
 * A Firehose transformation batch → its answer: every record either `Ok` with its table and operation, or
 * `ProcessingFailed` (Firehose writes those, as received, to the error prefix of the S3 configuration).
 */
export function routeBatch(
  records: readonly FirehoseInputRecord[],
  schema: AnalyticsSchema,
  databaseName: string,
): RouteBatchResult {
  const counts: Record<AnalyticsRouteMetricName, number> = {
    analytics_records_routed: 0,
    analytics_records_unroutable: 0,
    analytics_undeclared_columns: 0,
  };
  const unroutableByReason: Partial<Record<UnroutableReason, number>> = {};
  const undeclaredByTable: Record<string, Set<string>> = {};
  const out: FirehoseOutputRecord[] = [];
  for (const input of records) {
    let decision: RouteDecision;
    try {
      decision = routeStreamRecord(JSON.parse(Buffer.from(input.data, 'base64').toString('utf8')), schema);
    } catch {
      decision = unroutable('not a DynamoDB stream record');
    }
    if (decision.kind === 'unroutable') {
      counts.analytics_records_unroutable += 1;
      unroutableByReason[decision.reason] = (unroutableByReason[decision.reason] ?? 0) + 1;
      out.push({ recordId: input.recordId, result: 'ProcessingFailed', data: input.data });
      continue;
    }
    counts.analytics_records_routed += 1;
    counts.analytics_undeclared_columns += decision.undeclaredColumns.length;
    if (decision.undeclaredColumns.length > 0) {
      const seen = (undeclaredByTable[decision.table] ??= new Set());
      for (const c of decision.undeclaredColumns) seen.add(c);
    }
    out.push({
      recordId: input.recordId,
      result: 'Ok',
      data: Buffer.from(JSON.stringify(decision.row), 'utf8').toString('base64'),
      metadata: {
        otfMetadata: {
          destinationDatabaseName: databaseName,
          destinationTableName: decision.table,
          operation: decision.operation,
        },
      },
    });
  }
  return {
    records: out,
    counts,
    unroutableByReason,
    undeclaredByTable: Object.fromEntries(
      Object.entries(undeclaredByTable).map(([t, s]) => [t, [...s].sort()]),
    ),
  };
}

/**
 * The record an erasure re-sends to the delivery stream (PutRecordBatch) after Firehose's buffer interval, so a
 * late update of a row cannot outlive its delete: the shape of a REMOVE stream record, with the row as stored
 * before it was deleted as the old image. Only the keys, the row type and the columns `rowday` is computed from
 * travel (ROW_DAY_SOURCES); it is routed exactly like the stream's own REMOVE.
 */
export function erasureDeleteRecord(row: StoredRow): string {
  const rowType = typeof row.rowType === 'string' ? row.rowType : '';
  const keep = ['pk', 'sk', 'rowType', ...(ROW_DAY_SOURCES[rowType] ?? [])];
  const image: Record<string, AttributeValue> = {};
  for (const name of keep) {
    const value = row[name];
    if (typeof value === 'string') image[name] = { S: value };
    else if (typeof value === 'number') image[name] = { N: String(value) };
  }
  return JSON.stringify({ eventName: 'REMOVE', dynamodb: { OldImage: image } });
}

/** The route function's one setting, read once at its module scope. */
export interface AnalyticsRouteSettings {
  /** Glue database of the Iceberg tables (ANALYTICS_DATABASE). */
  databaseName: string;
}

export function loadAnalyticsRouteSettings(
  env: Readonly<Record<string, string | undefined>>,
): AnalyticsRouteSettings {
  const databaseName = env.ANALYTICS_DATABASE?.trim() ?? '';
  if (!/^[a-z0-9_]{1,255}$/.test(databaseName)) {
    throw new Error(
      `ANALYTICS_DATABASE must be a Glue database name (lower case letters, digits and _), got "${databaseName}"`,
    );
  }
  return { databaseName };
}
