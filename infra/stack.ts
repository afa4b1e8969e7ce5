import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { type DeploymentConfig, livePersonRequestBoundPerSec, maxOverlappingInvocations } from './config';
import { CaptureAnalytics } from './analytics';
import { OperationsDashboard } from './dashboard';
import { DataTables } from './data';
import { EnqueueApi } from './enqueue-api';
import { Erasure } from './erasure';
import { Monitoring } from './monitoring';
import { ScheduledPoller } from './poller';
import { PrivacyHashKey } from './privacy-key';

export interface LpVisitCaptureStackProps extends StackProps {
  readonly config: DeploymentConfig;
}

/**
 * lp-visit-capture in one stack: tables, the scheduled poller, the enqueue endpoint (and POST /forget with its
 * eraser), the analytics feed, alarms
 * and a dashboard.
 * Environment-agnostic (no account or region at synthesis): `cdk deploy` takes them from the caller's profile.
 */
export class LpVisitCaptureStack extends Stack {
  readonly data: DataTables;
  readonly poller: ScheduledPoller;
  readonly enqueueApi: EnqueueApi;
  readonly erasure: Erasure;
  readonly monitoring: Monitoring;
  readonly dashboard: OperationsDashboard;
  readonly analytics: CaptureAnalytics;
  /** The privacy hash key's secret (read by the poller and the eraser; grantRead for any other that hashes). */
  readonly hashKey: PrivacyHashKey;

  constructor(scope: Construct, id: string, props: LpVisitCaptureStackProps) {
    super(scope, id, props);
    const { config } = props;

    this.data = new DataTables(this, 'Data', {
      captureRetentionDays: config.captureRetentionDays,
      pointInTimeRecoveryDays: config.pointInTimeRecoveryDays,
      queueDueIndexMigration: config.queueDueIndexMigration,
      captureIndexMigration: config.captureIndexMigration,
    });
    this.hashKey = new PrivacyHashKey(this, 'PrivacyHashKey');
    this.poller = new ScheduledPoller(this, 'Poller', {
      config,
      hashKey: this.hashKey,
      queueTable: this.data.queueTable,
      captureTable: this.data.captureTable,
      dueIndexName: this.data.dueIndexName,
    });
    this.enqueueApi = new EnqueueApi(this, 'EnqueueApi', {
      config,
      queueTable: this.data.queueTable,
      dueIndexName: this.data.dueIndexName,
    });
    this.analytics = new CaptureAnalytics(this, 'Analytics', {
      captureTable: this.data.captureTable,
      retention: config.analyticsRetention,
      logRetentionDays: config.logRetentionDays,
    });
    // After the analytics copy: the eraser re-sends its deletes to the delivery stream after its buffer.
    this.erasure = new Erasure(this, 'Erasure', {
      config,
      queueTable: this.data.queueTable,
      captureTable: this.data.captureTable,
      dueIndexName: this.data.dueIndexName,
      captureByVisitorIndexName: this.data.captureByVisitorIndexName,
      hashKey: this.hashKey,
      analyticsFeed: {
        deliveryStream: this.analytics.deliveryStream,
        bufferIntervalSec: this.analytics.bufferIntervalSec,
      },
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      config,
      pollerFunction: this.poller.function,
      enqueueFunction: this.enqueueApi.function,
      analyticsFeed: {
        deadLetters: this.analytics.failures,
        deliveryStream: this.analytics.deliveryStream,
        pipe: this.analytics.pipe,
        bufferIntervalSec: this.analytics.bufferIntervalSec,
      },
    });
    this.dashboard = new OperationsDashboard(this, 'Operations', {
      pollerFunction: this.poller.function,
      enqueueFunction: this.enqueueApi.function,
      alarms: Object.values(this.monitoring.alarms),
    });

    new CfnOutput(this, 'QueueTableName', { value: this.data.queueTable.tableName });
    new CfnOutput(this, 'CaptureTableName', { value: this.data.captureTable.tableName });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn });
    new CfnOutput(this, 'DashboardName', { value: this.dashboard.dashboard.dashboardName });
    new CfnOutput(this, 'HashKeySecretArn', {
      description: 'The privacy hash key secret (docs/privacy.md, "Rotating the key")',
      value: this.hashKey.secret.secretArn,
    });
    new CfnOutput(this, 'PollerFailureQueueUrl', { value: this.poller.failures.queueUrl });
    const bound = livePersonRequestBoundPerSec(config);
    new CfnOutput(this, 'LivePersonRequestBound', {
      description: 'Most LivePerson requests per second: cap per invocation x most overlapping invocations',
      value:
        bound === undefined
          ? `uncapped (lpv:maxRequestsPerSecond is 0; up to ${maxOverlappingInvocations(config)} invocations overlap)`
          : `${bound} requests/s (${config.lpMaxRequestsPerSecond}/s x ${maxOverlappingInvocations(config)} invocations)`,
    });
  }
}
