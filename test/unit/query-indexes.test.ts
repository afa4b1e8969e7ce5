/**
 * The capture readers' index resolution (KEYS_ONLY indexes, legacy ALL ones while a stack is migrated) and the
 * fetch of index pages' rows by key: 100 keys a BatchGetItem call, unprocessed keys sent again, index order kept.
 */
import type { GlobalSecondaryIndexDescription } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { CAPTURE_BY_EVENT_TYPE, CAPTURE_BY_START_DAY, CAPTURE_BY_VISITOR, capturePk } from '../../lib/keys';
import { CURRENT_CAPTURE_INDEX_LAYOUT, layoutOf } from '../../lib/query/indexes';
import { BATCH_GET_KEYS, CaptureReader } from '../../lib/query/reader';

const ACCOUNT = '12345678';
const TABLE = 'capture';

function index(
  name: string,
  projection: 'ALL' | 'KEYS_ONLY',
  status: 'ACTIVE' | 'CREATING' = 'ACTIVE',
): GlobalSecondaryIndexDescription {
  return { IndexName: name, IndexStatus: status, Projection: { ProjectionType: projection } };
}

describe('layoutOf', () => {
  it('uses the KEYS_ONLY indexes of a table made from the current schema, fetching rows', () => {
    const layout = layoutOf([
      index(CAPTURE_BY_VISITOR.indexName, 'KEYS_ONLY'),
      index(CAPTURE_BY_START_DAY.indexName, 'KEYS_ONLY'),
      index(CAPTURE_BY_EVENT_TYPE.indexName, 'KEYS_ONLY'),
    ]);
    expect(layout).toEqual(CURRENT_CAPTURE_INDEX_LAYOUT);
  });

  it('uses a legacy ALL index while its successor is missing or still being built, fetching nothing', () => {
    const layout = layoutOf([
      index('byVisitor', 'ALL'),
      index('byStartDay', 'ALL'),
      index('byEventType', 'ALL'),
      index(CAPTURE_BY_VISITOR.indexName, 'KEYS_ONLY'),
      index(CAPTURE_BY_START_DAY.indexName, 'KEYS_ONLY', 'CREATING'),
    ]);
    expect(layout[CAPTURE_BY_VISITOR.indexName]).toEqual({
      indexName: CAPTURE_BY_VISITOR.indexName,
      wholeRows: false,
    });
    expect(layout[CAPTURE_BY_START_DAY.indexName]).toEqual({ indexName: 'byStartDay', wholeRows: true });
    expect(layout[CAPTURE_BY_EVENT_TYPE.indexName]).toEqual({ indexName: 'byEventType', wholeRows: true });
  });

  it('keeps the current name when neither index is there (DynamoDB then names the missing index)', () => {
    expect(layoutOf([])[CAPTURE_BY_VISITOR.indexName]).toEqual({
      indexName: CAPTURE_BY_VISITOR.indexName,
      wholeRows: false,
    });
  });
});

describe('CaptureReader fetching the rows of a KEYS_ONLY index page', () => {
  /** A client answering one Query page of `n` keys and BatchGets that leave the first call's last 30 keys unprocessed. */
  function fakeClient(n: number, missing: ReadonlySet<number> = new Set()) {
    const sent: Array<{ command: string; keys?: number }> = [];
    const key = (i: number) => ({ pk: capturePk(ACCOUNT, `s${i}`), sk: 'SESSION#a' });
    let batchCalls = 0;
    const client = {
      send: async (command: unknown) => {
        if (command instanceof QueryCommand) {
          sent.push({ command: 'Query' });
          return {
            Items: Array.from({ length: n }, (_, i) => ({ ...key(i), gsi1pk: 'V', gsi1sk: String(i) })),
          };
        }
        if (command instanceof BatchGetCommand) {
          const keys = command.input.RequestItems?.[TABLE]?.Keys ?? [];
          sent.push({ command: 'BatchGet', keys: keys.length });
          batchCalls++;
          const unprocessed = batchCalls === 1 ? keys.slice(-30) : [];
          const answered = keys
            .slice(0, keys.length - unprocessed.length)
            .filter((k) => !missing.has(Number(String(k.pk).split('#s')[1])))
            // DynamoDB answers in no particular order.
            .reverse()
            .map((k) => ({
              ...k,
              sid: String(k.pk).slice(capturePk(ACCOUNT, '').length),
              rowType: 'session',
            }));
          return {
            Responses: { [TABLE]: answered },
            ...(unprocessed.length > 0 ? { UnprocessedKeys: { [TABLE]: { Keys: unprocessed } } } : {}),
          };
        }
        throw new Error(`unexpected command ${String(command)}`);
      },
    };
    return { client: client as unknown as DynamoDBDocumentClient, sent };
  }

  async function read(client: DynamoDBDocumentClient) {
    const reader = new CaptureReader(client, {
      tableName: TABLE,
      accountId: ACCOUNT,
      indexes: CURRENT_CAPTURE_INDEX_LAYOUT,
      batchGetBaseDelayMs: 1,
    });
    const rows = [];
    for await (const row of reader.visitorSessions('v1')) rows.push(row);
    return { rows, stats: reader.stats() };
  }

  it('fetches 100 keys a call, sends unprocessed keys again, and yields whole rows in index order', async () => {
    const { client, sent } = fakeClient(250);
    const { rows, stats } = await read(client);
    expect(BATCH_GET_KEYS).toBe(100);
    expect(rows.map((r) => r.sid)).toEqual(Array.from({ length: 250 }, (_, i) => `s${i}`));
    expect(rows.every((r) => r.rowType === 'session')).toBe(true);
    // 100 (30 left unprocessed), the 30 again, then 100 and 50.
    expect(sent).toEqual([
      { command: 'Query' },
      { command: 'BatchGet', keys: 100 },
      { command: 'BatchGet', keys: 30 },
      { command: 'BatchGet', keys: 100 },
      { command: 'BatchGet', keys: 50 },
    ]);
    expect(stats).toMatchObject({ queries: 1, itemsRead: 250, batchGets: 4, itemsFetched: 250 });
  });

  it('leaves out a row deleted between the index read and the fetch', async () => {
    const { client } = fakeClient(5, new Set([2]));
    const { rows } = await read(client);
    expect(rows.map((r) => r.sid)).toEqual(['s0', 's1', 's3', 's4']);
  });
});
