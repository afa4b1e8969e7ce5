import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ANALYTICS_SCHEMA, CaptureAnalytics, PARTITION_JQ } from '../../infra/analytics';
import { NAMED_QUERIES } from '../../lib/query/named-queries';

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
    ...(withStream ? { stream: dynamodb.StreamViewType.NEW_IMAGE } : {}),
  });
  const analytics = new CaptureAnalytics(stack, 'Analytics', { captureTable });
  return {
    stack,
    analytics,
    template: synth ? Template.fromStack(stack) : (undefined as unknown as Template),
  };
}

describe('CaptureAnalytics', () => {
  const { stack, analytics, template } = build();

  it('keeps the rows in a private, encrypted, TLS-only, versioned bucket whose lifecycle never expires them', () => {
    const rows = template.findResources('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
    expect(Object.keys(rows)).toHaveLength(1);
    const props = Object.values(rows)[0]?.Properties as Record<string, unknown>;
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
      LoggingConfiguration: { LogFilePrefix: 'rows/' },
    });
    const rules = (props.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules.map((r) => r.Transitions)).toEqual([
      [
        { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
        { StorageClass: 'GLACIER_IR', TransitionInDays: 180 },
      ],
    ]);
    for (const rule of rules) {
      expect(rule.ExpirationInDays).toBeUndefined();
      expect(rule.NoncurrentVersionExpiration).toBeUndefined();
    }
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: { VersioningConfiguration: { Status: 'Enabled' } },
    });
  });

  it('feeds the stream through the enrichment into Firehose, partitioned rows/rowType=…/dt=…/', () => {
    template.hasResourceProperties('AWS::Pipes::Pipe', {
      Source: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Capture'), 'StreamArn'] },
      Enrichment: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AnalyticsEnrichment'), 'Arn'] },
      Target: { 'Fn::GetAtt': [Match.stringLikeRegexp('^AnalyticsFeed'), 'Arn'] },
      SourceParameters: {
        DynamoDBStreamParameters: Match.objectLike({
          StartingPosition: 'TRIM_HORIZON',
          OnPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          DeadLetterConfig: { Arn: Match.anyValue() },
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Handler: 'index.handler',
      Runtime: 'nodejs24.x',
    });
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'rows/rowType=!{partitionKeyFromQuery:rowType}/dt=!{partitionKeyFromQuery:dt}/',
        CompressionFormat: 'GZIP',
        DynamicPartitioningConfiguration: { Enabled: true, RetryOptions: { DurationInSeconds: 300 } },
        ProcessingConfiguration: {
          Enabled: true,
          Processors: Match.arrayWith([
            Match.objectLike({
              Type: 'MetadataExtraction',
              Parameters: Match.arrayWith([
                { ParameterName: 'MetadataExtractionQuery', ParameterValue: PARTITION_JQ },
              ]),
            }),
          ]),
        },
      }),
    });
    expect(PARTITION_JQ).toBe(
      '{rowType: .rowType, dt: ((.capturedAtMs // .endedAtMs) / 1000 | floor | strftime("%Y-%m-%d"))}',
    );
  });

  it('declares one Glue table per row type with the generated columns and partition projection on dt', () => {
    const tables = template.findResources('AWS::Glue::Table');
    expect(Object.keys(tables)).toHaveLength(ANALYTICS_SCHEMA.tables.length);
    expect(ANALYTICS_SCHEMA.tables.map((t) => t.name)).toEqual([
      'session',
      'page',
      'engagement',
      'event',
      'eventitem',
      'outcome',
    ]);
    for (const table of ANALYTICS_SCHEMA.tables) {
      template.hasResourceProperties('AWS::Glue::Table', {
        DatabaseName: 'lp_visit_capture',
        TableInput: Match.objectLike({
          Name: table.name,
          PartitionKeys: [Match.objectLike({ Name: 'dt', Type: 'string' })],
          Parameters: Match.objectLike({
            'projection.enabled': 'true',
            'projection.dt.type': 'date',
            'projection.dt.format': 'yyyy-MM-dd',
            'projection.dt.range': '2024-01-01,NOW',
          }),
          StorageDescriptor: Match.objectLike({
            SerdeInfo: Match.objectLike({ SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' }),
            Columns: table.columns.map((c) => ({
              Name: c.name,
              Type: c.type,
              ...(c.comment ? { Comment: c.comment } : {}),
            })),
          }),
        }),
      });
      for (const c of table.columns) {
        expect(c.name).toMatch(/^[a-z0-9_]+$/);
        expect(c.comment.length).toBeLessThanOrEqual(255);
      }
    }
    const event = ANALYTICS_SCHEMA.tables.find((t) => t.name === 'event');
    expect(event?.columns.find((c) => c.name === 'servertimestamp')?.type).toBe('bigint');
    expect(event?.columns.find((c) => c.name === 'total')?.type).toBe('double');
    expect(event?.columns.find((c) => c.name === 'email')).toBeUndefined();
    const item = ANALYTICS_SCHEMA.tables.find((t) => t.name === 'eventitem');
    expect(item?.columns.find((c) => c.name === 'email')).toMatchObject({
      type: 'string',
      comment: expect.stringMatching(/^personal data \(contact, default hash\)/),
    });
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
      'purchases per day',
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
    expect(acks.filter((a) => a.includes('AwsSolutions')).sort()).toEqual([
      'Annotation::AwsSolutions-IAM5[Resource::*]',
      'Annotation::AwsSolutions-IAM5[Resource::<AnalyticsRows9BA61F91.Arn>/*]',
      'Annotation::AwsSolutions-S1',
      'Annotation::AwsSolutions-SQS3',
    ]);
  });

  it('grants analysts the workgroup, the catalog and the buckets', () => {
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
    'cross unnest cast json_parse json_extract_scalar map varchar json bigint'
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
