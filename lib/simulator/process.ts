/**
 * Runs the simulator in a process of its own, so a benchmark's client and server do not share a core:
 *
 *   tsx lib/simulator/process.ts --port 0 --seed 1 --latency-ms 50 --sessions 1000
 *
 * Once listening it prints ONE JSON line on stdout:
 *   {"baseUrl":"http://127.0.0.1:PORT","host":"127.0.0.1:PORT","accountId":"...","sessions":[{visitorId,sid,startTimeMs,endTimeMs}]}
 * and runs until SIGTERM/SIGINT, then prints its stats (per-sid counts summarised) as one JSON line on stderr
 * and exits 0.
 *
 * Flags: --port N (0 = any free port), --host H (127.0.0.1), --seed N (1), --account ID (12345678),
 * --sessions N (0), --age-ms N (the sessions started N ms before the simulator did: they are that old when it
 * starts listening; 0), --duration-ms N (default: six hours or an early end), --event-rate N (events/hour),
 * --early-end-probability P, --speed S (simulated time runs S times faster than the wall clock; 1),
 * --latency-ms N or MIN-MAX, --server-error-rate, --throttle-rate, --retry-after-sec, --reset-rate,
 * --malformed-rate, --hang-rate; --script STEPS (what every session is answered, request after request:
 * `kind[:value][*times]` separated by commas, e.g. `empty*3,live` or `bad_request_33`, see scripts.ts),
 * --domain-api-fault reset|server_error|account_not_found (every Domain API lookup fails so).
 *
 * Credentials: LP_CONSUMER_KEY, LP_CONSUMER_SECRET, LP_TOKEN, LP_TOKEN_SECRET (all four or none); when none is
 * set, DEFAULT_SIMULATOR_CREDENTIALS from server.ts (sim-consumer-key / sim-consumer-secret / sim-access-token /
 * sim-access-token-secret).
 */
import { CompressedClock, systemClock, type Clock } from '../clock';
import type { LivePersonCredentials } from '../liveperson/oauth';
import { parseScript } from './scripts';
import {
  DEFAULT_SIMULATOR_CREDENTIALS,
  VisitSimulator,
  type DomainApiFault,
  type FaultOptions,
} from './server';
import { SimulatedWorld } from './world';

const NUMERIC_FLAGS = [
  'port',
  'seed',
  'sessions',
  'age-ms',
  'duration-ms',
  'event-rate',
  'early-end-probability',
  'speed',
  'server-error-rate',
  'throttle-rate',
  'retry-after-sec',
  'reset-rate',
  'malformed-rate',
  'hang-rate',
] as const;
const STRING_FLAGS = ['host', 'account', 'latency-ms', 'script', 'domain-api-fault'] as const;
const DOMAIN_API_FAULT_KINDS: readonly DomainApiFault['kind'][] = [
  'reset',
  'server_error',
  'account_not_found',
];

type Flags = Partial<
  Record<(typeof NUMERIC_FLAGS)[number], number> & Record<(typeof STRING_FLAGS)[number], string>
>;

export function parseFlags(argv: readonly string[]): Flags {
  const flags: Record<string, string | number> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument: ${arg}`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new Error(`--${name} needs a value`);
    if ((NUMERIC_FLAGS as readonly string[]).includes(name)) {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new Error(`--${name} must be a number, got ${value}`);
      flags[name] = n;
    } else if ((STRING_FLAGS as readonly string[]).includes(name)) {
      flags[name] = value;
    } else {
      throw new Error(`unknown flag --${name}`);
    }
  }
  return flags as Flags;
}

function credentialsFromEnv(env: NodeJS.ProcessEnv): LivePersonCredentials {
  const values = [env.LP_CONSUMER_KEY, env.LP_CONSUMER_SECRET, env.LP_TOKEN, env.LP_TOKEN_SECRET];
  const set = values.filter((v) => v !== undefined && v !== '').length;
  if (set === 0) return { ...DEFAULT_SIMULATOR_CREDENTIALS };
  // A partial set is almost certainly a mistake; mixing in defaults would only produce confusing 401s.
  if (set !== 4)
    throw new Error('set all of LP_CONSUMER_KEY, LP_CONSUMER_SECRET, LP_TOKEN, LP_TOKEN_SECRET or none');
  const [consumerKey, consumerSecret, token, tokenSecret] = values as [string, string, string, string];
  return { consumerKey, consumerSecret, token, tokenSecret };
}

function latencyFrom(value: string | undefined): FaultOptions['latencyMs'] | undefined {
  if (value === undefined) return undefined;
  const range = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value);
  if (range !== null) return { min: Number(range[1]), max: Number(range[2]) };
  const n = Number(value);
  if (!Number.isFinite(n)) throw new Error(`--latency-ms must be N or MIN-MAX, got ${value}`);
  return n;
}

export async function main(argv: readonly string[]): Promise<VisitSimulator> {
  const flags = parseFlags(argv);
  const speed = flags.speed ?? 1;
  const clock: Clock = speed === 1 ? systemClock : new CompressedClock(Date.now(), speed);
  const world = new SimulatedWorld({
    seed: flags.seed ?? 1,
    accountId: flags.account ?? '12345678',
    clock,
    ...(flags['early-end-probability'] !== undefined
      ? { earlyEndProbability: flags['early-end-probability'] }
      : {}),
  });
  const ageMs = flags['age-ms'] ?? 0;
  if (ageMs < 0) throw new Error(`--age-ms must be 0 or more, got ${ageMs}`);
  const startTimeMs = clock.nowMs() - ageMs;
  const sessions = [];
  for (let i = 0; i < (flags.sessions ?? 0); i++) {
    sessions.push(
      world.startSession({
        startTimeMs,
        ...(flags['duration-ms'] !== undefined ? { durationMs: flags['duration-ms'] } : {}),
        ...(flags['event-rate'] !== undefined ? { eventRatePerHour: flags['event-rate'] } : {}),
      }),
    );
  }
  const faults: Partial<FaultOptions> = {};
  const latency = latencyFrom(flags['latency-ms']);
  if (latency !== undefined) faults.latencyMs = latency;
  if (flags['server-error-rate'] !== undefined) faults.serverErrorRate = flags['server-error-rate'];
  if (flags['throttle-rate'] !== undefined) faults.throttleRate = flags['throttle-rate'];
  if (flags['retry-after-sec'] !== undefined) faults.retryAfterSec = flags['retry-after-sec'];
  if (flags['reset-rate'] !== undefined) faults.resetRate = flags['reset-rate'];
  if (flags['malformed-rate'] !== undefined) faults.malformedRate = flags['malformed-rate'];
  if (flags['hang-rate'] !== undefined) faults.hangRate = flags['hang-rate'];
  const script = flags.script !== undefined ? parseScript(flags.script) : undefined;
  const domainFault = flags['domain-api-fault'];
  if (domainFault !== undefined && !(DOMAIN_API_FAULT_KINDS as readonly string[]).includes(domainFault)) {
    throw new Error(
      `--domain-api-fault must be one of ${DOMAIN_API_FAULT_KINDS.join(', ')}, got ${domainFault}`,
    );
  }

  const simulator = new VisitSimulator({
    world,
    credentials: credentialsFromEnv(process.env),
    ...(flags.host !== undefined ? { host: flags.host } : {}),
    port: flags.port ?? 0,
    faults,
    seed: flags.seed ?? 1,
  });
  if (script !== undefined) simulator.scriptEverySession(script);
  if (domainFault !== undefined) simulator.setDomainApiFault({ kind: domainFault as DomainApiFault['kind'] });
  await simulator.start();
  process.stdout.write(
    `${JSON.stringify({ baseUrl: simulator.baseUrl, host: simulator.host, accountId: world.accountId, sessions })}\n`,
  );
  return simulator;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (simulator) => {
      const shutdown = (): void => {
        void simulator.stop().then(() => {
          // Per-sid counts are summarised: with thousands of sessions they would dwarf the rest of the line.
          const { okBySid, ...stats } = simulator.stats();
          const served = Object.values(okBySid);
          const summary = {
            ...stats,
            sidsServed: served.length,
            okServed: served.reduce((a, n) => a + n, 0),
          };
          process.stderr.write(`${JSON.stringify(summary)}\n`);
          process.exit(0);
        });
      };
      process.once('SIGTERM', shutdown);
      process.once('SIGINT', shutdown);
    },
    (err: unknown) => {
      process.stderr.write(`simulator: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(2);
    },
  );
}
