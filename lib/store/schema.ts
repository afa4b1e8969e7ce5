/**
 * The one definition of both tables' schemas. CDK (infra/) and local setup (`lpv tables create`) read it;
 * neither spells a key name or an index on its own.
 *
 * Key layout (see docs/access-patterns.md for the questions each key answers):
 *
 * Queue table, one item per (accountId, visitorId, sid):
 *   pk       = `${accountId}#${visitorId}#${sid}`          ('#' cannot occur in a valid id)
 *   GSI due: dueShard = `${accountId}#${0..QUEUE_DUE_SHARDS-1}` (S), nextPollAtMs (N)
 *            sparse: only ACTIVE items carry dueShard, so the index holds exactly the work left to do,
 *            spread over shards so that no single partition takes every poller's reads.
 *
 * Capture table (single-table design):
 *   pk = `S#${accountId}#${sid}`, sk = row key within the session     → (1) all rows of a session
 *   GSI byVisitor:   gsi1pk = `V#${accountId}#${visitorId}`, gsi1sk = `${startTimeMs}#${sid}#...`
 *                                                                      → (2) a visitor's sessions
 *   GSI byEventType: gsi2pk = `E#${accountId}#${eventType}#${yyyy-mm-dd}#${shard}`,
 *                    gsi2sk = `${serverTimeStamp}#${sid}#...`           → (3) an event type over a time range
 *   GSI byStartDay:  gsi3pk = `D#${accountId}#${yyyy-mm-dd}#${shard}`, gsi3sk = `${startTimeMs}#${sid}#...`
 *                                                                      → (4) sessions started in a range
 */
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

/** Shards of the queue's due index: 16 partitions can each serve 3,000 reads/s, far above our need. */
export const QUEUE_DUE_SHARDS = 16;
/** Shards per (account, event type, day) and per (account, day) in the capture table's time indexes. */
export const CAPTURE_DAY_SHARDS = 8;

export const QUEUE_TABLE: TableDefinition = {
  logicalName: 'Queue',
  partitionKey: { name: 'pk', type: 'S' },
  indexes: [
    {
      indexName: 'due',
      partitionKey: { name: 'dueShard', type: 'S' },
      sortKey: { name: 'nextPollAtMs', type: 'N' },
      projection: 'ALL',
    },
  ],
  ttlAttributeSec: 'expiresAtSec',
};

export const CAPTURE_TABLE: TableDefinition = {
  logicalName: 'Capture',
  partitionKey: { name: 'pk', type: 'S' },
  sortKey: { name: 'sk', type: 'S' },
  indexes: [
    {
      indexName: 'byVisitor',
      partitionKey: { name: 'gsi1pk', type: 'S' },
      sortKey: { name: 'gsi1sk', type: 'S' },
      projection: 'ALL',
    },
    {
      indexName: 'byEventType',
      partitionKey: { name: 'gsi2pk', type: 'S' },
      sortKey: { name: 'gsi2sk', type: 'S' },
      projection: 'ALL',
    },
    {
      indexName: 'byStartDay',
      partitionKey: { name: 'gsi3pk', type: 'S' },
      sortKey: { name: 'gsi3sk', type: 'S' },
      projection: 'ALL',
    },
  ],
};

/** Names of the key attributes of the capture table, which a payload key must never overwrite. */
export const CAPTURE_KEY_ATTRIBUTES: readonly string[] = [
  CAPTURE_TABLE.partitionKey.name,
  ...(CAPTURE_TABLE.sortKey ? [CAPTURE_TABLE.sortKey.name] : []),
  ...CAPTURE_TABLE.indexes.flatMap((i) => [i.partitionKey.name, i.sortKey.name]),
];
