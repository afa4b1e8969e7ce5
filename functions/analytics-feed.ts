/**
 * EventBridge Pipes enrichment: capture-table stream records → analyst rows for Firehose (S3, Glue, Athena).
 * Thin: the transformation is lib/query/feed.ts (pure, no clients).
 */
export { handler } from '../lib/query/feed';
