/**
 * Child of figure 6: one runLocal (the whole local pipeline in one process, as `npm start` runs it) at a given
 * poll interval, so that two intervals can run side by side on two cores.
 *
 *   node --import tsx test/bench/interval-run.ts '<json IntervalRunArgs>'
 *
 * Prints `{"started":true}`, then the LocalRunReport as one JSON line.
 */
import './env';
import { runJsonChild } from './child';
import { runLocal } from '../../lib/local/run';
import { silentLog } from '../../lib/log';

export interface IntervalRunArgs {
  visitors: number;
  speed: number;
  seed: number;
  arrivalWindowMs: number;
  pollIntervalSec: number;
}

runJsonChild<IntervalRunArgs>('interval-run', (args) => runLocal({ ...args, log: silentLog }));
