/**
 * The one definition of both tables' schemas. CDK (infra/) and local setup (`lpv tables create`) read it;
 * neither spells a key name or an index on its own. The key attribute names, the shard counts and the layout
 * of the keys are in lib/keys.ts: the definitions below are built from them, adding only what DynamoDB needs
 * besides (attribute types, projections, TTL). See docs/access-patterns.md for the questions each key answers.
 */
import {
  CAPTURE_INDEXES,
  CAPTURE_PRIMARY_KEY,
  CAPTURE_TTL_ATTRIBUTE,
  QUEUE_DUE_INDEX,
  QUEUE_PRIMARY_KEY,
  type IndexKeyNames,
} from '../keys';

export type AttributeType = 'S' | 'N';

export interface KeyAttribute {
  readonly name: string;
  readonly type: AttributeType;
}

export interface IndexDefinition {
  readonly indexName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey: KeyAttribute;
  /** ALL or KEYS_ONLY: what the index copies. */
  readonly projection: 'ALL' | 'KEYS_ONLY';
}

export interface TableDefinition {
  /** Logical name; CDK construct id and the default local table name derive from it. */
  readonly logicalName: string;
  readonly partitionKey: KeyAttribute;
  readonly sortKey?: KeyAttribute;
  readonly indexes: readonly IndexDefinition[];
  /** Attribute holding the TTL in epoch **seconds** (DynamoDB's unit), if the table expires items. */
  readonly ttlAttributeSec?: string;
}

/** A string key attribute (every key of both tables but the due index's nextPollAtMs). */
function stringKey(name: string): KeyAttribute {
  return { name, type: 'S' };
}

/** An index on string keys that copies whole items. */
function allStringIndex(keys: IndexKeyNames): IndexDefinition {
  return {
    indexName: keys.indexName,
    partitionKey: stringKey(keys.partitionKey),
    sortKey: stringKey(keys.sortKey),
    projection: 'ALL',
  };
}

export const QUEUE_TABLE: TableDefinition = {
  logicalName: 'Queue',
  partitionKey: stringKey(QUEUE_PRIMARY_KEY.partitionKey),
  indexes: [
    {
      indexName: QUEUE_DUE_INDEX.indexName,
      partitionKey: stringKey(QUEUE_DUE_INDEX.partitionKey),
      sortKey: { name: QUEUE_DUE_INDEX.sortKey, type: 'N' },
      projection: 'ALL',
    },
  ],
  ttlAttributeSec: 'expiresAtSec',
};

export const CAPTURE_TABLE: TableDefinition = {
  logicalName: 'Capture',
  partitionKey: stringKey(CAPTURE_PRIMARY_KEY.partitionKey),
  sortKey: stringKey(CAPTURE_PRIMARY_KEY.sortKey),
  indexes: CAPTURE_INDEXES.map(allStringIndex),
  // Declared whatever the retention: a row without the attribute never expires (retention `keep`).
  ttlAttributeSec: CAPTURE_TTL_ATTRIBUTE,
};
