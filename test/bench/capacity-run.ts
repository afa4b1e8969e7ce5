/**
 * Figure 7 alone (capacity.ts): `npm run capacity [-- options]`, or `npx tsx test/bench/capacity-run.ts`.
 *
 *   --visitors N        simulator visitors (default 120)
 *   --seed N            simulator seed (default 42)
 *   --out FILE          also write the measurement as JSON (what `npm run cost -- --measured FILE` prices)
 *   --write-baseline    write it to test/bench/capacity-baseline.json, the committed baseline (issue 16: only
 *                       on main as it stands before a cut, and with the commit measured on)
 *
 * Needs java (Amazon's DynamoDB Local runs in a JVM). Exit 0 when it measured, 1 when it failed, 2 on bad usage.
 */
import './env';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  BASELINE_FILE,
  DEFAULT_CAPACITY_OPTIONS,
  capacityLines,
  measureCapacity,
  readBaseline,
} from './capacity';
import { ROOT } from './processes';
import { formatFigure } from './report';

function positiveInteger(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) <= 0)
    throw new Error(`--${name} must be a positive integer, got "${raw}"`);
  return Number(raw);
}

async function main(): Promise<number> {
  let values: { visitors?: string; seed?: string; out?: string; 'write-baseline'?: boolean };
  let visitors: number;
  let seed: number;
  try {
    values = parseArgs({
      options: {
        visitors: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
        'write-baseline': { type: 'boolean' },
      },
      strict: true,
    }).values;
    visitors = positiveInteger('visitors', values.visitors, DEFAULT_CAPACITY_OPTIONS.visitors);
    seed = positiveInteger('seed', values.seed, DEFAULT_CAPACITY_OPTIONS.seed);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const startMs = Date.now();
  const baseline = readBaseline();
  const measurement = await measureCapacity({ ...DEFAULT_CAPACITY_OPTIONS, visitors, seed });
  for (const line of capacityLines(measurement, baseline))
    console.log(typeof line === 'string' ? line : formatFigure(line));
  const text = `${JSON.stringify(measurement, null, 2)}\n`;
  if (values.out !== undefined) writeFileSync(values.out, text);
  if (values['write-baseline'] === true) {
    writeFileSync(path.join(ROOT, BASELINE_FILE), text);
    console.log(`baseline written to ${BASELINE_FILE} (commit ${measurement.commit})`);
  }
  process.stderr.write(`  (figure 7 took ${((Date.now() - startMs) / 1000).toFixed(1)} s)\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
