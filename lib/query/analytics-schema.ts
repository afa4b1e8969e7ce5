/**
 * The shape of analytics-schema.json: the Glue/Athena schema of the S3 copy of the capture rows, one table
 * per row type (infra/analytics.ts declares the Glue tables from it). The JSON is generated at build time
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
  /** Partition column of every table: the UTC day the row was written (lib/query/partition.ts). */
  partitionKey: 'dt';
  tables: AnalyticsTable[];
}
