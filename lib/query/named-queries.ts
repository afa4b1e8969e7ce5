/**
 * Athena named queries over the Iceberg tables (infra/analytics.ts). `${db}` is the Glue database. The tables
 * hold the current version of every row (Firehose applies updates and deletes), so no query deduplicates.
 * Each filters on the partition column `rowday` (the UTC day of the row's event, page or session start), which
 * is what keeps a query from reading every day ever captured. Table and column names are those of
 * analytics-schema.json; test/infra/analytics.test.ts checks every identifier against it.
 */
export interface NamedQueryDefinition {
  /** Construct id and Athena name. */
  id: string;
  name: string;
  description: string;
  sql(db: string): string;
}

const RECENT = `rowday >= date_format(current_date - INTERVAL '30' DAY, '%Y-%m-%d')`;

export const NAMED_QUERIES: readonly NamedQueryDefinition[] = [
  {
    id: 'PurchasesPerDay',
    name: 'purchases per day',
    description: 'Purchase events and revenue per UTC day of the event, last 30 days',
    sql: (db) => `SELECT rowday AS day,
       count(*) AS purchases,
       sum(total) AS revenue
FROM "${db}"."event"
WHERE eventtype = 'purchase' AND ${RECENT}
GROUP BY 1
ORDER BY 1`,
  },
  {
    id: 'ConversionByReferrer',
    name: 'conversion by referrer',
    description:
      'Sessions and the share with a purchase, by external referrer host, sessions of the last 30 days',
    sql: (db) => `WITH sessions AS (
  SELECT sid, max(externalreferrer) AS referrer
  FROM "${db}"."session"
  WHERE ${RECENT}
  GROUP BY sid
),
buyers AS (
  SELECT DISTINCT sid
  FROM "${db}"."event"
  WHERE eventtype = 'purchase' AND ${RECENT}
)
SELECT coalesce(url_extract_host(s.referrer), '(direct)') AS referrer_host,
       count(*) AS sessions,
       count(b.sid) AS converted,
       round(100.0 * count(b.sid) / count(*), 2) AS conversion_pct
FROM sessions s
LEFT JOIN buyers b ON b.sid = s.sid
GROUP BY 1
ORDER BY sessions DESC`,
  },
  {
    id: 'SessionsLostPerDay',
    name: 'sessions lost per day',
    description:
      'Sessions by final state per UTC start day, from outcome rows: how many were lost, last 30 days',
    sql: (db) => `SELECT rowday AS day,
       count(*) AS sessions,
       count_if(finalstate = 'LOST') AS lost,
       count_if(finalstate = 'CAPTURED') AS captured,
       count_if(finalstate = 'INVALID') AS invalid,
       count_if(finalstate = 'FAILED') AS failed,
       round(100.0 * count_if(finalstate = 'LOST') / count(*), 2) AS lost_pct
FROM "${db}"."outcome"
WHERE ${RECENT}
GROUP BY 1
ORDER BY 1`,
  },
  {
    id: 'VisitorProfileRevisions',
    name: 'visitor profile revisions per session',
    description:
      'Active visitor profiles (VP ids) and their revision per app session, one row per id of the id-keyed map ' +
      'revActiveVPs (a JSON column since schema version 3), sessions of the last 30 days',
    sql: (db) => `SELECT s.sid, s.appsessionid, t.vp_id,
       CAST(json_extract_scalar(t.vp, '$.revision') AS bigint) AS revision
FROM "${db}"."session" s
CROSS JOIN UNNEST(CAST(json_parse(s.revactivevps) AS MAP(VARCHAR, JSON))) AS t(vp_id, vp)
WHERE s.${RECENT}
ORDER BY s.sid, s.appsessionid, t.vp_id`,
  },
  {
    id: 'PurchasesAsOfYesterday',
    name: 'purchases per day as of 24 hours ago',
    description:
      'Time travel: the purchases per day of the last 30 days as the event table held them 24 hours ago, next ' +
      'to today; differences are late captures, updates and erasures. Reaches back as far as snapshots are kept ' +
      '(lpv:analyticsSnapshotRetentionDays)',
    sql: (db) => `WITH now_rows AS (
  SELECT rowday, count(*) AS purchases
  FROM "${db}"."event"
  WHERE eventtype = 'purchase' AND ${RECENT}
  GROUP BY rowday
),
then_rows AS (
  SELECT rowday, count(*) AS purchases
  FROM "${db}"."event" FOR TIMESTAMP AS OF (current_timestamp - INTERVAL '1' DAY)
  WHERE eventtype = 'purchase' AND ${RECENT}
  GROUP BY rowday
)
SELECT coalesce(n.rowday, t.rowday) AS day,
       t.purchases AS purchases_then,
       n.purchases AS purchases_now
FROM now_rows n
FULL JOIN then_rows t ON t.rowday = n.rowday
ORDER BY 1`,
  },
  {
    id: 'ErasureCheck',
    name: 'erasure check for one visitor',
    description:
      'Execution parameter: the visitor id. Rows of that visitor left in any table, per table: all zero once an ' +
      'erasure has reached the tables (older snapshots keep them until snapshot retention ends). Every day is ' +
      'read, so it can hit the workgroup scan limit on a large copy',
    sql: (db) => `WITH target AS (SELECT CAST(? AS varchar) AS visitorid)
SELECT 'session' AS table_name, count(x.visitorid) AS rows_left FROM target LEFT JOIN "${db}"."session" x ON x.visitorid = target.visitorid
UNION ALL
SELECT 'page', count(x.visitorid) FROM target LEFT JOIN "${db}"."page" x ON x.visitorid = target.visitorid
UNION ALL
SELECT 'engagement', count(x.visitorid) FROM target LEFT JOIN "${db}"."engagement" x ON x.visitorid = target.visitorid
UNION ALL
SELECT 'event', count(x.visitorid) FROM target LEFT JOIN "${db}"."event" x ON x.visitorid = target.visitorid
UNION ALL
SELECT 'eventitem', count(x.visitorid) FROM target LEFT JOIN "${db}"."eventitem" x ON x.visitorid = target.visitorid
UNION ALL
SELECT 'outcome', count(x.visitorid) FROM target LEFT JOIN "${db}"."outcome" x ON x.visitorid = target.visitorid`,
  },
];
