/**
 * The shape of analytics-schema.json: the schema of the Iceberg tables of the analytics copy, one table per row
 * type (infra/analytics.ts creates the tables from it, tools/analytics/migrate.ts evolves them to it, the route
 * function casts and checks rows against it). The JSON is generated at build time
 * from the data dictionary (tools/docs/analytics-schema.ts, `npm run docs`) and committed; nothing here
 * computes it, so the runtime depends on no generator code.
 */
export type GlueType = 'string' | 'bigint' | 'double' | 'boolean';

export interface AnalyticsColumn {
  /** Lower case, as Athena shows it. */
  name: string;
  type: GlueType;
  /** Personal-data marking (and retention), or empty. Glue comments are at most 255 characters. */
  comment: string;
}

export interface AnalyticsTable {
  /** Glue table name: the row type in lower case (`eventitem`). */
  name: string;
  rowType: string;
  columns: AnalyticsColumn[];
}

export interface AnalyticsSchema {
  /**
   * Partition column of every table (identity partitioning): the UTC day of a time fixed for the row's life,
   * computed by lib/query/analytics-route.ts (rowDay). A column of every table.
   */
  partitionKey: 'rowday';
  /** Firehose's unique keys of every table (columns of every table): the capture table's primary key. */
  uniqueKeys: ['pk', 'sk'];
  tables: AnalyticsTable[];
}
