import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ANALYTICS_SCHEMA, CaptureAnalytics, DEFAULT_ANALYTICS_RETENTION } from '../../infra/analytics';
import { analyticsErasureDays } from '../../infra/analytics-retention';
import { NAMED_QUERIES } from '../../lib/query/named-queries';

/** Our acknowledgements in the construct (each justified where it is made). */
const EXPECTED_ACKS = [
  'Annotation::AwsSolutions-IAM5[Resource::*]',
  'Annotation::AwsSolutions-IAM5[Resource::<AnalyticsQueryResults11B30085.Arn>/*]',
  'Annotation::AwsSolutions-IAM5[Resource::<AnalyticsRows9BA61F91.Arn>/errors/*]',
  // Firehose, the optimizers and the table creation: each its own, on the iceberg/ prefix only.
  'Annotation::AwsSolutions-IAM5[Resource::<AnalyticsRows9BA61F91.Arn>/iceberg/*]',
  'Annotation::AwsSolutions-IAM5[Resource::<AnalyticsRows9BA61F91.Arn>/iceberg/*]',
  'Annotation::AwsSolutions-IAM5[Resource::<AnalyticsRows9BA61F91.Arn>/iceberg/*]',
  ...['compaction', 'orphan-file-deletion', 'retention'].map(
    (kind) =>
      `Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws-glue/iceberg-${kind}/logs:*]`,
  ),
  'Annotation::AwsSolutions-S1',
  'Annotation::AwsSolutions-SQS3',
].sort();

function build(
  withStream = true,
  synth = true,
): { stack: Stack; analytics: CaptureAnalytics; template: Template } {
  // Bundling skipped: the template still names the runtime and handler (one real bundle runs in `cdk synth`).
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'AnalyticsTest');
  const captureTable = new dynamodb.Table(stack, 'Capture', {
    partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
    sortKey: { name: 'sk', type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(withStream ? { stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES } : {}),
  });
  const analytics = new CaptureAnalytics(stack, 'Analytics', { captureTable });
  return {
    stack,
    analytics,
    template: synth ? Template.fromStack(stack) : (undefined as unknown as Template),
  };
}

type Resources = Record<string, { Properties: Record<string, unknown>; DependsOn?: string[] }>;

describe('CaptureAnalytics', () => {
  const { stack, analytics, template } = build();
  const rows = Object.entries(
    template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    }) as Resources,
  );

  it('keeps the tables in a private, encrypted, TLS-only, versioned bucket where every prefix expires', () => {
    expect(rows).toHaveLength(1);
    const props = rows[0]![1].Properties;
    expect(props).toMatchObject({
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
    const rules = (props.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    const byId = Object.fromEntries(rules.map((r) => [r.Id, r]));
    expect(byId['expire-noncurrent-versions']).toMatchObject({
      NoncurrentVersionExpiration: { NoncurrentDays: 1 },
      ExpiredObjectDeleteMarker: true,
    });
    expect(byId['expire-noncurrent-versions']?.Prefix).toBeUndefined();
    expect(byId['expire-errors']).toMatchObject({ Prefix: 'errors/', ExpirationInDays: 7 });
    expect(byId['expire-legacy-ndjson']).toMatchObject({ Prefix: 'rows/', ExpirationInDays: 1 });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: { LogFilePrefix: 'query-results/' },
      LifecycleConfiguration: {
        Rules: [Match.objectLike({ Id: 'expire-query-results', ExpirationInDays: 7 })],
      },
    });
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
  });

  it('delivers through Firehose to Iceberg: one table config per row type, unique keys pk and sk, routed by the function', () => {
    const stream = Object.values(template.findResources('AWS::KinesisFirehose::DeliveryStream') as Resources);
    expect(stream).toHaveLength(1);
    const iceberg = stream[0]!.Properties.IcebergDestinationConfiguration as Record<string, unknown>;
    expect(stream[0]!.Properties.ExtendedS3DestinationConfiguration).toBeUndefined();
    expect(iceberg).toMatchObject({
      AppendOnly: false,
      // CloudFormation spells this one property with a lower-case s.
      s3BackupMode: 'FailedDataOnly',
      BufferingHints: { IntervalInSeconds: 300, SizeInMBs: 128 },
      CatalogConfiguration: { CatalogArn: { 'Fn::Join': expect.anything() } },
    });
    expect(iceberg.DestinationTableConfigurationList).toEqual(
      ANALYTICS_SCHEMA.tables.map((t) => ({
        DestinationDatabaseName: 'lp_visit_capture_iceberg',
        DestinationTableName: t.name,
        UniqueKeys: ['pk', 'sk'],
        S3ErrorOutputPrefix: `errors/table=${t.name}/`,
      })),
    );
    const processors = (
      iceberg.ProcessingConfiguration as {
        Processors: { Type: string; Parameters: { ParameterName: string; ParameterValue: unknown }[] }[];
      }
    ).Processors;
    expect(processors.map((p) => p.Type)).toEqual(['Lambda']);
    expect(processors[0]!.Parameters).toContainEqual({
      ParameterName: 'LambdaArn',
      ParameterValue: { 'Fn::GetAtt': [expect.stringMatching(/^AnalyticsRouteFunction/), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
      Environment: { Variables: Match.objectLike({ ANALYTICS_DATABASE: 'lp_visit_capture_iceberg' }) },
    });
    // The pipe hands the stream records to Firehose as they are: no enrichment any more.
    const pipe = Object.values(template.findResources('AWS::Pipes::Pipe') as Resources)[0]!.Properties;
    expect(pipe).toMatchObject({
      Source: { 'Fn::GetAtt': [expect.stringMatching(/^Capture/), 'StreamArn'] },
      Target: { 'Fn::GetAtt': [expect.stringMatching(/^AnalyticsFeed/), 'Arn'] },
    });
    expect(pipe.Enrichment).toBeUndefined();
  });

  it('creates every table once through Athena DDL (no AWS::Glue::Table), partitioned by rowday', () => {
    expect(Object.keys(template.findResources('AWS::Glue::Table'))).toEqual([]);
    template.hasResourceProperties('AWS::Glue::Database', {
      DatabaseInput: Match.objectLike({ Name: 'lp_visit_capture_iceberg' }),
    });
    const creations = Object.values(template.findResources('Custom::AWS') as Resources);
    expect(creations).toHaveLength(ANALYTICS_SCHEMA.tables.length);
    for (const c of creations) {
      expect(c.Properties.Update).toBeUndefined();
      expect(c.Properties.Delete).toBeUndefined();
    }
    const created = JSON.stringify(creations.map((c) => c.Properties.Create));
    for (const table of ANALYTICS_SCHEMA.tables) {
      expect(created).toContain(`CREATE TABLE IF NOT EXISTS \`lp_visit_capture_iceberg\`.\`${table.name}\``);
    }
    expect(created).toContain('PARTITIONED BY (`rowday`)');
    expect(created).toContain("'table_type' = 'ICEBERG'");
  });

  it('runs compaction, snapshot retention (at most the erasure bound) and orphan-file deletion on every table', () => {
    const optimizers = Object.values(template.findResources('AWS::Glue::TableOptimizer') as Resources).map(
      (o) =>
        o.Properties as {
          TableName: string;
          Type: string;
          TableOptimizerConfiguration: Record<string, unknown>;
        },
    );
    expect(optimizers).toHaveLength(3 * ANALYTICS_SCHEMA.tables.length);
    for (const table of ANALYTICS_SCHEMA.tables) {
      expect(
        optimizers
          .filter((o) => o.TableName === table.name)
          .map((o) => o.Type)
          .sort(),
      ).toEqual(['compaction', 'orphan_file_deletion', 'retention']);
    }
    const retention = optimizers.find((o) => o.Type === 'retention')!.TableOptimizerConfiguration;
    expect(retention).toMatchObject({
      Enabled: true,
      RetentionConfiguration: {
        IcebergConfiguration: {
          SnapshotRetentionPeriodInDays: 5,
          NumberOfSnapshotsToRetain: 1,
          CleanExpiredFiles: true,
        },
      },
    });
    expect(analyticsErasureDays({ ...DEFAULT_ANALYTICS_RETENTION })).toBeLessThanOrEqual(10);
  });

  it('grants Firehose, the optimizers and the table creation only their prefixes and tables', () => {
    const statements = (roleIdPart: string) =>
      Object.values(template.findResources('AWS::IAM::Policy') as Resources)
        .filter((p) => JSON.stringify(p.Properties.Roles).includes(roleIdPart))
        .flatMap(
          (p) =>
            (
              p.Properties.PolicyDocument as {
                Statement: { Sid?: string; Action: unknown; Resource: unknown }[];
              }
            ).Statement,
        );
    const firehose = statements('AnalyticsFirehoseRole');
    const text = JSON.stringify(firehose);
    expect(text).toContain('/iceberg/*');
    expect(text).toContain('/errors/*');
    expect(text).not.toMatch(/"Resource":"\*"/);
    expect(text).toContain('glue:UpdateTable');
    expect(text).toContain('lambda:InvokeFunction');
    for (const s of firehose) {
      const resources = JSON.stringify(s.Resource);
      if (JSON.stringify(s.Action).includes('s3:DeleteObject')) expect(resources).toContain('/iceberg/*');
    }
    const glueTables = JSON.stringify(statements('AnalyticsOptimizerRole'));
    for (const t of ANALYTICS_SCHEMA.tables)
      expect(glueTables).toContain(`table/lp_visit_capture_iceberg/${t.name}`);
    expect(glueTables).not.toContain('table/lp_visit_capture_iceberg/*');
  });

  it('runs queries in a workgroup with encrypted results and a bytes-scanned limit', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        ResultConfiguration: Match.objectLike({ EncryptionConfiguration: { EncryptionOption: 'SSE_S3' } }),
      }),
    });
    const named = template.findResources('AWS::Athena::NamedQuery');
    expect(
      Object.values(named)
        .map((q) => (q.Properties as { Name: string }).Name)
        .sort(),
    ).toEqual([
      'conversion by referrer',
      'erasure check for one visitor',
      'purchases per day',
      'purchases per day as of 24 hours ago',
      'sessions lost per day',
      'visitor profile revisions per session',
    ]);
  });

  it('passes cdk-nag AwsSolutions, with only the acknowledgements justified in the construct', () => {
    const report = new AwsSolutionsChecks(stack).validateScope(stack);
    const findings = report.violations.map(
      (v) =>
        `${v.ruleName}: ${v.violatingResources.map((r) => `${r.resourceLogicalId ?? r.constructPath ?? ''}`).join(', ')}`,
    );
    // The test's own table is outside the construct; its findings (if any) are not ours.
    expect(findings.filter((f) => !/: Capture[0-9A-F]{8} /.test(f))).toEqual([]);
    const acks: string[] = [];
    for (const node of analytics.node.findAll()) {
      for (const entry of node.node.metadata) {
        if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
        acks.push(...Object.keys(entry.data as Record<string, string>));
      }
    }
    expect(acks.filter((a) => a.includes('AwsSolutions')).sort()).toEqual(EXPECTED_ACKS);
  });

  it("grants analysts the workgroup, the catalog, the tables' files and the results", () => {
    const fresh = build(true, false);
    const analyst = new iam.Role(fresh.stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });
    fresh.analytics.grantQuery(analyst);
    const policies = Template.fromStack(fresh.stack).findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('^Analyst') }] },
    });
    const actions = JSON.stringify(Object.values(policies).map((p) => p.Properties));
    for (const action of ['athena:StartQueryExecution', 'glue:GetTable', 's3:GetObject*', 's3:PutObject']) {
      expect(actions).toContain(action);
    }
    expect(actions).toContain('/iceberg/*');
  });

  it('refuses a capture table without a stream', () => {
    expect(() => build(false)).toThrow(/needs the capture table stream/);
  });
});

/** SQL words of the named queries that are neither tables nor columns. */
const SQL_WORDS = new Set(
  (
    'with as select from where and or group by order desc asc left join on distinct interval day ' +
    'count sum max max_by min date from_unixtime date_format current_date coalesce url_extract_host round count_if ' +
    'cross unnest cast json_parse json_extract_scalar map varchar json bigint ' +
    'for timestamp of current_timestamp full union all'
  ).split(' '),
);

/** Identifiers of `sql` that are neither SQL words, names the query defines, nor columns of the tables it reads. */
function problems(sql: string): string[] {
  const tables = new Map(
    ANALYTICS_SCHEMA.tables.map((t) => [
      t.name,
      new Set([...t.columns.map((c) => c.name), ANALYTICS_SCHEMA.partitionKey]),
    ]),
  );
  const found: string[] = [];
  const used = [...sql.matchAll(/"db"\."([^"]+)"/g)].map((m) => m[1] as string);
  if (used.length === 0) found.push('(no table)');
  for (const t of used) if (!tables.has(t)) found.push(`table ${t}`);
  const columns = new Set(used.flatMap((t) => [...(tables.get(t) ?? [])]));
  // Names the query defines itself: CTEs and aliases (`x AS (`, `AS x`, `AS t(a, b)`, `FROM "db"."t" x`).
  const defined = new Set<string>([
    ...[...sql.matchAll(/\bAS \w+\(([^)]*)\)/gi)].flatMap((m) =>
      (m[1] as string).split(',').map((c) => c.trim().toLowerCase()),
    ),
    ...[...sql.matchAll(/\b(\w+) AS \(/gi)].map((m) => (m[1] as string).toLowerCase()),
    ...[...sql.matchAll(/\bAS (\w+)/gi)].map((m) => (m[1] as string).toLowerCase()),
    ...[...sql.matchAll(/(?:FROM|JOIN) (?:"db"\."\w+"|\w+) (\w+)/gi)].map((m) =>
      (m[1] as string).toLowerCase(),
    ),
  ]);
  const words =
    sql
      .replace(/'[^']*'/g, ' ')
      .replace(/"db"\."\w+"/g, ' ')
      .match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
  for (const w of words.map((x) => x.toLowerCase())) {
    if (!SQL_WORDS.has(w) && !defined.has(w) && !columns.has(w)) found.push(w);
  }
  // Qualified names (`s.referrer`): a column of the tables, or a name the query defined.
  for (const m of sql.matchAll(/\b[A-Za-z_]\w*\.([A-Za-z_]\w*)/g)) {
    const name = (m[1] as string).toLowerCase();
    if (!columns.has(name) && !defined.has(name)) found.push(m[0]);
  }
  return found;
}

describe('named queries', () => {
  it.each(NAMED_QUERIES.map((q) => [q.name, q] as const))(
    '%s refers only to tables and columns of the Glue schema',
    (_name, query) => {
      expect(problems(query.sql('db'))).toEqual([]);
    },
  );

  it('include one time-travel query and one erasure check parameterised by visitor id over every table', () => {
    const sql = NAMED_QUERIES.map((q) => q.sql('db'));
    expect(sql.filter((q) => /FOR TIMESTAMP AS OF/.test(q))).toHaveLength(1);
    const check = NAMED_QUERIES.find((q) => q.id === 'ErasureCheck')?.sql('db') ?? '';
    expect(check.match(/\?/g)).toHaveLength(1);
    for (const t of ANALYTICS_SCHEMA.tables) expect(check).toContain(`"db"."${t.name}" x ON x.visitorid`);
    // Every other query prunes partitions.
    for (const q of sql.filter((q) => q !== check)) expect(q).toMatch(/rowday >= /);
  });

  it('the check is live: unknown tables and columns are reported', () => {
    expect(problems('SELECT eventtype, revenue FROM "db"."event" e WHERE e.orderid_x = 1')).toEqual([
      'revenue',
      'orderid_x',
      'e.orderid_x',
    ]);
    expect(problems('SELECT sid FROM "db"."purchases"')).toEqual(['table purchases', 'sid']);
    expect(
      problems(
        'SELECT t.vp_id FROM "db"."session" CROSS JOIN UNNEST(CAST(json_parse(revactivevpz) AS MAP(VARCHAR, JSON))) AS t(vp_id, vp)',
      ),
    ).toEqual(['revactivevpz']);
  });
});
