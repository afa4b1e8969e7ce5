/**
 * The one definition of both tables' schemas. CDK (infra/) and local setup (`lpv tables create`) read it;
 * neither spells a key name or an index on its own. The key attribute names, the shard counts and the layout
 * of the keys are in lib/keys.ts: the definitions below are built from them, adding only what DynamoDB needs
 * besides (attribute types, projections, TTL). See docs/access-patterns.md for the questions each key answers.
 */
import {
  CAPTURE_BY_EVENT_TYPE,
  CAPTURE_BY_START_DAY,
  CAPTURE_BY_VISITOR,
  CAPTURE_PRIMARY_KEY,
  CAPTURE_TTL_ATTRIBUTE,
  LEGACY_CAPTURE_INDEX_NAMES,
  LEGACY_QUEUE_DUE_INDEX_NAME,
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
  /** What the index copies besides the keys: ALL, nothing (KEYS_ONLY), or INCLUDE `nonKeyAttributes`. */
  readonly projection: 'ALL' | 'KEYS_ONLY' | 'INCLUDE';
  /** The attributes an INCLUDE index copies (required for INCLUDE, absent otherwise). */
  readonly nonKeyAttributes?: readonly string[];
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

/**
 * What the due index copies besides its keys and the table's key, each for a reader of a due page:
 * - the poller (DynamoQueue.duePages, then Poller.tick/handle): the ids it claims by and logs with, `state` and
 *   `leaseUntilMs` for the query's filter (a claim sets the lease without moving the sort key: the filter skips
 *   live leases), `deadlineMs` for the tick's time-to-deadline. All else comes with the claim (ALL_NEW).
 * - the eraser (lib/store/dynamo-erasure.ts DynamoErasureRequests.pending) on its own partition: what a pending
 *   request is listed with (`visitorId`, `attempts` and `requestedAtMs` too). A leased request is told by its
 *   `nextPollAtMs` (the lease's end), a key.
 * A write that changes none of these (and no key) costs the index nothing; one that does costs 1 unit per index
 * item (they stay far below 1 KB), 2 when it moves the key (a delete and a put). Only the ack moves the key.
 */
export const QUEUE_DUE_PROJECTED_ATTRIBUTES: readonly string[] = Object.freeze([
  'accountId',
  'visitorId',
  'sid',
  'state',
  'deadlineMs',
  'leaseUntilMs',
  'kind',
  'requestId',
  'erasureStatus',
  'requestedAtMs',
  'attempts',
]);

/** The due index: the work left to do (lib/keys.ts). */
const QUEUE_DUE_INDEX_DEFINITION: IndexDefinition = {
  indexName: QUEUE_DUE_INDEX.indexName,
  partitionKey: stringKey(QUEUE_DUE_INDEX.partitionKey),
  sortKey: { name: QUEUE_DUE_INDEX.sortKey, type: 'N' },
  projection: 'INCLUDE',
  nonKeyAttributes: QUEUE_DUE_PROJECTED_ATTRIBUTES,
};

/** The due index before issue 16: same keys, whole items copied (a stack being migrated only). */
const LEGACY_QUEUE_DUE_INDEX_DEFINITION: IndexDefinition = {
  indexName: LEGACY_QUEUE_DUE_INDEX_NAME,
  partitionKey: QUEUE_DUE_INDEX_DEFINITION.partitionKey,
  sortKey: QUEUE_DUE_INDEX_DEFINITION.sortKey,
  projection: 'ALL',
};

/**
 * Where a stack stands in the move from the `due` index to `dueV2` (docs/deploy.md, "Migrating the queue's due
 * index"; context key lpv:queueDueIndexMigration). CloudFormation adds or removes one index per table per update
 * and cannot change a projection, and DynamoDB builds a new index after the update has ended, so:
 * - `add`: both indexes; the readers still query `due` while `dueV2` is built;
 * - `switch`: both indexes; the readers query `dueV2`;
 * - `done` (new stacks, and the last step): `dueV2` alone.
 */
export type QueueDueIndexMigration = 'add' | 'switch' | 'done';
export const QUEUE_DUE_INDEX_MIGRATION_STEPS: readonly QueueDueIndexMigration[] = ['add', 'switch', 'done'];

/** The queue table at a step of the due index's migration. */
export function queueTableDefinition(migration: QueueDueIndexMigration = 'done'): TableDefinition {
  return {
    logicalName: 'Queue',
    partitionKey: stringKey(QUEUE_PRIMARY_KEY.partitionKey),
    indexes:
      migration === 'done'
        ? [QUEUE_DUE_INDEX_DEFINITION]
        : [LEGACY_QUEUE_DUE_INDEX_DEFINITION, QUEUE_DUE_INDEX_DEFINITION],
    ttlAttributeSec: 'expiresAtSec',
  };
}

/** The name of the index the readers of due items query at a step of the migration. */
export function queueDueIndexRead(migration: QueueDueIndexMigration = 'done'): string {
  return migration === 'add' ? LEGACY_QUEUE_DUE_INDEX_NAME : QUEUE_DUE_INDEX.indexName;
}

export const QUEUE_TABLE: TableDefinition = queueTableDefinition('done');

/** A capture index that copies only the keys (the table's and its own): readers fetch rows by key. */
function keysOnlyStringIndex(keys: IndexKeyNames): IndexDefinition {
  return { ...allStringIndex(keys), projection: 'KEYS_ONLY' };
}

/**
 * Where a stack stands in the move from the capture table's ALL-projected indexes (`byVisitor`, `byStartDay`,
 * `byEventType`) to their KEYS_ONLY successors (`byVisitorKeys`, `byStartDayKeys`, `byEventTypeKeys`: same key
 * attributes, so DynamoDB backfills them from the rows already stored). docs/deploy.md, "Migrating the capture
 * indexes"; context key lpv:captureIndexMigration. CloudFormation adds or removes one index per table per update
 * and cannot change a projection in place, so one step per index and direction:
 * - `add-visitor`: the three legacy indexes and byVisitorKeys;
 * - `add-start-day`: ... and byStartDayKeys;
 * - `add-event-type`: ... and byEventTypeKeys (all six);
 * - `drop-visitor`, `drop-start-day`: the legacy byVisitor, then byStartDay, removed;
 * - `done` (new stacks, and the last step): the three KEYS_ONLY indexes alone.
 * The eraser reads the legacy byVisitor at `add-visitor` (its successor is still being built), byVisitorKeys from
 * `add-start-day` on (captureByVisitorIndexRead); the query CLI picks, per index, the KEYS_ONLY one once it is
 * ACTIVE and the legacy one until then (lib/query/indexes.ts), so it works at every step.
 */
export type CaptureIndexMigration =
  'add-visitor' | 'add-start-day' | 'add-event-type' | 'drop-visitor' | 'drop-start-day' | 'done';
export const CAPTURE_INDEX_MIGRATION_STEPS: readonly CaptureIndexMigration[] = [
  'add-visitor',
  'add-start-day',
  'add-event-type',
  'drop-visitor',
  'drop-start-day',
  'done',
];

/** A legacy (ALL-projected) capture index, by its successor's keys. */
function legacyCaptureIndex(keys: IndexKeyNames): IndexDefinition {
  const name = LEGACY_CAPTURE_INDEX_NAMES[keys.indexName];
  if (name === undefined) throw new Error(`no legacy name for ${keys.indexName}`);
  return allStringIndex({ ...keys, indexName: name });
}

/** The capture table's indexes at a step of the migration (see CaptureIndexMigration). */
function captureIndexesAt(migration: CaptureIndexMigration): IndexDefinition[] {
  const step = CAPTURE_INDEX_MIGRATION_STEPS.indexOf(migration);
  if (step < 0) throw new Error(`unknown capture index migration step: ${String(migration)}`);
  // In each list, the index's position in CAPTURE_INDEX_MIGRATION_STEPS at which it is added or dropped.
  const added: ReadonlyArray<[IndexKeyNames, number]> = [
    [CAPTURE_BY_VISITOR, 0],
    [CAPTURE_BY_START_DAY, 1],
    [CAPTURE_BY_EVENT_TYPE, 2],
  ];
  const dropped: ReadonlyArray<[IndexKeyNames, number]> = [
    [CAPTURE_BY_VISITOR, 3],
    [CAPTURE_BY_START_DAY, 4],
    [CAPTURE_BY_EVENT_TYPE, 5],
  ];
  return [
    ...dropped.filter(([, at]) => step < at).map(([keys]) => legacyCaptureIndex(keys)),
    ...added.filter(([, at]) => step >= at).map(([keys]) => keysOnlyStringIndex(keys)),
  ];
}

/** The capture table at a step of its indexes' migration. */
export function captureTableDefinition(migration: CaptureIndexMigration = 'done'): TableDefinition {
  return {
    logicalName: 'Capture',
    partitionKey: stringKey(CAPTURE_PRIMARY_KEY.partitionKey),
    sortKey: stringKey(CAPTURE_PRIMARY_KEY.sortKey),
    indexes: captureIndexesAt(migration),
    // Declared whatever the retention: a row without the attribute never expires (retention `keep`).
    ttlAttributeSec: CAPTURE_TTL_ATTRIBUTE,
  };
}

/** The byVisitor index the eraser queries (and is granted) at a step of the migration. */
export function captureByVisitorIndexRead(migration: CaptureIndexMigration = 'done'): string {
  return migration === 'add-visitor'
    ? (LEGACY_CAPTURE_INDEX_NAMES[CAPTURE_BY_VISITOR.indexName] as string)
    : CAPTURE_BY_VISITOR.indexName;
}

export const CAPTURE_TABLE: TableDefinition = captureTableDefinition('done');
