import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { METRIC } from '../lib/metrics';
import { expired12Rate, fetchesByOutcome, lostBeforeCaptureRatio, pollerMetric } from './metrics';

export interface OperationsDashboardProps {
  readonly pollerFunction: lambda.IFunction;
  readonly enqueueFunction: lambda.IFunction;
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/**
 * One CloudWatch dashboard: alarm states, fetches by outcome, the 404-code-12 rates, sessions captured vs lost,
 * rows written, time to deadline, and the two functions' invocations, errors and durations.
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const period = Duration.minutes(5);
    const graph = (
      title: string,
      left: cloudwatch.IMetric[],
      extra: Partial<cloudwatch.GraphWidgetProps> = {},
    ) => new cloudwatch.GraphWidget({ title, left, width: 12, height: 6, period, ...extra });

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(12),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 4 }),
    );
    this.dashboard.addWidgets(
      graph('Fetches by outcome (per 5 min)', fetchesByOutcome(period), { stacked: true }),
      graph('404-code-12 rates', [expired12Rate(period), lostBeforeCaptureRatio(period)], {
        leftYAxis: { min: 0, max: 1, showUnits: false },
      }),
    );
    this.dashboard.addWidgets(
      graph('Sessions ended: captured vs lost', [
        pollerMetric(METRIC.sessionsCaptured, 'Sum', period, 'captured'),
        pollerMetric(METRIC.sessionsLost, 'Sum', period, 'lost'),
        pollerMetric(METRIC.sessionsFailed, 'Sum', period, 'failed'),
        pollerMetric(METRIC.sessionsInvalid, 'Sum', period, 'invalid'),
        pollerMetric(METRIC.expiredBeforeCapture, 'Sum', period, 'expired before capture'),
      ]),
      graph('Rows written', [pollerMetric(METRIC.rowsWritten, 'Sum', period, 'rows written')], {
        right: [pollerMetric(METRIC.itemsDeferred, 'Sum', period, 'items deferred')],
      }),
    );
    this.dashboard.addWidgets(
      graph('Time to deadline (smallest among due items)', [
        pollerMetric(METRIC.minTimeToDeadlineMs, 'Minimum', period, 'min time to deadline (ms)'),
      ]),
      graph(
        'Poller invocations',
        [
          props.pollerFunction.metricInvocations({ period }),
          props.pollerFunction.metricErrors({ period }),
          props.pollerFunction.metricThrottles({ period }),
          pollerMetric(METRIC.ticks, 'Sum', period, 'ticks'),
          pollerMetric(METRIC.configurationFaults, 'Sum', period, 'configuration faults'),
        ],
        { right: [props.pollerFunction.metricDuration({ period, statistic: 'Maximum' })] },
      ),
    );
    this.dashboard.addWidgets(
      graph(
        'Enqueue endpoint',
        [
          props.enqueueFunction.metricInvocations({ period }),
          props.enqueueFunction.metricErrors({ period }),
          props.enqueueFunction.metricThrottles({ period }),
        ],
        { right: [props.enqueueFunction.metricDuration({ period, statistic: 'p99' })], width: 24 },
      ),
    );
  }
}
