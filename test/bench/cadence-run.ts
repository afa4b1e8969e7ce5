/**
 * Figure 6 alone (cadence.ts): `npx tsx test/bench/cadence-run.ts [options]`.
 *
 *   --visitors N     simulator visitors per seed (default 120, figure 7's traffic)
 *   --seeds A,B,...  seeds (default 42); each setting runs once per seed and the points sum them
 *
 * Exit 0 when it measured (whatever it measured), 1 when it failed, 2 on bad usage.
 */
import './env';
import { parseArgs } from 'node:util';
import { benchCadence, DEFAULT_CADENCE_OPTIONS } from './cadence';
import { formatFigure } from './report';

async function main(): Promise<number> {
  let visitors = DEFAULT_CADENCE_OPTIONS.visitors;
  let seeds = DEFAULT_CADENCE_OPTIONS.seeds;
  try {
    const { values } = parseArgs({
      options: { visitors: { type: 'string' }, seeds: { type: 'string' } },
      strict: true,
    });
    if (values.visitors !== undefined) {
      if (!/^\d+$/.test(values.visitors) || Number(values.visitors) <= 0)
        throw new Error(`--visitors must be a positive integer, got "${values.visitors}"`);
      visitors = Number(values.visitors);
    }
    if (values.seeds !== undefined) {
      const parts = values.seeds.split(',').map((s) => s.trim());
      if (parts.length === 0 || parts.some((s) => !/^\d+$/.test(s)))
        throw new Error(`--seeds must be positive integers separated by commas, got "${values.seeds}"`);
      seeds = parts.map(Number);
    }
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const startMs = Date.now();
  for (const line of await benchCadence({ ...DEFAULT_CADENCE_OPTIONS, visitors, seeds }))
    console.log(typeof line === 'string' ? line : formatFigure(line));
  process.stderr.write(`  (figure 6 took ${((Date.now() - startMs) / 1000).toFixed(1)} s)\n`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
