import {
  loadCaptureRetentionDays,
  loadLivePersonSettings,
  loadPollerSettings,
  loadStorageSettings,
} from '../../lib/config';
import { ConfigError } from '../../lib/errors';

const credentials = { LP_CONSUMER_KEY: 'k', LP_CONSUMER_SECRET: 's', LP_TOKEN: 't', LP_TOKEN_SECRET: 'ts' };

describe('configuration', () => {
  it('applies documented defaults', () => {
    expect(loadPollerSettings({})).toEqual({
      concurrency: 32,
      pollIntervalSec: 840,
      leaseSec: 45,
      schedulePeriodSec: 60,
      maxRequestsPerSec: 0,
    });
    const lp = loadLivePersonSettings({ LP_ACCOUNT_ID: '123', ...credentials });
    expect(lp.domainApiUrl).toBe('https://api.liveperson.net');
    expect(lp.requestTimeoutMs).toBe(10_000);
    expect(lp.credentials.source).toBe('env');
    expect(loadStorageSettings({ AWS_REGION: 'eu-west-1' })).toEqual({
      region: 'eu-west-1',
      queueTable: 'lpv-queue',
      captureTable: 'lpv-capture',
    });
  });

  it.each([
    [{ ...credentials }, /^LP_ACCOUNT_ID: required/],
    [{ LP_ACCOUNT_ID: 'a/b', ...credentials }, /^LP_ACCOUNT_ID: /],
    [{ LP_ACCOUNT_ID: '1' }, /^LP_CREDENTIALS_SECRET_ID: required/],
    [{ LP_ACCOUNT_ID: '1', LP_CONSUMER_KEY: 'k' }, /^LP_CONSUMER_SECRET: required with the other/],
    [
      { LP_ACCOUNT_ID: '1', ...credentials, LP_BASE_URL: 'http://lo.v.liveperson.net' },
      /^LP_BASE_URL: must use https/,
    ],
    [{ LP_ACCOUNT_ID: '1', ...credentials, LP_DOMAIN_API_URL: 'nope' }, /^LP_DOMAIN_API_URL: not a URL/],
    [
      { LP_ACCOUNT_ID: '1', ...credentials, LP_REQUEST_TIMEOUT_MS: '10s' },
      /^LP_REQUEST_TIMEOUT_MS: must be a whole number/,
    ],
  ])('rejects %j with a one-line error naming the setting', (env, message) => {
    expect(() => loadLivePersonSettings(env)).toThrow(ConfigError);
    expect(() => loadLivePersonSettings(env)).toThrow(message);
  });

  it('reads the cadence settings when set (lib/poll-cadence.ts), and leaves them to their defaults otherwise', () => {
    expect(
      loadPollerSettings({
        POLL_INTERVAL_SECONDS: '600',
        POLL_INTERVAL_AFTER_EVENTS_SECONDS: '200',
        POLL_QUIET_MAX_INTERVAL_SECONDS: '2400',
        POLL_LAST_LOOK: 'false',
      }),
    ).toMatchObject({
      pollIntervalSec: 600,
      pollIntervalAfterEventsSec: 200,
      pollQuietMaxIntervalSec: 2400,
      pollLastLook: false,
    });
    expect(loadPollerSettings({ POLL_LAST_LOOK: ' true ' }).pollLastLook).toBe(true);
    // A quiet cap equal to the interval is allowed: a fixed interval.
    expect(
      loadPollerSettings({ POLL_INTERVAL_SECONDS: '900', POLL_QUIET_MAX_INTERVAL_SECONDS: '900' })
        .pollQuietMaxIntervalSec,
    ).toBe(900);
  });

  it.each([
    [{ POLL_INTERVAL_AFTER_EVENTS_SECONDS: '0' }, /^POLL_INTERVAL_AFTER_EVENTS_SECONDS: must be > 0/],
    [{ POLL_QUIET_MAX_INTERVAL_SECONDS: '20m' }, /^POLL_QUIET_MAX_INTERVAL_SECONDS: must be a whole number/],
    [
      { POLL_QUIET_MAX_INTERVAL_SECONDS: '600' },
      /^POLL_QUIET_MAX_INTERVAL_SECONDS, POLL_INTERVAL_SECONDS: POLL_QUIET_MAX_INTERVAL_SECONDS \(600 s\) must be at least POLL_INTERVAL_SECONDS \(840 s\)/,
    ],
    [{ POLL_LAST_LOOK: 'yes' }, /^POLL_LAST_LOOK: must be true or false, got "yes"/],
  ])('rejects the cadence %j with an error naming the setting', (env, message) => {
    expect(() => loadPollerSettings(env)).toThrow(ConfigError);
    expect(() => loadPollerSettings(env)).toThrow(message);
  });

  it('accepts plain http only for loopback hosts', () => {
    expect(
      loadLivePersonSettings({ LP_ACCOUNT_ID: '1', ...credentials, LP_BASE_URL: 'http://127.0.0.1:8080' })
        .baseUrl,
    ).toBe('http://127.0.0.1:8080');
    expect(() => loadStorageSettings({ DYNAMODB_ENDPOINT: 'http://dynamo.example.com' })).toThrow(
      /^DYNAMODB_ENDPOINT/,
    );
  });

  it.each([
    [{ POLL_CONCURRENCY: '0' }, /^POLL_CONCURRENCY: must be > 0/],
    [{ POLL_INTERVAL_SECONDS: '-5' }, /^POLL_INTERVAL_SECONDS: must be a whole number/],
    [{ LEASE_SECONDS: 'abc' }, /^LEASE_SECONDS/],
    [{ SCHEDULE_PERIOD_SECONDS: '0' }, /^SCHEDULE_PERIOD_SECONDS: must be > 0/],
  ])('rejects poller setting %j', (env, message) => {
    expect(() => loadPollerSettings(env)).toThrow(message);
  });

  const FINAL_POLL =
    /^LEASE_SECONDS, SCHEDULE_PERIOD_SECONDS, LP_REQUEST_TIMEOUT_MS, POLL_INTERVAL_SECONDS: the final window/;
  it.each([
    // The lease default before issue 13: a poller dying at the final poll left the item due after its deadline.
    [{ LEASE_SECONDS: '300' }, FINAL_POLL],
    [
      { LEASE_SECONDS: '300', POLL_INTERVAL_SECONDS: '600', SCHEDULE_PERIOD_SECONDS: '60' },
      /deadline \+ 180 s/,
    ],
    [{ LEASE_SECONDS: '51' }, /LEASE_SECONDS may be at most 50 s$/],
    [{ POLL_INTERVAL_SECONDS: '300' }, FINAL_POLL],
    [{ SCHEDULE_PERIOD_SECONDS: '120' }, FINAL_POLL],
    [{ LP_REQUEST_TIMEOUT_MS: '16000' }, FINAL_POLL],
    [
      { LP_REQUEST_TIMEOUT_MS: '16000' },
      /; LEASE_SECONDS \(45 s\) must be at least 3 × LP_REQUEST_TIMEOUT_MS \(16 s\) \+ 4 s = 52 s: /,
    ],
    [
      { LEASE_SECONDS: '20' },
      /^LEASE_SECONDS, LP_REQUEST_TIMEOUT_MS: LEASE_SECONDS \(20 s\) must be at least 3 × /,
    ],
    // One item's work within its lease: three request timeouts, a second to wait, a second for rows, 2 s to ack.
    [{ LEASE_SECONDS: '33' }, /LEASE_SECONDS \(33 s\) must be at least .* = 34 s/],
  ])('rejects timing settings that break the final-poll rule: %j', (env, message) => {
    expect(() => loadPollerSettings(env)).toThrow(ConfigError);
    expect(() => loadPollerSettings(env)).toThrow(message);
  });

  it.each([
    [{ LEASE_SECONDS: '50' }, 50],
    [{ LEASE_SECONDS: '100', SCHEDULE_PERIOD_SECONDS: '30' }, 100],
    [{ LEASE_SECONDS: '34', POLL_INTERVAL_SECONDS: '328' }, 34],
    [{ LEASE_SECONDS: '10', LP_REQUEST_TIMEOUT_MS: '2000' }, 10],
    [{ LEASE_SECONDS: '50', LP_REQUEST_TIMEOUT_MS: '5000', SCHEDULE_PERIOD_SECONDS: '62' }, 50],
  ])('accepts timing settings that meet it: %j', (env, leaseSec) => {
    expect(loadPollerSettings(env).leaseSec).toBe(leaseSec);
  });

  it('requires a region for AWS and a valid table name', () => {
    expect(() => loadStorageSettings({})).toThrow(/^AWS_REGION: required/);
    expect(() => loadStorageSettings({ AWS_REGION: 'x', QUEUE_TABLE: 'a b' })).toThrow(/^QUEUE_TABLE/);
  });
});

describe('CAPTURE_RETENTION_DAYS', () => {
  it.each([
    ['unset', {}, undefined],
    ['empty', { CAPTURE_RETENTION_DAYS: '' }, undefined],
    ['keep', { CAPTURE_RETENTION_DAYS: 'keep' }, undefined],
    ['keep, padded', { CAPTURE_RETENTION_DAYS: ' keep ' }, undefined],
    ['1 day', { CAPTURE_RETENTION_DAYS: '1' }, 1],
    ['400 days', { CAPTURE_RETENTION_DAYS: '400' }, 400],
    ['100 years', { CAPTURE_RETENTION_DAYS: '36500' }, 36_500],
  ])('%s → %p days', (_name, env, days) => {
    expect(loadPollerSettings(env).captureRetentionDays).toBe(days);
    expect(loadCaptureRetentionDays(env)).toBe(days);
  });

  it.each(['0', '36501', '-1', '1.5', '90d', 'forever', 'KEEP', '1e3'])(
    'refuses %p, naming the setting and the value',
    (raw) => {
      const load = (): unknown => loadPollerSettings({ CAPTURE_RETENTION_DAYS: raw });
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(
        `CAPTURE_RETENTION_DAYS: must be "keep" or a whole number of days from 1 to 36500, got "${raw}"`,
      );
    },
  );
});
