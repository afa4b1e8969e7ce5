import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// dynalite ships no type declarations; its factory returns an http.Server.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const createDynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

export interface EmbeddedDynamo {
  endpoint: string;
  close(): Promise<void>;
}

/**
 * The embedded DynamoDB-compatible server (dynalite) on a loopback port: in memory, or LevelDB files in
 * `dataDir` so that a later run (or `LPV_LOCAL_DATA=DIR npx lpv ...`) reads what an earlier one captured.
 */
export async function startEmbeddedDynamo(dataDir?: string): Promise<EmbeddedDynamo> {
  const server = createDynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dataDir !== undefined ? { path: dataDir } : {}),
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
