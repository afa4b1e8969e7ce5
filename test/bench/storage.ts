import { randomUUID } from 'node:crypto';
import { BatchWriteCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import pLimit from 'p-limit';
import { SESSION_MAX_AGE_MS, type Clock } from '../../lib/clock';
import type { StorageSettings } from '../../lib/config';
import type { EnqueueRequest } from '../../lib/queue/model';
import { createDocumentClient, ensureTables } from '../../lib/store/dynamo';
import { dueShardOf, queueKey } from '../../lib/keys';
import { QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS } from '../../lib/store/dynamo-queue';
import { createStorage, type Storage } from '../../lib/wiring';

/** Storage on fresh tables (unique names) of the DynamoDB-compatible server at `endpoint`. */
export async function freshStorage(
  endpoint: string,
  prefix: string,
  clock: Clock,
): Promise<{ settings: StorageSettings; storage: Storage }> {
  const id = randomUUID().slice(0, 8);
  const settings: StorageSettings = {
    dynamoDbEndpoint: endpoint,
    region: 'local',
    queueTable: `${prefix}-queue-${id}`,
    captureTable: `${prefix}-capture-${id}`,
  };
  const documentClient = createDocumentClient(settings);
  await ensureTables(documentClient, settings);
  return { settings, storage: createStorage(settings, clock, documentClient) };
}

/** Enqueues through the real queue (conditional puts), several chunks at once: setup, not measured. */
export async function enqueueAll(
  storage: Storage,
  accountId: string,
  requests: readonly EnqueueRequest[],
  chunkSize = 250,
  parallelChunks = 4,
): Promise<void> {
  const chunks: EnqueueRequest[][] = [];
  for (let i = 0; i < requests.length; i += chunkSize) chunks.push(requests.slice(i, i + chunkSize));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < chunks.length) {
      const chunk = chunks[next++] as EnqueueRequest[];
      const results = await storage.queue.enqueue(accountId, chunk);
      const notCreated = results.filter((r) => r.status !== 'created').length;
      if (notCreated > 0) throw new Error(`${notCreated} items already existed in a fresh queue table`);
    }
  };
  await Promise.all(Array.from({ length: parallelChunks }, worker));
}

/**
 * Setup of large queues (10,000 items) in seconds rather than minutes: the first two requests go through the
 * real DynamoQueue.enqueue, the first stored item becomes the template of the others (written with
 * BatchWriteItem), and the second proves the template right (an item built from the template must equal what
 * enqueue stored), so a change to the queue's item shape fails here instead of skewing a figure.
 */
export async function bulkEnqueue(
  storage: Storage,
  settings: StorageSettings,
  accountId: string,
  requests: readonly (EnqueueRequest & { startTimeMs: number })[],
): Promise<void> {
  const [first, second, ...rest] = requests;
  if (first === undefined || second === undefined) {
    await enqueueAll(storage, accountId, requests);
    return;
  }
  await enqueueAll(storage, accountId, [first, second]);
  const read = async (r: EnqueueRequest): Promise<Record<string, unknown>> => {
    const answer = await storage.documentClient.send(
      new GetCommand({
        TableName: settings.queueTable,
        Key: { pk: queueKey(accountId, r.visitorId, r.sid) },
      }),
    );
    if (answer.Item === undefined) throw new Error('bulkEnqueue: enqueued item not found');
    return answer.Item;
  };
  const template = await read(first);
  const build = (r: EnqueueRequest & { startTimeMs: number }): Record<string, unknown> => {
    const deadlineMs = r.startTimeMs + SESSION_MAX_AGE_MS;
    return {
      ...template,
      pk: queueKey(accountId, r.visitorId, r.sid),
      visitorId: r.visitorId,
      sid: r.sid,
      dueShard: dueShardOf(accountId, r.visitorId, r.sid),
      startTimeMs: r.startTimeMs,
      deadlineMs,
      expiresAtSec: Math.ceil((deadlineMs + QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS) / 1000),
    };
  };
  const stored = await read(second);
  const built = build(second);
  for (const key of new Set([...Object.keys(stored), ...Object.keys(built)])) {
    if (key === 'enqueuedAtMs' || key === 'nextPollAtMs') continue;
    if (JSON.stringify(stored[key]) !== JSON.stringify(built[key]))
      throw new Error(`bulkEnqueue: template out of date with DynamoQueue.enqueue (attribute ${key})`);
  }
  const chunks: Record<string, unknown>[][] = [];
  for (let i = 0; i < rest.length; i += 25) chunks.push(rest.slice(i, i + 25).map(build));
  const limit = pLimit(8);
  await Promise.all(
    chunks.map((chunk) =>
      limit(async () => {
        let requestsLeft = chunk.map((Item) => ({ PutRequest: { Item } }));
        for (let attempt = 0; requestsLeft.length > 0; attempt++) {
          if (attempt > 20) throw new Error('bulkEnqueue: items still unprocessed after 20 attempts');
          const answer = await storage.documentClient.send(
            new BatchWriteCommand({ RequestItems: { [settings.queueTable]: requestsLeft } }),
          );
          requestsLeft = (answer.UnprocessedItems?.[settings.queueTable] ?? []) as typeof requestsLeft;
        }
      }),
    ),
  );
}
