/**
 * The privacy policy's parts (lib/privacy): classification by path, the keyed hash, IP truncation, the policy's
 * modes and their validation, treated JSON, the environment settings, and what the queue keeps of a bad body.
 * How the flattener applies them to rows: privacy-flatten.test.ts.
 */
import { canonicalJson } from '../../lib/canonical';
import { ConfigError } from '../../lib/errors';
import type { Json } from '../../lib/liveperson/types';
import { bodyStructure, describeBadBody } from '../../lib/privacy/body-structure';
import {
  classifyOurColumn,
  classifyPath,
  PATH_STATES,
  pathStates,
  PRIVACY_CATEGORIES,
  ROOT_PATH_STATE,
  type PrivacyCategory,
} from '../../lib/privacy/categories';
import { loadPrivacyPolicy, loadPrivacySettings, privacyEnvName } from '../../lib/privacy/config';
import { HASH_BODY_LENGTH, KeyedHasher } from '../../lib/privacy/hash';
import { truncateIp } from '../../lib/privacy/ip';
import {
  columnTreatment,
  createPrivacyPolicy,
  DEFAULT_PRIVACY_MODES,
  keepEverythingPolicy,
  type ValueTreatment,
} from '../../lib/privacy/policy';
import { treatedCanonicalJson } from '../../lib/privacy/treated-json';
import { Random } from '../../lib/simulator/random';
import { generatedObject } from '../support/json-generator';

const KEY_A = { bytes: Buffer.alloc(32, 0xa1), version: 1 };
const KEY_B = { bytes: Buffer.alloc(32, 0xb2), version: 1 };
const HASHED = /^h1:[A-Za-z0-9_-]{43}$/;

describe('classification by source path', () => {
  it.each<[string[], PrivacyCategory | undefined]>([
    [['appSessions[]', 'personalInfo', 'personalInfo', 'name'], 'name'],
    [['appSessions[]', 'personalInfo', 'personalInfo', 'surname'], 'name'],
    [['appSessions[]', 'events[]', 'personalInfo', 'personalInfo', 'contacts[]', 'email'], 'contact'],
    [['appSessions[]', 'events[]', 'personalInfo', 'personalInfo', 'contacts[]', 'phone'], 'contact'],
    // Everything under contacts is contact, whatever its own key.
    [['appSessions[]', 'personalInfo', 'personalInfo', 'contacts[]', 'phoneType'], 'contact'],
    [['appSessions[]', 'personalInfo', 'personalInfo', 'contacts'], 'contact'],
    [['appSessions[]', 'customerInfo', 'customerInfo', 'customerId'], 'customer-id'],
    [['appSessions[]', 'events[]', 'customerInfo', 'customerInfo', 'userName'], 'customer-id'],
    [['appSessions[]', 'customerInfo', 'customerInfo', 'socialId'], 'customer-id'],
    [['appSessions[]', 'customerInfo', 'customerInfo', 'imei'], 'customer-id'],
    [['appSessions[]', 'customerInfo', 'customerInfo', 'accountName'], 'customer-id'],
    [['appSessions[]', 'ipv4'], 'network'],
    [['appSessions[]', 'lpv4'], 'network'],
    [['ip'], 'network'],
    [['appSessions[]', 'personalInfo', 'personalInfo', 'customerAge', 'customerDateOfBirth'], 'birth-day'],
    [['appSessions[]', 'personalInfo', 'personalInfo', 'customerAge', 'customerMonthOfBirth'], 'birth-day'],
    [['appSessions[]', 'personalInfo', 'personalInfo', 'customerAge', 'customerYearOfBirth'], 'personal'],
    [['appSessions[]', 'personalInfo', 'personalInfo', 'gender'], 'personal'],
    [['appSessions[]', 'geo', 'city'], 'location'],
    [['appSessions[]', 'geo', 'countryCode'], 'location'],
    [['appSessions[]', 'geo', 'latitude'], 'precise-location'],
    [['appSessions[]', 'geo', 'zipCode'], 'precise-location'],
    [['appSessions[]', 'pages[]', 'pageBasic', 'url'], 'free-text'],
    [['appSessions[]', 'searchEngine', 'keywords'], 'free-text'],
    // Not personal: product names, order ids, a store's zip code outside geo.
    [['appSessions[]', 'events[]', 'purchase', 'cart', 'products[]', 'product', 'name'], undefined],
    [['appSessions[]', 'events[]', 'purchase', 'orderId'], undefined],
    [['appSessions[]', 'customerInfo', 'customerInfo', 'storeZipCode'], undefined],
    [['appSessions[]', 'revActiveVPs'], undefined],
    // Case does not matter; `[]` marks an array element.
    [['APPSESSIONS[]', 'PersonalInfo', 'EMAIL[]'], 'contact'],
  ])('%j → %s', (path, category) => {
    expect(classifyPath(path)).toBe(category);
  });

  it('classifies our own columns by name: the keys are pseudonymous ids, ip is network', () => {
    expect(classifyOurColumn('visitorId')?.category).toBe('pseudonymous-id');
    expect(classifyOurColumn('sid')?.category).toBe('pseudonymous-id');
    expect(classifyOurColumn('gsi1pk')?.category).toBe('pseudonymous-id');
    expect(classifyOurColumn('ip')?.category).toBe('network');
    expect(classifyOurColumn('eventType')).toBeUndefined();
    expect(classifyOurColumn('toString')).toBeUndefined();
  });

  it('has one interned state per (category matched, under personalInfo, under geo)', () => {
    expect(PATH_STATES).toHaveLength((PRIVACY_CATEGORIES.length + 1) * 4);
    expect(PATH_STATES.map((s) => s.index)).toEqual(PATH_STATES.map((_, i) => i));
    const [a] = pathStates(['geo']);
    const [b] = pathStates(['GEO']);
    expect(a).toBe(b);
    // Digits (an id-keyed map's keys) never change the state.
    expect(ROOT_PATH_STATE.next('493914412')).toBe(ROOT_PATH_STATE);
  });
});

describe('the keyed hash', () => {
  it('is h<version>: + 43 characters of base64url, whatever the input', () => {
    const hasher = new KeyedHasher(KEY_A);
    for (const text of ['', 'a', 'Zoë Ünal', 'x'.repeat(10_000), '\u0000', '😀']) {
      expect(hasher.hash(text)).toMatch(HASHED);
      expect(hasher.hash(text)).toHaveLength(3 + HASH_BODY_LENGTH);
    }
    expect(new KeyedHasher({ ...KEY_A, version: 42 }).hash('a')).toMatch(/^h42:[A-Za-z0-9_-]{43}$/);
  });

  it('is HMAC-SHA256 (RFC 4231, test case 6)', () => {
    const hasher = new KeyedHasher({ bytes: Buffer.alloc(131, 0xaa), version: 1 });
    const expected = Buffer.from(
      '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
      'hex',
    ).toString('base64url');
    expect(hasher.hash('Test Using Larger Than Block-Size Key - Hash Key First')).toBe(`h1:${expected}`);
  });

  it('gives the same output for the same input and key (in any hasher), another for another key', () => {
    const a1 = new KeyedHasher(KEY_A);
    const a2 = new KeyedHasher({ bytes: Buffer.from(KEY_A.bytes), version: 1 });
    const b = new KeyedHasher(KEY_B);
    for (const text of ['john@example.com', '138766AC', '']) {
      expect(a1.hash(text)).toBe(a1.hash(text));
      expect(a2.hash(text)).toBe(a1.hash(text));
      expect(b.hash(text)).not.toBe(a1.hash(text));
    }
    expect(a1.hash('john@example.com')).not.toBe(a1.hash('John@example.com'));
  });

  it('refuses a key shorter than 32 bytes and a version outside 1..9999', () => {
    expect(() => new KeyedHasher({ bytes: Buffer.alloc(31), version: 1 })).toThrow(RangeError);
    expect(() => new KeyedHasher({ ...KEY_A, version: 0 })).toThrow(RangeError);
    expect(() => new KeyedHasher({ ...KEY_A, version: 10_000 })).toThrow(RangeError);
    expect(() => new KeyedHasher({ ...KEY_A, version: 1.5 })).toThrow(RangeError);
  });
});

describe('IP truncation', () => {
  it.each<[string, string | null]>([
    ['195.62.30.20', '195.62.30.0/24'],
    ['10.0.0.1', '10.0.0.0/24'],
    ['255.255.255.255', '255.255.255.0/24'],
    [' 195.62.30.20 ', '195.62.30.0/24'],
    ['2001:db8:85a3:8d3:1319:8a2e:370:7348', '2001:db8:85a3::/48'],
    ['2001:DB8:85A3::1', '2001:db8:85a3::/48'],
    ['2001:db8::1', '2001:db8::/48'],
    ['2001:0:0:1::', '2001::/48'],
    ['fe80::1%eth0', 'fe80::/48'],
    ['::1', '::/48'],
    ['::ffff:195.62.30.20', '195.62.30.0/24'],
    ['', ''],
    ['1.2.3.256', null],
    ['1.2.3', null],
    ['195.62.30.20, 10.0.0.1', null],
    ['unknown', null],
    ['2001:db8::g', null],
  ])('%j → %j', (ip, truncated) => {
    expect(truncateIp(ip)).toBe(truncated);
  });
});

describe('the policy', () => {
  const scalarTreatment = (
    policy: ReturnType<typeof createPrivacyPolicy>,
    path: string[],
  ): ValueTreatment | 'drop' | undefined => columnTreatment(policy, path, 'scalar');

  it('has the issue’s defaults', () => {
    expect(DEFAULT_PRIVACY_MODES).toEqual({
      name: 'hash',
      contact: 'hash',
      'customer-id': 'hash',
      network: 'truncate',
      'birth-day': 'drop',
      personal: 'keep',
      'precise-location': 'drop',
      location: 'keep',
      'free-text': 'keep',
    });
  });

  /** A path of each category, and a value there. */
  const SAMPLES: Readonly<Record<PrivacyCategory, { path: string[]; value: Json }>> = {
    name: { path: ['appSessions[]', 'personalInfo', 'personalInfo', 'name'], value: 'Zebulon' },
    contact: {
      path: ['appSessions[]', 'personalInfo', 'personalInfo', 'contacts[]', 'email'],
      value: 'z@x.org',
    },
    'customer-id': { path: ['appSessions[]', 'customerInfo', 'customerInfo', 'customerId'], value: 98765 },
    network: { path: ['appSessions[]', 'ipv4'], value: '203.0.113.77' },
    'birth-day': {
      path: ['appSessions[]', 'personalInfo', 'personalInfo', 'customerAge', 'customerDateOfBirth'],
      value: 15,
    },
    personal: { path: ['appSessions[]', 'personalInfo', 'personalInfo', 'gender'], value: 'FEMALE' },
    'precise-location': { path: ['appSessions[]', 'geo', 'latitude'], value: 32.0853 },
    location: { path: ['appSessions[]', 'geo', 'city'], value: 'Tel Aviv' },
    'free-text': { path: ['appSessions[]', 'pages[]', 'url'], value: 'https://shop.example/?q=zebulon' },
  };
  const hasher = new KeyedHasher(KEY_A);
  const ROWS = PRIVACY_CATEGORIES.flatMap((c) => c.allowedModes.map((mode) => [c.category, mode] as const));

  it.each(ROWS)('%s in mode %s', (category, mode) => {
    const { path, value } = SAMPLES[category];
    const policy = createPrivacyPolicy({ modes: { [category]: mode }, hashKey: KEY_A });
    const treatment = scalarTreatment(policy, path);
    const stored = treatment === undefined || treatment === 'drop' ? treatment : treatment(value);
    const expected = {
      keep: undefined,
      drop: 'drop',
      hash: hasher.hash(String(value)),
      truncate: '203.0.113.0/24',
    }[mode];
    expect(stored).toBe(expected);
  });

  it('hashes a number as its text, and leaves null alone', () => {
    const policy = createPrivacyPolicy({ hashKey: KEY_A });
    const treat = scalarTreatment(policy, SAMPLES['customer-id'].path) as ValueTreatment;
    expect(treat(138766)).toBe(hasher.hash('138766'));
    expect(treat(null)).toBeNull();
  });

  it('drops what lies under a dropped category, whatever its own category', () => {
    const policy = createPrivacyPolicy({ modes: { contact: 'drop' }, hashKey: KEY_A });
    expect(
      scalarTreatment(policy, ['appSessions[]', 'personalInfo', 'personalInfo', 'contacts[]', 'zip']),
    ).toBe('drop');
    expect(
      columnTreatment(policy, ['appSessions[]', 'personalInfo', 'personalInfo', 'contacts'], 'json'),
    ).toBe('drop');
  });

  it('refuses truncate for any category but network, and unknown categories', () => {
    expect(() => createPrivacyPolicy({ modes: { contact: 'truncate' } })).toThrow(
      'privacy category contact takes keep, hash, drop, not "truncate"',
    );
    expect(() =>
      createPrivacyPolicy({ modes: { emails: 'hash' } as unknown as Record<PrivacyCategory, 'hash'> }),
    ).toThrow('unknown privacy category "emails"');
  });

  it('without a key, drops the hashed categories and says so once', () => {
    const warnings: string[] = [];
    const policy = createPrivacyPolicy({ warn: (m) => warnings.push(m) });
    expect(policy.hasher).toBeUndefined();
    expect(policy.modes).toMatchObject({ name: 'drop', contact: 'drop', 'customer-id': 'drop' });
    expect(policy.modes.network).toBe('truncate');
    expect(warnings).toEqual([
      'no hash key configured: name, contact, customer-id are dropped instead of hashed (set LPV_HASH_KEY to ' +
        'base64 of at least 32 random bytes to hash them; see docs/privacy.md)',
    ]);
    expect(scalarTreatment(policy, SAMPLES.name.path)).toBe('drop');
    // Nothing to say when nothing is hashed, or with a key.
    createPrivacyPolicy({
      modes: { name: 'keep', contact: 'drop', 'customer-id': 'keep' },
      warn: (m) => warnings.push(m),
    });
    createPrivacyPolicy({ hashKey: KEY_A, warn: (m) => warnings.push(m) });
    expect(warnings).toHaveLength(1);
  });

  it('keeps everything when told to, JSON columns included (no treatment at all)', () => {
    const policy = keepEverythingPolicy();
    expect(policy.treatsAnything).toBe(false);
    for (const { path } of Object.values(SAMPLES)) expect(scalarTreatment(policy, path)).toBeUndefined();
    expect(columnTreatment(policy, ['appSessions[]', 'leads'], 'json')).toBeUndefined();
  });
});

describe('JSON columns: canonical JSON with the policy applied inside', () => {
  const policy = createPrivacyPolicy({ hashKey: KEY_A });
  const hasher = new KeyedHasher(KEY_A);
  const json = (path: string[], value: Json): unknown => {
    const treat = columnTreatment(policy, path, 'json');
    return treat === undefined || treat === 'drop' ? treat : treat(value);
  };

  it('treats each value inside by its own path', () => {
    const contacts = [{ phone: '+1 555 0100', email: 'z@x.org' }];
    expect(json(['appSessions[]', 'personalInfo', 'personalInfo', 'contacts'], contacts)).toBe(
      `[{"email":"${hasher.hash('z@x.org')}","phone":"${hasher.hash('+1 555 0100')}"}]`,
    );
    // An array of objects on a session row with personal keys somewhere inside it (a birth day is one
    // anywhere: it leaves its object).
    const leads = [{ leadId: 'L1', email: 'z@x.org', customerAge: { customerDateOfBirth: 3 } }];
    expect(json(['appSessions[]', 'leads'], leads)).toBe(
      `[{"customerAge":{},"email":"${hasher.hash('z@x.org')}","leadId":"L1"}]`,
    );
    // Under personalInfo, the day of birth leaves its object.
    const age = { customerAgeInYears: 34, customerDateOfBirth: 15, customerMonthOfBirth: 4 };
    expect(json(['appSessions[]', 'personalInfo', 'personalInfo', 'customerAge'], age)).toBe(
      '{"customerAgeInYears":34}',
    );
    // An id-keyed map: ids are kept, and so is what is not personal under them.
    const map = { '493914412': { revision: 7, ip: '203.0.113.77' } };
    expect(json(['appSessions[]', 'revActiveVPs'], map)).toBe(
      '{"493914412":{"ip":"203.0.113.0/24","revision":7}}',
    );
  });

  it('is canonicalJson exactly when nothing is treated (2,000 generated values)', () => {
    const random = new Random(14);
    const keepAll = PATH_STATES.map(() => undefined);
    for (let i = 0; i < 2_000; i += 1) {
      const value = generatedObject(random, 40);
      expect(treatedCanonicalJson(keepAll, value, ROOT_PATH_STATE)).toBe(canonicalJson(value));
      // The default policy, on values with nothing personal in them (the generator's keys are not).
      expect(treatedCanonicalJson(policy.byState, value, ROOT_PATH_STATE)).toBe(canonicalJson(value));
    }
  });

  it('survives a value nested 20,000 deep: written whole if nothing in it is personal, else null', () => {
    let plain: Json = { leaf: 1 };
    let personal: Json = { email: 'z@x.org' };
    for (let i = 0; i < 20_000; i += 1) {
      plain = [plain];
      personal = { a: personal };
    }
    expect(treatedCanonicalJson(policy.byState, plain, ROOT_PATH_STATE)).toBe(canonicalJson(plain));
    expect(treatedCanonicalJson(policy.byState, personal, ROOT_PATH_STATE)).toBe('null');
  });
});

describe('privacy settings from the environment', () => {
  const key32 = Buffer.alloc(32, 7).toString('base64');

  it('gives the defaults, and no key, for an empty environment', () => {
    expect(loadPrivacySettings({})).toEqual({ modes: {} });
  });

  it('reads a mode per category and the key with its version', () => {
    const settings = loadPrivacySettings({
      LPV_PRIVACY_NAME: 'keep',
      LPV_PRIVACY_CUSTOMER_ID: ' DROP ',
      LPV_PRIVACY_NETWORK: 'truncate',
      LPV_PRIVACY_PRECISE_LOCATION: '',
      LPV_HASH_KEY: key32,
      LPV_HASH_KEY_VERSION: '3',
    });
    expect(settings.modes).toEqual({ name: 'keep', 'customer-id': 'drop', network: 'truncate' });
    expect(settings.hashKey?.version).toBe(3);
    expect(Buffer.from(settings.hashKey?.bytes ?? []).equals(Buffer.alloc(32, 7))).toBe(true);
    // base64url too.
    expect(
      loadPrivacySettings({ LPV_HASH_KEY: Buffer.alloc(32, 0xfb).toString('base64url') }).hashKey?.bytes,
    ).toHaveLength(32);
  });

  it('names every category variable as the docs do', () => {
    expect(PRIVACY_CATEGORIES.map((c) => privacyEnvName(c.category))).toEqual([
      'LPV_PRIVACY_NAME',
      'LPV_PRIVACY_CONTACT',
      'LPV_PRIVACY_CUSTOMER_ID',
      'LPV_PRIVACY_NETWORK',
      'LPV_PRIVACY_BIRTH_DAY',
      'LPV_PRIVACY_PERSONAL',
      'LPV_PRIVACY_PRECISE_LOCATION',
      'LPV_PRIVACY_LOCATION',
      'LPV_PRIVACY_FREE_TEXT',
    ]);
  });

  it.each<[Record<string, string>, string]>([
    [
      { LPV_PRIVACY_CONTACT: 'truncate' },
      'LPV_PRIVACY_CONTACT: must be one of keep, hash, drop (truncate is for IP addresses: LPV_PRIVACY_NETWORK), got "truncate"',
    ],
    [
      { LPV_PRIVACY_NETWORK: 'mask' },
      'LPV_PRIVACY_NETWORK: must be one of keep, hash, drop, truncate, got "mask"',
    ],
    [{ LPV_PRIVACY_EMAILS: 'hash' }, 'LPV_PRIVACY_EMAILS: not a privacy category; one of LPV_PRIVACY_NAME,'],
    [{ LPV_HASH_KEY: 'not base64!' }, 'LPV_HASH_KEY: must be base64 or base64url text'],
    [
      { LPV_HASH_KEY: Buffer.alloc(16).toString('base64') },
      'LPV_HASH_KEY: must hold at least 32 bytes, got 16',
    ],
    [{ LPV_HASH_KEY_VERSION: '0' }, 'LPV_HASH_KEY_VERSION: must be a whole number from 1 to 9999, got "0"'],
    [{ LPV_HASH_KEY_VERSION: 'v2' }, 'LPV_HASH_KEY_VERSION: must be a whole number from 1 to 9999, got "v2"'],
    [{ LPV_HASH_KEY_VERSION: '10000' }, 'LPV_HASH_KEY_VERSION: must be a whole number from 1 to 9999'],
  ])('refuses %j with an error naming the setting', (env, message) => {
    let error: unknown;
    try {
      loadPrivacySettings(env);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toContain(message);
    expect((error as ConfigError).setting).toBe(Object.keys(env)[0]);
  });

  it('never shows the key in an error', () => {
    const secret = 'c2VjcmV0LXNob3J0';
    expect(() => loadPrivacySettings({ LPV_HASH_KEY: secret })).toThrow(ConfigError);
    try {
      loadPrivacySettings({ LPV_HASH_KEY: secret });
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });

  it('makes the policy of an entry point: one warning without a key, none with one', () => {
    const warnings: string[] = [];
    const keyless = loadPrivacyPolicy({ LPV_PRIVACY_NAME: 'hash' }, (m) => warnings.push(m));
    expect(keyless.modes.name).toBe('drop');
    expect(warnings).toHaveLength(1);
    const keyed = loadPrivacyPolicy({ LPV_HASH_KEY: key32, LPV_HASH_KEY_VERSION: '2' }, (m) =>
      warnings.push(m),
    );
    expect(keyed.modes.name).toBe('hash');
    expect(keyed.hasher?.hash('x')).toMatch(/^h2:/);
    expect(warnings).toHaveLength(1);
  });
});

describe('lastBadBody: size, hash and structure of an unusable answer, never a value', () => {
  it.each<[string, string]>([
    ['{"appSessions": [', '{"appSessions":[…'],
    [
      '{"appSessions":[{"id":"x","startTime":1,"mobile":false,"x":null}]}',
      '{"appSessions":[{"id":s,"startTime":n,"mobile":b,"x":null}]}',
    ],
    ['{"revActiveVPs":{"493914412":{"revision":7}}}', '{"revActiveVPs":{<id>:{"revision":n}}}'],
    ['{"john@example.com":1,"a b":2}', '{<key>:n,<key>:n}'],
    ['{"a":-1.5e3,"b":"esc\\"aped","c":[]}', '{"a":n,"b":s,"c":[]}'],
    ['{"a":1}}', '{"a":n}…?'],
    ['{"a" 1}', '{"a"…?'],
    ['{"a":tr', '{"a":…'],
    ['{"name":"Quint', '{"name":…'],
    ['<html>Not Found</html>', '<markup>'],
    ['teapot', '<text>'],
    ['"john@example.com"', '<text>'],
    ['  ', '<empty>'],
  ])('%j → %s', (body, structure) => {
    expect(bodyStructure(body)).toBe(structure);
  });

  it('keeps no value of the body, whatever its size', () => {
    const body = JSON.stringify({
      appSessions: [
        {
          ipv4: '203.0.113.77',
          personalInfo: {
            personalInfo: { name: 'Quintessa', contacts: [{ email: 'quintessa.v@example.org' }] },
          },
        },
      ],
    });
    for (const snippet of [body, body.slice(0, 60), body.slice(0, 97)]) {
      const kept = describeBadBody(snippet, 48_213, 2048);
      for (const value of ['203.0.113', 'Quintessa', 'quintessa.v@example.org', 'example.org'])
        expect(kept).not.toContain(value);
      expect(JSON.parse(kept)).toMatchObject({ bytes: 48_213, keptBytes: snippet.length });
    }
    expect(JSON.parse(describeBadBody(body, undefined, 20))).toMatchObject({
      bytes: body.length,
      structure: '{"appSessions":[{"i…',
      sha256: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });
});
