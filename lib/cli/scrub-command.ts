/**
 * `lpv scrub`: apply the current privacy policy to the rows stored before it (lib/scrub, docs/privacy.md "Data
 * stored before the policy").
 */
import { loadStorageSettings } from '../config';
import { loadPrivacyPolicy } from '../privacy/config';
import { CheckpointFile } from '../scrub/checkpoint-file';
import { createRowScrubber } from '../scrub/plan';
import { runScrub, ScrubCheckpointMismatchError } from '../scrub/scrub';
import { createDocumentClient } from '../store/dynamo';
import { CAPTURE_STORE_COLUMNS, DynamoScrubTable } from '../store/dynamo-scrub';
import { HELP_OPTION, type Command } from './command';
import { EXIT, UsageError } from './io';

/** Scan segments run at once unless --segments says otherwise: enough to keep a few DynamoDB partitions busy. */
export const DEFAULT_SCRUB_SEGMENTS = 4;
/** Most segments: each is one scan in flight with up to 8 writes. */
const MAX_SCRUB_SEGMENTS = 64;

function wholeNumber(option: string, raw: unknown, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${option} must be a whole number from ${min} to ${max}`);
  }
  return Number(raw);
}

/** Registered in main.ts's COMMANDS. */
export const SCRUB_COMMAND: Command = {
  path: ['scrub'],
  summary: 'apply the current privacy policy to rows stored before it (resumable)',
  usage:
    'lpv scrub [--dry-run] [--checkpoint FILE] [--segments N] [--page-size N] [--max-pages N] [--allow-drop]\n\n' +
    'Scans the capture table and rewrites every row whose values the current privacy policy (LPV_PRIVACY_*,\n' +
    "LPV_HASH_KEY, LPV_HASH_KEY_VERSION: the poller's settings) would store otherwise: hashes, truncates and\n" +
    'drops them as the poller does at capture. Values already treated (hashes of any key version, truncated\n' +
    'addresses) stay as they are, so a second run changes nothing. A row a poll rewrote meanwhile is left as it\n' +
    'is and counted as a conflict. Progress on stderr; the counts as JSON on stdout.\n\n' +
    '  --dry-run          change nothing; count what a run would change\n' +
    '  --checkpoint FILE  save the scan position after every page; run again with the same FILE to continue\n' +
    '                     an interrupted run; removed when the run completes\n' +
    `  --segments N       parallel scan segments (default ${DEFAULT_SCRUB_SEGMENTS}; a continued run keeps its own)\n` +
    '  --page-size N      items per scan page (default: pages of up to 1 MB)\n' +
    '  --max-pages N      stop after N pages, keeping the checkpoint (a bounded run)\n' +
    '  --allow-drop       needed when no hash key is set: the hashed categories are then DROPPED from the\n' +
    '                     stored rows, which cannot be undone\n\n' +
    'Exit 0 done (or stopped at --max-pages), 1 failure, 2 bad usage or configuration. See docs/privacy.md.',
  options: {
    ...HELP_OPTION,
    'dry-run': { type: 'boolean' },
    checkpoint: { type: 'string' },
    segments: { type: 'string' },
    'page-size': { type: 'string' },
    'max-pages': { type: 'string' },
    'allow-drop': { type: 'boolean' },
  },
  async run(args, io) {
    const dryRun = args.values['dry-run'] === true;
    const segments = wholeNumber('segments', args.values.segments, 1, MAX_SCRUB_SEGMENTS);
    const pageSize = wholeNumber('page-size', args.values['page-size'], 1, 1_000_000);
    const maxPages = wholeNumber('max-pages', args.values['max-pages'], 1, Number.MAX_SAFE_INTEGER);
    const checkpointPath = args.values.checkpoint;
    if (checkpointPath !== undefined && (typeof checkpointPath !== 'string' || checkpointPath === '')) {
      throw new UsageError('--checkpoint takes a file name');
    }

    // Read before any table is touched: a bad setting stops the command with nothing done.
    const storage = loadStorageSettings(io.env);
    let fallback: string | undefined;
    const policy = loadPrivacyPolicy(io.env, (message) => {
      fallback = message;
    });
    if (fallback !== undefined) {
      io.stderr.write(
        `lpv scrub: WARNING: ${fallback}.\n` +
          'lpv scrub: WARNING: scrubbing now would DROP those values from every stored row: that cannot be undone,\n' +
          'lpv scrub: WARNING: and rows hashed later could not be joined with them. Set the hash key the poller uses.\n',
      );
      if (!dryRun && args.values['allow-drop'] !== true) {
        throw new UsageError('no hash key: pass --allow-drop to drop the hashed categories from stored rows');
      }
    }
    if (!policy.treatsAnything)
      io.stderr.write('lpv scrub: the policy keeps everything: no row will change\n');

    const client = createDocumentClient(storage);
    try {
      const report = await runScrub(
        {
          table: storage.captureTable,
          totalSegments: segments ?? DEFAULT_SCRUB_SEGMENTS,
          dryRun,
          ...(maxPages !== undefined ? { maxPages } : {}),
        },
        {
          table: new DynamoScrubTable(client, storage.captureTable, {
            ...(pageSize !== undefined ? { pageSize } : {}),
          }),
          scrubber: createRowScrubber(policy, CAPTURE_STORE_COLUMNS),
          ...(checkpointPath !== undefined ? { checkpoint: new CheckpointFile(checkpointPath) } : {}),
          onProgress: (message) => io.stderr.write(`lpv scrub: ${message}\n`),
        },
      );
      io.stdout.write(JSON.stringify(report, null, 2) + '\n');
      return EXIT.ok;
    } catch (error) {
      if (error instanceof ScrubCheckpointMismatchError) throw new UsageError(error.message);
      throw error;
    } finally {
      client.destroy();
    }
  },
};
