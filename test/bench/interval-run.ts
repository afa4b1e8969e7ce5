/**
 * Child of figure 6: one runLocal (the whole local pipeline in one process, as `npm start` runs it) at a given
 * poll interval, so that two intervals can run side by side on two cores.
 *
 *   node --import tsx test/bench/interval-run.ts '<json IntervalRunArgs>'
 *
 * Prints `{"started":true}`, then the LocalRunReport as one JSON line.
 */
import './env';
import { runChild } from './child';
import { runLocal } from '../../lib/local/run';
import { silentLog } from '../../lib/log';

export interface IntervalRunArgs {
  visitors: number;
  speed: number;
  seed: number;
  arrivalWindowMs: number;
  pollIntervalSec: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as IntervalRunArgs;
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  const report = await runLocal({ ...args, log: silentLog });
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

runChild('interval-run', main);
