/**
 * Where each store keeps capture data and for how long: the retention facts the data dictionary
 * (docs/data-dictionary.md) and the analytics schema's column comments show. Which columns hold personal data,
 * and what the privacy policy does to them, is lib/privacy's.
 */
import { DAY_MS } from '../clock';
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
      'kept until deleted: no TTL (lpv:captureRetentionDays accepts only keep so far: the point of the ' +
      'project being to keep what LivePerson forgets). Erasing a visitor: `lpv forget --visitor V` ' +
      '(docs/erasure.md).',
  },
  {
    id: 'queue',
    store:
      'DynamoDB queue table (visitorId, sid, lastBadBody: size, hash and structure of an unusable answer)',
    retention: `DynamoDB TTL (expiresAtSec) ${QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS / DAY_MS} days after the session's deadline (start + 6 h); TTL deletes within about 48 h of that.`,
  },
  {
    id: 'analytics',
    store: 'S3 analytics copy (rows/rowType=…/dt=…, infra/analytics.ts)',
    retention:
      'never expires (lifecycle rules only move objects to cheaper storage classes); the same columns as the ' +
      'capture table. Erasure means rewriting the affected dt partitions without the visitor.',
  },
];
