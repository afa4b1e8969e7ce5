import { ERASER_DYNAMODB_ACTIONS, eraserTimeoutSec } from '../../infra/erasure';
import { FORGET_DYNAMODB_ACTIONS } from '../../infra/enqueue-api';
import { ALARM_THRESHOLDS } from '../../infra/monitoring';
import { ERASURE_METRIC, METRICS_NAMESPACE } from '../../lib/metrics';
import { actionsOf, resource, statementsOfRole, synthesize } from './stack-fixture';

/**
 * POST /forget and the eraser in the template: the route and its own function, the second token secret and
 * which role may read which secret, the eraser's schedule, timeout and least-privilege grants, and the
 * ErasureOverdue alarm.
 */
const { template } = synthesize();
const queueId = resource(template, 'AWS::DynamoDB::Table', 'DataQueue').logicalId;
const captureId = resource(template, 'AWS::DynamoDB::Table', 'DataCapture').logicalId;
const enqueueTokenId = resource(template, 'AWS::SecretsManager::Secret', 'EnqueueApiToken').logicalId;
const forgetTokenId = resource(template, 'AWS::SecretsManager::Secret', 'EnqueueApiForgetToken').logicalId;
const forgetFn = resource(template, 'AWS::Lambda::Function', 'EnqueueApiForgetFunction');
const enqueueFn = resource(template, 'AWS::Lambda::Function', 'EnqueueApiEnqueueFunction');
const eraserFn = resource(template, 'AWS::Lambda::Function', 'ErasureEraserFunction');
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
      ['ErasureRequestsPending', [...FORGET_DYNAMODB_ACTIONS.queueDueIndex], indexArn(queueId, 'due')],
      ['ForgetToken', ['secretsmanager:GetSecretValue'], { Ref: forgetTokenId }],
    ]);
  });
});

describe('the eraser', () => {
  it('runs functions/eraser.ts every minute, 300 s timeout, no async retries, with the poller lease', () => {
    expect(eraserFn.properties).toEqual(
      expect.objectContaining({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Timeout: 300 }),
    );
    expect(eraserFn.properties.ReservedConcurrentExecutions).toBeUndefined();
    expect(eraserFn.properties.Environment).toEqual({
      Variables: {
        NODE_OPTIONS: '--enable-source-maps',
        LP_ACCOUNT_ID: '12345678',
        QUEUE_TABLE: { Ref: queueId },
        CAPTURE_TABLE: { Ref: captureId },
        LEASE_SECONDS: '45',
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

  it('has exactly the DynamoDB grants its code uses, no wildcard, no secret', () => {
    const statements = statementsOfRole(template, roleOf(eraserFn));
    expect(statements.map((s) => [s.Sid, actionsOf(s), s.Resource])).toEqual([
      [undefined, ['logs:CreateLogStream', 'logs:PutLogEvents'], expect.anything()],
      ['ErasureQueueItems', [...ERASER_DYNAMODB_ACTIONS.queueTable], arnOf(queueId)],
      ['ErasureRequestsDue', ['dynamodb:Query'], indexArn(queueId, 'due')],
      ['ErasureCaptureRows', [...ERASER_DYNAMODB_ACTIONS.captureTable], arnOf(captureId)],
      ['ErasureCaptureByVisitor', ['dynamodb:Query'], indexArn(captureId, 'byVisitor')],
    ]);
    expect(JSON.stringify(statements)).not.toMatch(/"\*"|index\/\*|secretsmanager/);
  });

  it('gets a longer timeout with a long lease, and refuses a lease no Lambda timeout can hold', () => {
    expect(eraserTimeoutSec(45)).toBe(300);
    expect(eraserTimeoutSec(600)).toBe(765);
    expect(() => eraserTimeoutSec(800)).toThrow(/lpv:leaseSec of 800 s leaves the eraser no time/);
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
