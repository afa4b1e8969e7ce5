import schemaJson from '../../lib/query/analytics-schema.json';
import type { AnalyticsSchema, AnalyticsTable } from '../../lib/query/analytics-schema';
import { routeStreamRecord } from '../../lib/query/analytics-route';
import { createTableDdl, planMigration, tableLocation } from '../../lib/query/analytics-schema-ddl';
import type { StoredRow } from '../../lib/store/capture-store';
import { liveTables, migrationScript } from '../../tools/analytics/migrate';
import { IcebergTableModel } from '../support/iceberg-model';

/**
 * The schema path of the Iceberg tables, against the generated schema (lib/query/analytics-schema.json), with
 * no AWS account: a table created before a column existed, rows written to it, the migration planned from the
 * live columns and applied, and nothing lost.
 */
const SCHEMA = schemaJson as AnalyticsSchema;
const DB = 'lp_visit_capture_iceberg';
const EVENT = SCHEMA.tables.find((t) => t.name === 'event') as AnalyticsTable;
/** The columns "new" to the table: declared by today's schema, absent when the table was created. */
const NEW_COLUMNS = ['total', 'orderid'];
const OLD_EVENT: AnalyticsTable = {
  ...EVENT,
  columns: EVENT.columns.filter((c) => !NEW_COLUMNS.includes(c.name)),
};
const OLD_SCHEMA: AnalyticsSchema = {
  ...SCHEMA,
  tables: SCHEMA.tables.map((t) => (t.name === 'event' ? OLD_EVENT : t)),
};

const T = Date.UTC(2024, 2, 10, 12);
function purchase(n: number): StoredRow {
  return {
    pk: `S#1#sid${n}`,
    sk: `EVENT#purchase#${String(T + n)}#h${n}#0`,
    rowType: 'event',
    accountId: '1',
    visitorId: `v${n}`,
    sid: `sid${n}`,
    eventType: 'purchase',
    serverTimeStamp: T + n,
    capturedAtMs: T + n + 60_000,
    total: 10 + n / 10,
    orderId: `order-${n}`,
  };
}
function streamInsert(row: StoredRow): unknown {
  const image = Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? { N: String(v) } : { S: String(v) }]),
  );
  return { eventName: 'INSERT', dynamodb: { NewImage: image } };
}
/** What the route function hands Firehose for the row, under a given schema, and what it counted. */
function routed(row: StoredRow, schema: AnalyticsSchema): { row: StoredRow; undeclared: string[] } {
  const d = routeStreamRecord(streamInsert(row), schema);
  if (d.kind !== 'route') throw new Error(d.reason);
  return { row: d.row, undeclared: d.undeclaredColumns };
}

describe('the schema path of the Iceberg tables', () => {
  it('creates every table with every generated column, pk, sk and the partition column', () => {
    for (const table of SCHEMA.tables) {
      const model = new IcebergTableModel();
      model.apply(createTableDdl(SCHEMA, table, DB, tableLocation('rows-bucket', table.name)));
      expect(model.columns.map((c) => [c.name, c.type])).toEqual(table.columns.map((c) => [c.name, c.type]));
      expect(model.partitionColumn).toBe('rowday');
      expect(model.columns.map((c) => c.name)).toEqual(expect.arrayContaining(['pk', 'sk', 'rowday']));
    }
  });

  it('adds a new column without losing data: old rows keep every value, and read null in the new column', () => {
    const model = new IcebergTableModel();
    model.apply(createTableDdl(OLD_SCHEMA, OLD_EVENT, DB, tableLocation('rows-bucket', 'event')));
    // Before the migration the route function (built from the old schema) counts the new columns as undeclared.
    const before = [1, 2, 3].map((n) => routed(purchase(n), OLD_SCHEMA));
    expect(before.map((r) => r.undeclared.sort())).toEqual([
      ['orderid', 'total'],
      ['orderid', 'total'],
      ['orderid', 'total'],
    ]);
    for (const r of before) model.write(r.row);
    const readBefore = model.read();

    const live = model.columns.map((c) => ({ name: c.name, type: c.type }));
    const plan = planMigration(EVENT, live, DB);
    expect(plan.add.map((c) => c.name).sort()).toEqual([...NEW_COLUMNS].sort());
    expect(plan.typeDiffers).toEqual([]);
    expect(plan.notInSchema).toEqual([]);
    expect(plan.statements).toHaveLength(1);
    expect(plan.statements[0]).toMatch(/^ALTER TABLE `lp_visit_capture_iceberg`\.`event` ADD COLUMNS \(/);
    for (const s of plan.statements) model.apply(s);

    // The table now is the generated schema (as a set: Iceberg appends added columns at the end).
    expect(new Map(model.columns.map((c) => [c.name, c.type]))).toEqual(
      new Map(EVENT.columns.map((c) => [c.name, c.type])),
    );
    // Every value of every old row is still there, the new columns read null in them.
    const readAfter = model.read();
    readBefore.forEach((old, i) => {
      expect(readAfter[i]).toEqual({ ...old, total: null, orderid: null });
    });
    // A row written now keeps the new columns' values: the route function no longer counts them.
    const after = routed(purchase(4), SCHEMA);
    expect(after.undeclared).toEqual([]);
    model.write(after.row);
    expect(model.read()[3]).toMatchObject({
      total: 10.4,
      orderid: 'order-4',
      pk: 'S#1#sid4',
      rowday: '2024-03-10',
    });
    // Planned again, there is nothing left to do.
    expect(planMigration(EVENT, model.columns, DB).statements).toEqual([]);
  });

  it('never changes a type or drops a column: it reports them for a person and adds nothing for them', () => {
    const live = [
      ...EVENT.columns.map((c) => ({ name: c.name, type: c.name === 'total' ? 'bigint' : c.type })),
      { name: 'revactivevps_123_revision', type: 'bigint' },
    ];
    const plan = planMigration(EVENT, live, DB);
    expect(plan.statements).toEqual([]);
    expect(plan.typeDiffers).toEqual([{ name: 'total', live: 'bigint', schema: 'double' }]);
    expect(plan.notInSchema).toEqual(['revactivevps_123_revision']);
    // The model refuses anything but the two statements the generator writes (the check is live).
    expect(() => new IcebergTableModel().apply('ALTER TABLE `d`.`event` DROP COLUMN `total`')).toThrow(
      /does not accept/,
    );
  });

  it('prints the script from `aws glue get-tables` output: creates what is missing, adds what is new', () => {
    const list = {
      TableList: SCHEMA.tables
        .filter((t) => t.name !== 'outcome')
        .map((t) => ({
          Name: t.name,
          StorageDescriptor: {
            Columns: (t.name === 'event' ? OLD_EVENT : t).columns.map((c) => ({
              Name: c.name,
              Type: c.type,
            })),
          },
        })),
    };
    const withBucket = migrationScript(SCHEMA, liveTables(list), DB, 'rows-bucket');
    expect(withBucket.needsAPerson).toBe(false);
    expect(withBucket.text).toMatch(
      /^ALTER TABLE `lp_visit_capture_iceberg`\.`event` ADD COLUMNS \(.*`total` double/m,
    );
    expect(withBucket.text).toMatch(/^CREATE TABLE IF NOT EXISTS `lp_visit_capture_iceberg`\.`outcome` \(/m);
    expect(withBucket.text).toContain("LOCATION 's3://rows-bucket/iceberg/outcome/'");
    expect(withBucket.text).toContain('-- session: up to date');
    expect(migrationScript(SCHEMA, liveTables(list), DB, undefined).needsAPerson).toBe(true);
  });
});
