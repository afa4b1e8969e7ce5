import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { ManualClock } from '../../lib/clock';
import {
  BearerAuth,
  DEFAULT_PREVIOUS_TOKEN_WINDOW_MS,
  TokenUnavailableError,
  previousTokenValid,
  tokensEqual,
  type TokenSource,
} from '../../lib/enqueue/auth';
import { parseEnqueueBody } from '../../lib/enqueue/body';
import { handleEnqueueRequest, type EnqueueResponseBody } from '../../lib/enqueue/endpoint';
import { silentLog } from '../../lib/log';
import { ENQUEUE_METRIC, MemoryMetrics, METRICS_NAMESPACE } from '../../lib/metrics';
import { enqueueProblem, type QueueItem } from '../../lib/queue/model';
import { createStorage } from '../../lib/wiring';
import { systemClock } from '../../lib/clock';
import type { StorageSettings } from '../../lib/config';
import { httpApiEvent } from '../infra/events';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { fakeDateOnly } from '../support/fake-date';

/**
 * functions/enqueue.ts as Lambda runs it: module scope reads the environment the stack sets, the handler gets
 * HTTP API (payload 2.0) events. DynamoDB is real (dynalite); Secrets Manager is aws-sdk-client-mock (there is
 * no local Secrets Manager). The EMF documents Powertools Metrics prints on stdout are captured and read.
 */
const ACCOUNT = '12345678';
const TOKEN = 'Zq8mV3tY6pL1nW4sR7uX0aC2eG5iK9oB';
const TOKEN_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:EnqueueApiToken-AbC123';
/** The token's version was created long before the tests: no rotation window is open. */
const TOKEN_CREATED = new Date(Date.now() - 86_400_000);
const MAX_ITEMS = 8;
const MAX_BODY_BYTES = 4096;

const secretsManager = mockClient(SecretsManagerClient);
let dynamo: LocalDynamo;
let storage: StorageSettings;
let savedEnv: NodeJS.ProcessEnv = {};
let handlerEnv: Record<string, string> = {};
let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;
let stdoutSpy: jest.SpyInstance;
/** EMF documents the handler printed (Powertools Metrics writes them to process.stdout). */
const emf: {
  _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } & object;
  [k: string]: unknown;
}[] = [];

beforeAll(async () => {
  dynamo = await startDynalite();
  storage = dynamo.settings('enq');
  await dynamo.createTables(storage);
  savedEnv = { ...process.env };
  handlerEnv = {
    LP_ACCOUNT_ID: ACCOUNT,
    QUEUE_TABLE: storage.queueTable,
    DYNAMODB_ENDPOINT: dynamo.endpoint,
    AWS_REGION: 'eu-west-1',
    ENQUEUE_TOKEN_SECRET_ID: TOKEN_SECRET_ARN,
    ENQUEUE_MAX_BATCH_ITEMS: String(MAX_ITEMS),
    ENQUEUE_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
  Object.assign(process.env, handlerEnv);
  const write = process.stdout.write.bind(process.stdout);
  stdoutSpy = jest.spyOn(process.stdout, 'write').mockImplementation(((
    chunk: unknown,
    ...rest: unknown[]
  ) => {
    const text = String(chunk);
    if (!text.startsWith('{"_aws"')) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    for (const line of text.split('\n').filter((l) => l !== '')) emf.push(JSON.parse(line));
    return true;
  }) as typeof process.stdout.write);
  // Required after the environment is set: the module reads it once, at load, as in a Lambda container.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  handler = (require('../../functions/enqueue') as typeof import('../../functions/enqueue')).handler;
});

afterAll(async () => {
  stdoutSpy.mockRestore();
  for (const key of Object.keys(handlerEnv)) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  await dynamo.close();
});

afterEach(() => jest.useRealTimers());

/** The token secret as Secrets Manager holds it: a current version and, after a rotation, a previous one. */
function secretVersions(current: { token: string; created: Date }, previous?: string): void {
  secretsManager.reset();
  secretsManager
    .on(GetSecretValueCommand, { SecretId: TOKEN_SECRET_ARN, VersionStage: 'AWSCURRENT' })
    .resolves({ SecretString: current.token, CreatedDate: current.created, VersionStages: ['AWSCURRENT'] });
  const previousVersion = secretsManager.on(GetSecretValueCommand, {
    SecretId: TOKEN_SECRET_ARN,
    VersionStage: 'AWSPREVIOUS',
  });
  if (previous === undefined) {
    previousVersion.rejects(
      new ResourceNotFoundException({
        message: "Secrets Manager can't find the specified secret value for staging label: AWSPREVIOUS",
        $metadata: {},
      }),
    );
  } else {
    previousVersion.resolves({ SecretString: previous, VersionStages: ['AWSPREVIOUS'] });
  }
}

/**
 * The handler's caches (token versions, refresh allowance) live as long as the module and follow Date.now().
 * Tests that move the clock only ever move it forward, past everything earlier tests did: `laterStart()`
 * starts 10 minutes after the latest time seen (past the 5-minute cache and the 1-minute refresh allowance).
 */
let latestMs = Date.now();
function setTime(ms: number): void {
  latestMs = Math.max(latestMs, ms);
  jest.setSystemTime(ms);
}
function laterStart(): number {
  const startMs = Math.max(latestMs, Date.now()) + 10 * 60_000;
  fakeDateOnly(startMs);
  latestMs = startMs;
  return startMs;
}

function secretReads(): string[] {
  return secretsManager
    .commandCalls(GetSecretValueCommand)
    .map((call) => call.args[0].input.VersionStage ?? 'AWSCURRENT');
}

beforeEach(() => {
  secretVersions({ token: TOKEN, created: TOKEN_CREATED });
  emf.length = 0;
});

async function post(body: unknown, options: { token?: string | null; raw?: boolean; base64?: boolean } = {}) {
  const text = options.raw === true ? (body as string) : JSON.stringify(body);
  const token = options.token === undefined ? TOKEN : options.token;
  const event = httpApiEvent({
    body: options.base64 === true ? Buffer.from(text).toString('base64') : text,
    isBase64Encoded: options.base64 === true,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  const result = await handler(event);
  return {
    status: result.statusCode,
    headers: result.headers ?? {},
    body: JSON.parse(result.body as string) as EnqueueResponseBody & { error?: string },
  };
}

async function queued(): Promise<QueueItem[]> {
  const { queue } = createStorage(storage, systemClock);
  const items: QueueItem[] = [];
  for await (const page of queue.list(ACCOUNT)) items.push(...page);
  return items;
}

let n = 0;
function pair(extra: Record<string, unknown> = {}) {
  n++;
  return { visitorId: `vis-${n}-Ab3dE`, sid: `sid-${n}-Xy9zQ`, ...extra };
}

describe('POST /enqueue (functions/enqueue.ts against dynalite)', () => {
  it('queues one pair: 200, created, then a duplicate is harmless (200, exists), one queue item', async () => {
    const startTime = Date.now() - 60_000;
    const p = pair({ startTime });
    const first = await post(p);
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe('application/json');
    expect(first.body).toEqual({ accepted: 1, rejected: 0, results: [{ index: 0, status: 'created' }] });
    const again = await post(p);
    expect(again.body.results).toEqual([{ index: 0, status: 'exists' }]);
    const items = (await queued()).filter((i) => i.sid === p.sid);
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      accountId: ACCOUNT,
      visitorId: p.visitorId,
      state: 'ACTIVE',
      startTimeMs: startTime,
    });
  });

  it('takes {"items":[...]} and a bare array; queues the valid items, reports each bad one (207)', async () => {
    const good1 = pair();
    const good2 = pair();
    const bad = [
      { visitorId: 'has space', sid: 'x' },
      { ...pair(), startTime: 1_700_000_000 },
      { sid: 'only' },
      'text',
    ];
    const now = Date.now();
    const response = await post({ items: [good1, ...bad, good2] });
    expect(response.status).toBe(207);
    expect(response.body.accepted).toBe(2);
    expect(response.body.rejected).toBe(4);
    expect(response.body.results.map((r) => r.status)).toEqual([
      'created',
      'rejected',
      'rejected',
      'rejected',
      'rejected',
      'created',
    ]);
    // Exactly the CLI's validation: the same messages `lpv enqueue` prints per bad line.
    bad.forEach((item, i) => expect(response.body.results[i + 1]!.error).toBe(enqueueProblem(item, now)));
    // Ids are never echoed back.
    expect(JSON.stringify(response.body)).not.toMatch(/vis-|sid-|has space/);
    const sids = new Set((await queued()).map((i) => i.sid));
    expect(sids.has(good1.sid) && sids.has(good2.sid)).toBe(true);

    const array = await post([pair(), pair()]);
    expect(array.status).toBe(200);
    expect(array.body.results).toEqual([
      { index: 0, status: 'created' },
      { index: 1, status: 'created' },
    ]);
  });

  it('answers 400 and queues nothing when no item is valid', async () => {
    const before = (await queued()).length;
    const response = await post({
      items: [
        { visitorId: 'a/b', sid: 's' },
        { visitorId: 'v', sid: 's', extra: 1 },
      ],
    });
    expect(response.status).toBe(400);
    expect(response.body.results).toEqual([
      { index: 0, status: 'rejected', error: "visitorId contains '/'" },
      { index: 1, status: 'rejected', error: 'unknown field(s): extra' },
    ]);
    expect((await queued()).length).toBe(before);
  });

  it.each([
    ['not JSON', '{"visitorId":', 'body is not valid JSON'],
    ['empty', '', 'empty body'],
    ['a number', '42', 'expected {"visitorId","sid","startTime"?}'],
    ['items not an array', '{"items":{"visitorId":"v","sid":"s"}}', '"items" must be an array'],
    ['a field beside items', '{"items":[],"account":"x"}', 'unknown field(s) beside "items": account'],
    ['an empty batch', '{"items":[]}', 'no items'],
  ])('answers 400 with a clear error for a body that is %s', async (_what, body, error) => {
    const response = await post(body, { raw: true });
    expect(response.status).toBe(400);
    expect(response.body.error).toContain(error);
  });

  it('answers 413 for more items than the cap or a body over the byte limit, before touching the queue', async () => {
    const many = await post({ items: Array.from({ length: MAX_ITEMS + 1 }, () => pair()) });
    expect(many.status).toBe(413);
    expect(many.body.error).toBe(`${MAX_ITEMS + 1} items: at most ${MAX_ITEMS} per request, split the batch`);
    const big = await post({ items: [{ ...pair(), visitorId: 'v'.repeat(MAX_BODY_BYTES) }] });
    expect(big.status).toBe(413);
    expect(big.body.error).toMatch(/^body of \d+ bytes: at most 4096$/);
  });

  it('decodes a base64 body (HTTP API does so for non-text content types)', async () => {
    const response = await post(pair(), { base64: true });
    expect(response.status).toBe(200);
  });

  it.each([
    ['no Authorization header', null],
    ['a wrong token', 'Zq8mV3tY6pL1nW4sR7uX0aC2eG5iK9oX'],
    ['a prefix of the token', TOKEN.slice(0, 10)],
    ['an empty token', ''],
  ])('answers 401 for %s, and reads nothing of the body', async (_what, token) => {
    const before = (await queued()).length;
    const response = await post(pair(), { token });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toBe('Bearer');
    expect(response.body).toEqual({ error: 'missing or invalid bearer token' });
    expect((await queued()).length).toBe(before);
  });

  it('answers 401 for a non-Bearer scheme', async () => {
    const event = httpApiEvent({
      body: JSON.stringify(pair()),
      headers: { authorization: `Basic ${TOKEN}` },
    });
    expect((await handler(event)).statusCode).toBe(401);
  });

  it('after a rotation takes the new token at once and the previous one until 60 minutes after the new version was created', async () => {
    const rotated = 'N3wT0kenAfterRotation0123456789ab';
    // Earlier tests cached the token and presented bad ones (spending the refresh allowance).
    const rotatedAtMs = laterStart() + 1_000;
    expect((await post(pair())).status).toBe(200); // reads and caches TOKEN
    setTime(rotatedAtMs);
    secretVersions({ token: rotated, created: new Date(rotatedAtMs) }, TOKEN);

    // The new token: the cached one mismatches, one reread of the current version finds it.
    expect((await post(pair(), { token: rotated })).status).toBe(200);
    expect(secretReads()).toEqual(['AWSCURRENT']);
    // The old token, from a backend not switched yet: still valid, through the previous version.
    expect((await post(pair(), { token: TOKEN })).status).toBe(200);
    expect(secretReads()).toEqual(['AWSCURRENT', 'AWSPREVIOUS']);
    // A bad token opens nothing and, within the minute, costs no read (both versions are cached).
    expect((await post(pair(), { token: 'bad-bad-bad-bad-bad' })).status).toBe(401);
    expect(secretReads()).toHaveLength(2);

    // Just before the window's end (caches long expired, so both versions are read again): still valid.
    setTime(rotatedAtMs + DEFAULT_PREVIOUS_TOKEN_WINDOW_MS - 1_000);
    expect((await post(pair(), { token: TOKEN })).status).toBe(200);
    // At its end the old token stops, a forced reread changes nothing, and the new one goes on working.
    setTime(rotatedAtMs + DEFAULT_PREVIOUS_TOKEN_WINDOW_MS);
    const reads = secretReads().length;
    expect((await post(pair(), { token: TOKEN })).status).toBe(401);
    expect(secretReads().slice(reads)).toEqual(['AWSCURRENT']);
    expect((await post(pair(), { token: rotated })).status).toBe(200);
  });

  it('answers 401 (not 503) for a wrong token when the secret was never rotated, even just after its creation', async () => {
    const nowMs = laterStart();
    secretVersions({ token: TOKEN, created: new Date(nowMs - 60_000) });
    expect((await post(pair(), { token: 'Zq8mV3tY6pL1nW4sR7uX0aC2eG5iK9oX' })).status).toBe(401);
    // Read, then reread once (a mismatch may mean a rotation): no AWSPREVIOUS either time, so no 503.
    expect(secretReads()).toEqual(['AWSCURRENT', 'AWSPREVIOUS', 'AWSCURRENT', 'AWSPREVIOUS']);
    expect((await post(pair(), { token: 'Zq8mV3tY6pL1nW4sR7uX0aC2eG5iK9oX' })).status).toBe(401);
    expect(secretReads()).toHaveLength(4);
    expect((await post(pair())).status).toBe(200);
  });

  it('emits enqueue_unauthorized and enqueue_server_errors per request (EMF, service=lpv-enqueue)', async () => {
    const startMs = laterStart();
    expect((await post(pair())).status).toBe(200);
    expect((await post(pair(), { token: null })).status).toBe(401);
    // The token secret cannot be read once the cache has expired: 503, a server error.
    setTime(startMs + 10 * 60_000);
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).rejects(new Error('connect ETIMEDOUT'));
    expect((await post(pair())).status).toBe(503);

    expect(emf).toHaveLength(3);
    for (const doc of emf) {
      expect(doc._aws.CloudWatchMetrics).toEqual([
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [['service']],
          Metrics: [
            { Name: ENQUEUE_METRIC.unauthorized, Unit: 'Count' },
            { Name: ENQUEUE_METRIC.serverErrors, Unit: 'Count' },
          ],
        },
      ]);
      expect(doc.service).toBe('lpv-enqueue');
    }
    expect(emf.map((d) => [d[ENQUEUE_METRIC.unauthorized], d[ENQUEUE_METRIC.serverErrors]])).toEqual([
      [0, 0],
      [1, 0],
      [0, 1],
    ]);
  });
});

describe('enqueue endpoint logic (lib/enqueue)', () => {
  const clock = new ManualClock(1_750_000_000_000);
  const source: TokenSource = {
    current: jest.fn(async () => ({ token: TOKEN, createdAtMs: TOKEN_CREATED.getTime() })),
    previous: jest.fn(async () => undefined),
  };
  const deps = (queue: { enqueue: jest.Mock }, metrics = new MemoryMetrics()) => ({
    accountId: ACCOUNT,
    queue,
    auth: new BearerAuth(source, clock),
    clock,
    log: silentLog,
    metrics,
    limits: { maxBatchItems: 500, maxBodyBytes: 262_144 },
  });
  const request = (body: unknown) => ({
    headers: { Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });

  it('answers 503 (safe to retry) when the queue cannot be written, and counts a server error', async () => {
    const queue = { enqueue: jest.fn().mockRejectedValue(new Error('ProvisionedThroughputExceeded')) };
    const metrics = new MemoryMetrics();
    const response = await handleEnqueueRequest(request(pair()), deps(queue, metrics));
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(Object.fromEntries(metrics.counts)).toEqual({ enqueue_unauthorized: 0, enqueue_server_errors: 1 });
  });

  it('counts a failure that escapes as an exception (API Gateway answers 500) as a server error', async () => {
    const metrics = new MemoryMetrics();
    const broken: TokenSource = {
      current: jest.fn().mockRejectedValue(new TypeError('bug')),
      previous: jest.fn(),
    };
    const queue = { enqueue: jest.fn() };
    await expect(
      handleEnqueueRequest(request(pair()), { ...deps(queue, metrics), auth: new BearerAuth(broken, clock) }),
    ).rejects.toThrow('bug');
    expect(Object.fromEntries(metrics.counts)).toEqual({ enqueue_unauthorized: 0, enqueue_server_errors: 1 });
  });

  it('answers 503 when the token secret cannot be read, without saying more', async () => {
    const failing: TokenSource = {
      current: jest.fn().mockRejectedValue(new TokenUnavailableError('cannot read')),
      previous: jest.fn(),
    };
    const queue = { enqueue: jest.fn() };
    const response = await handleEnqueueRequest(request(pair()), {
      ...deps(queue),
      auth: new BearerAuth(failing, clock),
    });
    expect(response.statusCode).toBe(503);
    expect(response.body).not.toContain('cannot read');
    expect(queue.enqueue).not.toHaveBeenCalled();
  });

  it('caps a batch at 500 by default', () => {
    const items = (k: number) =>
      Buffer.from(JSON.stringify({ items: Array.from({ length: k }, () => ({})) }));
    expect(parseEnqueueBody(items(500), { maxBatchItems: 500 }).kind).toBe('items');
    expect(parseEnqueueBody(items(501), { maxBatchItems: 500 }).kind).toBe('too_large');
  });

  it('compares tokens in constant time over their digests (any length, no early exit)', () => {
    expect(tokensEqual(TOKEN, TOKEN)).toBe(true);
    expect(tokensEqual(TOKEN, `${TOKEN}x`)).toBe(false);
    expect(tokensEqual('', TOKEN)).toBe(false);
  });

  it.each([
    // [what, current version created at (ms), now (ms), window (ms), previous still valid]
    ['just rotated', 1_000, 1_000, 3_600_000, true],
    ['a minute before the window ends', 1_000, 3_541_000, 3_600_000, true],
    ['at the window end', 1_000, 3_601_000, 3_600_000, false],
    ['long after', 1_000, 90_000_000, 3_600_000, false],
    ['window 0: hard cut-over', 1_000, 1_000, 0, false],
    ['creation time unknown', undefined, 1_000, 3_600_000, false],
  ])('previousTokenValid: %s', (_what, createdAtMs, nowMs, windowMs, valid) => {
    expect(previousTokenValid(createdAtMs, nowMs, windowMs)).toBe(valid);
  });

  describe('BearerAuth over a rotated secret', () => {
    const OLD = 'OldToken-0123456789abcdefghij';
    const NEW = 'NewToken-0123456789abcdefghij';
    const rotatedAtMs = 1_750_000_000_000;
    const rotatedSource = (): TokenSource & { current: jest.Mock; previous: jest.Mock } => ({
      current: jest.fn(async () => ({ token: NEW, createdAtMs: rotatedAtMs })),
      previous: jest.fn(async () => OLD),
    });

    it('accepts the previous token inside the window and reads it only for a token the current one refuses', async () => {
      const at = new ManualClock(rotatedAtMs + 30 * 60_000);
      const src = rotatedSource();
      const auth = new BearerAuth(src, at);
      expect(await auth.check(`Bearer ${NEW}`)).toBe(true);
      expect(src.previous).not.toHaveBeenCalled();
      expect(await auth.check(`Bearer ${OLD}`)).toBe(true);
      expect(await auth.check('Bearer Something-else-0123456789')).toBe(false);
    });

    it('refuses the previous token after the window, without reading it', async () => {
      const at = new ManualClock(rotatedAtMs + 61 * 60_000);
      const src = rotatedSource();
      const auth = new BearerAuth(src, at);
      expect(await auth.check(`Bearer ${OLD}`)).toBe(false);
      expect(src.previous).not.toHaveBeenCalled();
      expect(await auth.check(`Bearer ${NEW}`)).toBe(true);
    });

    it('with a window of 0, the old token stops as soon as the new version is read', async () => {
      const at = new ManualClock(rotatedAtMs);
      const auth = new BearerAuth(rotatedSource(), at, { previousTokenWindowMs: 0 });
      expect(await auth.check(`Bearer ${OLD}`)).toBe(false);
      expect(await auth.check(`Bearer ${NEW}`)).toBe(true);
    });

    it('answers "cannot tell" (503) rather than 401 when the previous version cannot be read inside the window', async () => {
      const at = new ManualClock(rotatedAtMs + 60_000);
      const src = rotatedSource();
      src.previous.mockRejectedValue(new TokenUnavailableError('cannot read the previous version'));
      const queue = { enqueue: jest.fn() };
      const response = await handleEnqueueRequest(
        { headers: { authorization: `Bearer ${OLD}` }, body: JSON.stringify(pair()) },
        { ...deps(queue), auth: new BearerAuth(src, at) },
      );
      expect(response.statusCode).toBe(503);
      expect(queue.enqueue).not.toHaveBeenCalled();
    });
  });
});
