/**
 * dynalite in a process of its own, so that the DynamoDB emulator and the code under measurement do not share
 * a core (the same reason the simulator has lib/simulator/process.ts):
 *
 *   node --import tsx test/bench/dynalite-process.ts
 *
 * Prints ONE JSON line `{"endpoint":"http://127.0.0.1:PORT"}` once listening; runs in memory until
 * SIGTERM/SIGINT, then exits 0.
 */
import './env';
import { startEmbeddedDynamo } from '../../lib/local/dynalite';

startEmbeddedDynamo().then(
  (dynamo) => {
    process.stdout.write(`${JSON.stringify({ endpoint: dynamo.endpoint })}\n`);
    const shutdown = (): void => {
      void dynamo.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', shutdown);
    process.once('SIGINT', shutdown);
  },
  (error: unknown) => {
    process.stderr.write(`dynalite: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
