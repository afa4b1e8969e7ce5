import {
  CONTEXT_DEFAULTS,
  livePersonRequestBoundPerSec,
  loadDeploymentConfig,
  maxOverlappingInvocations,
} from '../../infra/config';

const REQUIRED = { 'lpv:accountId': '12345678' };

function load(context: Record<string, unknown>) {
  const all: Record<string, unknown> = { ...REQUIRED, ...context };
  return loadDeploymentConfig((key) => all[key], Object.keys(all));
}

describe('deployment configuration (cdk context)', () => {
  it('fills every documented default when only the account id is given', () => {
    const config = load({});
    expect(config).toMatchObject({
      lpAccountId: '12345678',
      lpCredentialsSecret: CONTEXT_DEFAULTS.credentialsSecret,
      pollSchedule: 'rate(1 minute)',
      pollPeriodMin: 1,
      pollerMemoryMiB: 512,
      pollerTimeoutSec: 300,
      pollConcurrency: 32,
      pollIntervalSec: 600,
      leaseSec: 300,
      lpMaxRequestsPerSecond: 10,
      lostRatioThreshold: 0.02,
      lostRatioEvaluationPeriods: 3,
      lostRatioDatapointsToAlarm: 2,
      captureRetentionDays: 'keep',
      enqueueMaxBatchItems: 500,
      enqueueMaxBodyBytes: 262_144,
      logRetentionDays: 30,
    });
    expect(config.fallingBehindAlarmActions).toBe(true);
    expect(load({ 'lpv:fallingBehindAlarmActions': 'false' }).fallingBehindAlarmActions).toBe(false);
    expect(config.pollerReservedConcurrency).toBeUndefined();
    expect(config.alarmEmail).toBeUndefined();
  });

  it('reads numbers given as strings on the command line (-c key=value)', () => {
    const config = load({ 'lpv:pollerMemoryMiB': '1024', 'lpv:lostRatioThreshold': '0.1' });
    expect(config.pollerMemoryMiB).toBe(1024);
    expect(config.lostRatioThreshold).toBe(0.1);
  });

  it.each([
    [{ 'lpv:accountId': '' }, /"lpv:accountId": required/],
    [{ 'lpv:accountId': 'has space' }, /"lpv:accountId": may only hold/],
    [
      { 'lpv:pollerMemoryMiB': 'lots' },
      /"lpv:pollerMemoryMiB": must be an integer from 128 to 10240, got "lots"/,
    ],
    [{ 'lpv:pollerTimeoutSec': 901 }, /"lpv:pollerTimeoutSec": .* got 901/],
    [{ 'lpv:pollSchedule': 'rate(10 minutes)' }, /"lpv:pollSchedule": N must be from 1 to 5/],
    [{ 'lpv:pollSchedule': 'cron(* * * * ? *)' }, /"lpv:pollSchedule": must be "rate\(N minute\)"/],
    [{ 'lpv:pollSchedule': 'rate(2 minute)' }, /"lpv:pollSchedule": EventBridge wants/],
    [
      { 'lpv:credentialsSecret': 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lp' },
      /complete secret ARN/,
    ],
    [{ 'lpv:alarmEmail': 'ops' }, /"lpv:alarmEmail": not an e-mail address/],
    [{ 'lpv:baseUrl': 'http://lo.v.liveperson.net' }, /"lpv:baseUrl": must be an https URL/],
    [{ 'lpv:lostRatioThreshold': 2 }, /"lpv:lostRatioThreshold": must be a number from/],
    [{ 'lpv:lostRatioDatapointsToAlarm': 4 }, /must not exceed lpv:lostRatioEvaluationPeriods \(3\)/],
    [{ 'lpv:logRetentionDays': 31 }, /"lpv:logRetentionDays": must be one of CloudWatch's retentions/],
    [{ 'lpv:pollerReservedConcurrency': 0 }, /"lpv:pollerReservedConcurrency": must be an integer from 1/],
    [{ 'lpv:captureRetentionDays': 90 }, /"lpv:captureRetentionDays": only "keep" is supported/],
    [{ 'lpv:captureRetentionDays': 'forever' }, /"lpv:captureRetentionDays": must be an integer/],
    [{ 'lpv:pollerMemoryMB': 512 }, /"lpv:pollerMemoryMB": unknown key/],
    [
      { 'lpv:fallingBehindAlarmActions': 'yes' },
      /"lpv:fallingBehindAlarmActions": must be true or false, got "yes"/,
    ],
  ])('fails synthesis on %j with a message naming the key', (context, message) => {
    expect(() => load(context)).toThrow(message);
  });

  it('accepts a complete secret ARN as well as a name', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lp-visit-capture/liveperson-AbC123';
    expect(load({ 'lpv:credentialsSecret': arn }).lpCredentialsSecret).toBe(arn);
  });

  it('bounds LivePerson load by cap x overlapping invocations, reserved concurrency capping the overlap', () => {
    // 300 s timeout, a tick a minute: up to 5 invocations at once.
    expect(maxOverlappingInvocations(load({}))).toBe(5);
    expect(livePersonRequestBoundPerSec(load({}))).toBe(50);
    expect(livePersonRequestBoundPerSec(load({ 'lpv:pollerReservedConcurrency': 2 }))).toBe(20);
    expect(maxOverlappingInvocations(load({ 'lpv:pollSchedule': 'rate(5 minutes)' }))).toBe(1);
    expect(livePersonRequestBoundPerSec(load({ 'lpv:maxRequestsPerSecond': 0 }))).toBeUndefined();
  });
});
