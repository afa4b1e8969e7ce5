import { randomUUID } from 'node:crypto';
import type { StorageSettings } from '../../lib/config';
import { startEmbeddedDynamo } from '../../lib/local/dynalite';
import { createDocumentClient, ensureTables } from '../../lib/store/dynamo';

export interface LocalDynamo {
  endpoint: string;
  /** Fresh table names per call, so test files can share one server. */
  settings(prefix?: string): StorageSettings;
  createTables(settings: StorageSettings): Promise<void>;
  close(): Promise<void>;
}

/** A real DynamoDB-compatible server (dynalite, in memory) on a loopback port chosen by the OS. */
export async function startDynalite(): Promise<LocalDynamo> {
  const embedded = await startEmbeddedDynamo();
  const endpoint = embedded.endpoint;
  return {
    endpoint,
    settings(prefix = 't') {
      const id = randomUUID().slice(0, 8);
      return {
        dynamoDbEndpoint: endpoint,
        region: 'local',
        queueTable: `${prefix}-queue-${id}`,
        captureTable: `${prefix}-capture-${id}`,
      };
    },
    async createTables(settings) {
      const client = createDocumentClient(settings);
      await ensureTables(client, settings);
      client.destroy();
    },
    close: () => embedded.close(),
  };
}
