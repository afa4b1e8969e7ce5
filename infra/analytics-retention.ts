/**
 * How long an erased or expired row can survive in the analytics bucket, from the settings that bound it.
 * Pure (no CDK): infra/config.ts checks it against lpv:analyticsErasureBoundDays at synth, and docs/privacy.md
 * states the bound it computes with the defaults.
 *
 * After a row's delete is committed (minutes: Firehose's buffer, see lib/query/analytics-route.ts), its bytes
 * are still in S3 in four places, each with its own clock:
 *   - data files the current snapshot still reads, with the row masked by a delete file: compaction rewrites
 *     them (the optimizer runs when a file has a delete; allow a day), then
 *   - the snapshots before the delete: the retention optimizer expires snapshots older than
 *     snapshotRetentionDays and deletes the files only they referenced;
 *   - files no snapshot references (a failed commit): orphan-file deletion after orphanFileRetentionDays;
 *   - records Firehose could not deliver or route, as received, under errors/: expired after errorsRetentionDays;
 *   - Athena results that selected the row: expired after resultsRetentionDays (their own, unversioned bucket).
 * A deleted object of the versioned rows bucket stays as a noncurrent version for noncurrentVersionDays more,
 * and S3 runs lifecycle rules about once a day (allow a day).
 */
export interface AnalyticsRetentionSettings {
  snapshotRetentionDays: number;
  orphanFileRetentionDays: number;
  noncurrentVersionDays: number;
  errorsRetentionDays: number;
  resultsRetentionDays: number;
  /** The NDJSON copy of before the Iceberg tables, rows/: expired after this many days. */
  legacyRowsExpiryDays: number;
}

/** Days allowed for compaction to rewrite a file with deletes, and for S3 to apply a lifecycle rule. */
export const COMPACTION_LAG_DAYS = 1;
export const LIFECYCLE_LAG_DAYS = 1;

/** The most days a deleted row's bytes can stay in the analytics buckets (see the header). */
export function analyticsErasureDays(s: AnalyticsRetentionSettings): number {
  const inRowsBucket = Math.max(
    COMPACTION_LAG_DAYS + s.snapshotRetentionDays,
    s.orphanFileRetentionDays,
    s.errorsRetentionDays,
    s.legacyRowsExpiryDays,
  );
  return Math.max(
    inRowsBucket + LIFECYCLE_LAG_DAYS + s.noncurrentVersionDays,
    s.resultsRetentionDays + LIFECYCLE_LAG_DAYS,
  );
}
