import {
  BatchWriteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type DynamoDBClientConfig,
} from '@aws-sdk/client-dynamodb';
import type { StorageSettings } from '../../lib/config';
import { createDocumentClient } from '../../lib/store/dynamo';
import { crc32, DynamoFaultProxy } from '../support/dynamo-fault-proxy';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';

jest.setTimeout(30_000);

describe.each(storageBackends())('DynamoDB fault proxy in front of $name (the real SDK)', ({ start }) => {
  let dynamo: LocalDynamo;
  let proxy: DynamoFaultProxy;
  let settings: StorageSettings;
  const clients: DynamoDBClient[] = [];

  function client(config: Partial<DynamoDBClientConfig> = {}): DynamoDBClient {
    const c = new DynamoDBClient({
      region: 'local',
      endpoint: proxy.endpoint,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
      ...config,
    });
    clients.push(c);
    return c;
  }

  const put = (table: string, pk: string) =>
    new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, sk: { S: 'x' } } });
  const batch = (table: string, pks: string[]) =>
    new BatchWriteItemCommand({
      RequestItems: {
        [table]: pks.map((pk) => ({ PutRequest: { Item: { pk: { S: pk }, sk: { S: 'x' } } } })),
      },
    });
  const exists = async (table: string, pk: string): Promise<boolean> =>
    (await client().send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk }, sk: { S: 'x' } } })))
      .Item !== undefined;

  async function failure(
    promise: Promise<unknown>,
  ): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
    try {
      await promise;
    } catch (error) {
      return error as Error;
    }
    throw new Error('expected the call to fail');
  }

  beforeAll(async () => {
    dynamo = await start();
    proxy = await DynamoFaultProxy.start({ target: dynamo.endpoint, seed: 3 });
    settings = { ...dynamo.settings('proxy'), dynamoDbEndpoint: proxy.endpoint };
    // Created through the proxy: CreateTable and DescribeTable pass untouched.
    await dynamo.createTables(settings);
  }, 60_000);
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await proxy.close();
    await dynamo.close();
  });
  beforeEach(() => {
    proxy.clearRules();
    proxy.resetStats();
  });

  describe('rules', () => {
    it('forwards every call untouched without rules', async () => {
      await client().send(put(settings.captureTable, 'a'));
      expect(await exists(settings.captureTable, 'a')).toBe(true);
      expect(proxy.stats()).toEqual({ requests: 2, byOperation: { PutItem: 1, GetItem: 1 }, faults: {} });
    });

    it('answers ProvisionedThroughputExceededException, ThrottlingException and 500 as DynamoDB does', async () => {
      proxy.addRule({ operations: ['PutItem'], fault: 'throughput_exceeded', times: 1 });
      proxy.addRule({ operations: ['PutItem'], fault: 'throttling', times: 1 });
      proxy.addRule({ operations: ['PutItem'], fault: 'internal_error', times: 1 });
      const c = client();
      const e1 = await failure(c.send(put(settings.captureTable, 'b')));
      expect(e1.name).toBe('ProvisionedThroughputExceededException');
      expect(e1.$metadata?.httpStatusCode).toBe(400);
      const e2 = await failure(c.send(put(settings.captureTable, 'b')));
      expect(e2.name).toBe('ThrottlingException');
      const e3 = await failure(c.send(put(settings.captureTable, 'b')));
      expect(e3.name).toBe('InternalServerError');
      expect(e3.$metadata?.httpStatusCode).toBe(500);
      // All three rules are spent: the fourth call goes through, and nothing before it was written.
      expect(await exists(settings.captureTable, 'b')).toBe(false);
      await c.send(put(settings.captureTable, 'b'));
      expect(await exists(settings.captureTable, 'b')).toBe(true);
      expect(proxy.stats().faults).toEqual({
        'PutItem:throughput_exceeded': 1,
        'PutItem:throttling': 1,
        'PutItem:internal_error': 1,
      });
    });

    it('picks calls by operation and by table (TableName or RequestItems keys)', async () => {
      const rule = proxy.addRule({
        operations: ['BatchWriteItem'],
        tables: [settings.captureTable],
        fault: 'throughput_exceeded',
      });
      const c = client();
      expect((await failure(c.send(batch(settings.captureTable, ['c1', 'c2'])))).name).toBe(
        'ProvisionedThroughputExceededException',
      );
      await c.send(batch(settings.queueTable, ['c1']));
      await c.send(put(settings.captureTable, 'c3'));
      expect(rule.matched).toBe(1);
      expect(rule.picked).toBe(1);
      expect(rule.spent).toBe(false);
      rule.remove();
      await c.send(batch(settings.captureTable, ['c1']));
      expect(await exists(settings.captureTable, 'c1')).toBe(true);
    });

    it('picks by a predicate on the request body', async () => {
      proxy.addRule({
        operations: ['PutItem'],
        match: (call) => JSON.stringify(call.body?.Item).includes('"poison"'),
        fault: 'internal_error',
      });
      const c = client();
      await c.send(put(settings.captureTable, 'fine'));
      expect((await failure(c.send(put(settings.captureTable, 'poison')))).name).toBe('InternalServerError');
    });

    it('the SDK retries throttling and 500s through the proxy, and succeeds once the rule is spent', async () => {
      proxy.addRule({ operations: ['PutItem'], fault: 'throughput_exceeded', times: 2 });
      proxy.addRule({ operations: ['PutItem'], fault: 'internal_error', times: 1 });
      const documentClient = createDocumentClient(settings);
      await documentClient.send(put(settings.captureTable, 'd'));
      documentClient.destroy();
      expect(proxy.stats().byOperation.PutItem).toBe(4);
      expect(await exists(settings.captureTable, 'd')).toBe(true);
    });

    it('fails a share of calls at a seeded rate', async () => {
      const rule = proxy.addRule({ operations: ['GetItem'], fault: 'internal_error', rate: 0.3 });
      const c = client();
      let failed = 0;
      for (let i = 0; i < 100; i++) {
        const ok = await c
          .send(
            new GetItemCommand({ TableName: settings.captureTable, Key: { pk: { S: 'x' }, sk: { S: 'x' } } }),
          )
          .then(
            () => true,
            () => false,
          );
        if (!ok) failed++;
      }
      expect(rule.matched).toBe(100);
      expect(rule.picked).toBe(failed);
      expect(failed).toBeGreaterThan(15);
      expect(failed).toBeLessThan(45);
    });

    it('returns every item of a BatchWriteItem unprocessed, writing none', async () => {
      proxy.addRule({ operations: ['BatchWriteItem'], fault: 'unprocessed', times: 1 });
      const c = client();
      const answer = await c.send(batch(settings.captureTable, ['u1', 'u2']));
      expect(answer.UnprocessedItems?.[settings.captureTable]).toHaveLength(2);
      expect(await exists(settings.captureTable, 'u1')).toBe(false);
      const again = await c.send(batch(settings.captureTable, ['u1', 'u2']));
      expect(again.UnprocessedItems?.[settings.captureTable] ?? []).toHaveLength(0);
      expect(await exists(settings.captureTable, 'u2')).toBe(true);
      expect(() => proxy.addRule({ fault: 'unprocessed' })).toThrow(/BatchWriteItem/);
    });

    it('delays calls', async () => {
      proxy.addRule({ operations: ['Query'], delayMs: 300, times: 1 });
      const c = client();
      const query = () =>
        c.send(
          new QueryCommand({
            TableName: settings.captureTable,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: 'nothing' } },
          }),
        );
      const startedMs = Date.now();
      await query();
      expect(Date.now() - startedMs).toBeGreaterThanOrEqual(290);
      const againMs = Date.now();
      await query();
      expect(Date.now() - againMs).toBeLessThan(250);
      expect(proxy.stats().faults).toEqual({ 'Query:delay': 1 });
    });

    it('resets connections before forwarding (nothing written) or after (written, answer lost)', async () => {
      proxy.addRule({ operations: ['PutItem'], fault: 'reset', times: 1 });
      proxy.addRule({ operations: ['PutItem'], fault: 'reset_after_forward', times: 1 });
      const c = client();
      const before = await failure(c.send(put(settings.captureTable, 'r1')));
      expect(before.message).toMatch(/socket hang up|ECONNRESET/);
      expect(await exists(settings.captureTable, 'r1')).toBe(false);
      const after = await failure(c.send(put(settings.captureTable, 'r2')));
      expect(after.message).toMatch(/socket hang up|ECONNRESET/);
      expect(await exists(settings.captureTable, 'r2')).toBe(true);
    });

    it('checks its rules and computes DynamoDB’s CRC-32', () => {
      expect(() => proxy.addRule({ operations: ['Query'] })).toThrow(/fault, a delay/);
      expect(() => proxy.addRule({ fault: 'reset', rate: 2 })).toThrow(/rate/);
      expect(() => proxy.addRule({ fault: 'reset', times: 0 })).toThrow(/times/);
      // The standard check value of CRC-32 (IEEE 802.3).
      expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    });
  });
});
