/**
 * Athena named queries over the S3 copy (infra/analytics.ts). `${db}` is the Glue database. Each reads the
 * last 30 days of partitions (`dt`: the UTC day a row was written, one more day than the events it holds may
 * need) and keeps the latest version of each row (the feed appends every version). Table and column names are
 * those of analytics-schema.json; test/infra/analytics.test.ts checks every identifier against it.
 */
export interface NamedQueryDefinition {
  /** Construct id and Athena name. */
  id: string;
  name: string;
  description: string;
  sql(db: string): string;
}

const RECENT = `dt >= date_format(current_date - INTERVAL '31' DAY, '%Y-%m-%d')`;

export const NAMED_QUERIES: readonly NamedQueryDefinition[] = [
  {
    id: 'PurchasesPerDay',
    name: 'purchases per day',
    description: 'Purchase events and revenue per UTC day (by serverTimeStamp), last 30 days',
    sql: (db) => `WITH purchases AS (
  SELECT sid, eventkey, occurrence,
         max_by(total, capturedatms) AS total,
         max(servertimestamp) AS servertimestamp
  FROM "${db}"."event"
  WHERE eventtype = 'purchase' AND ${RECENT}
  GROUP BY sid, eventkey, occurrence
)
SELECT date(from_unixtime(servertimestamp / 1000)) AS day,
       count(*) AS purchases,
       sum(total) AS revenue
FROM purchases
GROUP BY 1
ORDER BY 1`,
  },
  {
    id: 'ConversionByReferrer',
    name: 'conversion by referrer',
    description: 'Sessions and the share with a purchase, by external referrer host, last 30 days',
    sql: (db) => `WITH sessions AS (
  SELECT sid, max_by(externalreferrer, capturedatms) AS referrer
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
    sql: (db) => `WITH outcomes AS (
  SELECT sid,
         max_by(finalstate, endedatms) AS finalstate,
         max(starttimems) AS starttimems
  FROM "${db}"."outcome"
  WHERE ${RECENT}
  GROUP BY sid
)
SELECT date(from_unixtime(starttimems / 1000)) AS day,
       count(*) AS sessions,
       count_if(finalstate = 'LOST') AS lost,
       count_if(finalstate = 'CAPTURED') AS captured,
       count_if(finalstate = 'INVALID') AS invalid,
       count_if(finalstate = 'FAILED') AS failed,
       round(100.0 * count_if(finalstate = 'LOST') / count(*), 2) AS lost_pct
FROM outcomes
GROUP BY 1
ORDER BY 1`,
  },
  {
    id: 'VisitorProfileRevisions',
    name: 'visitor profile revisions per session',
    description:
      'Active visitor profiles (VP ids) and their revision per app session, one row per id of the id-keyed map ' +
      'revActiveVPs (a JSON column since schema version 3), last 30 days',
    sql: (db) => `WITH sessions AS (
  SELECT sid, appsessionid, max_by(revactivevps, capturedatms) AS revactivevps
  FROM "${db}"."session"
  WHERE ${RECENT}
  GROUP BY sid, appsessionid
)
SELECT s.sid, s.appsessionid, t.vp_id,
       CAST(json_extract_scalar(t.vp, '$.revision') AS bigint) AS revision
FROM sessions s
CROSS JOIN UNNEST(CAST(json_parse(s.revactivevps) AS MAP(VARCHAR, JSON))) AS t(vp_id, vp)
ORDER BY s.sid, s.appsessionid, t.vp_id`,
  },
];
