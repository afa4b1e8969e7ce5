import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { ENQUEUE_METRIC, METRIC } from '../lib/metrics';
import {
  enqueueMetric,
  expired12Rate,
  fetchesByOutcome,
  lostBeforeCaptureRatio,
  malformedOrUnexpectedShare,
  pollerMetric,
} from './metrics';

export interface OperationsDashboardProps {
  readonly pollerFunction: lambda.IFunction;
  readonly enqueueFunction: lambda.IFunction;
  readonly alarms: readonly cloudwatch.IAlarm[];
}

/**
 * One CloudWatch dashboard: alarm states, fetches by outcome, the 404-code-12 rates, sessions captured vs lost,
 * rows written, time to deadline, our side's failures, what became of the rows, and the two functions'
 * invocations, errors and durations (the enqueue endpoint's 401s and 5xx among them).
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
      graph(
        '404-code-12 rates, malformed or unexpected share',
        [expired12Rate(period), lostBeforeCaptureRatio(period), malformedOrUnexpectedShare(period)],
        { leftYAxis: { min: 0, max: 1, showUnits: false } },
      ),
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
      graph("Our side's failures (per 5 min)", [
        pollerMetric(METRIC.itemErrors, 'Sum', period, 'item errors'),
        pollerMetric(METRIC.domainApiFailures, 'Sum', period, 'Domain API failures'),
        pollerMetric(METRIC.leasesLost, 'Sum', period, 'leases lost'),
        pollerMetric(METRIC.claimConflicts, 'Sum', period, 'claim conflicts'),
        pollerMetric(METRIC.badRequest33Sessions, 'Sum', period, '400/33 sessions'),
      ]),
      graph('Rows made to fit or not stored; partial captures (per 5 min)', [
        pollerMetric(METRIC.rowsTruncated, 'Sum', period, 'rows truncated'),
        pollerMetric(METRIC.rowsFitted, 'Sum', period, 'rows fitted'),
        pollerMetric(METRIC.rowsRejected, 'Sum', period, 'rows rejected'),
        pollerMetric(METRIC.rowsUnwritten, 'Sum', period, 'rows unwritten'),
        pollerMetric(METRIC.sessionsPartial, 'Sum', period, 'sessions partial'),
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Enqueue endpoint',
        [
          props.enqueueFunction.metricInvocations({ period }),
          props.enqueueFunction.metricErrors({ period }),
          props.enqueueFunction.metricThrottles({ period }),
          enqueueMetric(ENQUEUE_METRIC.unauthorized, 'Sum', period, '401 answers'),
          enqueueMetric(ENQUEUE_METRIC.serverErrors, 'Sum', period, '5xx answers'),
        ],
        { right: [props.enqueueFunction.metricDuration({ period, statistic: 'p99' })], width: 24 },
      ),
    );
  }
}
