import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { METRIC, fetchMetricName } from '../lib/metrics';
import type { DeploymentConfig } from './config';
import { expired12Rate, FIVE_MINUTES, lostBeforeCaptureRatio, pollerMetric } from './metrics';

export interface MonitoringProps {
  readonly config: DeploymentConfig;
  readonly pollerFunction: lambda.IFunction;
}

const ONE_MINUTE = Duration.minutes(1);
const { GREATER_THAN_THRESHOLD, LESS_THAN_THRESHOLD, GREATER_THAN_UPPER_THRESHOLD } =
  cloudwatch.ComparisonOperator;

/**
 * The alarm topic (optional e-mail subscription) and the alarms. Missing data: the heartbeat treats it as
 * breaching (no tick is the failure it watches); every other alarm as not breaching, so a quiet night, when
 * the poller emits little or nothing, pages no one.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  /** Every alarm, by construct id (ids are stable: the alarm names derive from them). */
  readonly alarms: Record<string, cloudwatch.Alarm> = {};

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const { config, pollerFunction } = props;
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

    const countAbove = (
      alarmId: string,
      metric: cloudwatch.IMetric,
      description: string,
      periods = { evaluation: 1, toAlarm: 1 },
    ): void =>
      add(
        alarmId,
        new cloudwatch.Alarm(this, alarmId, {
          alarmName: alarmName(alarmId),
          alarmDescription: description,
          metric,
          threshold: 0,
          comparisonOperator: GREATER_THAN_THRESHOLD,
          evaluationPeriods: periods.evaluation,
          datapointsToAlarm: periods.toAlarm,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );

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
      `${METRIC.configurationFaults} > 0: a tick stopped on 401/10 (credentials) or 404/6 (account). ` +
        'Check the LivePerson secret and lpv:accountId.',
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
      { evaluation: 3, toAlarm: 2 },
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
  }
}
