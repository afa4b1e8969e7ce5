import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type CreateTableCommandInput,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import type { StorageSettings } from '../config';
import { CAPTURE_TABLE, QUEUE_TABLE, type TableDefinition } from './schema';

/**
 * Every page of a Query, in order: a Query answers at most 1 MB (or `Limit` items) a call, and LastEvaluatedKey
 * says where the next page starts. The next page is asked for only when the caller takes it, after it has dealt
 * with this one.
 */
export async function* queryPages(
  client: DynamoDBDocumentClient,
  input: QueryCommandInput,
): AsyncGenerator<QueryCommandOutput> {
  let startKey: Record<string, unknown> | undefined;
  do {
    const answer = await client.send(
      new QueryCommand({ ...input, ...(startKey ? { ExclusiveStartKey: startKey } : {}) }),
    );
    startKey = answer.LastEvaluatedKey;
    yield answer;
  } while (startKey);
}

/** How our plain values become DynamoDB items (here and wherever items are marshalled by hand). */
export const MARSHALL_OPTIONS = Object.freeze({
  removeUndefinedValues: true,
  convertClassInstanceToMap: false,
} as const);
/**
 * How items become plain values: numbers as JavaScript numbers, also past ±2^53. What was stored came from a
 * JavaScript number (lib/store's captureItem), so no precision is lost, and no reader meets a BigInt
 * (JSON.stringify refuses those).
 */
export const UNMARSHALL_OPTIONS = Object.freeze({ wrapNumbers: (text: string): number => Number(text) });

/** One document client per container/process; DynamoDB endpoint from DYNAMODB_ENDPOINT (dynalite locally). */
export function createDocumentClient(settings: StorageSettings): DynamoDBDocumentClient {
  const client = new DynamoDBClient({
    region: settings.region,
    ...(settings.dynamoDbEndpoint !== undefined
      ? {
          endpoint: settings.dynamoDbEndpoint,
          // A local DynamoDB-compatible server accepts any credentials; do not require an AWS profile for it.
          credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        }
      : {}),
    maxAttempts: 5,
  });
  // Copies: DocumentClient writes its own defaults (convertTopLevelContainer, ...) into the objects it is given.
  return DynamoDBDocumentClient.from(client, {
    marshallOptions: { ...MARSHALL_OPTIONS },
    unmarshallOptions: { ...UNMARSHALL_OPTIONS },
  });
}

/** CreateTable input from the shared schema (on-demand billing, as in AWS). */
export function createTableInput(definition: TableDefinition, tableName: string): CreateTableCommandInput {
  const attributes = new Map<string, 'S' | 'N'>();
  const add = (a: { name: string; type: 'S' | 'N' }): void => {
    attributes.set(a.name, a.type);
  };
  add(definition.partitionKey);
  if (definition.sortKey) add(definition.sortKey);
  for (const index of definition.indexes) {
    add(index.partitionKey);
    add(index.sortKey);
  }
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [...attributes].map(([AttributeName, AttributeType]) => ({
      AttributeName,
      AttributeType,
    })),
    KeySchema: [
      { AttributeName: definition.partitionKey.name, KeyType: 'HASH' },
      ...(definition.sortKey ? [{ AttributeName: definition.sortKey.name, KeyType: 'RANGE' as const }] : []),
    ],
    ...(definition.indexes.length > 0
      ? {
          GlobalSecondaryIndexes: definition.indexes.map((index) => ({
            IndexName: index.indexName,
            KeySchema: [
              { AttributeName: index.partitionKey.name, KeyType: 'HASH' as const },
              { AttributeName: index.sortKey.name, KeyType: 'RANGE' as const },
            ],
            Projection: {
              ProjectionType: index.projection,
              ...(index.nonKeyAttributes !== undefined
                ? { NonKeyAttributes: [...index.nonKeyAttributes] }
                : {}),
            },
          })),
        }
      : {}),
  };
}

/**
 * Creates both tables if they do not exist, waits until they are ACTIVE, and turns on each table's TTL
 * attribute (the schema's ttlAttributeSec) where the server has TTL. Idempotent. The embedded DynamoDB
 * (dynalite) has no UpdateTimeToLive: there the TTL is left off, which changes nothing that the code relies on
 * (readers check expiry themselves, lib/query/reader.ts); DynamoDB Local and AWS get it (in AWS the CDK data
 * stack sets it too).
 */
export async function ensureTables(
  client: DynamoDBDocumentClient,
  settings: Pick<StorageSettings, 'queueTable' | 'captureTable'>,
): Promise<{ created: string[]; existing: string[] }> {
  const created: string[] = [];
  const existing: string[] = [];
  for (const [definition, name] of [
    [QUEUE_TABLE, settings.queueTable],
    [CAPTURE_TABLE, settings.captureTable],
  ] as const) {
    try {
      await client.send(new CreateTableCommand(createTableInput(definition, name)));
      created.push(name);
    } catch (error) {
      if (!(error instanceof ResourceInUseException)) throw error;
      existing.push(name);
    }
  }
  // dynalite answers CREATING even with createTableMs 0; the SDK waiter would sleep 20 s: poll instead.
  for (const name of [settings.queueTable, settings.captureTable]) {
    for (let attempt = 0; ; attempt++) {
      const described = await client.send(new DescribeTableCommand({ TableName: name }));
      const table = described.Table;
      const indexesActive = (table?.GlobalSecondaryIndexes ?? []).every((i) => i.IndexStatus === 'ACTIVE');
      if (table?.TableStatus === 'ACTIVE' && indexesActive) break;
      if (attempt > 600) throw new Error(`table ${name} not ACTIVE after 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  for (const [definition, name] of [
    [QUEUE_TABLE, settings.queueTable],
    [CAPTURE_TABLE, settings.captureTable],
  ] as const) {
    if (definition.ttlAttributeSec !== undefined)
      await ensureTimeToLive(client, name, definition.ttlAttributeSec);
  }
  return { created, existing };
}

/**
 * Turns on TTL on `attributeName` unless it is on already (DynamoDB refuses to enable it twice). Returns false
 * where the server has no UpdateTimeToLive (dynalite, which describes every table's TTL as DISABLED).
 */
export async function ensureTimeToLive(
  client: DynamoDBDocumentClient,
  tableName: string,
  attributeName: string,
): Promise<boolean> {
  const described = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = described.TimeToLiveDescription?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') {
    const current = described.TimeToLiveDescription?.AttributeName;
    if (current === attributeName) return true;
    // Another attribute: DynamoDB changes it only after disabling, an operator's decision, never setup's.
    throw new Error(`table ${tableName} expires items on ${String(current)}, not ${attributeName}`);
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: attributeName, Enabled: true },
      }),
    );
    return true;
  } catch (error) {
    if (error instanceof Error && error.name === 'UnknownOperationException') return false;
    throw error;
  }
}

/** Errors DynamoDB answers when a call was refused for load, after the SDK's own retries: worth resending. */
const THROTTLING_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
]);

export function isThrottlingError(error: unknown): boolean {
  return error instanceof Error && THROTTLING_ERRORS.has(error.name);
}

/**
 * The wait before resending a batch for the `attempt`-th time (1-based): `baseDelayMs` doubling per attempt,
 * with full jitter (`random()` in [0, 1)), so that many writers backing off do not come back together.
 */
export function batchBackoffMs(attempt: number, baseDelayMs: number, random: () => number): number {
  return random() * baseDelayMs * 2 ** (attempt - 1);
}
