/**
 * Athena DDL of the Iceberg tables, from the generated schema (analytics-schema.json). Pure text, two uses:
 *
 *   - creation, once: infra/analytics.ts runs `createTableDdl` for every table through a custom resource when
 *     the stack is created (CREATE TABLE IF NOT EXISTS; never re-run on updates). The tables are not declared as
 *     AWS::Glue::Table: CloudFormation updates of Iceberg tables strip their Iceberg properties
 *     (aws-cloudformation/cloudformation-coverage-roadmap#1919, #2495), and Athena's DDL writes the Iceberg
 *     metadata that a bare Glue table lacks.
 *   - evolution: tools/analytics/migrate.ts compares the live tables (`aws glue get-tables`) with the schema and
 *     prints `planMigration`'s statements. A migration only ever ADDS columns: Iceberg adds a column by metadata
 *     alone (a new field id; files written before read it as null), so no row is rewritten or lost. A type that
 *     differs, or a live column the schema no longer has, is reported and left alone: neither can be changed
 *     without rewriting data, which is a decision for a person (Athena CTAS into a new table), not a deploy.
 */
import type { AnalyticsColumn, AnalyticsSchema, AnalyticsTable, GlueType } from './analytics-schema';

/** Where the tables' files live in the rows bucket: `<prefix><table>/` (data/ and metadata/ below it). */
export const ICEBERG_PREFIX = 'iceberg/';

const IDENTIFIER = /^[a-z0-9_]{1,255}$/;

function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`not a Glue identifier (lower case, digits, _): "${name}"`);
  return `\`${name}\``;
}

function literal(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function columnDdl(c: AnalyticsColumn): string {
  return `${identifier(c.name)} ${c.type}${c.comment !== '' ? ` COMMENT ${literal(c.comment)}` : ''}`;
}

/** The location of a table's files. */
export function tableLocation(bucketName: string, table: string): string {
  return `s3://${bucketName}/${ICEBERG_PREFIX}${table}/`;
}

/**
 * CREATE TABLE IF NOT EXISTS of one Iceberg table: every column of the schema, identity-partitioned by the
 * partition column, Parquet with ZSTD, format version 2 (row-level deletes).
 */
export function createTableDdl(
  schema: AnalyticsSchema,
  table: AnalyticsTable,
  databaseName: string,
  location: string,
): string {
  if (!table.columns.some((c) => c.name === schema.partitionKey)) {
    throw new Error(`table ${table.name} lacks the partition column ${schema.partitionKey}`);
  }
  for (const key of schema.uniqueKeys) {
    if (!table.columns.some((c) => c.name === key))
      throw new Error(`table ${table.name} lacks the key ${key}`);
  }
  return [
    `CREATE TABLE IF NOT EXISTS ${identifier(databaseName)}.${identifier(table.name)} (`,
    table.columns.map((c) => `  ${columnDdl(c)}`).join(',\n'),
    `)`,
    `PARTITIONED BY (${identifier(schema.partitionKey)})`,
    `LOCATION ${literal(location)}`,
    `TBLPROPERTIES ('table_type' = 'ICEBERG', 'format' = 'parquet', 'write_compression' = 'zstd')`,
  ].join('\n');
}

/** A column of a live table, as Glue lists it (`StorageDescriptor.Columns`). */
export interface LiveColumn {
  name: string;
  type: string;
}

export interface TableMigration {
  table: string;
  /** Columns of the schema the live table lacks: added. */
  add: AnalyticsColumn[];
  /** Columns whose live type differs from the schema's: reported, never changed. */
  typeDiffers: { name: string; live: string; schema: GlueType }[];
  /** Live columns the schema no longer has: reported, never dropped (their data stays readable). */
  notInSchema: string[];
  /** The statements to run in Athena (empty when nothing is to be added). */
  statements: string[];
}

/** What it takes to bring one live table to the schema, by adding columns only (see the header). */
export function planMigration(
  table: AnalyticsTable,
  live: readonly LiveColumn[],
  databaseName: string,
): TableMigration {
  const liveByName = new Map(live.map((c) => [c.name.toLowerCase(), c.type.toLowerCase()]));
  const add = table.columns.filter((c) => !liveByName.has(c.name));
  const typeDiffers = table.columns.flatMap((c) => {
    const liveType = liveByName.get(c.name);
    return liveType !== undefined && liveType !== c.type
      ? [{ name: c.name, live: liveType, schema: c.type }]
      : [];
  });
  const declared = new Set(table.columns.map((c) => c.name));
  const notInSchema = [...liveByName.keys()].filter((n) => !declared.has(n)).sort();
  const statements =
    add.length === 0
      ? []
      : [
          `ALTER TABLE ${identifier(databaseName)}.${identifier(table.name)} ADD COLUMNS (${add
            .map(columnDdl)
            .join(', ')})`,
        ];
  return { table: table.name, add, typeDiffers, notInSchema, statements };
}
