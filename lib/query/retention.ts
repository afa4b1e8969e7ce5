/**
 * Where each store keeps capture data and for how long: the retention facts the data dictionary
 * (docs/data-dictionary.md) and the analytics schema's column comments show. Which columns hold personal data,
 * and what the privacy policy does to them, is lib/privacy's.
 */
import { KEEP, MAX_CAPTURE_RETENTION_DAYS, MIN_CAPTURE_RETENTION_DAYS } from '../capture-retention';
import { DAY_MS } from '../clock';
import { CAPTURE_TTL_ATTRIBUTE } from '../keys';
import { QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS } from '../store/dynamo-queue';

/** Where rows live and how long; `id` is how the dictionary refers to each. */
export interface RetentionRule {
  id: string;
  store: string;
  retention: string;
}

export const RETENTION: readonly RetentionRule[] = [
  {
    id: 'capture',
    store: 'DynamoDB capture table (every row type)',
    retention:
      `lpv:captureRetentionDays (CAPTURE_RETENTION_DAYS for a local poller): \`${KEEP}\` (the default) keeps rows ` +
      `until deleted; N days (${MIN_CAPTURE_RETENTION_DAYS} to ${MAX_CAPTURE_RETENTION_DAYS}) gives every row of a ` +
      `session the same DynamoDB TTL (${CAPTURE_TTL_ATTRIBUTE}, epoch seconds) = the session's start (its queue ` +
      'start time) + N days; TTL deletes within about 48 h of that, and `lpv query` hides expired rows meanwhile. ' +
      'Rows written before retention was set keep no TTL. Point-in-time recovery keeps deleted rows for ' +
      'lpv:pointInTimeRecoveryDays (default 35). Erasing a visitor: `lpv forget --visitor V` (docs/erasure.md).',
  },
  {
    id: 'queue',
    store:
      'DynamoDB queue table (visitorId, sid, lastBadBody: size, hash and structure of an unusable answer)',
    retention: `DynamoDB TTL (expiresAtSec) ${QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS / DAY_MS} days after the session's deadline (start + 6 h); TTL deletes within about 48 h of that.`,
  },
  {
    id: 'analytics',
    store: 'S3 analytics copy (Iceberg tables under iceberg/, partitioned by rowday; infra/analytics.ts)',
    retention:
      'follows the capture table: the table stream (NEW_AND_OLD_IMAGES) turns every DynamoDB delete into an ' +
      'Iceberg delete, those of TTL expiry included (the feed pipe forwards every REMOVE; it filters none), so a ' +
      "row leaves the copy within Firehose's buffer (5 min) of leaving DynamoDB; an erasure also re-sends its " +
      'deletes after that buffer (docs/erasure.md). The deleted bytes go when the table optimizers compact the ' +
      'files and expire old snapshots (lpv:analyticsSnapshotRetentionDays, default 5) and their noncurrent S3 ' +
      'versions expire (1 day by default); records Firehose could not apply (errors/) expire after 7 days by default.',
  },
];
