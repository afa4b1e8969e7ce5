import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import type { Clock } from '../../lib/clock';
import type { CredentialsProvider } from '../../lib/liveperson/credentials';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { FixedBaseUrl } from '../../lib/liveperson/base-url';
import { VisitInformationClient, type VisitStateSource } from '../../lib/liveperson/client';
import { silentLog } from '../../lib/log';
import { Poller, type PollerOptions } from '../../lib/poller/poller';
import { defaultPollPolicy } from '../../lib/poller/policy';
import type { QueueItem } from '../../lib/queue/model';
import type { CaptureStore, StoredRow } from '../../lib/store/capture-store';
import { createStorage, type Storage } from '../../lib/wiring';
import type { LocalDynamo } from './local-dynamo';
import { TEST_ACCOUNT, type SimulatorFixture } from './simulator';

export interface Pipeline {
  storage: Storage;
  poller: Poller;
  client: VisitInformationClient;
  items(): Promise<QueueItem[]>;
  item(sid: string): Promise<QueueItem>;
  captureRows(): Promise<StoredRow[]>;
  sessionRows(sid: string): Promise<StoredRow[]>;
}

/** The real pipeline (DynamoDB queue + capture store on dynalite, HTTP client to the simulator, poller). */
export async function buildPipeline(
  dynamo: LocalDynamo,
  sim: SimulatorFixture,
  options: {
    clock: Clock;
    credentials?: CredentialsProvider;
    poller?: Partial<PollerOptions>;
    requestTimeoutMs?: number;
    /** Wraps what the poller fetches from and stores into (to watch or slow them down). */
    wrapSource?: (client: VisitStateSource) => VisitStateSource;
    wrapStore?: (store: CaptureStore) => CaptureStore;
  } = {
    clock: sim.clock,
  },
): Promise<Pipeline> {
  const settings = dynamo.settings('pipe');
  await dynamo.createTables(settings);
  const storage = createStorage(settings, options.clock);
  const client = new VisitInformationClient({
    accountId: TEST_ACCOUNT,
    baseUrl: new FixedBaseUrl(sim.simulator.baseUrl),
    credentials: options.credentials ?? new StaticCredentialsProvider(sim.credentials),
    requestTimeoutMs: options.requestTimeoutMs ?? 2000,
  });
  const poller = new Poller(
    {
      queue: storage.queue,
      store: options.wrapStore ? options.wrapStore(storage.store) : storage.store,
      source: options.wrapSource ? options.wrapSource(client) : client,
      clock: options.clock,
      log: silentLog,
      random: () => 0.5,
    },
    {
      accountId: TEST_ACCOUNT,
      concurrency: 8,
      policy: defaultPollPolicy(600),
      leaseMs: 300_000,
      pageSize: 10,
      safetyMarginMs: 0,
      ...options.poller,
    },
  );
  const items = async (): Promise<QueueItem[]> => {
    const all: QueueItem[] = [];
    for await (const page of storage.queue.list(TEST_ACCOUNT)) all.push(...page);
    return all;
  };
  return {
    storage,
    poller,
    client,
    items,
    async item(sid) {
      const found = (await items()).find((i) => i.sid === sid);
      if (!found) throw new Error(`no queue item for sid ${sid}`);
      return found;
    },
    async captureRows() {
      const rows: StoredRow[] = [];
      let startKey: Record<string, unknown> | undefined;
      do {
        const answer = await storage.documentClient.send(
          new ScanCommand({
            TableName: settings.captureTable,
            ...(startKey ? { ExclusiveStartKey: startKey } : {}),
          }),
        );
        rows.push(...((answer.Items ?? []) as StoredRow[]));
        startKey = answer.LastEvaluatedKey;
      } while (startKey);
      return rows;
    },
    sessionRows: (sid) => storage.store.sessionRows(TEST_ACCOUNT, sid),
  };
}
