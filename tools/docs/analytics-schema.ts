/**
 * Builds the Glue/Athena schema of the S3 copy of the capture rows (infra/analytics.ts): one table per row
 * type, its columns GENERATED from the data dictionary (dictionary.ts: the same samples, naming rule and
 * personal-data classification), stored in lib/query/analytics-schema.json by `npm run docs` and checked for
 * drift by a test.
 *
 * Glue and Athena fold column names to lower case, so columns are merged by lower-cased name (the naming rule
 * keeps names unique case-insensitively within a row; across event types of the one `event` table, `Topic`
 * and `topic` are the same column, which is what Athena would make of them anyway). Types:
 *   - our integer columns (epoch ms, counters) → bigint; other numbers → double (a price seen as 12 may be 11.7);
 *   - booleans → boolean; strings, JSON text (id-keyed maps such as revActiveVPs included: one column each
 *     since schema version 3, read with json_extract or CAST(json_parse(...) AS MAP(VARCHAR, JSON))), columns
 *     only ever seen null, mixed types → string;
 *   - every column holding personal data (lib/privacy: any category, any mode) → string, whatever its values:
 *     a hash turns a number (a customerId, a year of birth) into text, and an operator may switch any category
 *     to `hash`, so the schema must hold under every policy. Columns the default policy drops are declared too
 *     (string), for deployments that keep them.
 * Kept: the table keys pk and sk (Firehose's unique keys, unlike `lpv export`, which drops them), plus the
 * partition column `rowday` (lib/query/analytics-route.ts computes it; no stored row has it). Left out: the
 * index attributes (gsi*). The per-id columns of rows of schema version 2 and before
 * (revActiveVPs_<id>_revision) cannot be declared, one per VP/VB/OSL id: the route function counts them as
 * undeclared and Firehose drops them (analytics_undeclared_columns).
 */
import type { AnalyticsColumn, AnalyticsSchema, GlueType } from '../../lib/query/analytics-schema';
import { PARTITION_COLUMN, UNIQUE_KEYS } from '../../lib/query/analytics-route';
import { INTERNAL_COLUMNS } from '../../lib/query/rows';
import type { DataDictionary, DictionaryColumn, ValueType } from './dictionary';

function glueType(types: readonly ValueType[], integral: boolean): GlueType {
  const seen = types.filter((t) => t !== 'null');
  if (seen.length !== 1) return 'string';
  switch (seen[0]) {
    case 'number':
      return integral ? 'bigint' : 'double';
    case 'boolean':
      return 'boolean';
    default:
      return 'string';
  }
}

function merge(a: GlueType, b: GlueType): GlueType {
  if (a === b) return a;
  if ((a === 'bigint' && b === 'double') || (a === 'double' && b === 'bigint')) return 'double';
  return 'string';
}

function comment(column: DictionaryColumn): string {
  if (column.pii === undefined) return '';
  const { category, mode, why } = column.pii;
  return `personal data (${category}, default ${mode}): ${why}; retention: capture, analytics`.slice(0, 255);
}

const KEY_COMMENT = 'capture table key; with pk/sk the row identity (Firehose unique key)';
const PARTITION_COMMENT =
  'partition: UTC day of a time fixed for the row (event time, page or session start), or undated';

export function buildAnalyticsSchema(dictionary: DataDictionary): AnalyticsSchema {
  const tables = new Map<string, Map<string, AnalyticsColumn>>();
  const add = (rowType: string, column: DictionaryColumn, integral: boolean): void => {
    const key = (UNIQUE_KEYS as readonly string[]).includes(column.name);
    if (INTERNAL_COLUMNS.includes(column.name) && !key) return;
    const columns = tables.get(rowType) ?? new Map<string, AnalyticsColumn>();
    tables.set(rowType, columns);
    const name = column.name.toLowerCase();
    const type = column.pii !== undefined ? 'string' : glueType(column.types, integral);
    const existing = columns.get(name);
    columns.set(name, {
      name,
      type: existing ? merge(existing.type, type) : type,
      comment: existing?.comment || (key ? KEY_COMMENT : comment(column)),
    });
  };
  const rowTypes = new Set(dictionary.sections.map((s) => s.group.rowType));
  for (const c of dictionary.fixed) {
    for (const rowType of c.rowTypes) {
      if (rowType === '(any)') for (const t of [...rowTypes, 'outcome']) add(t, c, true);
      else add(rowType, c, true);
    }
  }
  for (const section of dictionary.sections) {
    for (const c of section.columns) add(section.group.rowType, c, false);
  }
  const order = ['session', 'page', 'engagement', 'event', 'eventItem', 'outcome'];
  for (const columns of tables.values()) {
    columns.set(PARTITION_COLUMN, { name: PARTITION_COLUMN, type: 'string', comment: PARTITION_COMMENT });
  }
  return {
    partitionKey: PARTITION_COLUMN,
    uniqueKeys: [...UNIQUE_KEYS],
    tables: [...tables.entries()]
      .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
      .map(([rowType, columns]) => ({
        name: rowType.toLowerCase(),
        rowType,
        columns: [...columns.values()].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)),
      })),
  };
}
