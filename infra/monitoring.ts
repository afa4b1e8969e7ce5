import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as pipes from 'aws-cdk-lib/aws-pipes';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENQUEUE_METRIC, ERASURE_METRIC, METRIC, METRICS_NAMESPACE, fetchMetricName } from '../lib/metrics';
import { ANALYTICS_ROUTE_METRIC, ANALYTICS_ROUTE_SERVICE_NAME } from '../lib/query/analytics-route';
import type { DeploymentConfig } from './config';
import {
  enqueueMetric,
  erasureMetric,
  expired12Rate,
  FIVE_MINUTES,
  lostBeforeCaptureRatio,
  malformedOrUnexpectedShare,
  pollerMetric,
  sumOfCounts,
} from './metrics';

/** What the analytics alarms watch (infra/analytics.ts, CaptureAnalytics). */
export interface WatchedAnalyticsFeed {
  /** The pipe's dead-letter queue: stream batches that failed after every retry. */
  readonly deadLetters: sqs.IQueue;
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly pipe: pipes.CfnPipe;
  /** Firehose's buffer interval before a commit (the freshness alarm allows it). */
  readonly bufferIntervalSec: number;
}

export interface MonitoringProps {
  readonly config: DeploymentConfig;
  readonly pollerFunction: lambda.IFunction;
  readonly enqueueFunction: lambda.IFunction;
  readonly analyticsFeed: WatchedAnalyticsFeed;
}

/**
 * Fixed thresholds of the alarms added for issue 13 (the older ones take theirs from DeploymentConfig). Each is
 * explained where it is used.
 */
export const ALARM_THRESHOLDS = {
  /**
   * (fetches_malformed + fetches_unexpected) / fetches_total per 5 minutes. LivePerson answers neither in normal
   * operation; a proxy, an API change or a truncating network does, for a good share of the answers. 5 % in 2
   * of 3 periods stays clear of one odd answer in a quiet period and fires on a real change.
   */
  malformedOrUnexpectedShare: 0.05,
  /**
   * 401s per 5 minutes. The endpoint is public: a scanner's few requests are noise, a site backend locked out
   * (a rotation not followed, the window over) fails every request it sends.
   */
  enqueueUnauthorizedPerPeriod: 5,
  /**
   * Oldest POST /forget request not done, in ms. A request is normally done within about 3 minutes (a minute
   * for the next eraser run, the poller's lease + 15 s of wait, the deletes); a crashed run's request is taken
   * over after about 6 more. 30 minutes means several attempts failed, or the eraser does not run.
   */
  erasureOverdueMs: 30 * 60_000,
} as const;

/** Where each alarm's runbook is: one section per alarm, headed by its construct id. */
export const RUNBOOK = 'docs/operations.md';

const ONE_MINUTE = Duration.minutes(1);
const {
  GREATER_THAN_THRESHOLD,
  GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
  LESS_THAN_THRESHOLD,
  GREATER_THAN_UPPER_THRESHOLD,
} = cloudwatch.ComparisonOperator;

/**
 * The alarm topic (optional e-mail subscription) and the alarms: the poller's outcomes and health, our side's
 * failures (partial captures, item errors, rows not stored, the Domain API), LivePerson's odd answers (400/33,
 * malformed or unexpected), the analytics feed (dead letters, Firehose, the pipe) and the enqueue endpoint
 * (401, 5xx), and late erasures. Every alarm has a runbook section in docs/operations.md (test/infra/operations-doc.test.ts keeps
 * the two in step). Missing data: the heartbeat and ErasureOverdue treat it as breaching (no run is the failure they watch);
 * every other alarm as not breaching, so a quiet night, when the poller emits little or nothing, pages no one.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  /** Every alarm, by construct id (ids are stable: the alarm names derive from them). */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config, pollerFunction, enqueueFunction, analyticsFeed } = props;
    const stackName = Stack.of(this).stackName;

    this.topic = new sns.Topic(this, 'AlarmTopic', {
      displayName: 'lp-visit-capture alarms',
      enforceSSL: true,
    });
    Validations.of(this.topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'Alarm notifications carry alarm names, metric values and thresholds, never visitor data. CloudWatch ' +
        'cannot publish to a topic encrypted with the AWS-managed aws/sns key, and a customer-managed key ' +
        'would add cost and a key policy for no confidentiality gain.',
    });
    if (config.alarmEmail !== undefined) {
      this.topic.addSubscription(new EmailSubscription(config.alarmEmail));
    }
    const action = new SnsAction(this.topic);

    const add = (alarmId: string, alarm: cloudwatch.Alarm): void => {
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      // Whoever is paged reads where to start.
      const cfn = alarm.node.defaultChild as cloudwatch.CfnAlarm;
      cfn.alarmDescription = `${cfn.alarmDescription ?? ''} Runbook: ${RUNBOOK}, section ${alarmId}.`;
      this.alarms[alarmId] = alarm;
    };
    const alarmName = (alarmId: string): string => `${stackName}-${alarmId}`;

    // 404/12 before any capture: lost data. A 404/12 after a capture is a session's normal end.
    add(
      'LostBeforeCaptureRate',
      new cloudwatch.Alarm(this, 'LostBeforeCaptureRate', {
        alarmName: alarmName('LostBeforeCaptureRate'),
        alarmDescription:
          `Share of ended sessions whose first answer was already 404/12 (${METRIC.expiredBeforeCapture} / ` +
          `${METRIC.sessionsEnded}, 5-minute periods) above ${config.lostRatioThreshold}: sessions are lost ` +
          'before their first capture. Check enqueue latency (pairs arriving late) and the poller backlog.',
        metric: lostBeforeCaptureRatio(),
        threshold: config.lostRatioThreshold,
        comparisonOperator: GREATER_THAN_THRESHOLD,
        evaluationPeriods: config.lostRatioEvaluationPeriods,
        datapointsToAlarm: config.lostRatioDatapointsToAlarm,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // The overall 404/12 rate, against its own usual level.
    add(
      'Expired12RateAnomaly',
      new cloudwatch.AnomalyDetectionAlarm(this, 'Expired12RateAnomaly', {
        alarmName: alarmName('Expired12RateAnomaly'),
        alarmDescription:
          `${fetchMetricName('expired_12')} / all fetches_* above its anomaly band ` +
          `(${config.expiredRateAnomalyStdDevs} standard deviations) for 3 of 3 five-minute periods.`,
        metric: expired12Rate(),
        stdDevs: config.expiredRateAnomalyStdDevs,
        comparisonOperator: GREATER_THAN_UPPER_THRESHOLD,
        evaluationPeriods: 3,
        datapointsToAlarm: 3,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    /** A count (or sum) above a threshold, missing data not breaching. */
    const countAbove = (
      alarmId: string,
      metric: cloudwatch.IMetric,
      description: string,
      periods = { evaluation: 1, toAlarm: 1 },
      threshold = 0,
      comparisonOperator: cloudwatch.ComparisonOperator = GREATER_THAN_THRESHOLD,
    ): void =>
      add(
        alarmId,
        new cloudwatch.Alarm(this, alarmId, {
          alarmName: alarmName(alarmId),
          alarmDescription: description,
          metric,
          threshold,
          comparisonOperator,
          evaluationPeriods: periods.evaluation,
          datapointsToAlarm: periods.toAlarm,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    const twoOfThree = { evaluation: 3, toAlarm: 2 };

    countAbove(
      'SessionsLost',
      pollerMetric(METRIC.sessionsLost),
      `${METRIC.sessionsLost} > 0: a session reached LOST (404/12 before any capture).`,
    );
    countAbove(
      'SessionsFailed',
      pollerMetric(METRIC.sessionsFailed),
      `${METRIC.sessionsFailed} > 0: a session reached its deadline without one successful poll.`,
    );
    // Credential or account faults page at the first occurrence (1-minute periods, 1 of 1).
    countAbove(
      'ConfigurationFault',
      pollerMetric(METRIC.configurationFaults, 'Sum', ONE_MINUTE),
      `${METRIC.configurationFaults} > 0: a tick stopped on 401/10 (credentials), 404/6 (account) or an ` +
        'unreadable secret. Check the LivePerson secret, the privacy hash key secret and lpv:accountId.',
    );
    countAbove(
      'CredentialsRejected',
      pollerMetric(fetchMetricName('unauthorized_10'), 'Sum', ONE_MINUTE),
      `${fetchMetricName('unauthorized_10')} > 0: LivePerson rejected the credentials (401/10) even after ` +
        'rereading the secret.',
    );
    countAbove(
      'AccountUnknown',
      pollerMetric(fetchMetricName('invalid_account_6'), 'Sum', ONE_MINUTE),
      `${fetchMetricName('invalid_account_6')} > 0: LivePerson does not know the account (404/6).`,
    );

    // Notifies unless lpv:fallingBehindAlarmActions is false (see DeploymentConfig.fallingBehindAlarmActions).
    add(
      'FallingBehind',
      new cloudwatch.Alarm(this, 'FallingBehind', {
        alarmName: alarmName('FallingBehind'),
        actionsEnabled: config.fallingBehindAlarmActions,
        alarmDescription:
          `${METRIC.minTimeToDeadlineMs} (smallest time to the 6-hour deadline among due items) below ` +
          `${config.minTimeToDeadlineThresholdMs} ms for 2 of 2 five-minute periods: the poller is behind.` +
          (config.fallingBehindAlarmActions ? '' : ' Notifications off (lpv:fallingBehindAlarmActions).'),
        metric: pollerMetric(METRIC.minTimeToDeadlineMs, cloudwatch.Stats.MINIMUM),
        threshold: config.minTimeToDeadlineThresholdMs,
        comparisonOperator: LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    countAbove(
      'PollerErrors',
      pollerFunction.metricErrors({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      'Poller invocations failed in 2 of the last 3 five-minute periods (see the failure queue and logs).',
      twoOfThree,
    );
    countAbove(
      'PollerThrottles',
      pollerFunction.metricThrottles({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.SUM }),
      'Poller invocations were throttled (account concurrency or the reserved concurrency).',
    );
    const durationThresholdMs = Math.round(config.pollerTimeoutSec * 1000 * config.durationAlarmTimeoutRatio);
    add(
      'PollerDurationNearTimeout',
      new cloudwatch.Alarm(this, 'PollerDurationNearTimeout', {
        alarmName: alarmName('PollerDurationNearTimeout'),
        alarmDescription:
          `Poller duration above ${durationThresholdMs} ms (${config.durationAlarmTimeoutRatio} of the ` +
          `${config.pollerTimeoutSec} s timeout): ticks use their whole budget, i.e. a backlog, or time out.`,
        metric: pollerFunction.metricDuration({ period: FIVE_MINUTES, statistic: cloudwatch.Stats.MAXIMUM }),
        threshold: durationThresholdMs,
        comparisonOperator: GREATER_THAN_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // Heartbeat: no completed tick for 10 minutes. Here missing data IS the failure.
    add(
      'Heartbeat',
      new cloudwatch.Alarm(this, 'Heartbeat', {
        alarmName: alarmName('Heartbeat'),
        alarmDescription:
          `No ${METRIC.ticks} for 10 minutes (2 of 2 five-minute periods): the poller is not running or no ` +
          'tick completes. Check the schedule rule, the failure queue and the function logs.',
        metric: pollerMetric(METRIC.ticks),
        threshold: 1,
        comparisonOperator: LESS_THAN_THRESHOLD,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );

    // Our side's failures (issue 13) ----------------------------------------------------------------------
    countAbove(
      'SessionsPartial',
      pollerMetric(METRIC.sessionsPartial),
      `${METRIC.sessionsPartial} > 0: a session ended CAPTURED with complete=false (its last answer was not ` +
        'stored completely; the reason starts with "partial:").',
    );
    // Each item error is handed back with backoff and retried: one is a blip, errors in 2 of 3 periods are not.
    countAbove(
      'ItemErrors',
      pollerMetric(METRIC.itemErrors),
      `${METRIC.itemErrors} > 0 in 2 of the last 3 five-minute periods: polls keep failing on our side ` +
        '(storage, Domain API) and items are handed back instead of polled.',
      twoOfThree,
    );
    countAbove(
      'RowsNotStored',
      sumOfCounts(
        {
          rejected: pollerMetric(METRIC.rowsRejected),
          unwritten: pollerMetric(METRIC.rowsUnwritten),
        },
        'rows rejected + rows unwritten',
      ),
      `${METRIC.rowsRejected} + ${METRIC.rowsUnwritten} > 0: rows LivePerson answered were not stored ` +
        '(refused by DynamoDB even after fitting, or not written before the deadline).',
    );
    // Lookups are cached with backoff, so failures count per backoff step, not per item.
    countAbove(
      'DomainApiFailures',
      pollerMetric(METRIC.domainApiFailures),
      `${METRIC.domainApiFailures} > 0 in 2 of the last 3 five-minute periods: LivePerson's Domain API ` +
        '(smt base URI) cannot be reached or answers oddly; no session can be polled meanwhile.',
      twoOfThree,
    );

    // LivePerson's odd answers ------------------------------------------------------------------------------
    // 400/33 most likely concerns the request as a whole (a retired v=1, a rejected filter): page at once.
    countAbove(
      'BadRequest33',
      pollerMetric(fetchMetricName('bad_request_33'), 'Sum', ONE_MINUTE),
      `${fetchMetricName('bad_request_33')} > 0: LivePerson answered 400/33 (bad request). Three or more ` +
        'sessions in one tick stop the tick as a configuration fault; fewer end INVALID.',
    );
    add(
      'MalformedOrUnexpectedShare',
      new cloudwatch.Alarm(this, 'MalformedOrUnexpectedShare', {
        alarmName: alarmName('MalformedOrUnexpectedShare'),
        alarmDescription:
          `(${fetchMetricName('malformed')} + ${fetchMetricName('unexpected')}) / ${METRIC.fetchesTotal} above ` +
          `${ALARM_THRESHOLDS.malformedOrUnexpectedShare} in 2 of 3 five-minute periods: answers the client ` +
          'cannot read or did not expect (they are retried with backoff, never stored).',
        metric: malformedOrUnexpectedShare(),
        threshold: ALARM_THRESHOLDS.malformedOrUnexpectedShare,
        comparisonOperator: GREATER_THAN_THRESHOLD,
        evaluationPeriods: twoOfThree.evaluation,
        datapointsToAlarm: twoOfThree.toAlarm,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    // The analytics feed (capture table stream → pipe → Firehose → route function → Iceberg tables) -----
    // Messages stay 14 days: the alarm stays raised until they are dealt with (docs/operations.md).
    countAbove(
      'AnalyticsDeadLetters',
      analyticsFeed.deadLetters.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      'The analytics feed dead-letter queue holds messages: stream batches the pipe gave up on after every ' +
        'retry; their changes are in DynamoDB but missing from the Iceberg tables.',
    );
    const firehoseMetric = (metricName: string, statistic: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/Firehose',
        metricName,
        dimensionsMap: { DeliveryStreamName: analyticsFeed.deliveryStream.ref },
        statistic,
        period: FIVE_MINUTES,
      });
    // The Iceberg destination: DataFreshness is the age of the oldest record not yet committed; it stays under
    // the buffer interval plus the processing buffer (60 s) while commits succeed, and grows when they do not
    // (tables, permissions, Glue). ExecuteProcessing.Success is the share of route-function invocations that
    // worked; below 1, Firehose retries and then writes the records to errors/processing-failed/.
    const freshnessLimitSec = analyticsFeed.bufferIntervalSec + 60 + 900;
    countAbove(
      'FirehoseDeliveryFailures',
      new cloudwatch.MathExpression({
        expression: `IF(FILL(freshness, 0) > ${freshnessLimitSec}, 1, 0) + (1 - FILL(processing, 1))`,
        usingMetrics: {
          freshness: firehoseMetric('DeliveryToIceberg.DataFreshness', cloudwatch.Stats.MAXIMUM),
          processing: firehoseMetric('ExecuteProcessing.Success', cloudwatch.Stats.MINIMUM),
        },
        period: FIVE_MINUTES,
        label: 'Iceberg commits behind + failed route invocations share',
      }),
      `Firehose's oldest uncommitted record is older than ${freshnessLimitSec} s ` +
        '(DeliveryToIceberg.DataFreshness), or invoking the route function failed (ExecuteProcessing.Success < 1): ' +
        'changes are not reaching the Iceberg tables.',
    );
    // Records that reached Firehose but not a table: refused by the route function (unknown row type, no image:
    // its EMF metric) or failed at the table (DeliveryToIceberg.FailedRowCount); both land in errors/.
    countAbove(
      'AnalyticsRecordsNotApplied',
      sumOfCounts(
        {
          unroutable: new cloudwatch.Metric({
            namespace: METRICS_NAMESPACE,
            metricName: ANALYTICS_ROUTE_METRIC.unroutable,
            dimensionsMap: { service: ANALYTICS_ROUTE_SERVICE_NAME },
            statistic: cloudwatch.Stats.SUM,
            period: FIVE_MINUTES,
          }),
          failedRows: firehoseMetric('DeliveryToIceberg.FailedRowCount', cloudwatch.Stats.SUM),
        },
        'records not routed or not applied',
      ),
      `${ANALYTICS_ROUTE_METRIC.unroutable} + DeliveryToIceberg.FailedRowCount > 0: records Firehose could not ` +
        'route (the route function refused them) or apply to their table; they are in errors/ of the rows bucket.',
    );
    // The pipe retries a failed batch (10 times, bisecting) before its dead-letter queue: failures in 2 of 3
    // periods mean a fault that retries do not cure (Firehose throttling or refusing, permissions).
    const pipeMetric = (metricName: string): cloudwatch.Metric =>
      new cloudwatch.Metric({
        namespace: 'AWS/EventBridge/Pipes',
        metricName,
        dimensionsMap: { PipeName: analyticsFeed.pipe.ref },
        statistic: cloudwatch.Stats.SUM,
        period: FIVE_MINUTES,
      });
    countAbove(
      'FeedPipeFailures',
      sumOfCounts(
        {
          failed: pipeMetric('ExecutionFailed'),
          partiallyFailed: pipeMetric('ExecutionPartiallyFailed'),
          timedOut: pipeMetric('ExecutionTimeout'),
        },
        'pipe executions failed, partially failed or timed out',
      ),
      'The analytics feed pipe has failed, partially failed or timed-out executions in 2 of the last 3 ' +
        'five-minute periods (putting to Firehose).',
      twoOfThree,
    );

    // The eraser (POST /forget requests) ------------------------------------------------------------------------
    // One alarm for both ways an erasure can be late: failed attempts keep their request pending (it ages), and
    // an eraser that does not run publishes nothing (missing data, breaching: it runs every minute and always
    // publishes, 0 when nothing is pending).
    add(
      'ErasureOverdue',
      new cloudwatch.Alarm(this, 'ErasureOverdue', {
        alarmName: alarmName('ErasureOverdue'),
        alarmDescription:
          `${ERASURE_METRIC.oldestPendingAgeMs} (oldest POST /forget request not done) above ` +
          `${ALARM_THRESHOLDS.erasureOverdueMs} ms, or no eraser run published it, for 2 of 2 five-minute ` +
          'periods: an erasure is late (attempts failing, see erasure_failures) or the eraser is not running.',
        metric: erasureMetric(ERASURE_METRIC.oldestPendingAgeMs, cloudwatch.Stats.MAXIMUM),
        threshold: ALARM_THRESHOLDS.erasureOverdueMs,
        comparisonOperator: GREATER_THAN_THRESHOLD,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
    );

    // The enqueue endpoint ------------------------------------------------------------------------------------
    countAbove(
      'EnqueueUnauthorized',
      enqueueMetric(ENQUEUE_METRIC.unauthorized),
      `${ENQUEUE_METRIC.unauthorized} >= ${ALARM_THRESHOLDS.enqueueUnauthorizedPerPeriod} in 5 minutes: ` +
        'requests with no, a malformed or a wrong bearer token (a rotation not followed by the site backend, ' +
        'or the previous token past its window). Pairs refused are not queued.',
      { evaluation: 1, toAlarm: 1 },
      ALARM_THRESHOLDS.enqueueUnauthorizedPerPeriod,
      GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    );
    // 5xx the function answered (503: queue or token secret unreachable) or failed with (API Gateway's 500),
    // plus invocations that never answered (timeouts, crashes), which only Lambda's Errors counts. A pair the
    // site backend does not retry is lost: page at the first.
    countAbove(
      'EnqueueServerErrors',
      sumOfCounts(
        {
          answered: enqueueMetric(ENQUEUE_METRIC.serverErrors),
          invocationErrors: enqueueFunction.metricErrors({
            period: FIVE_MINUTES,
            statistic: cloudwatch.Stats.SUM,
          }),
        },
        'enqueue 5xx + failed invocations',
      ),
      `${ENQUEUE_METRIC.serverErrors} + enqueue Lambda errors > 0: POST /enqueue answered 5xx (queue or token ` +
        'secret unreachable, or the function failed).',
    );
  }
}
