/**
 * The analyst reads on a capture table that still has the ALL-projected indexes of before issue 16 (an older
 * local table, a stack in the middle of its migration: docs/deploy.md, "Migrating the capture indexes"): the
 * reader finds them (DescribeTable), reads whole rows from them and fetches nothing; on the current table the
 * same reads give the same rows, fetched by key.
 */
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { flattenVisitState } from '../../lib/capture/flatten';
import { ManualClock } from '../../lib/clock';
import { CaptureReader } from '../../lib/query/reader';
import type { StoredRow } from '../../lib/store/capture-store';
import { createDocumentClient, createTableInput } from '../../lib/store/dynamo';
import { DynamoCaptureStore } from '../../lib/store/dynamo-capture-store';
import { CAPTURE_KEY_ATTRIBUTES } from '../../lib/keys';
import { CAPTURE_TABLE, captureTableDefinition } from '../../lib/store/schema';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';

const ACCOUNT = '12345678';
const DAY = Date.parse('2024-05-01T00:00:00Z');

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iterable) out.push(x);
  return out;
}

describe.each(storageBackends())('capture reads over legacy and current indexes, on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  const clock = new ManualClock(DAY);

  beforeAll(async () => {
    dynamo = await start();
  }, 60_000);
  afterAll(async () => {
    await dynamo?.close();
  });

  /** A capture table with `indexes` of the schema, holding two sessions of one visitor with events. */
  async function tableWith(name: string, legacy: boolean): Promise<CaptureReader> {
    const settings = dynamo.settings(name);
    const client = createDocumentClient(settings);
    const definition = legacy
      ? // The table as before issue 16: the migration's first step without its one new index.
        {
          ...CAPTURE_TABLE,
          indexes: captureTableDefinition('add-visitor').indexes.filter((i) => i.projection === 'ALL'),
        }
      : CAPTURE_TABLE;
    await client.send(new CreateTableCommand(createTableInput(definition, settings.captureTable)));
    const store = new DynamoCaptureStore(client, settings.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES), {
      clock,
    });
    for (const [sid, offsetMs] of [
      ['sessionOne', 3_600_000],
      ['sessionTwo', 7_200_000],
    ] as const) {
      const rows = flattenVisitState({
        accountId: ACCOUNT,
        visitorId: 'visitor1',
        sid,
        state: {
          id: sid,
          appSessions: [
            {
              id: `app-${sid}`,
              startTime: DAY + offsetMs,
              events: [
                { lead: { serverTimeStamp: DAY + offsetMs + 1000, lead: { topic: sid } } },
                { lead: { serverTimeStamp: DAY + offsetMs + 2000, lead: { topic: `${sid}-2` } } },
              ],
            },
          ],
        },
      }).rows.map((r) => ({ ...r, capturedAtMs: DAY + offsetMs }));
      expect((await store.putRows(rows)).rowsWritten).toBe(rows.length);
    }
    return new CaptureReader(client, { tableName: settings.captureTable, accountId: ACCOUNT });
  }

  const strip = (rows: StoredRow[]): Array<Record<string, unknown>> =>
    rows.map((r) => ({ sk: r.sk, rowType: r.rowType, sid: r.sid, topic: r.lead_topic ?? null }));

  it('reads the same whole rows from legacy ALL indexes (nothing fetched) as from KEYS_ONLY ones (fetched)', async () => {
    const legacy = await tableWith('legacy', true);
    const current = await tableWith('current', false);
    const range = { fromMs: DAY, toMs: DAY + 86_400_000 };
    for (const reader of [legacy, current]) {
      expect(strip(await all(reader.visitorSessions('visitor1'))).map((r) => r.sid)).toEqual([
        'sessionTwo',
        'sessionOne',
      ]);
    }
    const read = async (reader: CaptureReader) => ({
      sessions: strip(await all(reader.sessionsInRange(range))),
      events: strip(await all(reader.eventsInRange('lead', range))),
    });
    const fromLegacy = await read(legacy);
    expect(fromLegacy.events).toHaveLength(4);
    expect(fromLegacy.sessions.map((r) => r.rowType)).toEqual(['session', 'session']);
    expect(await read(current)).toEqual(fromLegacy);
    expect(legacy.stats().batchGets).toBe(0);
    expect(current.stats().batchGets).toBeGreaterThan(0);
    expect(current.stats().itemsFetched).toBe(current.stats().itemsRead);
  });
});
