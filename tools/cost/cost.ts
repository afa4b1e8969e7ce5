/**
 * `npm run cost [-- options]`: the dollar model (model.ts) over a capacity measurement (figure 7).
 *
 *   --measured FILE   a measurement written by `npm run capacity -- --out FILE` (default: the committed
 *                     baseline, test/bench/capacity-baseline.json)
 *   --measure         measure first (runs figure 7: DynamoDB Local, about 2 minutes), then price that
 *   --after FILE      a second measurement, priced beside the first (before → after)
 *   --prices          print the price table and the assumptions too
 *   --json            the result as JSON
 *
 * Prints $ per 1,000 captured sessions and $ per month at 1,000, 10,000 and 100,000 sessions a day, and the
 * lines of the bill at 100,000 a day. Exit 0, or 2 on bad usage.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { BASELINE_FILE, measureCapacity, type CapacityMeasurement } from '../../test/bench/capacity';
import { ROOT } from '../../test/bench/processes';
import {
  DEFAULT_ASSUMPTIONS,
  byService,
  costAt,
  pollerMsPerPoll,
  profileOfMeasurement,
  type CostAtVolume,
} from './model';
import { PRICES, PRICES_AS_OF, PRICES_REGION } from './prices';

export const VOLUMES = [1_000, 10_000, 100_000] as const;

function usd(n: number): string {
  if (n >= 100) return `$${n.toFixed(0)}`;
  if (n >= 1) return `$${n.toFixed(2)}`;
  return `$${n.toFixed(4)}`;
}

function read(file: string): CapacityMeasurement {
  return JSON.parse(readFileSync(file, 'utf8')) as CapacityMeasurement;
}

export function report(before: CapacityMeasurement, after?: CapacityMeasurement): string {
  const lines: string[] = [];
  const columns = after === undefined ? [before] : [before, after];
  const costs = columns.map((m) => VOLUMES.map((v) => costAt(profileOfMeasurement(m), v)));
  lines.push(
    `Dollar model (${PRICES_REGION}, list prices as of ${PRICES_AS_OF}; tools/cost/prices.ts), measured on ` +
      columns.map((m) => `${m.commit} (${m.measuredAt.slice(0, 10)})`).join(' → '),
  );
  lines.push('');
  lines.push(`  sessions/day   $ per 1,000 sessions${after ? ' (before → after)' : ''}   $ per month`);
  VOLUMES.forEach((v, i) => {
    const cells = costs.map((c) => c[i] as CostAtVolume);
    lines.push(
      `  ${String(v).padStart(12)}   ${cells
        .map((c) => usd(c.usdPer1000Sessions))
        .join(' → ')
        .padEnd(26)}   ` + cells.map((c) => usd(c.usdPerMonth)).join(' → '),
    );
  });
  const at100k = costs.map((c) => c[2] as CostAtVolume);
  lines.push('');
  lines.push(`  at 100,000 sessions/day, $ per 1,000 sessions by line${after ? ' (before → after)' : ''}:`);
  const first = at100k[0] as CostAtVolume;
  first.lines.forEach((line, i) => {
    const values = at100k.map((c) => ((c.lines[i]?.usdPerDay ?? 0) / c.sessionsPerDay) * 1000);
    lines.push(
      `    ${line.service.padEnd(16)} ${line.item.padEnd(46)} ${values.map((v) => `$${v.toFixed(4)}`).join(' → ')}${line.fixed ? '  (fixed, spread)' : ''}`,
    );
  });
  lines.push('');
  lines.push(
    `  by service at 100,000/day: ${byService(first)
      .map(([s, d]) => `${s} ${((d / first.usdPerDay) * 100).toFixed(1)}%`)
      .join(', ')}`,
  );
  columns.forEach((m) => {
    const p = profileOfMeasurement(m);
    lines.push(
      `  measured (${m.commit}), per captured session: ${p.writeUnits.toFixed(1)} WRU, ${p.readUnits.toFixed(1)} RRU, ` +
        `${p.polls.toFixed(1)} polls, ${p.livePersonCalls.toFixed(1)} LivePerson calls, ${p.captureItemsPut.toFixed(1)} capture items put ` +
        `(${p.captureTableWriteKb.toFixed(0)} KB), ${(p.captureStoredBytes / 1024).toFixed(1)} KB stored (capture, with indexes); ` +
        `per tick ${p.tickWriteUnits.toFixed(1)} WRU; poller ${pollerMsPerPoll(p, DEFAULT_ASSUMPTIONS).toFixed(1)} ms/poll at ` +
        `${DEFAULT_ASSUMPTIONS.pollerMemoryMiB} MiB (CPU ${p.cpuMsPerPoll.toFixed(2)} ms/poll measured), idle tick ${p.idleTickMs.toFixed(0)} ms`,
    );
  });
  return lines.join('\n');
}

export function pricesText(): string {
  const lines = [`Prices (${PRICES_REGION}, as of ${PRICES_AS_OF}):`];
  for (const [name, p] of Object.entries(PRICES))
    lines.push(`  ${name.padEnd(30)} $${p.usd.toPrecision(4)} per ${p.unit}  — ${p.source}`);
  lines.push('Assumptions (tools/cost/model.ts DEFAULT_ASSUMPTIONS):');
  for (const [name, value] of Object.entries(DEFAULT_ASSUMPTIONS))
    lines.push(`  ${name.padEnd(32)} ${String(value)}`);
  return lines.join('\n');
}

async function main(): Promise<number> {
  let values: { measured?: string; after?: string; measure?: boolean; prices?: boolean; json?: boolean };
  try {
    values = parseArgs({
      options: {
        measured: { type: 'string' },
        after: { type: 'string' },
        measure: { type: 'boolean' },
        prices: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  const before =
    values.measure === true
      ? await measureCapacity()
      : read(values.measured ?? path.join(ROOT, BASELINE_FILE));
  const after = values.after === undefined ? undefined : read(values.after);
  if (values.json === true) {
    const priced = (m: CapacityMeasurement): unknown => ({
      commit: m.commit,
      profile: profileOfMeasurement(m),
      volumes: VOLUMES.map((v) => costAt(profileOfMeasurement(m), v)),
    });
    process.stdout.write(
      `${JSON.stringify({ before: priced(before), ...(after ? { after: priced(after) } : {}) }, null, 2)}\n`,
    );
    return 0;
  }
  if (values.prices === true) process.stdout.write(`${pricesText()}\n\n`);
  process.stdout.write(`${report(before, after)}\n`);
  return 0;
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
