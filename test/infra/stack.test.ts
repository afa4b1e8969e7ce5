import { ANALYTICS_ROUTE_METRIC, ANALYTICS_ROUTE_SERVICE_NAME } from '../../lib/query/analytics-route';
import { Match } from 'aws-cdk-lib/assertions';
import {
  ENQUEUE_METRIC,
  ERASURE_METRIC,
  FETCH_OUTCOMES,
  METRIC,
  METRICS_NAMESPACE,
  fetchMetricName,
} from '../../lib/metrics';
import { CAPTURE_TABLE, QUEUE_TABLE } from '../../lib/store/schema';
import { ENQUEUE_DYNAMODB_ACTIONS } from '../../infra/enqueue-api';
import { POLLER_DYNAMODB_ACTIONS } from '../../infra/poller';
import { actionsOf, resource, statementsOfRole, synthesize, type Statement } from './stack-fixture';

const { template, config } = synthesize();

const SERVICE_DIMENSION = [{ Name: 'service', Value: 'poller' }];
const ENQUEUE_SERVICE_DIMENSION = [{ Name: 'service', Value: 'lpv-enqueue' }];

/** An entry of an alarm's Metrics array (metric math). */
interface MetricDataQuery {
  Id: string;
  Expression?: string;
  MetricStat?: { Metric: { MetricName: string; Namespace: string }; Period: number; Stat: string };
}

function keySchema(definition: typeof QUEUE_TABLE) {
  return [
    { AttributeName: definition.partitionKey.name, KeyType: 'HASH' },
    ...(definition.sortKey ? [{ AttributeName: definition.sortKey.name, KeyType: 'RANGE' }] : []),
  ];
}

function gsis(definition: typeof QUEUE_TABLE) {
  return definition.indexes.map((index) => ({
    IndexName: index.indexName,
    KeySchema: [
      { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
      { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
    ],
    Projection: {
      ProjectionType: index.projection,
      ...(index.nonKeyAttributes !== undefined ? { NonKeyAttributes: [...index.nonKeyAttributes] } : {}),
    },
  }));
}

function bySid(statements: Statement[], sid: string): Statement {
  const found = statements.filter((s) => s.Sid === sid);
  expect(found).toHaveLength(1);
  return found[0]!;
}

describe('data tables', () => {
  it('builds the queue table from QUEUE_TABLE: keys, due index, TTL on expiresAtSec, on-demand, PITR, KMS', () => {
    const { properties } = resource(template, 'AWS::DynamoDB::Table', 'DataQueue');
    expect(properties).toEqual(
      expect.objectContaining({
        KeySchema: keySchema(QUEUE_TABLE),
        GlobalSecondaryIndexes: gsis(QUEUE_TABLE),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
        SSESpecification: { SSEEnabled: true },
        TimeToLiveSpecification: { AttributeName: QUEUE_TABLE.ttlAttributeSec, Enabled: true },
      }),
    );
  });

  it('builds the capture table from CAPTURE_TABLE with its three indexes, retained and deletion-protected', () => {
    const { logicalId, properties } = resource(template, 'AWS::DynamoDB::Table', 'DataCapture');
    expect(properties).toEqual(
      expect.objectContaining({
        KeySchema: keySchema(CAPTURE_TABLE),
        GlobalSecondaryIndexes: gsis(CAPTURE_TABLE),
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true, RecoveryPeriodInDays: 35 },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
        // Declared whatever the retention: with `keep` the poller writes no expiresAtSec, and nothing expires.
        TimeToLiveSpecification: { AttributeName: 'expiresAtSec', Enabled: true },
      }),
    );
    expect(CAPTURE_TABLE.ttlAttributeSec).toBe('expiresAtSec');
    const raw = template.toJSON().Resources[logicalId];
    expect(raw.DeletionPolicy).toBe('Retain');
    expect(raw.UpdateReplacePolicy).toBe('Retain');
  });

  it('passes lpv:captureRetentionDays to the poller and lpv:pointInTimeRecoveryDays to both tables', () => {
    const custom = synthesize({ 'lpv:captureRetentionDays': 90, 'lpv:pointInTimeRecoveryDays': 7 }).template;
    for (const table of ['DataQueue', 'DataCapture']) {
      expect(
        resource(custom, 'AWS::DynamoDB::Table', table).properties.PointInTimeRecoverySpecification,
      ).toEqual({
        PointInTimeRecoveryEnabled: true,
        RecoveryPeriodInDays: 7,
      });
    }
    expect(
      resource(custom, 'AWS::DynamoDB::Table', 'DataCapture').properties.TimeToLiveSpecification,
    ).toEqual({ AttributeName: 'expiresAtSec', Enabled: true });
    const env = (
      resource(custom, 'AWS::Lambda::Function', 'PollerFunction').properties.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect(env.CAPTURE_RETENTION_DAYS).toBe('90');
  });

  it('keeps the construct ids of both tables (a new id would replace a table)', () => {
    expect(resource(template, 'AWS::DynamoDB::Table', 'DataQueue').logicalId).toMatch(
      /^DataQueue[0-9A-F]{8}$/,
    );
    expect(resource(template, 'AWS::DynamoDB::Table', 'DataCapture').logicalId).toMatch(
      /^DataCapture[0-9A-F]{8}$/,
    );
  });
});

describe('poller', () => {
  const fn = resource(template, 'AWS::Lambda::Function', 'PollerFunction');
  const queueId = resource(template, 'AWS::DynamoDB::Table', 'DataQueue').logicalId;
  const captureId = resource(template, 'AWS::DynamoDB::Table', 'DataCapture').logicalId;

  it('is an arm64 Node.js 24 function with memory and timeout from the configuration', () => {
    expect(fn.properties).toEqual(
      expect.objectContaining({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        MemorySize: 512,
        Timeout: config.pollerTimeoutSec,
      }),
    );
    // The default timeout, 300 s, free of the 45 s lease: ticks may overlap (lib/poll-timing.ts).
    expect(config.pollerTimeoutSec).toBe(300);
    expect(fn.properties.Timeout).toBe(300);
    expect(fn.properties.ReservedConcurrentExecutions).toBeUndefined();
  });

  it('gets the environment lib/config.ts reads, tables by reference, the secret by name', () => {
    expect((fn.properties.Environment as { Variables: unknown }).Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      LP_ACCOUNT_ID: '12345678',
      LP_CREDENTIALS_SECRET_ID: 'lp-visit-capture/liveperson',
      QUEUE_TABLE: { Ref: queueId },
      QUEUE_DUE_INDEX: QUEUE_TABLE.indexes[0]!.indexName,
      CAPTURE_TABLE: { Ref: captureId },
      POLL_CONCURRENCY: '32',
      POLL_INTERVAL_SECONDS: '840',
      POLL_LAST_LOOK: 'true',
      LEASE_SECONDS: String(config.leaseSec),
      SCHEDULE_PERIOD_SECONDS: '60',
      LP_MAX_REQUESTS_PER_SECOND: '10',
      CAPTURE_RETENTION_DAYS: 'keep',
      LPV_HASH_KEY_SECRET_ID: {
        Ref: resource(template, 'AWS::SecretsManager::Secret', 'PrivacyHashKey').logicalId,
      },
    });
  });

  it('runs every minute from an EventBridge rule, failures to an SQS queue, no async retries', () => {
    const failures = resource(template, 'AWS::SQS::Queue', 'PollerFailures').logicalId;
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [fn.logicalId, 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [failures, 'Arn'] } },
        }),
      ],
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fn.logicalId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 120,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [failures, 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
  });

  it('has exactly: its log group, the failure queue, the queue table ops, the due index, batch writes, two secrets', () => {
    const roleId = (fn.properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    const statements = statementsOfRole(template, roleId);
    expect(statements).toHaveLength(7);
    expect(statements.every((s) => s.Effect === 'Allow')).toBe(true);

    const dynamo = statements.filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:')));
    expect(dynamo.map((s) => [s.Sid, actionsOf(s)])).toEqual([
      ['QueueItems', ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
      ['QueueDueIndex', ['dynamodb:Query']],
      ['CaptureRows', ['dynamodb:BatchWriteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']],
    ]);
    expect(bySid(statements, 'QueueItems').Resource).toEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
    expect(bySid(statements, 'QueueDueIndex').Resource).toEqual({
      'Fn::Join': ['', [{ 'Fn::GetAtt': [queueId, 'Arn'] }, `/index/${QUEUE_TABLE.indexes[0]!.indexName}`]],
    });
    expect(bySid(statements, 'CaptureRows').Resource).toEqual({ 'Fn::GetAtt': [captureId, 'Arn'] });
    expect(POLLER_DYNAMODB_ACTIONS.queueDueIndex).toEqual(['dynamodb:Query']);

    const secret = bySid(statements, 'LivePersonCredentials');
    expect(actionsOf(secret)).toEqual(['secretsmanager:GetSecretValue']);
    expect(JSON.stringify(secret.Resource)).toContain(':secret:lp-visit-capture/liveperson-??????');
    // The privacy hash key, the stack's own secret (test/infra/privacy-key.test.ts).
    const hashKey = bySid(statements, 'PrivacyHashKey');
    expect(actionsOf(hashKey)).toEqual(['secretsmanager:GetSecretValue']);
    expect(hashKey.Resource).toEqual({
      Ref: resource(template, 'AWS::SecretsManager::Secret', 'PrivacyHashKey').logicalId,
    });

    const rest = statements.filter((s) => s.Sid === undefined).map(actionsOf);
    expect(rest).toEqual([
      ['logs:CreateLogStream', 'logs:PutLogEvents'],
      ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
    ]);
    // No wildcard resource anywhere.
    expect(JSON.stringify(statements)).not.toMatch(/"\*"|index\/\*/);
  });

  it('has no managed policy (no AWSLambdaBasicExecutionRole: logs only to its own group)', () => {
    const roleId = (fn.properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    const role = template.toJSON().Resources[roleId];
    expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('never creates the LivePerson secret: every secret in the stack is one it generates', () => {
    const secrets = template.findResources('AWS::SecretsManager::Secret') as Record<
      string,
      { Properties: Record<string, unknown> }
    >;
    for (const secret of Object.values(secrets)) {
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.Properties.GenerateSecretString).toBeDefined();
    }
    // The two bearer tokens: POST /enqueue's and POST /forget's, generated alike.
    for (const idPart of ['EnqueueApiToken', 'EnqueueApiForgetToken']) {
      expect(
        resource(template, 'AWS::SecretsManager::Secret', idPart).properties.GenerateSecretString,
      ).toEqual(expect.objectContaining({ PasswordLength: 48, ExcludePunctuation: true }));
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/consumerSecret|tokenSecret/);
  });

  it('uses a complete secret ARN exactly when the configuration gives one', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lp-creds-AbC123';
    const { template: t } = synthesize({ 'lpv:credentialsSecret': arn });
    const f = resource(t, 'AWS::Lambda::Function', 'PollerFunction');
    const roleId = (f.properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    expect(bySid(statementsOfRole(t, roleId), 'LivePersonCredentials').Resource).toBe(arn);
  });

  it('states the LivePerson request bound it was built with: 10/s x 5 overlapping invocations by default', () => {
    template.hasOutput('LivePersonRequestBound', { Value: '50 requests/s (10/s x 5 invocations)' });
  });

  it('takes reserved concurrency, schedule, memory, timeout and LivePerson URLs from the context', () => {
    // Settings that pass the timing rule (lib/poll-timing.ts); the timeout is not bound by the lease.
    const { template: t, config: c } = synthesize({
      'lpv:pollerReservedConcurrency': 2,
      'lpv:pollSchedule': 'rate(1 minute)',
      'lpv:pollerMemoryMiB': 1024,
      'lpv:pollerTimeoutSec': 600,
      'lpv:leaseSec': 40,
      'lpv:baseUrl': 'https://lo.v.liveperson.net',
    });
    const f = resource(t, 'AWS::Lambda::Function', 'PollerFunction');
    expect(f.properties).toEqual(
      expect.objectContaining({ ReservedConcurrentExecutions: 2, MemorySize: 1024, Timeout: 600 }),
    );
    const variables = (f.properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.LP_BASE_URL).toBe('https://lo.v.liveperson.net');
    expect(variables.LEASE_SECONDS).toBe('40');
    // The poller learns the schedule's period, and late invocations are dropped after two periods.
    expect(variables.SCHEDULE_PERIOD_SECONDS).toBe(String(c.pollPeriodMin * 60));
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(1 minute)' });
    t.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumEventAgeInSeconds: 2 * c.pollPeriodMin * 60,
    });
  });
});

describe('enqueue endpoint', () => {
  const fn = resource(template, 'AWS::Lambda::Function', 'EnqueueApiEnqueueFunction');
  const queueId = resource(template, 'AWS::DynamoDB::Table', 'DataQueue').logicalId;
  const tokenId = resource(template, 'AWS::SecretsManager::Secret', 'EnqueueApiToken').logicalId;

  it('runs functions/enqueue.ts on arm64 Node.js 24 with the queue and the token secret by reference', () => {
    expect(fn.properties).toEqual(
      expect.objectContaining({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' }),
    );
    expect((fn.properties.Environment as { Variables: unknown }).Variables).toEqual({
      NODE_OPTIONS: '--enable-source-maps',
      LP_ACCOUNT_ID: '12345678',
      QUEUE_TABLE: { Ref: queueId },
      ENQUEUE_TOKEN_SECRET_ID: { Ref: tokenId },
      ENQUEUE_MAX_BATCH_ITEMS: '500',
      ENQUEUE_MAX_BODY_BYTES: '262144',
    });
  });

  it('may only put into the queue table and read its token secret (plus its own logs)', () => {
    const roleId = (fn.properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
    const statements = statementsOfRole(template, roleId);
    expect(statements.map((s) => [s.Sid, actionsOf(s), s.Resource])).toEqual([
      [undefined, ['logs:CreateLogStream', 'logs:PutLogEvents'], expect.anything()],
      ['QueuePut', [...ENQUEUE_DYNAMODB_ACTIONS], { 'Fn::GetAtt': [queueId, 'Arn'] }],
      ['EnqueueToken', ['secretsmanager:GetSecretValue'], { Ref: tokenId }],
    ]);
    expect(JSON.stringify(statements)).not.toContain('DataCapture');
  });

  it('is one POST /enqueue route on an HTTP API, payload 2.0, throttled, with access logs', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP' });
    // POST /forget is the other route (test/infra/erasure.test.ts).
    template.resourceCountIs('AWS::ApiGatewayV2::Route', 2);
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: 'POST /enqueue' });
    template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 },
      AccessLogSettings: Match.objectLike({ Format: Match.stringLikeRegexp('\\$context.requestId') }),
    });
  });
});

describe('monitoring', () => {
  const alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<
    string,
    { Properties: Record<string, unknown> }
  >;
  const alarm = (name: string) => {
    const found = Object.values(alarms).find((a) => a.Properties.AlarmName === `LpVisitCapture-${name}`);
    if (!found) throw new Error(`no alarm ${name}`);
    return found.Properties;
  };
  const topicId = resource(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId;

  it('has the twenty-four alarms, each notifying the topic on ALARM and OK and naming its runbook', () => {
    expect(
      Object.values(alarms)
        .map((a) => a.Properties.AlarmName)
        .sort(),
    ).toEqual(
      [
        'AccountUnknown',
        'AnalyticsDeadLetters',
        'AnalyticsRecordsNotApplied',
        'BadRequest33',
        'ConfigurationFault',
        'CredentialsRejected',
        'DomainApiFailures',
        'EnqueueServerErrors',
        'EnqueueUnauthorized',
        'ErasureOverdue',
        'Expired12RateAnomaly',
        'FallingBehind',
        'FeedPipeFailures',
        'FirehoseDeliveryFailures',
        'Heartbeat',
        'ItemErrors',
        'LostBeforeCaptureRate',
        'MalformedOrUnexpectedShare',
        'PollerDurationNearTimeout',
        'PollerErrors',
        'PollerThrottles',
        'RowsNotStored',
        'SessionsFailed',
        'SessionsLost',
        'SessionsPartial',
      ].map((n) => `LpVisitCapture-${n}`),
    );
    for (const a of Object.values(alarms)) {
      expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(a.Properties.OKActions).toEqual([{ Ref: topicId }]);
      const id = (a.Properties.AlarmName as string).replace('LpVisitCapture-', '');
      expect(a.Properties.AlarmDescription).toMatch(
        new RegExp(` Runbook: docs/operations\\.md, section ${id}\\.$`),
      );
    }
  });

  it("uses only metric names from lib/metrics.ts in its namespace, each with its function's service dimension", () => {
    const pollerNames = new Set<string>([...Object.values(METRIC), ...FETCH_OUTCOMES.map(fetchMetricName)]);
    const enqueueNames = new Set<string>(Object.values(ENQUEUE_METRIC));
    const namespaces = JSON.stringify(alarms).match(/"Namespace":"[^"]+"/g) ?? [];
    expect(new Set(namespaces)).toEqual(
      new Set(
        [METRICS_NAMESPACE, 'AWS/Lambda', 'AWS/SQS', 'AWS/Firehose', 'AWS/EventBridge/Pipes'].map(
          (n) => `"Namespace":"${n}"`,
        ),
      ),
    );
    const walk = (node: unknown, out: { MetricName: string; Namespace: string; Dimensions: unknown }[]) => {
      if (Array.isArray(node)) node.forEach((n) => walk(n, out));
      else if (node !== null && typeof node === 'object') {
        const record = node as Record<string, unknown>;
        if (record.Namespace === METRICS_NAMESPACE) out.push(record as never);
        Object.values(record).forEach((n) => walk(n, out));
      }
      return out;
    };
    const metrics = walk(alarms, []);
    expect(metrics.length).toBeGreaterThan(20);
    const erasureNames = new Set<string>(Object.values(ERASURE_METRIC));
    // The analytics route function's metrics (lib/query/analytics-route.ts, service lpv-analytics-route).
    const analyticsRouteNames = new Set<string>(Object.values(ANALYTICS_ROUTE_METRIC));
    for (const m of metrics) {
      if (enqueueNames.has(m.MetricName)) expect(m.Dimensions).toEqual(ENQUEUE_SERVICE_DIMENSION);
      else if (erasureNames.has(m.MetricName))
        expect(m.Dimensions).toEqual([{ Name: 'service', Value: 'lpv-eraser' }]);
      else if (analyticsRouteNames.has(m.MetricName))
        expect(m.Dimensions).toEqual([{ Name: 'service', Value: ANALYTICS_ROUTE_SERVICE_NAME }]);
      else {
        expect(pollerNames.has(m.MetricName)).toBe(true);
        expect(m.Dimensions).toEqual(SERVICE_DIMENSION);
      }
    }
    // The alarms on the enqueue function's metrics exist (the walk above would pass without them).
    expect(
      metrics
        .filter((m) => enqueueNames.has(m.MetricName))
        .map((m) => m.MetricName)
        .sort(),
    ).toEqual([ENQUEUE_METRIC.serverErrors, ENQUEUE_METRIC.unauthorized].sort());
  });

  it('keeps every alarm within CloudWatch limits: at most ten metrics in a metric-math alarm', () => {
    for (const a of Object.values(alarms)) {
      const queries = (a.Properties.Metrics as MetricDataQuery[] | undefined) ?? [];
      expect(queries.filter((m) => m.MetricStat).length).toBeLessThanOrEqual(10);
    }
  });

  it('alarms on expired_before_capture / sessions_ended over 5-minute periods, missing data not breaching', () => {
    const a = alarm('LostBeforeCaptureRate');
    expect(a).toEqual(
      expect.objectContaining({
        ComparisonOperator: 'GreaterThanThreshold',
        Threshold: 0.02,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        TreatMissingData: 'notBreaching',
      }),
    );
    const metrics = a.Metrics as MetricDataQuery[];
    expect(metrics.find((m) => m.Expression)?.Expression).toBe('IF(ended > 0, lost / ended, 0)');
    const stat = (id: string) => metrics.find((m) => m.Id === id)!.MetricStat!;
    expect(stat('lost').Metric.MetricName).toBe(METRIC.expiredBeforeCapture);
    expect(stat('ended').Metric.MetricName).toBe(METRIC.sessionsEnded);
    expect([stat('lost').Period, stat('lost').Stat, stat('ended').Period]).toEqual([300, 'Sum', 300]);
  });

  it('takes the lost-rate threshold and periods from the context', () => {
    const { template: t } = synthesize({
      'lpv:lostRatioThreshold': 0.1,
      'lpv:lostRatioEvaluationPeriods': 6,
      'lpv:lostRatioDatapointsToAlarm': 4,
    });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'LpVisitCapture-LostBeforeCaptureRate',
      Threshold: 0.1,
      EvaluationPeriods: 6,
      DatapointsToAlarm: 4,
    });
  });

  it('puts expired_12 / fetches_total on an anomaly-detection band (two metrics, however many outcomes)', () => {
    const a = alarm('Expired12RateAnomaly');
    expect(a.ComparisonOperator).toBe('GreaterThanUpperThreshold');
    expect(a.TreatMissingData).toBe('notBreaching');
    const metrics = a.Metrics as MetricDataQuery[];
    const band = metrics.find((m) => m.Id === a.ThresholdMetricId)!;
    expect(band.Expression).toMatch(/^ANOMALY_DETECTION_BAND\((\w+), 3\)$/);
    const rateId = /ANOMALY_DETECTION_BAND\((\w+),/.exec(band.Expression!)![1];
    expect(metrics.find((m) => m.Id === rateId)!.Expression).toBe(
      'IF(fetches_total > 0, (fetches_expired_12) / fetches_total, 0)',
    );
    const stats = metrics.filter((m) => m.MetricStat);
    expect(stats.map((m) => [m.Id, m.MetricStat!.Metric.MetricName, m.MetricStat!.Stat]).sort()).toEqual([
      ['fetches_expired_12', 'fetches_expired_12', 'Sum'],
      ['fetches_total', 'fetches_total', 'Sum'],
    ]);
  });

  it.each([
    ['SessionsLost', METRIC.sessionsLost, 300],
    ['SessionsFailed', METRIC.sessionsFailed, 300],
    ['ConfigurationFault', METRIC.configurationFaults, 60],
    ['CredentialsRejected', fetchMetricName('unauthorized_10'), 60],
    ['AccountUnknown', fetchMetricName('invalid_account_6'), 60],
  ])('%s fires on the first %s (> 0, %i s period, 1 of 1, missing data fine)', (name, metricName, period) => {
    expect(alarm(name)).toEqual(
      expect.objectContaining({
        Namespace: METRICS_NAMESPACE,
        MetricName: metricName,
        Dimensions: SERVICE_DIMENSION,
        Statistic: 'Sum',
        Period: period,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 1,
        DatapointsToAlarm: 1,
        TreatMissingData: 'notBreaching',
      }),
    );
  });

  it('alarms when the smallest time to deadline falls under the threshold; notifications can be turned off', () => {
    expect(alarm('FallingBehind')).toEqual(
      expect.objectContaining({
        MetricName: METRIC.minTimeToDeadlineMs,
        Statistic: 'Minimum',
        Threshold: 60_000,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'notBreaching',
        ActionsEnabled: true,
      }),
    );
    expect(Object.values(alarms).every((a) => a.Properties.ActionsEnabled !== false)).toBe(true);
    const { template: t } = synthesize({ 'lpv:fallingBehindAlarmActions': false });
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'LpVisitCapture-FallingBehind',
      ActionsEnabled: false,
    });
  });

  it("watches the poller's errors, throttles and duration near its timeout", () => {
    const fnId = resource(template, 'AWS::Lambda::Function', 'PollerFunction').logicalId;
    const dims = [{ Name: 'FunctionName', Value: { Ref: fnId } }];
    expect(alarm('PollerErrors')).toEqual(
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: dims,
        Threshold: 0,
      }),
    );
    expect(alarm('PollerThrottles')).toEqual(
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Throttles',
        Dimensions: dims,
        Threshold: 0,
      }),
    );
    expect(alarm('PollerDurationNearTimeout')).toEqual(
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'Duration',
        Statistic: 'Maximum',
        Threshold: Math.round(config.pollerTimeoutSec * 1000 * 0.8),
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
  });

  it('has a heartbeat on ticks: none for 10 minutes is an alarm, missing data breaching', () => {
    expect(alarm('Heartbeat')).toEqual(
      expect.objectContaining({
        MetricName: METRIC.ticks,
        Dimensions: SERVICE_DIMENSION,
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        Threshold: 1,
        ComparisonOperator: 'LessThanThreshold',
        TreatMissingData: 'breaching',
      }),
    );
    // The other alarm whose missing data is its failure: ErasureOverdue (no eraser run). test/infra/erasure.test.ts.
    const breaching = Object.values(alarms).filter((a) => a.Properties.TreatMissingData === 'breaching');
    expect(breaching.map((a) => a.Properties.AlarmName).sort()).toEqual([
      'LpVisitCapture-ErasureOverdue',
      'LpVisitCapture-Heartbeat',
    ]);
  });

  it('has an SNS topic that enforces TLS, e-mail only when configured', () => {
    template.resourceCountIs('AWS::SNS::Subscription', 0);
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    const { template: t } = synthesize({ 'lpv:alarmEmail': 'ops@example.com' });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com' });
  });

  it('has a dashboard with fetches by outcome, 404/12 rates, captured vs lost, rows written, time to deadline', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = JSON.stringify(
      (Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0] as { Properties: unknown })
        .Properties,
    );
    for (const title of [
      'Fetches by outcome',
      '404-code-12 rates',
      'Sessions ended: captured vs lost',
      'Rows written',
      'Time to deadline',
    ]) {
      expect(body).toContain(title);
    }
    for (const name of [
      ...FETCH_OUTCOMES.map(fetchMetricName),
      METRIC.sessionsCaptured,
      METRIC.sessionsLost,
      METRIC.rowsWritten,
      METRIC.minTimeToDeadlineMs,
      METRIC.expiredBeforeCapture,
      METRIC.sessionsEnded,
    ]) {
      expect(body).toContain(`\\"${name}\\"`);
    }
  });
});
