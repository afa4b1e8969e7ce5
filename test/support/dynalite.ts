import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { StorageSettings } from '../../lib/config';
import { createDocumentClient, ensureTables } from '../../lib/store/dynamo';

// dynalite has no type declarations; its factory returns an http.Server.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

export interface LocalDynamo {
  endpoint: string;
  /** Fresh table names per call, so test files can share one server. */
  settings(prefix?: string): StorageSettings;
  createTables(settings: StorageSettings): Promise<void>;
  close(): Promise<void>;
}

/** A real DynamoDB-compatible server (dynalite, in memory) on a loopback port chosen by the OS. */
export async function startDynalite(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
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
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections?.();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
