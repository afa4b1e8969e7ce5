/**
 * `npx tsx tools/analytics/migrate.ts TABLES.json [--database NAME] [--bucket NAME]`: the schema step of a
 * deploy that changes the analytics columns (docs/deploy.md). TABLES.json is what
 * `aws glue get-tables --database-name lp_visit_capture_iceberg` prints; the output is the Athena statements
 * that bring every table to lib/query/analytics-schema.json (`npm run docs`), by adding columns only
 * (lib/query/analytics-schema-ddl.ts says why), plus a CREATE for a table that does not exist yet (with
 * --bucket). Differences it will not fix (a changed type, a column the schema dropped) are printed as comments,
 * and make it exit 2. It prints, it does not run: run the statements in the lp-visit-capture workgroup.
 */
import { readFileSync } from 'node:fs';
import schemaJson from '../../lib/query/analytics-schema.json';
import type { AnalyticsSchema } from '../../lib/query/analytics-schema';
import {
  createTableDdl,
  planMigration,
  tableLocation,
  type LiveColumn,
} from '../../lib/query/analytics-schema-ddl';

interface GlueTableList {
  TableList?: { Name: string; StorageDescriptor?: { Columns?: { Name: string; Type: string }[] } }[];
}

/** Live tables by name (their columns), from `aws glue get-tables` output. */
export function liveTables(list: GlueTableList): Map<string, LiveColumn[]> {
  return new Map(
    (list.TableList ?? []).map((t) => [
      t.Name.toLowerCase(),
      (t.StorageDescriptor?.Columns ?? []).map((c) => ({ name: c.Name, type: c.Type })),
    ]),
  );
}

/** The migration script for every table of the schema, and whether something needs a person. */
export function migrationScript(
  schema: AnalyticsSchema,
  live: Map<string, LiveColumn[]>,
  databaseName: string,
  bucketName: string | undefined,
): { text: string; needsAPerson: boolean } {
  const lines: string[] = [];
  let needsAPerson = false;
  for (const table of schema.tables) {
    const columns = live.get(table.name);
    if (columns === undefined) {
      if (bucketName === undefined) {
        lines.push(`-- ${table.name}: no such table (pass --bucket to print its CREATE TABLE)`);
        needsAPerson = true;
      } else {
        lines.push(`${createTableDdl(schema, table, databaseName, tableLocation(bucketName, table.name))};`);
      }
      continue;
    }
    const plan = planMigration(table, columns, databaseName);
    for (const s of plan.statements) lines.push(`${s};`);
    for (const d of plan.typeDiffers) {
      lines.push(
        `-- ${table.name}.${d.name}: live type ${d.live}, schema ${d.schema}: not changed (see the header)`,
      );
      needsAPerson = true;
    }
    for (const n of plan.notInSchema) lines.push(`-- ${table.name}.${n}: not in the schema any more: kept`);
    if (plan.statements.length === 0 && plan.typeDiffers.length === 0)
      lines.push(`-- ${table.name}: up to date`);
  }
  return { text: lines.join('\n') + '\n', needsAPerson };
}

function main(argv: string[]): number {
  const file = argv.find((a) => !a.startsWith('--'));
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  if (file === undefined) {
    process.stderr.write('usage: migrate.ts TABLES.json [--database NAME] [--bucket NAME]\n');
    return 1;
  }
  const list = JSON.parse(readFileSync(file, 'utf8')) as GlueTableList;
  const { text, needsAPerson } = migrationScript(
    schemaJson as AnalyticsSchema,
    liveTables(list),
    option('database') ?? 'lp_visit_capture_iceberg',
    option('bucket'),
  );
  process.stdout.write(text);
  return needsAPerson ? 2 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
