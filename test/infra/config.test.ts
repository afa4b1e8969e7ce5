import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  CONTEXT_DEFAULTS,
  livePersonRequestBoundPerSec,
  loadDeploymentConfig,
  maxOverlappingInvocations,
  privacyContextKey,
} from '../../infra/config';
import { PRIVACY_CATEGORIES } from '../../lib/privacy/categories';
import { loadPrivacySettings, privacyEnvName } from '../../lib/privacy/config';

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
      pollIntervalSec: 840,
      pollLastLook: true,
      leaseSec: 45,
      lpMaxRequestsPerSecond: 10,
      lostRatioThreshold: 0.02,
      lostRatioEvaluationPeriods: 3,
      lostRatioDatapointsToAlarm: 2,
      captureRetentionDays: 'keep',
      pointInTimeRecoveryDays: 35,
      enqueueMaxBatchItems: 500,
      enqueueMaxBodyBytes: 262_144,
      logRetentionDays: 30,
    });
    expect(config.fallingBehindAlarmActions).toBe(true);
    expect(load({ 'lpv:fallingBehindAlarmActions': 'false' }).fallingBehindAlarmActions).toBe(false);
    expect(config.pollerReservedConcurrency).toBeUndefined();
    expect(config.alarmEmail).toBeUndefined();
  });

  it.each([
    [{ 'lpv:captureRetentionDays': 'keep' }, 'keep', 35],
    [{ 'lpv:captureRetentionDays': 90, 'lpv:pointInTimeRecoveryDays': 7 }, 90, 7],
    [{ 'lpv:captureRetentionDays': '400', 'lpv:pointInTimeRecoveryDays': '1' }, 400, 1],
    [{ 'lpv:captureRetentionDays': 1 }, 1, 35],
    [{ 'lpv:captureRetentionDays': 36_500 }, 36_500, 35],
  ])('reads the retention and recovery period of %j', (context, retention, recoveryDays) => {
    const config = load(context);
    expect(config.captureRetentionDays).toBe(retention);
    expect(config.pointInTimeRecoveryDays).toBe(recoveryDays);
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
    [{ 'lpv:captureRetentionDays': 'forever' }, /"lpv:captureRetentionDays": must be "keep" or a whole/],
    [{ 'lpv:captureRetentionDays': 0 }, /"lpv:captureRetentionDays": .* from 1 to 36500, got 0/],
    [{ 'lpv:captureRetentionDays': '36501' }, /"lpv:captureRetentionDays": .* got "36501"/],
    [{ 'lpv:captureRetentionDays': 7.5 }, /"lpv:captureRetentionDays": .* got 7.5/],
    [{ 'lpv:pointInTimeRecoveryDays': 0 }, /"lpv:pointInTimeRecoveryDays": must be an integer from 1 to 35/],
    [{ 'lpv:pointInTimeRecoveryDays': 36 }, /"lpv:pointInTimeRecoveryDays": .* got 36/],
    [{ 'lpv:pointInTimeRecoveryDays': '7.5' }, /"lpv:pointInTimeRecoveryDays": must be an integer/],
    [{ 'lpv:pollerMemoryMB': 512 }, /"lpv:pollerMemoryMB": unknown key/],
    [
      { 'lpv:fallingBehindAlarmActions': 'yes' },
      /"lpv:fallingBehindAlarmActions": must be true or false, got "yes"/,
    ],
  ])('fails synthesis on %j with a message naming the key', (context, message) => {
    expect(() => load(context)).toThrow(message);
  });

  const FINAL_POLL =
    /^cdk context "lpv:leaseSec", "lpv:pollSchedule", "lpv:pollIntervalSec": the final window \(\d+ s, from lpv:pollIntervalSec\) must be at least /;
  it.each([
    // The lease default before issue 13: a crash at the final poll lost the last poll.
    [{ 'lpv:leaseSec': 300 }, FINAL_POLL],
    [{ 'lpv:leaseSec': 300 }, /leaves the item due again only at deadline \+ 180 s/],
    [{ 'lpv:leaseSec': 51 }, /lpv:leaseSec may be at most 50 s$/],
    [{ 'lpv:pollIntervalSec': 300 }, FINAL_POLL],
    [{ 'lpv:pollSchedule': 'rate(2 minutes)' }, FINAL_POLL],
    [{ 'lpv:pollSchedule': 'rate(5 minutes)' }, /no lease fits/],
    // Too short for one item's wait, requests, rows and ack: every claimed item would be handed back.
    [
      { 'lpv:leaseSec': 33 },
      /^cdk context "lpv:leaseSec": lpv:leaseSec \(33 s\) must be at least 3 × the poller's request timeout \(10 s\) \+ 4 s = 34 s/,
    ],
  ])('fails synthesis on timing settings that break the final-poll rule: %j', (context, message) => {
    expect(() => load(context)).toThrow(message);
  });

  it.each([
    [{ 'lpv:leaseSec': 50 }],
    [{ 'lpv:leaseSec': 34, 'lpv:pollIntervalSec': 328 }],
    [{ 'lpv:pollIntervalSec': 3600 }],
    // The Lambda timeout is free of the lease (each item's work is bounded by its own lease): the default 300 s,
    // the most Lambda allows, or shorter than the lease.
    [{ 'lpv:leaseSec': 34, 'lpv:pollerTimeoutSec': 900 }],
    [{ 'lpv:leaseSec': 50, 'lpv:pollerTimeoutSec': 30 }],
  ])('accepts timing settings that meet it: %j', (context) => {
    expect(() => load(context)).not.toThrow();
  });

  it('reads the cadence keys (lib/poll-cadence.ts): the intervals only when set, the last look on by default', () => {
    expect(load({})).not.toHaveProperty('pollIntervalAfterEventsSec');
    expect(load({})).not.toHaveProperty('pollQuietMaxIntervalSec');
    expect(
      load({
        'lpv:pollIntervalSec': 600,
        'lpv:pollIntervalAfterEventsSec': '200',
        'lpv:pollQuietMaxIntervalSec': 2400,
        'lpv:pollLastLook': 'false',
      }),
    ).toMatchObject({
      pollIntervalSec: 600,
      pollIntervalAfterEventsSec: 200,
      pollQuietMaxIntervalSec: 2400,
      pollLastLook: false,
    });
  });

  it.each([
    [
      { 'lpv:pollIntervalAfterEventsSec': 30 },
      /"lpv:pollIntervalAfterEventsSec": must be an integer from 60 to 3600/,
    ],
    [
      { 'lpv:pollQuietMaxIntervalSec': 600 },
      /^cdk context "lpv:pollQuietMaxIntervalSec", "lpv:pollIntervalSec": lpv:pollQuietMaxIntervalSec \(600 s\) must be at least lpv:pollIntervalSec \(840 s\)/,
    ],
    [{ 'lpv:pollLastLook': 'sometimes' }, /"lpv:pollLastLook": must be true or false, got "sometimes"/],
  ])('fails synthesis on the cadence %j with a message naming the key', (context, message) => {
    expect(() => load(context)).toThrow(message);
  });

  it('loads what cdk.json ships: the 300 s poller timeout with the 45 s lease', () => {
    const shipped = (
      JSON.parse(readFileSync(path.join(__dirname, '../../cdk.json'), 'utf8')) as {
        context: Record<string, unknown>;
      }
    ).context;
    const config = loadDeploymentConfig((key) => shipped[key], Object.keys(shipped));
    expect(config).toMatchObject({ pollerTimeoutSec: 300, leaseSec: 45 });
    expect(livePersonRequestBoundPerSec(config)).toBe(50);
  });

  it('accepts a complete secret ARN as well as a name', () => {
    const arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lp-visit-capture/liveperson-AbC123';
    expect(load({ 'lpv:credentialsSecret': arn }).lpCredentialsSecret).toBe(arn);
  });

  it('bounds LivePerson load by cap x overlapping invocations, reserved concurrency capping the overlap', () => {
    // The defaults: a 300 s timeout, a tick a minute: up to 5 invocations at once, 10 requests/s each.
    expect(maxOverlappingInvocations(load({}))).toBe(5);
    expect(livePersonRequestBoundPerSec(load({}))).toBe(50);
    expect(livePersonRequestBoundPerSec(load({ 'lpv:maxRequestsPerSecond': 0 }))).toBeUndefined();
    expect(livePersonRequestBoundPerSec(load({ 'lpv:pollerReservedConcurrency': 2 }))).toBe(20);
    // A timeout within the period: one at a time.
    expect(maxOverlappingInvocations(load({ 'lpv:pollerTimeoutSec': 45 }))).toBe(1);
    expect(livePersonRequestBoundPerSec(load({ 'lpv:pollerTimeoutSec': 45 }))).toBe(10);
    // A longer period (built directly: no lease fits the final window with a 5-minute schedule).
    expect(maxOverlappingInvocations({ ...load({}), pollPeriodMin: 5 })).toBe(1);
  });
});

describe('privacy modes (lpv:privacy<Category>)', () => {
  it('names one key per category by one rule, and sets no mode unless asked', () => {
    expect(PRIVACY_CATEGORIES.map((c) => privacyContextKey(c.category))).toEqual([
      'lpv:privacyName',
      'lpv:privacyContact',
      'lpv:privacyCustomerId',
      'lpv:privacyNetwork',
      'lpv:privacyBirthDay',
      'lpv:privacyPersonal',
      'lpv:privacyPreciseLocation',
      'lpv:privacyLocation',
      'lpv:privacyFreeText',
    ]);
    expect(load({}).privacyModes).toEqual({});
  });

  it('reads the modes it is given, in any case, as LPV_PRIVACY_<CATEGORY> reads them', () => {
    const context = {
      'lpv:privacyName': 'keep',
      'lpv:privacyCustomerId': ' DROP ',
      'lpv:privacyNetwork': 'hash',
      'lpv:privacyFreeText': 'drop',
      'lpv:privacyLocation': '',
    };
    expect(load(context).privacyModes).toEqual({
      name: 'keep',
      'customer-id': 'drop',
      network: 'hash',
      'free-text': 'drop',
    });
    // The same values through the environment give the same modes (one rule: lib/privacy/categories.ts).
    const env = Object.fromEntries(
      PRIVACY_CATEGORIES.flatMap((c) => {
        const value = (context as Record<string, string>)[privacyContextKey(c.category)];
        return value === undefined ? [] : [[privacyEnvName(c.category), value]];
      }),
    );
    expect(loadPrivacySettings(env).modes).toEqual(load(context).privacyModes);
  });

  it.each([
    [
      { 'lpv:privacyContact': 'truncate' },
      /^cdk context "lpv:privacyContact": must be one of keep, hash, drop \(truncate is for IP addresses: lpv:privacyNetwork\), got "truncate"$/,
    ],
    [
      { 'lpv:privacyNetwork': 'mask' },
      /"lpv:privacyNetwork": must be one of keep, hash, drop, truncate, got "mask"/,
    ],
    [{ 'lpv:privacyName': true }, /"lpv:privacyName": must be a string, got true/],
    [{ 'lpv:privacyEmail': 'hash' }, /"lpv:privacyEmail": unknown key; known keys: .*lpv:privacyContact/],
  ])('fails synthesis on %j with a message naming the key', (context, message) => {
    expect(() => load(context)).toThrow(message);
  });
});
