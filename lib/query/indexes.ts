/**
 * Which index a capture reader queries for each of its questions, and whether the rows must then be fetched by
 * key. The capture indexes copy keys only (lib/store/schema.ts); a table made before issue 16 has the legacy
 * ALL-projected ones (LEGACY_CAPTURE_INDEX_NAMES), and a stack being migrated has both for a while, the new one
 * unusable until DynamoDB has built it (docs/deploy.md, "Migrating the capture indexes"). One DescribeTable per
 * reader tells: per index, the current one when it is ACTIVE, else the legacy one when the table has it.
 */
import { DescribeTableCommand, type DescribeTableCommandOutput } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CAPTURE_INDEXES, LEGACY_CAPTURE_INDEX_NAMES } from '../keys';

/** The index a reader queries for one of CAPTURE_INDEXES. */
export interface ResolvedIndex {
  indexName: string;
  /** True when the index copies whole rows (ALL): nothing to fetch. Otherwise rows are fetched by key. */
  wholeRows: boolean;
}

/** By the current index name (CAPTURE_INDEXES' indexName). */
export type CaptureIndexLayout = Readonly<Record<string, ResolvedIndex>>;

/** The layout of a table made from lib/store/schema.ts as it is now: every index KEYS_ONLY. */
export const CURRENT_CAPTURE_INDEX_LAYOUT: CaptureIndexLayout = Object.freeze(
  Object.fromEntries(CAPTURE_INDEXES.map((i) => [i.indexName, { indexName: i.indexName, wholeRows: false }])),
);

type IndexDescription = NonNullable<
  NonNullable<DescribeTableCommandOutput['Table']>['GlobalSecondaryIndexes']
>[number];

/**
 * The layout a table's description implies (pure, for tests). An index neither ACTIVE nor legacy-backed keeps
 * its current name: the Query then fails with DynamoDB's own message, which says which index is missing.
 */
export function layoutOf(indexes: readonly IndexDescription[]): CaptureIndexLayout {
  const byName = new Map(indexes.map((i) => [i.IndexName, i]));
  const wholeRows = (i: IndexDescription): boolean => i.Projection?.ProjectionType === 'ALL';
  const layout: Record<string, ResolvedIndex> = {};
  for (const { indexName } of CAPTURE_INDEXES) {
    const current = byName.get(indexName);
    const legacyName = LEGACY_CAPTURE_INDEX_NAMES[indexName];
    const legacy = legacyName === undefined ? undefined : byName.get(legacyName);
    // An index being built (CREATING, backfilling) answers no Query: use the legacy one meanwhile.
    const usable = current !== undefined && (current.IndexStatus ?? 'ACTIVE') === 'ACTIVE';
    if (usable || legacy === undefined) {
      layout[indexName] = { indexName, wholeRows: current !== undefined && wholeRows(current) };
    } else {
      layout[indexName] = { indexName: legacy.IndexName as string, wholeRows: wholeRows(legacy) };
    }
  }
  return layout;
}

/** The layout of `tableName` as DynamoDB describes it now (one DescribeTable). */
export async function resolveCaptureIndexes(
  client: DynamoDBDocumentClient,
  tableName: string,
): Promise<CaptureIndexLayout> {
  const answer = await client.send(new DescribeTableCommand({ TableName: tableName }));
  return layoutOf(answer.Table?.GlobalSecondaryIndexes ?? []);
}
