import { ERASER_DYNAMODB_ACTIONS, ERASER_FIREHOSE_ACTIONS, eraserTimeoutSec } from '../../infra/erasure';
import { ANALYTICS_PIPE_BATCHING_SEC, ANALYTICS_PROCESSING_BUFFER_SEC } from '../../lib/erasure/plan';
import {
  CAPTURE_BY_VISITOR,
  LEGACY_CAPTURE_INDEX_NAMES,
  LEGACY_QUEUE_DUE_INDEX_NAME,
  QUEUE_DUE_INDEX,
} from '../../lib/keys';
import { FORGET_DYNAMODB_ACTIONS } from '../../infra/enqueue-api';
import { ALARM_THRESHOLDS } from '../../infra/monitoring';
import { ERASURE_METRIC, METRICS_NAMESPACE } from '../../lib/metrics';
import { actionsOf, resource, statementsOfRole, synthesize } from './stack-fixture';

/**
 * POST /forget and the eraser in the template: the route and its own function, the second token secret and
 * which role may read which secret, the eraser's schedule, timeout and least-privilege grants, and the
 * ErasureOverdue alarm.
 */
const { template, stack } = synthesize();
/** The index names the stack gives its readers (the constants' once no migration is under way). */
const { dueIndexName, captureByVisitorIndexName } = stack.data;
const queueId = resource(template, 'AWS::DynamoDB::Table', 'DataQueue').logicalId;
const captureId = resource(template, 'AWS::DynamoDB::Table', 'DataCapture').logicalId;
const enqueueTokenId = resource(template, 'AWS::SecretsManager::Secret', 'EnqueueApiToken').logicalId;
const forgetTokenId = resource(template, 'AWS::SecretsManager::Secret', 'EnqueueApiForgetToken').logicalId;
const forgetFn = resource(template, 'AWS::Lambda::Function', 'EnqueueApiForgetFunction');
const enqueueFn = resource(template, 'AWS::Lambda::Function', 'EnqueueApiEnqueueFunction');
const eraserFn = resource(template, 'AWS::Lambda::Function', 'ErasureEraserFunction');
const hashKeyId = resource(template, 'AWS::SecretsManager::Secret', 'PrivacyHashKey').logicalId;
const feed = resource(template, 'AWS::KinesisFirehose::DeliveryStream', 'AnalyticsFeed');
const roleOf = (fn: { properties: Record<string, unknown> }): string =>
  (fn.properties.Role as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0]!;
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const indexArn = (id: string, index: string) => ({ 'Fn::Join': ['', [arnOf(id), `/index/${index}`]] });

describe('POST /forget', () => {
  it('is a route of the enqueue API, integrated with a function of its own (payload 2.0)', () => {
    const routes = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route') as Record<
        string,
        { Properties: { RouteKey: string; Target: unknown } }
      >,
    );
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(['POST /enqueue', 'POST /forget']);
    const forgetRoute = routes.find((r) => r.Properties.RouteKey === 'POST /forget')!;
    const integrationId = JSON.stringify(forgetRoute.Properties.Target).match(/"Ref":"([^"]+)"/)![1]!;
    const integration = template.toJSON().Resources[integrationId].Properties;
    expect(integration).toEqual(
      expect.objectContaining({ IntegrationType: 'AWS_PROXY', PayloadFormatVersion: '2.0' }),
    );
    expect(JSON.stringify(integration.IntegrationUri)).toContain(forgetFn.logicalId);
    expect(forgetFn.properties.Environment).toEqual({
      Variables: {
        NODE_OPTIONS: '--enable-source-maps',
        LP_ACCOUNT_ID: '12345678',
        QUEUE_TABLE: { Ref: queueId },
        QUEUE_DUE_INDEX: dueIndexName,
        FORGET_TOKEN_SECRET_ID: { Ref: forgetTokenId },
      },
    });
  });

  it('has a second generated token secret, readable by the forget function only, as the enqueue token by the enqueue function only', () => {
    expect(
      resource(template, 'AWS::SecretsManager::Secret', 'EnqueueApiForgetToken').properties
        .GenerateSecretString,
    ).toEqual(expect.objectContaining({ PasswordLength: 48, ExcludePunctuation: true }));
    const readers = (secretId: string): string[] =>
      Object.values(
        template.findResources('AWS::IAM::Policy') as Record<string, { Properties: Record<string, unknown> }>,
      )
        .filter((p) => JSON.stringify(p.Properties.PolicyDocument).includes(`{"Ref":"${secretId}"}`))
        .flatMap((p) => (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref));
    expect(readers(forgetTokenId)).toEqual([roleOf(forgetFn)]);
    expect(readers(enqueueTokenId)).toEqual([roleOf(enqueueFn)]);
  });

  it('may only Query the due index and put into the queue table, and read its token (plus its own logs)', () => {
    const statements = statementsOfRole(template, roleOf(forgetFn));
    expect(statements.map((s) => [s.Sid, actionsOf(s), s.Resource])).toEqual([
      [undefined, ['logs:CreateLogStream', 'logs:PutLogEvents'], expect.anything()],
      ['ErasureRequestPut', [...FORGET_DYNAMODB_ACTIONS.queueTable], arnOf(queueId)],
      ['ErasureRequestsPending', [...FORGET_DYNAMODB_ACTIONS.queueDueIndex], indexArn(queueId, dueIndexName)],
      ['ForgetToken', ['secretsmanager:GetSecretValue'], { Ref: forgetTokenId }],
    ]);
  });
});

describe('the index names of POST /forget and the eraser', () => {
  it('are the constants once no migration is under way', () => {
    expect({ dueIndexName, captureByVisitorIndexName }).toEqual({
      dueIndexName: QUEUE_DUE_INDEX.indexName,
      captureByVisitorIndexName: CAPTURE_BY_VISITOR.indexName,
    });
  });

  it("follow the stack's migration steps in both the environment and the grants (the legacy indexes first)", () => {
    const migrating = synthesize({
      'lpv:queueDueIndexMigration': 'add',
      'lpv:captureIndexMigration': 'add-visitor',
    });
    const legacyDue = LEGACY_QUEUE_DUE_INDEX_NAME;
    const legacyByVisitor = LEGACY_CAPTURE_INDEX_NAMES[CAPTURE_BY_VISITOR.indexName]!;
    expect(migrating.stack.data.dueIndexName).toBe(legacyDue);
    expect(migrating.stack.data.captureByVisitorIndexName).toBe(legacyByVisitor);
    const fn = (idPart: string) => resource(migrating.template, 'AWS::Lambda::Function', idPart);
    const queue = resource(migrating.template, 'AWS::DynamoDB::Table', 'DataQueue').logicalId;
    const capture = resource(migrating.template, 'AWS::DynamoDB::Table', 'DataCapture').logicalId;
    const env = (idPart: string) =>
      (fn(idPart).properties.Environment as { Variables: Record<string, unknown> }).Variables;
    const indexGrants = (idPart: string) =>
      statementsOfRole(migrating.template, roleOf(fn(idPart)))
        .filter((st) => JSON.stringify(st.Resource).includes('/index/'))
        .map((st) => [st.Sid, st.Resource]);

    expect(env('EnqueueApiForgetFunction').QUEUE_DUE_INDEX).toBe(legacyDue);
    expect(indexGrants('EnqueueApiForgetFunction')).toEqual([
      ['ErasureRequestsPending', indexArn(queue, legacyDue)],
    ]);
    expect(env('ErasureEraserFunction')).toEqual(
      expect.objectContaining({ QUEUE_DUE_INDEX: legacyDue, CAPTURE_BY_VISITOR_INDEX: legacyByVisitor }),
    );
    expect(indexGrants('ErasureEraserFunction')).toEqual([
      ['ErasureRequestsDue', indexArn(queue, legacyDue)],
      ['ErasureCaptureByVisitor', indexArn(capture, legacyByVisitor)],
    ]);
  });
});

describe('the eraser', () => {
  it('runs functions/eraser.ts every minute, no async retries, with the poller lease, the hash key secret and the analytics stream; its timeout holds the analytics wait', () => {
    // 45 s lease + 15 s + 450 s analytics wait + 90 s of work + 60 s to spare.
    expect(eraserFn.properties).toEqual(
      expect.objectContaining({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Timeout: 660 }),
    );
    expect(eraserFn.properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(eraserFn.properties.Environment).toEqual({
      Variables: {
        NODE_OPTIONS: '--enable-source-maps',
        LP_ACCOUNT_ID: '12345678',
        QUEUE_TABLE: { Ref: queueId },
        CAPTURE_TABLE: { Ref: captureId },
        QUEUE_DUE_INDEX: dueIndexName,
        CAPTURE_BY_VISITOR_INDEX: captureByVisitorIndexName,
        LEASE_SECONDS: '45',
        LPV_HASH_KEY_SECRET_ID: { Ref: hashKeyId },
        LPV_ANALYTICS_STREAM: { Ref: feed.logicalId },
        LPV_ANALYTICS_RESEND_WAIT_SECONDS: '450',
      },
    });
    const rule = resource(template, 'AWS::Events::Rule', 'ErasureSchedule').properties;
    expect(rule.ScheduleExpression).toBe('rate(1 minute)');
    expect(JSON.stringify(rule.Targets)).toContain(eraserFn.logicalId);
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: eraserFn.logicalId },
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 120,
    });
  });

  it('has exactly the grants its code uses: DynamoDB, the hash key secret, PutRecordBatch on the one delivery stream; no wildcard', () => {
    const statements = statementsOfRole(template, roleOf(eraserFn));
    expect(statements.map((s) => [s.Sid, actionsOf(s), s.Resource])).toEqual([
      [undefined, ['logs:CreateLogStream', 'logs:PutLogEvents'], expect.anything()],
      ['ErasureQueueItems', [...ERASER_DYNAMODB_ACTIONS.queueTable], arnOf(queueId)],
      ['ErasureRequestsDue', ['dynamodb:Query'], indexArn(queueId, dueIndexName)],
      ['ErasureCaptureRows', [...ERASER_DYNAMODB_ACTIONS.captureTable], arnOf(captureId)],
      ['ErasureCaptureByVisitor', ['dynamodb:Query'], indexArn(captureId, captureByVisitorIndexName)],
      ['PrivacyHashKey', ['secretsmanager:GetSecretValue'], { Ref: hashKeyId }],
      ['ErasureAnalyticsDeletes', [...ERASER_FIREHOSE_ACTIONS], arnOf(feed.logicalId)],
    ]);
    expect(ERASER_FIREHOSE_ACTIONS).toEqual(['firehose:PutRecordBatch']);
    expect(JSON.stringify(statements)).not.toMatch(/"\*"|index\/\*/);
  });

  it("waits the same buffers the template sets: the route processor's and the pipe's", () => {
    const processors = (
      feed.properties.IcebergDestinationConfiguration as {
        ProcessingConfiguration: {
          Processors: { Parameters: { ParameterName: string; ParameterValue: string }[] }[];
        };
      }
    ).ProcessingConfiguration.Processors;
    const parameter = processors[0]!.Parameters.find((p) => p.ParameterName === 'BufferIntervalInSeconds');
    expect(Number(parameter?.ParameterValue)).toBe(ANALYTICS_PROCESSING_BUFFER_SEC);
    const pipe = resource(template, 'AWS::Pipes::Pipe', 'AnalyticsFeedPipe').properties as {
      SourceParameters: { DynamoDBStreamParameters: { MaximumBatchingWindowInSeconds: number } };
    };
    expect(pipe.SourceParameters.DynamoDBStreamParameters.MaximumBatchingWindowInSeconds).toBe(
      ANALYTICS_PIPE_BATCHING_SEC,
    );
  });

  it('gets a longer timeout with a long lease or an analytics wait, and refuses what no Lambda timeout can hold', () => {
    expect(eraserTimeoutSec(45)).toBe(300);
    expect(eraserTimeoutSec(600)).toBe(765);
    expect(eraserTimeoutSec(45, 450)).toBe(660);
    expect(() => eraserTimeoutSec(800)).toThrow(/lpv:leaseSec of 800 s leaves the eraser no time/);
    expect(() => eraserTimeoutSec(300, 450)).toThrow(/450 s for the analytics buffer/);
  });

  it('is watched by ErasureOverdue: oldest pending request over 30 min, or no run, for 2 of 2 periods', () => {
    const alarm = Object.values(
      template.findResources('AWS::CloudWatch::Alarm') as Record<
        string,
        { Properties: Record<string, unknown> }
      >,
    ).find((a) => a.Properties.AlarmName === 'LpVisitCapture-ErasureOverdue')!.Properties;
    expect(alarm).toEqual(
      expect.objectContaining({
        Namespace: METRICS_NAMESPACE,
        MetricName: ERASURE_METRIC.oldestPendingAgeMs,
        Dimensions: [{ Name: 'service', Value: 'lpv-eraser' }],
        Statistic: 'Maximum',
        Period: 300,
        Threshold: ALARM_THRESHOLDS.erasureOverdueMs,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: 2,
        DatapointsToAlarm: 2,
        TreatMissingData: 'breaching',
      }),
    );
    expect(ALARM_THRESHOLDS.erasureOverdueMs).toBe(1_800_000);
  });
});
