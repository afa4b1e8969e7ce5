import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { systemClock } from '../clock';
import { loadAccountId, loadLivePersonSettings, loadPollerSettings, loadStorageSettings } from '../config';
import { ConfigError, LpvError } from '../errors';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../local/dynalite';
import { JsonLineLog, type Log } from '../log';
import { enqueueProblem, toEnqueueRequest, type EnqueueRequest, type QueueItem } from '../queue/model';
import { ensureTables } from '../store/dynamo';
import { loadPrivacyPolicy } from '../privacy/config';
import { createCredentialsProvider, createPoller, createStorage, createVisitClient } from '../wiring';
import { HELP_OPTION, type CliDeps, type Command, type ParsedArgs } from './command';
import { EXPORT_COMMAND } from './export-command';
import { FORGET_COMMAND } from './forget-command';
import { columnsOf, parseFormat, render } from './format';
import { EXIT, processIo, UsageError, type CliIo } from './io';
import { QUERY_COMMANDS } from './query-commands';
import { SCRUB_COMMAND } from './scrub-command';

export type { CliDeps } from './command';

function logFor(io: CliIo, deps: CliDeps): Log {
  return deps.log ?? new JsonLineLog((line) => io.stderr.write(line), (io.env.LOG_LEVEL as 'info') ?? 'info');
}

const tablesCreate: Command = {
  path: ['tables', 'create'],
  summary: 'create the queue and capture tables (idempotent)',
  usage:
    'lpv tables create\n\nCreates QUEUE_TABLE and CAPTURE_TABLE from the shared schema; a second run is fine.',
  options: { ...HELP_OPTION },
  async run(_args, io, deps) {
    const storage = loadStorageSettings(io.env);
    const { documentClient } = createStorage(storage, deps.clock);
    const result = await ensureTables(documentClient, storage);
    for (const name of result.created) io.stderr.write(`created table ${name}\n`);
    for (const name of result.existing) io.stderr.write(`table ${name} already exists\n`);
    return EXIT.ok;
  },
};

const enqueue: Command = {
  path: ['enqueue'],
  summary: 'add (visitorId, sid) pairs to the queue',
  usage:
    'lpv enqueue --visitor V --sid S [--start-time MS]\n' +
    'lpv enqueue < pairs.ndjson\n\n' +
    'With no --visitor/--sid, reads NDJSON lines {"visitorId","sid","startTime"?} from stdin (startTime in\n' +
    'epoch ms). Bad lines are reported on stderr with their line number; good lines are still enqueued;\n' +
    'exit 2 if any line was bad. Enqueueing a pair twice keeps one item. A pair of an erased visitor\n' +
    '(lpv forget) is refused: counted as such, not an error.',
  options: {
    ...HELP_OPTION,
    visitor: { type: 'string' },
    sid: { type: 'string' },
    'start-time': { type: 'string' },
  },
  async run(args, io, deps) {
    const accountId = loadAccountId(io.env);
    const storage = createStorage(loadStorageSettings(io.env), deps.clock);
    const nowMs = deps.clock.nowMs();
    const requests: EnqueueRequest[] = [];
    let bad = 0;
    const { visitor, sid } = args.values;
    if (visitor !== undefined || sid !== undefined) {
      if (typeof visitor !== 'string' || typeof sid !== 'string')
        throw new UsageError('--visitor and --sid go together');
      const startRaw = args.values['start-time'];
      let startTime: number | undefined;
      if (startRaw !== undefined) {
        if (typeof startRaw !== 'string' || !/^\d+$/.test(startRaw))
          throw new UsageError('--start-time must be epoch milliseconds');
        startTime = Number(startRaw);
      }
      const input = { visitorId: visitor, sid, ...(startTime !== undefined ? { startTime } : {}) };
      const problem = enqueueProblem(input, nowMs);
      if (problem !== undefined) throw new UsageError(problem);
      requests.push(toEnqueueRequest(input));
    } else {
      let lineNumber = 0;
      for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
        lineNumber++;
        if (line.trim() === '') continue;
        let parsed: unknown;
        try {
          parsed = JSON.parse(line);
        } catch {
          io.stderr.write(`line ${lineNumber}: not valid JSON\n`);
          bad++;
          continue;
        }
        const problem = enqueueProblem(parsed, nowMs);
        if (problem !== undefined) {
          io.stderr.write(`line ${lineNumber}: ${problem}\n`);
          bad++;
          continue;
        }
        requests.push(toEnqueueRequest(parsed as Record<string, unknown>));
      }
    }
    const results = await storage.queue.enqueue(accountId, requests);
    const created = results.filter((r) => r.status === 'created').length;
    const refused = results.filter((r) => r.status === 'refused').length;
    io.stderr.write(
      `enqueued ${created} new, ${results.length - created - refused} already queued, ${bad} rejected` +
        (refused > 0 ? `, ${refused} refused (visitor erased: lpv forget)` : '') +
        '\n',
    );
    return bad > 0 ? EXIT.usage : EXIT.ok;
  },
};

const poll: Command = {
  path: ['poll'],
  summary: 'run one poller tick',
  usage:
    'lpv poll [--force] [--max-seconds N]\n\n' +
    'Polls every due item once. --force ignores nextPollAt and backoff (every ACTIVE item not yet polled by\n' +
    'this tick). --max-seconds bounds the tick (default 840). Prints the tick summary as JSON on stdout.\n' +
    'Exit 3 when the tick stopped on a credential (401/10) or account (404/6) fault.',
  options: { ...HELP_OPTION, force: { type: 'boolean' }, 'max-seconds': { type: 'string' } },
  async run(args, io, deps) {
    const maxRaw = args.values['max-seconds'];
    let budgetMs = 840_000;
    if (maxRaw !== undefined) {
      if (typeof maxRaw !== 'string' || !/^\d+$/.test(maxRaw) || Number(maxRaw) === 0) {
        throw new UsageError('--max-seconds must be a positive whole number');
      }
      budgetMs = Number(maxRaw) * 1000;
    }
    const livePerson = loadLivePersonSettings(io.env);
    const pollerSettings = loadPollerSettings(io.env);
    const log = logFor(io, deps);
    const privacy = loadPrivacyPolicy(io.env, (message) => log.warn(message));
    const storage = createStorage(loadStorageSettings(io.env), deps.clock);
    const source = createVisitClient(livePerson, {
      clock: deps.clock,
      credentials: createCredentialsProvider(livePerson),
    });
    const poller = createPoller(livePerson.accountId, pollerSettings, {
      storage,
      source,
      clock: deps.clock,
      log,
      privacy,
    });
    const summary = await poller.tick({
      budgetMs,
      force: args.values.force === true,
      safetyMarginMs: Math.min(15_000, budgetMs / 4),
    });
    io.stdout.write(JSON.stringify(summary, null, 2) + '\n');
    return summary.stoppedBy === 'configuration_fault' ? EXIT.configurationFault : EXIT.ok;
  },
};

const QUEUE_COLUMNS = [
  'visitorId',
  'sid',
  'state',
  'lastOutcome',
  'attempts',
  'pollCount',
  'deadline',
  'nextPollAt',
  'reason',
];

function queueRow(item: QueueItem): Record<string, unknown> {
  return {
    visitorId: item.visitorId,
    sid: item.sid,
    state: item.state,
    lastOutcome: item.lastOutcome ?? null,
    attempts: item.attempts,
    pollCount: item.pollCount,
    deadline: new Date(item.deadlineMs).toISOString(),
    deadlineMs: item.deadlineMs,
    nextPollAt: item.nextPollAtMs !== undefined ? new Date(item.nextPollAtMs).toISOString() : null,
    reason: item.reason ?? null,
  };
}

const queueList: Command = {
  path: ['queue'],
  summary: 'list the queue items',
  usage:
    'lpv queue [--format json|table]\n\nThe queue items of LP_ACCOUNT_ID with state, last outcome, attempts and deadline.',
  options: { ...HELP_OPTION, format: { type: 'string' } },
  async run(args, io, deps) {
    const format = parseFormat(args.values.format as string | undefined, io.stdoutIsTty, ['json', 'table']);
    const accountId = loadAccountId(io.env);
    const storage = createStorage(loadStorageSettings(io.env), deps.clock);
    const rows: Record<string, unknown>[] = [];
    for await (const page of storage.queue.list(accountId)) rows.push(...page.map(queueRow));
    rows.sort((a, b) => (a.deadlineMs as number) - (b.deadlineMs as number));
    io.stdout.write(render(format, rows, format === 'json' ? columnsOf(rows) : QUEUE_COLUMNS));
    return EXIT.ok;
  },
};

const status: Command = {
  path: ['status'],
  summary: 'counts by state, the nearest deadline, the last tick',
  usage: 'lpv status [--format json|table]',
  options: { ...HELP_OPTION, format: { type: 'string' } },
  async run(args, io, deps) {
    const format = parseFormat(args.values.format as string | undefined, io.stdoutIsTty, ['json', 'table']);
    const accountId = loadAccountId(io.env);
    const storage = createStorage(loadStorageSettings(io.env), deps.clock);
    const counts: Record<string, number> = { ACTIVE: 0, CAPTURED: 0, LOST: 0, INVALID: 0, FAILED: 0 };
    let nearestDeadlineMs: number | undefined;
    for await (const page of storage.queue.list(accountId)) {
      for (const item of page) {
        counts[item.state] = (counts[item.state] ?? 0) + 1;
        if (
          item.state === 'ACTIVE' &&
          (nearestDeadlineMs === undefined || item.deadlineMs < nearestDeadlineMs)
        ) {
          nearestDeadlineMs = item.deadlineMs;
        }
      }
    }
    const lastTick = (await storage.queue.loadTickSummary(accountId)) as Record<string, unknown> | undefined;
    const result = {
      counts,
      nearestDeadline: nearestDeadlineMs !== undefined ? new Date(nearestDeadlineMs).toISOString() : null,
      lastTick: lastTick
        ? {
            finishedAt: new Date(lastTick.finishedAtMs as number).toISOString(),
            stoppedBy: lastTick.stoppedBy,
            fetches: lastTick.fetches,
            sessions: lastTick.sessions,
            rowsWritten: lastTick.rowsWritten,
          }
        : null,
    };
    if (format === 'json') {
      io.stdout.write(JSON.stringify(result, null, 2) + '\n');
    } else {
      const lines = [
        `queue: ${Object.entries(counts)
          .map(([s, n]) => `${s} ${n}`)
          .join(', ')}`,
        `nearest deadline: ${result.nearestDeadline ?? 'none'}`,
        result.lastTick
          ? `last tick: finished ${result.lastTick.finishedAt} (${String(result.lastTick.stoppedBy)}), fetches ${JSON.stringify(result.lastTick.fetches)}`
          : 'last tick: none yet',
      ];
      io.stdout.write(lines.join('\n') + '\n');
    }
    return EXIT.ok;
  },
};

export const COMMANDS: readonly Command[] = [
  tablesCreate,
  enqueue,
  poll,
  queueList,
  status,
  ...QUERY_COMMANDS,
  EXPORT_COMMAND,
  FORGET_COMMAND,
  SCRUB_COMMAND,
];

function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length));
  return [
    'lpv: capture LivePerson visitor sessions before they expire',
    '',
    'Usage: lpv <command> [options]   (lpv <command> --help for its options)',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`),
    '',
    'Configuration comes from the environment (see README.md): LP_ACCOUNT_ID, DYNAMODB_ENDPOINT, ...',
    'Exit codes: 0 ok, 1 failure, 2 bad usage or input, 3 credential/account fault.',
  ].join('\n');
}

export async function main(
  argv: string[],
  io: CliIo = processIo(),
  deps: CliDeps = { clock: systemClock },
): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? io.stderr : io.stdout).write(mainUsage() + '\n');
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const command = [...COMMANDS]
    .sort((a, b) => b.path.length - a.path.length)
    .find((c) => c.path.every((word, i) => argv[i] === word));
  if (!command) {
    io.stderr.write(`lpv: unknown command "${argv.slice(0, 2).join(' ')}"\n\n${mainUsage()}\n`);
    return EXIT.usage;
  }
  let args: ParsedArgs;
  try {
    const parsed = parseArgs({
      args: argv.slice(command.path.length),
      options: command.options,
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
    args = { values: parsed.values as ParsedArgs['values'], positionals: parsed.positionals };
  } catch (error) {
    io.stderr.write(
      `lpv ${command.path.join(' ')}: ${(error as Error).message}\n\nUsage: ${command.usage}\n`,
    );
    return EXIT.usage;
  }
  if (args.values.help === true) {
    io.stdout.write(`Usage: ${command.usage}\n`);
    return EXIT.ok;
  }
  // LPV_LOCAL_DATA=DIR: the embedded DynamoDB over the LevelDB files `npm start -- --data DIR` left behind.
  let embedded: EmbeddedDynamo | undefined;
  try {
    const localData = io.env.LPV_LOCAL_DATA;
    if (localData !== undefined && localData !== '' && io.env.DYNAMODB_ENDPOINT === undefined) {
      embedded = await startEmbeddedDynamo(localData);
      io = { ...io, env: { AWS_REGION: 'local', ...io.env, DYNAMODB_ENDPOINT: embedded.endpoint } };
    }
    return await command.run(args, io, deps);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`lpv ${command.path.join(' ')}: ${error.message}\n\nUsage: ${command.usage}\n`);
      return EXIT.usage;
    }
    if (error instanceof ConfigError) {
      io.stderr.write(`lpv: configuration error: ${error.message}\n`);
      return EXIT.usage;
    }
    const message =
      error instanceof LpvError ? error.message : `${(error as Error).name}: ${(error as Error).message}`;
    io.stderr.write(`lpv ${command.path.join(' ')}: ${message}\n`);
    return EXIT.failure;
  } finally {
    await embedded?.close();
  }
}
