/** `lpv forget`: erase one visitor from the queue and the capture table (lib/erasure/forget.ts, docs/erasure.md). */
import { randomUUID } from 'node:crypto';
import { FirehoseClient } from '@aws-sdk/client-firehose';
import { loadAccountId, loadPollerSettings, loadStorageSettings } from '../config';
import { ANALYTICS_STREAM_ENV, loadAnalyticsResendSettings } from '../erasure/config';
import { forgetVisitor } from '../erasure/forget';
import { REQUEST_ID_PATTERN, type ErasureAudit } from '../erasure/plan';
import { idProblem } from '../ids';
import { loadPrivacySettings } from '../privacy/config';
import { KeyedHasher } from '../privacy/hash';
import { FirehoseAnalyticsDeletes } from '../query/analytics-deletes';
import { createDocumentClient } from '../store/dynamo';
import { DynamoErasedRows, DynamoErasureCapture, DynamoErasureQueue } from '../store/dynamo-erasure';
import { HELP_OPTION, type Command } from './command';
import { EXIT, UsageError } from './io';

const sleepTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const isoOrNull = (ms: number | undefined): string | null =>
  ms !== undefined ? new Date(ms).toISOString() : null;

/**
 * The audit item as `--status` prints it: the same for `lpv forget`'s own runs and for POST /forget requests
 * (one stored shape, lib/store/dynamo-erasure.ts), which are `requested` until the eraser begins them.
 */
function auditView(audit: ErasureAudit): Record<string, unknown> {
  return {
    requestId: audit.requestId,
    status: audit.status,
    ...(audit.requestedAtMs !== undefined ? { requestedAt: isoOrNull(audit.requestedAtMs) } : {}),
    startedAt: isoOrNull(audit.startedAtMs),
    finishedAt: isoOrNull(audit.finishedAtMs),
    ...(audit.counts !== undefined ? audit.counts : {}),
    ...(audit.visitorHash !== undefined ? { visitorHash: audit.visitorHash } : {}),
    ...(audit.visitorHashUnavailable === true ? { visitorHash: 'unavailable (hash key unreadable)' } : {}),
  };
}

/** What the JSON report says of the analytics copy (Iceberg, fed by the capture table's stream). */
const ANALYTICS_RESENT =
  'deletes re-sent to the delivery stream after its buffer (a late update cannot bring a row back)';
const ANALYTICS_STREAM_ONLY =
  `erased by the capture table's stream alone (${ANALYTICS_STREAM_ENV} not set: no deletes re-sent; ` +
  'docs/erasure.md, "The analytics copy")';

/** Registered in main.ts's COMMANDS. */
export const FORGET_COMMAND: Command = {
  path: ['forget'],
  summary: "erase one visitor: tombstone its queue items, delete its sessions' rows",
  usage:
    'lpv forget --visitor V [--dry-run]\n' +
    'lpv forget --status REQUEST_ID\n\n' +
    'Turns every queue item of visitor V into a tombstone (no poll writes again; a re-enqueue is refused),\n' +
    "deletes every capture row of each of V's sessions, waits until polls in flight have ended (LEASE_SECONDS\n" +
    '+ 15 s, progress on stderr), then deletes what they wrote meanwhile. With LPV_ANALYTICS_STREAM (the\n' +
    "stack's delivery stream), waits for its buffer (LPV_ANALYTICS_RESEND_WAIT_SECONDS, 450 s by default) and\n" +
    're-sends the deletes to the analytics copy. Prints the counts as JSON on stdout\n' +
    'and records them in an audit item (no personal data) named by the request id it prints. Safe to run again:\n' +
    'an interrupted run completes, a finished one finds nothing. --dry-run changes nothing and prints what a\n' +
    'run would do. --status prints the audit item of a request, also of one made through POST /forget\n' +
    '(requested, running or done). See docs/erasure.md.',
  options: {
    ...HELP_OPTION,
    visitor: { type: 'string' },
    'dry-run': { type: 'boolean' },
    status: { type: 'string' },
  },
  async run(args, io, deps) {
    const visitor = args.values.visitor;
    const status = args.values.status;
    if (status !== undefined) {
      if (visitor !== undefined || args.values['dry-run'] !== undefined)
        throw new UsageError('--status goes alone');
      if (typeof status !== 'string' || !REQUEST_ID_PATTERN.test(status))
        throw new UsageError('--status takes a request id as `lpv forget` printed it');
    } else if (typeof visitor !== 'string') {
      throw new UsageError('--visitor V (or --status REQUEST_ID) is required');
    } else {
      const problem = idProblem('visitorId', visitor);
      if (problem !== undefined) throw new UsageError(`visitor id ${problem}`);
    }

    const accountId = loadAccountId(io.env);
    const storageSettings = loadStorageSettings(io.env);
    // Read before any table is touched: a bad setting stops the command with nothing done.
    const leaseSec = status === undefined ? loadPollerSettings(io.env).leaseSec : 0;
    const { hashKey } = loadPrivacySettings(io.env);
    const hasher = hashKey === undefined ? undefined : new KeyedHasher(hashKey);
    const resend = status === undefined ? loadAnalyticsResendSettings(io.env) : undefined;
    const client = createDocumentClient(storageSettings);
    const firehose = resend === undefined ? undefined : new FirehoseClient({});
    try {
      const queue = new DynamoErasureQueue(client, storageSettings.queueTable);
      if (typeof status === 'string') {
        const audit = await queue.loadAudit(accountId, status);
        if (audit === undefined) {
          io.stderr.write(`lpv forget: no erasure request ${status}\n`);
          return EXIT.failure;
        }
        io.stdout.write(JSON.stringify(auditView(audit), null, 2) + '\n');
        return EXIT.ok;
      }
      const dryRun = args.values['dry-run'] === true;
      const requestId = randomUUID();
      if (!dryRun) io.stderr.write(`lpv forget: request ${requestId}\n`);
      const report = await forgetVisitor(
        {
          accountId,
          visitorId: visitor as string,
          requestId,
          dryRun,
          leaseMs: leaseSec * 1000,
          // With a hash key (LPV_HASH_KEY), the audit names the visitor by its keyed hash; without, not at all.
          hashVisitorId: hasher === undefined ? undefined : (id) => hasher.hash(id),
        },
        {
          queue,
          capture: new DynamoErasureCapture(client, storageSettings.captureTable, {
            byVisitorIndex: storageSettings.captureByVisitorIndex,
          }),
          clock: deps.clock,
          sleep: deps.sleep ?? sleepTimer,
          onProgress: (message) => io.stderr.write(`lpv forget: ${message}\n`),
          ...(resend !== undefined && firehose !== undefined
            ? {
                analytics: {
                  deletes: new FirehoseAnalyticsDeletes(firehose, resend.streamName, resend.waitMs),
                  erasedRows: new DynamoErasedRows(client, storageSettings.queueTable, () =>
                    deps.clock.nowMs(),
                  ),
                },
              }
            : {}),
        },
      );
      const analyticsCopy = resend !== undefined ? ANALYTICS_RESENT : ANALYTICS_STREAM_ONLY;
      io.stdout.write(JSON.stringify({ ...report, analyticsCopy }, null, 2) + '\n');
      return EXIT.ok;
    } finally {
      client.destroy();
      firehose?.destroy();
    }
  },
};
