import { clearCaches } from '@aws-lambda-powertools/parameters';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { ManualClock } from '../../lib/clock';
import { BearerAuth, tokensEqual } from '../../lib/enqueue/auth';
import { parseEnqueueBody } from '../../lib/enqueue/body';
import { handleEnqueueRequest, type EnqueueResponseBody } from '../../lib/enqueue/endpoint';
import { silentLog } from '../../lib/log';
import { enqueueProblem, type QueueItem } from '../../lib/queue/model';
import { createStorage } from '../../lib/wiring';
import { systemClock } from '../../lib/clock';
import type { StorageSettings } from '../../lib/config';
import { httpApiEvent } from '../infra/events';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';
import { fakeDateOnly } from '../support/fake-date';

/**
 * functions/enqueue.ts as Lambda runs it: module scope reads the environment the stack sets, the handler gets
 * HTTP API (payload 2.0) events. DynamoDB is real (dynalite); Secrets Manager is aws-sdk-client-mock.
 */
const ACCOUNT = '12345678';
const TOKEN = 'Zq8mV3tY6pL1nW4sR7uX0aC2eG5iK9oB';
const TOKEN_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:EnqueueApiToken-AbC123';
const MAX_ITEMS = 8;
const MAX_BODY_BYTES = 4096;

const secretsManager = mockClient(SecretsManagerClient);
let dynamo: LocalDynamo;
let storage: StorageSettings;
let savedEnv: NodeJS.ProcessEnv = {};
let handlerEnv: Record<string, string> = {};
let handler: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

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
  // Required after the environment is set: the module reads it once, at load, as in a Lambda container.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  handler = (require('../../functions/enqueue') as typeof import('../../functions/enqueue')).handler;
});

afterAll(async () => {
  for (const key of Object.keys(handlerEnv)) {
    if (savedEnv[key] === undefined) delete process.env[key];
    else process.env[key] = savedEnv[key];
  }
  await dynamo.close();
});

afterEach(() => jest.useRealTimers());

beforeEach(() => {
  secretsManager.reset();
  clearCaches();
  secretsManager.on(GetSecretValueCommand, { SecretId: TOKEN_SECRET_ARN }).resolves({ SecretString: TOKEN });
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

  it('follows a rotated token: a mismatch rereads the secret, at most once a minute', async () => {
    const rotated = 'N3wT0kenAfterRotation0123456789ab';
    // Earlier tests presented bad tokens (and spent the refresh allowance): move the clock past that minute.
    fakeDateOnly(Date.now() + 120_000);
    expect((await post(pair())).status).toBe(200); // caches TOKEN
    secretsManager.reset();
    secretsManager.on(GetSecretValueCommand).resolves({ SecretString: rotated });
    expect((await post(pair(), { token: rotated })).status).toBe(200);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    // The old token no longer opens the door, and a flood of bad tokens costs no more reads.
    expect((await post(pair(), { token: TOKEN })).status).toBe(401);
    expect((await post(pair(), { token: 'bad-bad-bad-bad-bad' })).status).toBe(401);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    // A minute later, a mismatch may look again.
    jest.setSystemTime(Date.now() + 61_000);
    expect((await post(pair(), { token: TOKEN })).status).toBe(401);
    expect(secretsManager.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});

describe('enqueue endpoint logic (lib/enqueue)', () => {
  const clock = new ManualClock(1_750_000_000_000);
  const source = { get: jest.fn(async () => TOKEN) };
  const deps = (queue: { enqueue: jest.Mock }) => ({
    accountId: ACCOUNT,
    queue,
    auth: new BearerAuth(source, clock),
    clock,
    log: silentLog,
    limits: { maxBatchItems: 500, maxBodyBytes: 262_144 },
  });
  const request = (body: unknown) => ({
    headers: { Authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(body),
  });

  it('answers 503 (safe to retry) when the queue cannot be written', async () => {
    const queue = { enqueue: jest.fn().mockRejectedValue(new Error('ProvisionedThroughputExceeded')) };
    const response = await handleEnqueueRequest(request(pair()), deps(queue));
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
  });

  it('answers 503 when the token secret cannot be read, without saying more', async () => {
    const { TokenUnavailableError } = await import('../../lib/enqueue/auth');
    const failing = { get: jest.fn().mockRejectedValue(new TokenUnavailableError('cannot read')) };
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
});
