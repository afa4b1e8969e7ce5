import { parseArgs } from 'node:util';
import { HOUR_MS, MINUTE_MS } from '../clock';
import { JsonLineLog } from '../log';
import { LOCAL_ACCOUNT_ID, runLocal, type LocalRunProgress, type LocalRunReport } from '../local/run';
import { ConfigError } from '../errors';
import { loadPrivacyPolicy } from '../privacy/config';
import type { PrivacyPolicy } from '../privacy/policy';
import { EXIT } from './io';

const USAGE = `npm start [-- options]   (or: npx tsx lib/cli/start.ts [options])

Runs the real capture pipeline on the embedded default: dynalite (DynamoDB-compatible, in process), the
LivePerson simulator with a few hundred visitors, and the poller, all on one compressed clock.

Options:
  --speed N      simulated seconds per wall second (default 160: 6 hours in about 2¼ minutes)
  --visitors N   visitor sessions to simulate (default 300)
  --seed N       simulator seed, to reproduce a run (default: random, printed)
  --data DIR     keep dynalite's data in DIR (LevelDB) so it can be queried later:
                 LPV_LOCAL_DATA=DIR npx lpv query sessions --from <date> --to <date>
  --json         print the final report as JSON on stdout
  -h, --help     this text

Personal data is stored under the privacy policy of the environment (docs/privacy.md): LPV_PRIVACY_<CATEGORY>,
LPV_HASH_KEY (without it, the categories hashed by default are dropped, and a warning says so).

Exit 0 when the run completed (whatever it measured), 1 when the pipeline itself broke, 2 on bad usage.`;

function positive(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+(\.\d+)?$/.test(raw) || Number(raw) <= 0)
    throw new Error(`--${name} must be a positive number, got "${raw}"`);
  return Number(raw);
}

function clockText(ms: number): string {
  const minutes = Math.floor(ms / MINUTE_MS);
  return `${String(Math.floor(minutes / 60)).padStart(2, '0')}:${String(minutes % 60).padStart(2, '0')}`;
}

function progressLine(p: LocalRunProgress): string {
  const f = p.fetches;
  const faults = f.retryable + f.malformed + f.unexpected;
  return (
    `[sim ${clockText(p.simulatedElapsedMs)}/${clockText(p.simulatedTotalMs)}] ` +
    `enqueued ${p.enqueued} · live ${p.live} · captured ${p.captured} · lost ${p.lost} · invalid ${p.invalid} · failed ${p.failed} · ` +
    `fetches ok ${f.ok} 404/12 ${f.expired_12} transient ${faults} · rows ${p.rowsWritten}`
  );
}

function pct(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio === 1 ? 0 : 2)}%`;
}

export function summaryText(r: LocalRunReport): string {
  const c = r.completeness;
  const rowTypes = Object.entries(r.rowsByType)
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${type} ${n}`)
    .join(', ');
  const faults = Object.entries(r.simulatorFaults)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const firstDay = new Date(r.firstStartMs).toISOString().slice(0, 10);
  const nextDay = new Date(r.lastStartMs + 24 * HOUR_MS).toISOString().slice(0, 10);
  const lines = [
    '',
    `lp-visit-capture local run: ${r.visitors} visitors, ${(r.simulatedMs / HOUR_MS).toFixed(1)} simulated hours in ${(r.wallMs / 1000).toFixed(0)} s (speed ${r.speed}, seed ${r.seed})`,
    `  sessions   captured ${r.sessions.CAPTURED}, lost ${r.sessions.LOST}, invalid ${r.sessions.INVALID}, failed ${r.sessions.FAILED}, still active ${r.sessions.ACTIVE}`,
    `  rows       ${rowTypes || 'none'}`,
    `  API calls  ${r.apiCalls} (${(r.apiCalls / Math.max(1, r.sessions.CAPTURED)).toFixed(1)} per captured session); fetches ${Object.entries(
      r.fetches,
    )
      .filter(([, n]) => n > 0)
      .map(([o, n]) => `${o} ${n}`)
      .join(', ')}`,
    `  faults     injected by the simulator: ${faults || 'none'}`,
    `  complete   ${pct(c.completeness)} of observable events stored (${c.storedObservableEvents}/${c.observableEvents}); duplicates ${c.duplicates}`,
    `             ${pct(c.completenessOfProduced)} of all events the sessions produced (${c.storedEvents}/${c.producedEvents}); the rest came after a session's last poll`,
    r.dataDir !== undefined
      ? `  query      LPV_LOCAL_DATA=${r.dataDir} LP_ACCOUNT_ID=${LOCAL_ACCOUNT_ID} npx lpv query sessions --from ${firstDay} --to ${nextDay}`
      : `  query      rerun with --data DIR, then: LPV_LOCAL_DATA=DIR LP_ACCOUNT_ID=${LOCAL_ACCOUNT_ID} npx lpv query sessions --from ${firstDay} --to ${nextDay}`,
  ];
  if (r.pipelineErrors.length > 0) lines.push(`  PIPELINE ERRORS: ${r.pipelineErrors.join('; ')}`);
  return lines.join('\n') + '\n';
}

export async function startMain(argv: string[]): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: argv,
      options: {
        speed: { type: 'string' },
        visitors: { type: 'string' },
        seed: { type: 'string' },
        data: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values;
    if (values.help === true) {
      process.stdout.write(USAGE + '\n');
      return EXIT.ok;
    }
    positive('speed', values.speed as string | undefined, 1);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\nUsage: ${USAGE}\n`);
    return EXIT.usage;
  }
  let speed: number;
  let visitors: number;
  let seed: number;
  try {
    speed = positive('speed', values.speed as string | undefined, 160);
    visitors = Math.floor(positive('visitors', values.visitors as string | undefined, 300));
    seed = Math.floor(
      positive('seed', values.seed as string | undefined, 1 + Math.floor(Math.random() * 1e9)),
    );
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\nUsage: ${USAGE}\n`);
    return EXIT.usage;
  }
  let privacy: PrivacyPolicy;
  try {
    privacy = loadPrivacyPolicy(process.env, (message) => process.stderr.write(`privacy: ${message}\n`));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`npm start: configuration error: ${error.message}\n`);
    return EXIT.usage;
  }
  const isTty = Boolean(process.stderr.isTTY);
  process.stderr.write(
    `starting dynalite, the LivePerson simulator (${visitors} visitors, seed ${seed}) and the poller at ${speed}x...\n`,
  );
  const report = await runLocal({
    speed,
    visitors,
    seed,
    ...(typeof values.data === 'string' ? { dataDir: values.data } : {}),
    privacy,
    log: new JsonLineLog((line) => process.stderr.write(line), 'error'),
    onProgress: (p) => process.stderr.write(isTty ? `\r${progressLine(p)}\u001b[K` : `${progressLine(p)}\n`),
  });
  if (isTty) process.stderr.write('\n');
  if (values.json === true) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(summaryText(report));
  return report.pipelineErrors.length > 0 ? EXIT.failure : EXIT.ok;
}

if (require.main === module) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  startMain(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`npm start failed: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
