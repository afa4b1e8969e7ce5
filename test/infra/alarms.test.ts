import { ANALYTICS_ROUTE_METRIC, ANALYTICS_ROUTE_SERVICE_NAME } from '../../lib/query/analytics-route';
import { ALARM_THRESHOLDS } from '../../infra/monitoring';
import { ENQUEUE_METRIC, METRIC, METRICS_NAMESPACE, fetchMetricName } from '../../lib/metrics';
import { resource, synthesize } from './stack-fixture';

/**
 * The alarms added for issue 13 ("every loss path alarmed"), as the synthesized template has them: the metric
 * each watches (namespace, name, dimensions, statistic, period), the threshold and comparison, the periods,
 * missing data, and the notification on ALARM and OK.
 */
const { template } = synthesize();

type Properties = Record<string, unknown>;
interface MetricDataQuery {
  Id: string;
  Expression?: string;
  ReturnData?: boolean;
  MetricStat?: {
    Metric: { MetricName: string; Namespace: string; Dimensions?: unknown };
    Period: number;
    Stat: string;
  };
}

const alarms = template.findResources('AWS::CloudWatch::Alarm') as Record<string, { Properties: Properties }>;
function alarm(id: string): Properties {
  const found = Object.values(alarms).find((a) => a.Properties.AlarmName === `LpVisitCapture-${id}`);
  if (!found) throw new Error(`no alarm ${id}`);
  return found.Properties;
}
const topic = { Ref: resource(template, 'AWS::SNS::Topic', 'MonitoringAlarmTopic').logicalId };
const POLLER = [{ Name: 'service', Value: 'poller' }];
const ENQUEUE = [{ Name: 'service', Value: 'lpv-enqueue' }];

/** Threshold, comparison, periods, missing data and actions: what every alarm states. */
function expectRule(
  a: Properties,
  rule: { threshold: number; comparison?: string; evaluation?: number; toAlarm?: number },
): void {
  expect(a).toEqual(
    expect.objectContaining({
      Threshold: rule.threshold,
      ComparisonOperator: rule.comparison ?? 'GreaterThanThreshold',
      EvaluationPeriods: rule.evaluation ?? 1,
      DatapointsToAlarm: rule.toAlarm ?? 1,
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
    }),
  );
}

/** The metric-math alarm's one returned expression and its metrics by id. */
function mathOf(a: Properties): { expression: string; stats: Record<string, MetricDataQuery['MetricStat']> } {
  const queries = a.Metrics as MetricDataQuery[];
  const returned = queries.filter((q) => q.ReturnData !== false);
  expect(returned).toHaveLength(1);
  return {
    expression: returned[0]!.Expression!,
    stats: Object.fromEntries(queries.filter((q) => q.MetricStat).map((q) => [q.Id, q.MetricStat])),
  };
}

describe('alarms on our side failures (poller metrics, service=poller)', () => {
  it.each([
    ['SessionsPartial', METRIC.sessionsPartial, 300, 1, 1],
    ['ItemErrors', METRIC.itemErrors, 300, 3, 2],
    ['DomainApiFailures', METRIC.domainApiFailures, 300, 3, 2],
    ['BadRequest33', fetchMetricName('bad_request_33'), 60, 1, 1],
  ])('%s: %s (Sum over %i s) > 0 in %i/%i periods', (id, metricName, period, evaluation, toAlarm) => {
    const a = alarm(id);
    expect(a).toEqual(
      expect.objectContaining({
        Namespace: METRICS_NAMESPACE,
        MetricName: metricName,
        Dimensions: POLLER,
        Statistic: 'Sum',
        Period: period,
      }),
    );
    expectRule(a, { threshold: 0, evaluation, toAlarm });
  });

  it('RowsNotStored: rows_rejected + rows_unwritten > 0 (either missing counts as 0)', () => {
    const a = alarm('RowsNotStored');
    expectRule(a, { threshold: 0 });
    const { expression, stats } = mathOf(a);
    expect(expression).toBe('FILL(rejected, 0) + FILL(unwritten, 0)');
    expect(stats).toEqual({
      rejected: {
        Metric: { Namespace: METRICS_NAMESPACE, MetricName: METRIC.rowsRejected, Dimensions: POLLER },
        Period: 300,
        Stat: 'Sum',
      },
      unwritten: {
        Metric: { Namespace: METRICS_NAMESPACE, MetricName: METRIC.rowsUnwritten, Dimensions: POLLER },
        Period: 300,
        Stat: 'Sum',
      },
    });
  });

  it('MalformedOrUnexpectedShare: (malformed + unexpected) / fetches_total above 5 % in 2 of 3 periods', () => {
    const a = alarm('MalformedOrUnexpectedShare');
    expect(ALARM_THRESHOLDS.malformedOrUnexpectedShare).toBe(0.05);
    expectRule(a, { threshold: 0.05, evaluation: 3, toAlarm: 2 });
    const { expression, stats } = mathOf(a);
    expect(expression).toBe(
      'IF(fetches_total > 0, (fetches_malformed + fetches_unexpected) / fetches_total, 0)',
    );
    expect(Object.keys(stats).sort()).toEqual(['fetches_malformed', 'fetches_total', 'fetches_unexpected']);
    for (const [id, stat] of Object.entries(stats)) {
      expect(stat).toEqual({
        Metric: { Namespace: METRICS_NAMESPACE, MetricName: id, Dimensions: POLLER },
        Period: 300,
        Stat: 'Sum',
      });
    }
  });
});

describe('alarms on the analytics feed', () => {
  const queue = resource(template, 'AWS::SQS::Queue', 'AnalyticsFeedFailures').logicalId;
  const stream = resource(template, 'AWS::KinesisFirehose::DeliveryStream', 'AnalyticsFeed').logicalId;
  const pipe = resource(template, 'AWS::Pipes::Pipe', 'AnalyticsFeedPipe').logicalId;

  it("AnalyticsDeadLetters: the pipe's dead-letter queue holds any visible message (Maximum over 5 min)", () => {
    // The queue really is the pipe's dead-letter destination.
    const pipeProps = resource(template, 'AWS::Pipes::Pipe', 'AnalyticsFeedPipe').properties as {
      SourceParameters: { DynamoDBStreamParameters: { DeadLetterConfig: { Arn: unknown } } };
    };
    expect(pipeProps.SourceParameters.DynamoDBStreamParameters.DeadLetterConfig.Arn).toEqual({
      'Fn::GetAtt': [queue, 'Arn'],
    });
    const a = alarm('AnalyticsDeadLetters');
    expect(a).toEqual(
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 300,
      }),
    );
    expectRule(a, { threshold: 0 });
  });

  it('FirehoseDeliveryFailures: Iceberg commits behind (DataFreshness) or route invocations failing', () => {
    const a = alarm('FirehoseDeliveryFailures');
    expectRule(a, { threshold: 0 });
    const { expression, stats } = mathOf(a);
    // Buffer interval (300 s) + the route function's buffer (60 s) + 15 minutes of retries.
    expect(expression).toBe('IF(FILL(freshness, 0) > 1260, 1, 0) + (1 - FILL(processing, 1))');
    const dimensions = [{ Name: 'DeliveryStreamName', Value: { Ref: stream } }];
    expect(stats).toEqual({
      freshness: {
        Metric: {
          Namespace: 'AWS/Firehose',
          MetricName: 'DeliveryToIceberg.DataFreshness',
          Dimensions: dimensions,
        },
        Period: 300,
        Stat: 'Maximum',
      },
      processing: {
        Metric: {
          Namespace: 'AWS/Firehose',
          MetricName: 'ExecuteProcessing.Success',
          Dimensions: dimensions,
        },
        Period: 300,
        Stat: 'Minimum',
      },
    });
    // The stream delivers to Iceberg: DeliveryToIceberg.* are the metrics that apply.
    const props = resource(template, 'AWS::KinesisFirehose::DeliveryStream', 'AnalyticsFeed').properties;
    expect(props.IcebergDestinationConfiguration).toBeDefined();
    expect(props.ExtendedS3DestinationConfiguration).toBeUndefined();
  });

  it('AnalyticsRecordsNotApplied: records the route function refused plus rows Firehose failed to apply', () => {
    const a = alarm('AnalyticsRecordsNotApplied');
    expectRule(a, { threshold: 0 });
    const { expression, stats } = mathOf(a);
    expect(expression).toBe('FILL(unroutable, 0) + FILL(failedRows, 0)');
    expect(stats).toEqual({
      unroutable: {
        Metric: {
          Namespace: METRICS_NAMESPACE,
          MetricName: ANALYTICS_ROUTE_METRIC.unroutable,
          Dimensions: [{ Name: 'service', Value: ANALYTICS_ROUTE_SERVICE_NAME }],
        },
        Period: 300,
        Stat: 'Sum',
      },
      failedRows: {
        Metric: {
          Namespace: 'AWS/Firehose',
          MetricName: 'DeliveryToIceberg.FailedRowCount',
          Dimensions: [{ Name: 'DeliveryStreamName', Value: { Ref: stream } }],
        },
        Period: 300,
        Stat: 'Sum',
      },
    });
  });

  it('FeedPipeFailures: failed, partially failed or timed-out pipe executions in 2 of 3 periods', () => {
    const a = alarm('FeedPipeFailures');
    expectRule(a, { threshold: 0, evaluation: 3, toAlarm: 2 });
    const { expression, stats } = mathOf(a);
    expect(expression).toBe('FILL(failed, 0) + FILL(partiallyFailed, 0) + FILL(timedOut, 0)');
    const dimensions = [{ Name: 'PipeName', Value: { Ref: pipe } }];
    const metric = (name: string) => ({
      Metric: { Namespace: 'AWS/EventBridge/Pipes', MetricName: name, Dimensions: dimensions },
      Period: 300,
      Stat: 'Sum',
    });
    expect(stats).toEqual({
      failed: metric('ExecutionFailed'),
      partiallyFailed: metric('ExecutionPartiallyFailed'),
      timedOut: metric('ExecutionTimeout'),
    });
  });
});

describe('alarms on the enqueue endpoint (its own metrics, service=lpv-enqueue)', () => {
  const fn = resource(template, 'AWS::Lambda::Function', 'EnqueueApiEnqueueFunction').logicalId;

  it('EnqueueUnauthorized: at least 5 enqueue_unauthorized in 5 minutes', () => {
    const a = alarm('EnqueueUnauthorized');
    expect(ALARM_THRESHOLDS.enqueueUnauthorizedPerPeriod).toBe(5);
    expect(a).toEqual(
      expect.objectContaining({
        Namespace: METRICS_NAMESPACE,
        MetricName: ENQUEUE_METRIC.unauthorized,
        Dimensions: ENQUEUE,
        Statistic: 'Sum',
        Period: 300,
      }),
    );
    expectRule(a, { threshold: 5, comparison: 'GreaterThanOrEqualToThreshold' });
  });

  it('EnqueueServerErrors: any enqueue_server_errors or any failed invocation of the enqueue function', () => {
    const a = alarm('EnqueueServerErrors');
    expectRule(a, { threshold: 0 });
    const { expression, stats } = mathOf(a);
    expect(expression).toBe('FILL(answered, 0) + FILL(invocationErrors, 0)');
    expect(stats).toEqual({
      answered: {
        Metric: {
          Namespace: METRICS_NAMESPACE,
          MetricName: ENQUEUE_METRIC.serverErrors,
          Dimensions: ENQUEUE,
        },
        Period: 300,
        Stat: 'Sum',
      },
      invocationErrors: {
        Metric: {
          Namespace: 'AWS/Lambda',
          MetricName: 'Errors',
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
        },
        Period: 300,
        Stat: 'Sum',
      },
    });
  });
});
