/**
 * POST /forget and the eraser on both storage backends, end to end: the enqueue API's two routes served over
 * real HTTP (a loopback server that hands each request to the endpoint function its route names, as API
 * Gateway does), the erasure request written to the queue table, the eraser run (lib/eraser-wiring.ts, the
 * code functions/eraser.ts runs) against the same tables, and `lpv forget --status` read through the CLI.
 * Secrets Manager is aws-sdk-client-mock (there is no local one): two secrets, one per route.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  FirehoseClient,
  PutRecordBatchCommand,
  type PutRecordBatchCommandInput,
} from '@aws-sdk/client-firehose';
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { flattenVisitState } from '../../lib/capture/flatten';
import { HOUR_MS, ManualClock } from '../../lib/clock';
import type { Env, StorageSettings } from '../../lib/config';
import { createEnqueueEndpoint, createForgetEndpoint } from '../../lib/enqueue/wiring';
import type { HttpRequest, HttpResponse } from '../../lib/enqueue/http';
import { LEASE_SLACK_MS } from '../../lib/erasure/eraser';
import { forgetVisitor } from '../../lib/erasure/forget';
import { createEraser } from '../../lib/eraser-wiring';
import {
  CAPTURE_BY_VISITOR,
  CAPTURE_KEY_ATTRIBUTES,
  capturePk,
  erasedRowsKey,
  erasureAuditKey,
  LEGACY_CAPTURE_INDEX_NAMES,
  LEGACY_QUEUE_DUE_INDEX_NAME,
  QUEUE_DUE_INDEX,
  queueVisitorKeyPrefix,
} from '../../lib/keys';
import { KeyedHasher } from '../../lib/privacy/hash';
import { decodeHashKey } from '../../lib/privacy/key-provider';
import { routeStreamRecord } from '../../lib/query/analytics-route';
import type { AnalyticsSchema } from '../../lib/query/analytics-schema';
import analyticsSchema from '../../lib/query/analytics-schema.json';
import { silentLog } from '../../lib/log';
import { ERASURE_METRIC, MemoryMetrics } from '../../lib/metrics';
import type { StoredRow } from '../../lib/store/capture-store';
import { createDocumentClient, createTableInput } from '../../lib/store/dynamo';
import { captureTableDefinition, queueTableDefinition } from '../../lib/store/schema';
import { DynamoCaptureStore } from '../../lib/store/dynamo-capture-store';
import {
  DynamoErasureCapture,
  DynamoErasureQueue,
  DynamoErasureRequests,
} from '../../lib/store/dynamo-erasure';
import { DynamoQueue } from '../../lib/store/dynamo-queue';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { runCli } from '../support/query-cli';

const ACCOUNT = 'acct-forget-http';
/** Now: DynamoDB Local applies TTL on the wall clock, so a tombstone dated in the past would vanish. */
const T0 = Math.floor(Date.now() / 1000) * 1000;
const LEASE_SECONDS = 5;
const ENQUEUE_TOKEN = 'EnqueueTok3n-0123456789abcdefghijklmn';
const FORGET_TOKEN = 'F0rgetTok3n-0123456789abcdefghijklmno';
const ENQUEUE_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:EnqueueApiToken-AbC123';
const FORGET_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:EnqueueApiForgetToken-XyZ789';
const EXAMPLE = JSON.parse(
  readFileSync(join(__dirname, '../fixtures/example-state.json'), 'utf8'),
) as Parameters<typeof flattenVisitState>[0]['state'];

/** The visitor to erase, one whose id starts like it, and a third erased after a crashed attempt. */
const A = 'visitorHttpA';
const B = 'visitorHttpA.2';
const C = 'visitorHttpC';

type Item = Record<string, unknown>;

/** An eraser without a hash key or an analytics stream: none of these happen. */
const NO_EXTRAS = { visitorHashUnavailable: 0, analyticsDeletesResent: 0, analyticsDeletesUnsent: 0 };

/** The stack's hash key secret (as CloudFormation generates it), and one that cannot be read. */
const HASH_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PrivacyHashKey-Hk1234';
const HASH_SECRET_GONE = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PrivacyHashKey-Gone99';
const HASH_KEY_TEXT = 'Q2hhbmdlTWVJbkFXUzBMb25nUmFuZG9tS2V5VGV4dDAxMjM0NTY3ODlhYmNkZWZn';
const STREAM = 'lpv-analytics-feed';

const secretsManager = mockClient(SecretsManagerClient);
const firehose = mockClient(FirehoseClient);
afterAll(() => firehose.restore());
beforeAll(() => {
  secretsManager
    .on(GetSecretValueCommand, { SecretId: HASH_SECRET })
    .resolves({ SecretString: JSON.stringify({ version: 1, key: HASH_KEY_TEXT }) });
  secretsManager
    .on(GetSecretValueCommand, { SecretId: HASH_SECRET_GONE })
    .rejects(new ResourceNotFoundException({ message: 'no such secret', $metadata: {} }));
  const notRotated = new ResourceNotFoundException({ message: 'no AWSPREVIOUS', $metadata: {} });
  const created = new Date(T0 - 86_400_000);
  for (const [secretId, token] of [
    [ENQUEUE_SECRET, ENQUEUE_TOKEN],
    [FORGET_SECRET, FORGET_TOKEN],
  ] as const) {
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId, VersionStage: 'AWSCURRENT' })
      .resolves({ SecretString: token, CreatedDate: created });
    secretsManager
      .on(GetSecretValueCommand, { SecretId: secretId, VersionStage: 'AWSPREVIOUS' })
      .rejects(notRotated);
  }
});
afterAll(() => secretsManager.restore());

function rowsOf(visitorId: string, sid: string): StoredRow[] {
  return flattenVisitState({ accountId: ACCOUNT, visitorId, sid, state: EXAMPLE }).rows.map((row) => ({
    ...row,
    capturedAtMs: T0,
  })) as StoredRow[];
}

/** The HTTP API in front of the two functions: a route key picks the function, as API Gateway does. */
async function serve(routes: Record<string, (request: HttpRequest) => Promise<HttpResponse>>): Promise<{
  url: string;
  server: Server;
}> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const route = routes[`${req.method ?? ''} ${req.url ?? ''}`];
      if (route === undefined) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
        return;
      }
      const headers = Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
      );
      route({ headers, body: Buffer.concat(chunks).toString('utf8'), isBase64Encoded: false })
        .then((answer) => res.writeHead(answer.statusCode, answer.headers).end(answer.body))
        .catch(() => res.writeHead(500).end('{"message":"Internal Server Error"}'));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function scanAll(client: DynamoDBDocumentClient, table: string): Promise<Item[]> {
  const items: Item[] = [];
  let startKey: Item | undefined;
  do {
    const page = await client.send(
      new ScanCommand({ TableName: table, ConsistentRead: true, ExclusiveStartKey: startKey }),
    );
    items.push(...((page.Items ?? []) as Item[]));
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return items;
}

describe.each(storageBackends())('POST /forget and the eraser on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let settings: StorageSettings;
  let client: DynamoDBDocumentClient;
  let clock: ManualClock;
  let http: { url: string; server: Server };
  let env: Env;
  let metrics: MemoryMetrics;
  let eraser: ReturnType<typeof createEraser>;

  beforeAll(async () => {
    dynamo = await start();
    settings = dynamo.settings('forgethttp');
    await dynamo.createTables(settings);
    client = createDocumentClient(settings);
    clock = new ManualClock(T0);
    const shared = { clock, log: silentLog, secretsManager: new SecretsManagerClient({}) };
    const enqueueSettings = {
      accountId: ACCOUNT,
      storage: settings,
      tokenSecretId: ENQUEUE_SECRET,
      tokenCacheSec: 300,
      previousTokenValidSec: 3600,
      maxBatchItems: 10,
      maxBodyBytes: 4096,
    };
    const forgetSettings = {
      accountId: ACCOUNT,
      storage: settings,
      tokenSecretId: FORGET_SECRET,
      tokenCacheSec: 300,
      previousTokenValidSec: 3600,
    };
    http = await serve({
      'POST /enqueue': createEnqueueEndpoint(enqueueSettings, {
        ...shared,
        metrics: new MemoryMetrics(),
        documentClient: client,
      }),
      'POST /forget': createForgetEndpoint(forgetSettings, {
        ...shared,
        metrics: new MemoryMetrics(),
        documentClient: client,
      }),
    });
    metrics = new MemoryMetrics();
    // Each wait before a second pass moves the clock instead of the test's time.
    eraser = createEraser(
      { accountId: ACCOUNT, storage: settings, leaseSec: LEASE_SECONDS, maxRequestsPerRun: 10 },
      { clock, log: silentLog, metrics, documentClient: client, sleep: async (ms) => clock.advanceMs(ms) },
    );
    env = {
      LP_ACCOUNT_ID: ACCOUNT,
      DYNAMODB_ENDPOINT: dynamo.endpoint,
      QUEUE_TABLE: settings.queueTable,
      CAPTURE_TABLE: settings.captureTable,
    };

    // A: two queued sessions with rows; B (an id A's is a prefix of): one of each; C: one of each.
    const queue = new DynamoQueue(client, settings.queueTable, () => clock.nowMs());
    await queue.enqueue(ACCOUNT, [
      { visitorId: A, sid: 'httpA1', startTimeMs: T0 - HOUR_MS },
      { visitorId: A, sid: 'httpA2', startTimeMs: T0 - 2 * HOUR_MS },
      { visitorId: B, sid: 'httpB1', startTimeMs: T0 - HOUR_MS },
      { visitorId: C, sid: 'httpC1', startTimeMs: T0 - HOUR_MS },
    ]);
    const store = new DynamoCaptureStore(client, settings.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES));
    for (const [visitor, sid] of [
      [A, 'httpA1'],
      [A, 'httpA2'],
      [B, 'httpB1'],
      [C, 'httpC1'],
    ] as const) {
      const rows = rowsOf(visitor, sid);
      expect((await store.putRows(rows)).rowsWritten).toBe(rows.length);
    }
  }, 60_000);

  afterAll(async () => {
    await new Promise((resolve) => http.server.close(resolve));
    client.destroy();
    await dynamo.close();
  });

  const post = async (path: string, body: unknown, token: string | null) => {
    const response = await fetch(`${http.url}${path}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const status = async (requestId: string): Promise<Record<string, unknown>> => {
    const result = await runCli(['forget', '--status', requestId], env, { clock });
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout) as Record<string, unknown>;
  };
  const ofVisitor = (visitor: string, sids: string[]) => (item: Item) =>
    String(item.pk).startsWith(queueVisitorKeyPrefix(ACCOUNT, visitor)) ||
    sids.some((sid) => item.pk === capturePk(ACCOUNT, sid));
  const requestItem = async (requestId: string): Promise<Item | undefined> =>
    (
      await client.send(
        new GetCommand({ TableName: settings.queueTable, Key: { pk: erasureAuditKey(ACCOUNT, requestId) } }),
      )
    ).Item as Item | undefined;

  it('refuses the enqueue token on /forget and the /forget token on /enqueue, and no token or a wrong one (401)', async () => {
    for (const token of [ENQUEUE_TOKEN, null, 'Wrong-token-0123456789abcdef', '']) {
      const answer = await post('/forget', { visitorId: A }, token);
      expect(answer).toEqual({ status: 401, body: { error: 'missing or invalid bearer token' } });
    }
    const enqueue = await post('/enqueue', { visitorId: 'someone', sid: 'some-sid' }, FORGET_TOKEN);
    expect(enqueue.status).toBe(401);
    // The enqueue token still enqueues: the routes are separate, not broken.
    expect((await post('/enqueue', { visitorId: 'someone', sid: 'some-sid' }, ENQUEUE_TOKEN)).status).toBe(
      200,
    );
    expect(await new DynamoErasureRequests(client, settings.queueTable).pending(ACCOUNT)).toEqual([]);
  });

  it.each([
    ['not JSON', '{"visitorId":', 'body is not valid JSON'],
    ['empty', '', 'empty body: expected {"visitorId": "..."}'],
    ['an array', JSON.stringify([{ visitorId: 'secret-visitor-1' }]), 'one visitor per request'],
    ['without visitorId', '{}', 'visitorId is required'],
    [
      'with another field',
      JSON.stringify({ visitorId: 'secret-visitor-1', sid: 'x' }),
      'unknown field(s): sid',
    ],
    ['an id with a slash', JSON.stringify({ visitorId: 'secret/visitor' }), "visitorId contains '/'"],
    ['an id with a space', JSON.stringify({ visitorId: 'secret visitor' }), 'whitespace'],
    ['an id too long', JSON.stringify({ visitorId: 'secret'.repeat(30) }), 'longer than 128 characters'],
    ['a number', JSON.stringify({ visitorId: 42 }), 'must be a string'],
  ])('answers 400 for a body that is %s, never quoting the id', async (_what, body, error) => {
    const answer = await post('/forget', body, FORGET_TOKEN);
    expect(answer.status).toBe(400);
    expect(String(answer.body.error)).toContain(error);
    expect(JSON.stringify(answer.body)).not.toMatch(/secret/);
  });

  it('202 with a request id at once; the eraser then tombstones and deletes the visitor, leaves the others, records done', async () => {
    const before = {
      queue: await scanAll(client, settings.queueTable),
      capture: await scanAll(client, settings.captureTable),
    };
    const ofA = ofVisitor(A, ['httpA1', 'httpA2']);
    expect(before.capture.filter(ofA).length).toBeGreaterThan(0);

    const accepted = await post('/forget', { visitorId: A }, FORGET_TOKEN);
    expect(accepted.status).toBe(202);
    const requestId = String(accepted.body.requestId);
    expect(accepted.body).toEqual({
      requestId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      status: 'requested',
      existing: false,
      statusCommand: `lpv forget --status ${requestId}`,
    });
    expect(JSON.stringify(accepted.body)).not.toContain(A);
    // Nothing is erased yet: the answer did not wait for the erasure.
    expect((await scanAll(client, settings.captureTable)).filter(ofA)).toEqual(before.capture.filter(ofA));
    // A second POST while it is pending names the same request.
    expect((await post('/forget', { visitorId: A }, FORGET_TOKEN)).body).toEqual({
      ...accepted.body,
      existing: true,
    });
    expect(await status(requestId)).toEqual({
      requestId,
      status: 'requested',
      requestedAt: new Date(T0).toISOString(),
      startedAt: null,
      finishedAt: null,
    });
    // The request carries the raw id while pending, and the keys that put it on the due index's erasure shard.
    expect(await requestItem(requestId)).toEqual(
      expect.objectContaining({ visitorId: A, dueShard: `${ACCOUNT}#erasure`, nextPollAtMs: T0 }),
    );

    const summary = await eraser({ owner: 'run-1', remainingMs: () => 290_000 });
    expect(summary).toEqual({
      pending: 1,
      done: 1,
      failed: 0,
      deferred: 0,
      oldestPendingAgeMs: 0,
      ...NO_EXTRAS,
    });
    expect(metrics.gauges.get(ERASURE_METRIC.oldestPendingAgeMs)).toBe(0);

    const after = {
      queue: await scanAll(client, settings.queueTable),
      capture: await scanAll(client, settings.captureTable),
    };
    expect(after.capture.filter(ofA)).toEqual([]);
    expect(
      after.queue
        .filter(ofA)
        .map((i) => [i.state, Object.keys(i).sort()])
        .sort(),
    ).toEqual([
      ['ERASED', ['expiresAtSec', 'pk', 'state']],
      ['ERASED', ['expiresAtSec', 'pk', 'state']],
    ]);
    // Every other visitor (B's id begins with A's) is untouched in both tables.
    const notA = (i: Item) => !ofA(i) && !String(i.pk).startsWith('AUDIT#');
    expect(after.capture.filter(notA)).toEqual(before.capture.filter(notA));
    expect(after.queue.filter(notA)).toEqual(before.queue.filter(notA));

    // The request is now the audit alone: no visitor id, off the due index, done with the counts.
    const audit = (await requestItem(requestId)) as Item;
    for (const gone of ['visitorId', 'dueShard', 'nextPollAtMs', 'leaseOwner', 'leaseUntilMs']) {
      expect(audit).not.toHaveProperty(gone);
    }
    expect(JSON.stringify(audit)).not.toContain(A);
    expect(await status(requestId)).toEqual(
      expect.objectContaining({
        requestId,
        status: 'done',
        requestedAt: new Date(T0).toISOString(),
        startedAt: new Date(T0).toISOString(),
        queueItemsTombstoned: 2,
        sessions: 2,
        rowsDeleted: { firstPass: before.capture.filter(ofA).length, secondPass: 0 },
      }),
    );

    // A second run finds nothing pending; a new POST after done is a new request (it finds nothing to erase).
    expect(await eraser({ owner: 'run-2', remainingMs: () => 290_000 })).toEqual({
      pending: 0,
      done: 0,
      failed: 0,
      deferred: 0,
      oldestPendingAgeMs: 0,
      ...NO_EXTRAS,
    });
  });

  it('resumes an erasure whose eraser crashed mid-way once its lease has ended', async () => {
    const ofC = ofVisitor(C, ['httpC1']);
    const startMs = clock.nowMs();
    const accepted = await post('/forget', { visitorId: C }, FORGET_TOKEN);
    expect(accepted.status).toBe(202);
    const requestId = String(accepted.body.requestId);

    // An eraser claims it, tombstones C's items and dies during its first pass (no hand-back: it crashed).
    const requests = new DynamoErasureRequests(client, settings.queueTable);
    const leaseUntilMs = startMs + 290_000 + LEASE_SLACK_MS;
    expect(
      await requests.claim(ACCOUNT, requestId, { owner: 'crashed', leaseUntilMs, nowMs: startMs }),
    ).toEqual(expect.objectContaining({ requestId, visitorId: C, status: 'running', attempts: 1 }));
    const capture = new DynamoErasureCapture(client, settings.captureTable);
    const crash = Object.assign(Object.create(capture) as DynamoErasureCapture, {
      deleteSessionRows: () => Promise.reject(new Error('Runtime.ExitError')),
    });
    await expect(
      forgetVisitor(
        { accountId: ACCOUNT, visitorId: C, requestId, dryRun: false, leaseMs: 5000, leaseOwner: 'crashed' },
        {
          queue: new DynamoErasureQueue(client, settings.queueTable),
          capture: crash,
          clock,
          sleep: async () => undefined,
        },
      ),
    ).rejects.toThrow('Runtime.ExitError');
    expect((await status(requestId)).status).toBe('running');
    expect((await scanAll(client, settings.captureTable)).filter(ofC).length).toBeGreaterThan(0);

    // While the lease lasts, runs leave it alone (its eraser may still be alive) and report its age.
    clock.setMs(startMs + 60_000);
    expect(await eraser({ owner: 'run-3', remainingMs: () => 290_000 })).toEqual({
      pending: 1,
      done: 0,
      failed: 0,
      deferred: 0,
      oldestPendingAgeMs: 60_000,
      ...NO_EXTRAS,
    });
    expect(metrics.gauges.get(ERASURE_METRIC.oldestPendingAgeMs)).toBe(60_000);

    // After it, the next run takes the request over and completes it.
    clock.setMs(leaseUntilMs);
    expect(await eraser({ owner: 'run-4', remainingMs: () => 290_000 })).toEqual(
      expect.objectContaining({ pending: 1, done: 1, failed: 0 }),
    );
    expect((await scanAll(client, settings.captureTable)).filter(ofC)).toEqual([]);
    expect(await status(requestId)).toEqual(
      expect.objectContaining({ status: 'done', startedAt: new Date(startMs).toISOString() }),
    );
    const audit = (await requestItem(requestId)) as Item;
    expect(audit).not.toHaveProperty('visitorId');
    expect(audit.attempts).toBe(2);
    // B, whose id begins with A's, was never asked for and is still whole.
    expect((await scanAll(client, settings.captureTable)).filter(ofVisitor(B, ['httpB1'])).length).toBe(
      rowsOf(B, 'httpB1').length,
    );
  });

  it('hands a failed attempt back with backoff and begins nothing it cannot finish before the timeout', async () => {
    const accepted = await post('/forget', { visitorId: B }, FORGET_TOKEN);
    const requestId = String(accepted.body.requestId);
    // 60 s left cannot hold the lease (5 s) + 15 s + 90 s of work: deferred, untouched.
    expect(await eraser({ owner: 'run-5', remainingMs: () => 60_000 })).toEqual(
      expect.objectContaining({ pending: 1, done: 0, deferred: 1 }),
    );
    expect((await status(requestId)).status).toBe('requested');
    expect(await eraser({ owner: 'run-6', remainingMs: () => 290_000 })).toEqual(
      expect.objectContaining({ done: 1 }),
    );
    expect((await status(requestId)).status).toBe('done');
  });

  it("names the visitor by the poller's keyed hash, re-sends the deletes to the analytics stream after its buffer, and re-sends on resume after the stream refused them", async () => {
    const D = 'visitorHttpD';
    const rowsD = rowsOf(D, 'httpD1');
    const store = new DynamoCaptureStore(client, settings.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES));
    expect((await store.putRows(rowsD)).rowsWritten).toBe(rowsD.length);
    const extrasMetrics = new MemoryMetrics();
    const withExtras = createEraser(
      {
        accountId: ACCOUNT,
        storage: settings,
        leaseSec: LEASE_SECONDS,
        maxRequestsPerRun: 10,
        hashKey: { hashKeySecretId: HASH_SECRET },
        analytics: { streamName: STREAM, waitMs: 450_000 },
      },
      {
        clock,
        log: silentLog,
        metrics: extrasMetrics,
        documentClient: client,
        sleep: async (ms) => clock.advanceMs(ms),
        secretsManager: new SecretsManagerClient({ region: 'eu-west-1' }),
        firehose: new FirehoseClient({ region: 'eu-west-1' }),
      },
    );
    const requestId = String((await post('/forget', { visitorId: D }, FORGET_TOKEN)).body.requestId);

    // 290 s cannot hold the lease + 15 s + the analytics buffer (450 s) + 90 s of work: not begun.
    expect(await withExtras({ owner: 'extras-1', remainingMs: () => 290_000 })).toEqual(
      expect.objectContaining({ pending: 1, done: 0, deferred: 1 }),
    );

    // The stream refuses every record: the rows are gone from DynamoDB, the erasure fails, the rows stay kept.
    firehose.on(PutRecordBatchCommand).callsFake((input: PutRecordBatchCommandInput) => ({
      FailedPutCount: input.Records?.length ?? 0,
      RequestResponses: (input.Records ?? []).map(() => ({ ErrorCode: 'ServiceUnavailableException' })),
    }));
    const startMs = clock.nowMs();
    expect(await withExtras({ owner: 'extras-2', remainingMs: () => 800_000 })).toEqual(
      expect.objectContaining({ done: 0, failed: 1, analyticsDeletesUnsent: rowsD.length }),
    );
    // No poll could be in flight (D has no queue item): the buffer was waited from the first pass.
    expect(clock.nowMs() - startMs).toBeGreaterThanOrEqual(450_000);
    expect((await scanAll(client, settings.captureTable)).filter(ofVisitor(D, ['httpD1']))).toEqual([]);
    const kept = (await scanAll(client, settings.queueTable)).filter((i) =>
      String(i.pk).startsWith(erasedRowsKey(ACCOUNT, D)),
    );
    expect(kept.length).toBeGreaterThanOrEqual(2); // the page counter and at least one page
    expect(extrasMetrics.counts.get(ERASURE_METRIC.analyticsDeletesUnsent)).toBe(rowsD.length);

    // The next run, after the backoff, re-sends every kept row although DynamoDB no longer has them.
    firehose.reset();
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [] });
    clock.advanceMs(60_000);
    expect(await withExtras({ owner: 'extras-3', remainingMs: () => 800_000 })).toEqual(
      expect.objectContaining({ done: 1, failed: 0, analyticsDeletesResent: rowsD.length }),
    );
    const records = firehose
      .commandCalls(PutRecordBatchCommand)
      .flatMap((call) => call.args[0].input.Records ?? [])
      .map((r) => JSON.parse(Buffer.from(r.Data as Uint8Array).toString('utf8')) as unknown);
    const routed = records.map((r) => routeStreamRecord(r, analyticsSchema as AnalyticsSchema));
    expect(routed.every((d) => d.kind === 'route' && d.operation === 'delete')).toBe(true);
    expect(
      routed.map((d) => (d.kind === 'route' ? `${String(d.row.pk)} ${String(d.row.sk)}` : '')).sort(),
    ).toEqual(rowsD.map((r) => `${String(r.pk)} ${String(r.sk)}`).sort());
    expect(firehose.commandCalls(PutRecordBatchCommand)[0]?.args[0].input.DeliveryStreamName).toBe(STREAM);
    // Once re-sent, nothing of the visitor is kept.
    expect(
      (await scanAll(client, settings.queueTable)).filter((i) =>
        String(i.pk).startsWith(erasedRowsKey(ACCOUNT, D)),
      ),
    ).toEqual([]);

    // The audit names D by the poller's keyed hash (the stack's secret), never by its id.
    const hasher = new KeyedHasher({
      bytes: (decodeHashKey(HASH_KEY_TEXT) as { bytes: Buffer }).bytes,
      version: 1,
    });
    expect(await status(requestId)).toEqual(
      expect.objectContaining({
        status: 'done',
        visitorHash: hasher.hash(D),
        analyticsDeletesResent: rowsD.length,
      }),
    );
    expect(JSON.stringify(await requestItem(requestId))).not.toContain(D);
  });

  it('still erases when the hash key cannot be read: the audit says the hash is unavailable, and the run counts it', async () => {
    const E = 'visitorHttpE';
    const store = new DynamoCaptureStore(client, settings.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES));
    await store.putRows(rowsOf(E, 'httpE1'));
    const noKeyMetrics = new MemoryMetrics();
    const noKey = createEraser(
      {
        accountId: ACCOUNT,
        storage: settings,
        leaseSec: LEASE_SECONDS,
        maxRequestsPerRun: 10,
        hashKey: { hashKeySecretId: HASH_SECRET_GONE },
      },
      {
        clock,
        log: silentLog,
        metrics: noKeyMetrics,
        documentClient: client,
        sleep: async (ms) => clock.advanceMs(ms),
        secretsManager: new SecretsManagerClient({ region: 'eu-west-1' }),
      },
    );
    const requestId = String((await post('/forget', { visitorId: E }, FORGET_TOKEN)).body.requestId);
    expect(await noKey({ owner: 'nokey-1', remainingMs: () => 290_000 })).toEqual(
      expect.objectContaining({ done: 1, failed: 0, visitorHashUnavailable: 1 }),
    );
    expect(noKeyMetrics.counts.get(ERASURE_METRIC.visitorHashUnavailable)).toBe(1);
    expect((await scanAll(client, settings.captureTable)).filter(ofVisitor(E, ['httpE1']))).toEqual([]);
    const shown = await status(requestId);
    expect(shown).toEqual(
      expect.objectContaining({ status: 'done', visitorHash: 'unavailable (hash key unreadable)' }),
    );
    expect((await requestItem(requestId))?.visitorHashUnavailable).toBe(true);
  });

  it('mid-migration, POST /forget and the eraser query the indexes the storage settings name (the legacy ones)', async () => {
    // Tables as a stack has them at the first step of both migrations: the legacy indexes beside the new ones.
    const migrating: StorageSettings = {
      ...dynamo.settings('forgetmig'),
      queueDueIndex: LEGACY_QUEUE_DUE_INDEX_NAME,
      captureByVisitorIndex: LEGACY_CAPTURE_INDEX_NAMES[CAPTURE_BY_VISITOR.indexName]!,
    };
    const own = createDocumentClient(migrating);
    try {
      for (const [definition, name] of [
        [queueTableDefinition('add'), migrating.queueTable],
        [captureTableDefinition('add-visitor'), migrating.captureTable],
      ] as const) {
        await own.send(new CreateTableCommand(createTableInput(definition, name)));
        // dynalite answers CREATING for a moment.
        for (let attempt = 0; ; attempt++) {
          const { Table } = await own.send(new DescribeTableCommand({ TableName: name }));
          const indexes = Table?.GlobalSecondaryIndexes ?? [];
          if (Table?.TableStatus === 'ACTIVE' && indexes.every((i) => i.IndexStatus === 'ACTIVE')) break;
          if (attempt > 100) throw new Error(`${name} not ACTIVE`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      const queried: string[] = [];
      own.middlewareStack.add(
        (next) => async (args) => {
          const index = (args.input as { IndexName?: unknown }).IndexName;
          if (typeof index === 'string') queried.push(index);
          return next(args);
        },
        { step: 'initialize', name: 'recordIndexName' },
      );
      // A visitor known only to the capture table: its sessions come from the byVisitor index alone.
      const M = 'visitorHttpM';
      const rows = rowsOf(M, 'httpM1');
      const store = new DynamoCaptureStore(own, migrating.captureTable, new Set(CAPTURE_KEY_ATTRIBUTES));
      expect((await store.putRows(rows)).rowsWritten).toBe(rows.length);

      const forget = createForgetEndpoint(
        {
          accountId: ACCOUNT,
          storage: migrating,
          tokenSecretId: FORGET_SECRET,
          tokenCacheSec: 300,
          previousTokenValidSec: 3600,
        },
        { clock, log: silentLog, metrics: new MemoryMetrics(), documentClient: own },
      );
      const accepted = await forget({
        headers: { authorization: `Bearer ${FORGET_TOKEN}` },
        body: JSON.stringify({ visitorId: M }),
        isBase64Encoded: false,
      });
      expect(accepted.statusCode).toBe(202);
      const run = createEraser(
        { accountId: ACCOUNT, storage: migrating, leaseSec: LEASE_SECONDS, maxRequestsPerRun: 10 },
        {
          clock,
          log: silentLog,
          metrics: new MemoryMetrics(),
          documentClient: own,
          sleep: async (ms) => clock.advanceMs(ms),
        },
      );
      expect(await run({ owner: 'migrating', remainingMs: () => 290_000 })).toEqual(
        expect.objectContaining({ pending: 1, done: 1, failed: 0 }),
      );
      expect((await scanAll(own, migrating.captureTable)).filter(ofVisitor(M, ['httpM1']))).toEqual([]);
      expect([...new Set(queried)].sort()).toEqual(
        [migrating.captureByVisitorIndex, migrating.queueDueIndex].sort(),
      );
      expect(queried).not.toContain(QUEUE_DUE_INDEX.indexName);
      expect(queried).not.toContain(CAPTURE_BY_VISITOR.indexName);
    } finally {
      own.destroy();
    }
  });
});
