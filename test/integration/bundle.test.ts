import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../../lib/clock';
import type { StorageSettings } from '../../lib/config';
import {
  ENQUEUE_METRIC,
  FETCH_OUTCOMES,
  METRIC,
  METRICS_NAMESPACE,
  fetchMetricName,
} from '../../lib/metrics';
import type { QueueItem } from '../../lib/queue/model';
import { QUEUE_DUE_INDEX } from '../../lib/keys';
import {
  DEFAULT_SIMULATOR_CREDENTIALS,
  NO_FAULTS,
  SimulatedWorld,
  VisitSimulator,
} from '../../lib/simulator';
import { createStorage } from '../../lib/wiring';
import { loadDeploymentConfig } from '../../infra/config';
import { ENQUEUE_DYNAMODB_ACTIONS } from '../../infra/enqueue-api';
import { ENQUEUE_METRIC_DIMENSIONS, POLLER_METRIC_DIMENSIONS } from '../../infra/metrics';
import { POLLER_DYNAMODB_ACTIONS } from '../../infra/poller';
import { LpVisitCaptureStack } from '../../infra/stack';
import { httpApiEvent, scheduledEvent } from '../infra/events';
import { BASE_CONTEXT } from '../infra/stack-fixture';
import { startDynalite, type LocalDynamo } from '../support/local-dynamo';

/**
 * What runs in AWS is the esbuild bundle, not the sources. This test synthesizes the real stack (NodejsFunction
 * bundling with the local esbuild, as `cdk synth` does) into a directory outside the repository, takes each
 * function's bundled index.js, and runs it in a fresh Node process (no node_modules within reach: the AWS SDK
 * and everything else must be inside the bundle) with the environment the template gives it, against:
 *   - dynalite, behind a recording proxy (which DynamoDB operations did the bundle really use?),
 *   - a stand-in Secrets Manager endpoint (AWS_ENDPOINT_URL_SECRETS_MANAGER: the bundled SDK really calls it),
 *   - the LivePerson simulator (LP_BASE_URL), which checks OAuth signatures.
 */
jest.setTimeout(120_000);

const ACCOUNT = '12345678';
const TOKEN = 'bundle-test-token-0123456789abcdef';
const TOKEN_SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:EnqueueApiToken-AbC123';
const LP_SECRET_NAME = BASE_CONTEXT['lpv:credentialsSecret'] as string;
const HASH_KEY_SECRET_ARN =
  'arn:aws:secretsmanager:eu-west-1:123456789012:secret:PrivacyHashKeySecret-XyZ789';
/** The privacy hash key as CloudFormation generates it (infra/privacy-key.ts): 64 letters and digits. */
const HASH_KEY_SECRET_VALUE = JSON.stringify({
  version: 1,
  key: 'Kq7ZyPMa3Wn0cR5tLhUv8XbE2dGj4SfN6oQiYk1TwVx9AeCrBs7HuIgDl3FpOm5z',
});

interface Recorded {
  op: string;
  table?: string;
  index?: string;
}

interface Invocation {
  ok: boolean;
  result?: unknown;
  error?: { name: string; message: string };
  stdout: string;
  stderr: string;
}

type CfnValue = string | { Ref: string };
interface FunctionInTemplate {
  logicalId: string;
  bundle: string;
  environment: Record<string, CfnValue>;
}

let workDir: string;
interface TemplateResource {
  Type: string;
  Properties: { Environment?: { Variables: Record<string, CfnValue> } } & Record<string, unknown>;
  Metadata?: Record<string, string>;
}
let template: { Resources: Record<string, TemplateResource> };
let poller: FunctionInTemplate;
let enqueue: FunctionInTemplate;
let tableIds: { queue: string; capture: string; token: string; hashKey: string };
let dynamo: LocalDynamo;
let storage: StorageSettings;
let proxy: http.Server;
let proxyUrl: string;
const dynamoCalls: Recorded[] = [];
let secrets: http.Server;
let secretsUrl: string;
const secretReads: string[] = [];
let simulator: VisitSimulator;
let synthMs = 0;

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
    ),
  );
}

function close(server: http.Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections?.();
    server.close(() => resolve());
  });
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Forwards every request to dynalite, noting operation, table and index. */
function recordingProxy(target: URL): http.Server {
  return http.createServer(async (req, res) => {
    const body = await readBody(req);
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
    try {
      const input = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      const tables = input.RequestItems
        ? Object.keys(input.RequestItems as object)
        : [input.TableName as string | undefined];
      for (const table of tables) {
        dynamoCalls.push({
          op,
          ...(table !== undefined ? { table } : {}),
          ...(typeof input.IndexName === 'string' ? { index: input.IndexName } : {}),
        });
      }
    } catch {
      dynamoCalls.push({ op });
    }
    const forward = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 500, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    forward.end(body);
  });
}

/** Answers GetSecretValue (AWS JSON 1.1) for the two secrets of the stack; anything else is not found. */
function secretsManagerStandIn(values: Record<string, string>): http.Server {
  return http.createServer(async (req, res) => {
    const input = JSON.parse((await readBody(req)).toString('utf8')) as { SecretId?: string };
    const target = String(req.headers['x-amz-target'] ?? '');
    secretReads.push(`${target}:${input.SecretId}`);
    const value = input.SecretId !== undefined ? values[input.SecretId] : undefined;
    res.setHeader('content-type', 'application/x-amz-json-1.1');
    if (target !== 'secretsmanager.GetSecretValue' || value === undefined) {
      res.statusCode = 400;
      res.end(
        JSON.stringify({
          __type: 'ResourceNotFoundException',
          message: 'Secrets Manager can’t find the specified secret.',
        }),
      );
      return;
    }
    res.end(
      JSON.stringify({
        ARN: input.SecretId,
        Name: input.SecretId,
        SecretString: value,
        VersionId: '00000000-0000-0000-0000-000000000001',
        VersionStages: ['AWSCURRENT'],
        CreatedDate: 1_700_000_000,
      }),
    );
  });
}

const HARNESS = `
const fs = require('node:fs');
const [bundle, eventFile, resultFile, timeoutMs, functionName] = process.argv.slice(2);
const event = JSON.parse(fs.readFileSync(eventFile, 'utf8'));
const deadline = Date.now() + Number(timeoutMs);
const context = {
  callbackWaitsForEmptyEventLoop: true, functionName, functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:' + functionName,
  memoryLimitInMB: '512', awsRequestId: require('node:crypto').randomUUID(),
  logGroupName: '/aws/lambda/' + functionName, logStreamName: 'bundle-test',
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
};
const write = (outcome) => { fs.writeFileSync(resultFile, JSON.stringify(outcome)); process.exit(0); };
let handler;
try { handler = require(bundle).handler; } catch (e) { write({ ok: false, error: { name: e.name, message: e.message } }); }
Promise.resolve()
  .then(() => handler(event, context))
  .then((result) => write({ ok: true, result }), (e) => write({ ok: false, error: { name: e.name, message: e.message } }));
`;

function resolveEnvironment(fn: FunctionInTemplate, refs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fn.environment).map(([key, value]) => {
      if (typeof value === 'string') return [key, value];
      const resolved = refs[value.Ref];
      if (resolved === undefined) throw new Error(`${key}: no local value for Ref ${value.Ref}`);
      return [key, resolved];
    }),
  );
}

/** Runs `handler(event, context)` of a bundle in a fresh Node process, cwd and bundle outside the repository. */
function invoke(
  fn: FunctionInTemplate,
  event: unknown,
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<Invocation> {
  const eventFile = path.join(workDir, `event-${Date.now()}-${Math.random()}.json`);
  const resultFile = `${eventFile}.result`;
  writeFileSync(eventFile, JSON.stringify(event));
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [path.join(workDir, 'harness.js'), fn.bundle, eventFile, resultFile, String(timeoutMs), fn.logicalId],
      {
        cwd: workDir,
        env: {
          PATH: process.env.PATH ?? '',
          AWS_REGION: 'eu-west-1',
          AWS_ACCESS_KEY_ID: 'AKIDBUNDLETEST',
          AWS_SECRET_ACCESS_KEY: 'bundle-test-secret',
          AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
          AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsUrl,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...env,
        },
        timeout: timeoutMs + 30_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        let outcome: Omit<Invocation, 'stdout' | 'stderr'>;
        try {
          outcome = JSON.parse(readFileSync(resultFile, 'utf8'));
        } catch {
          reject(new Error(`no result from ${fn.logicalId}: ${error?.message ?? ''}\n${stderr}\n${stdout}`));
          return;
        }
        resolve({ ...outcome, stdout, stderr });
      },
    );
  });
}

/** A CloudWatch Embedded Metric Format document as Powertools Metrics prints it. */
interface EmfDocument {
  _aws: {
    Timestamp: number;
    CloudWatchMetrics: {
      Namespace: string;
      Dimensions: string[][];
      Metrics: { Name: string; Unit: string }[];
    }[];
  };
  [key: string]: unknown;
}

/** EMF documents printed by Powertools Metrics (other stdout lines are Powertools Logger's JSON logs). */
function emfDocuments(stdout: string): EmfDocument[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as EmfDocument)
    .filter((doc) => doc._aws !== undefined);
}

/** The metric names of our namespace with the given dimensions (one function's) that the template's alarms refer to. */
function metricNamesInTemplate(dimensions: Readonly<Record<string, string>>): Set<string> {
  const names = new Set<string>();
  const wanted = JSON.stringify(Object.entries(dimensions).map(([Name, Value]) => ({ Name, Value })));
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node !== null && typeof node === 'object') {
      const record = node as Record<string, unknown>;
      if (
        record.Namespace === METRICS_NAMESPACE &&
        typeof record.MetricName === 'string' &&
        JSON.stringify(record.Dimensions) === wanted
      )
        names.add(record.MetricName);
      Object.values(record).forEach(visit);
    }
  };
  visit(Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm'));
  return names;
}

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), 'lpv-bundle-'));
  writeFileSync(path.join(workDir, 'harness.js'), HARNESS);

  // A real synthesis, bundling included (no 'aws:cdk:bundling-stacks' override).
  const started = Date.now();
  // Asset metadata (the bundle's directory on each function) as the CDK CLI asks for it.
  const app = new App({
    outdir: path.join(workDir, 'cdk.out'),
    context: { ...BASE_CONTEXT, 'aws:cdk:enable-asset-metadata': true },
  });
  const config = loadDeploymentConfig(
    (key) => app.node.tryGetContext(key),
    Object.keys(app.node.getAllContext()),
  );
  const stack = new LpVisitCaptureStack(app, 'LpVisitCapture', { config });
  const assembly = app.synth();
  synthMs = Date.now() - started;
  template = assembly.getStackByName(stack.stackName).template;

  const fnFor = (idPart: string): FunctionInTemplate => {
    const [logicalId, fn] = Object.entries(template.Resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.includes(idPart),
    )!;
    return {
      logicalId,
      bundle: path.join(assembly.directory, fn.Metadata!['aws:asset:path']!, 'index.js'),
      environment: fn.Properties.Environment!.Variables,
    };
  };
  poller = fnFor('PollerFunction');
  enqueue = fnFor('EnqueueApiEnqueueFunction');
  const idOf = (type: string, part: string) =>
    Object.entries(template.Resources).find(([id, r]) => r.Type === type && id.includes(part))![0];
  tableIds = {
    queue: idOf('AWS::DynamoDB::Table', 'DataQueue'),
    capture: idOf('AWS::DynamoDB::Table', 'DataCapture'),
    token: idOf('AWS::SecretsManager::Secret', 'EnqueueApiToken'),
    hashKey: idOf('AWS::SecretsManager::Secret', 'PrivacyHashKey'),
  };

  dynamo = await startDynalite();
  storage = dynamo.settings('bundle');
  await dynamo.createTables(storage);
  proxy = recordingProxy(new URL(dynamo.endpoint));
  proxyUrl = await listen(proxy);
  secrets = secretsManagerStandIn({
    [LP_SECRET_NAME]: JSON.stringify(DEFAULT_SIMULATOR_CREDENTIALS),
    [TOKEN_SECRET_ARN]: TOKEN,
    [HASH_KEY_SECRET_ARN]: HASH_KEY_SECRET_VALUE,
  });
  secretsUrl = await listen(secrets);
});

afterAll(async () => {
  await simulator?.stop();
  await close(proxy);
  await close(secrets);
  await dynamo?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('the bundles, as Lambda runs them', () => {
  it('bundles each function into one self-contained file, AWS SDK included', () => {
    for (const fn of [poller, enqueue]) {
      const code = readFileSync(fn.bundle, 'utf8');
      // Every require left in the bundle is a Node.js built-in, except the SDK's optional CRT signer, which the
      // SDK loads inside a try only for SigV4a (multi-region endpoints; neither DynamoDB nor Secrets Manager).
      const external = new Set(
        [...code.matchAll(/require\("([^"]+)"\)/g)]
          .map((m) => m[1]!)
          .filter((name) => !name.startsWith('node:')),
      );
      expect([...external]).toEqual(['@aws-sdk/signature-v4-crt']);
      expect(code.includes('GetSecretValue')).toBe(true);
    }
    expect(readFileSync(poller.bundle, 'utf8').includes('BatchWriteItem')).toBe(true);
    console.info(`synthesis with bundling: ${synthMs} ms`);
  });

  const world = new SimulatedWorld({
    seed: 11,
    accountId: ACCOUNT,
    clock: systemClock,
    earlyEndProbability: 0,
  });
  const live = Array.from({ length: 6 }, () => world.startSession({ startTimeMs: Date.now() - 10 * 60_000 }));
  const ended = Array.from({ length: 2 }, () =>
    world.startSession({ startTimeMs: Date.now() - 20 * 60_000 }),
  );
  for (const s of ended) world.endSession(s.sid, Date.now() - 5 * 60_000);
  const unknown = {
    visitorId: 'NoSuchVisitor0001',
    sid: 'NoSuchSession0001',
    startTimeMs: Date.now() - 60_000,
  };
  const all = [...live, ...ended, unknown];

  const enqueueEnv = () => ({
    ...resolveEnvironment(enqueue, {
      [tableIds.queue]: storage.queueTable,
      [tableIds.token]: TOKEN_SECRET_ARN,
    }),
    DYNAMODB_ENDPOINT: proxyUrl,
  });

  it('enqueue: an HTTP API request with the bearer token queues the pairs (PutItem on the queue only)', async () => {
    dynamoCalls.length = 0;
    secretReads.length = 0;
    const body = JSON.stringify({
      items: all.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTime: s.startTimeMs })),
    });
    const outcome = await invoke(
      enqueue,
      httpApiEvent({ body, headers: { authorization: `Bearer ${TOKEN}` } }),
      enqueueEnv(),
      15_000,
    );
    expect(outcome.error).toBeUndefined();
    const result = outcome.result as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toEqual({
      accepted: all.length,
      rejected: 0,
      results: all.map((_, index) => ({ index, status: 'created' })),
    });
    // Exactly what IAM allows the enqueue function: PutItem on the queue table, the token secret.
    expect(new Set(dynamoCalls.map((c) => `${c.op}:${c.table}`))).toEqual(
      new Set([`PutItem:${storage.queueTable}`]),
    );
    expect(ENQUEUE_DYNAMODB_ACTIONS).toEqual(['dynamodb:PutItem']);
    expect(new Set(secretReads)).toEqual(new Set([`secretsmanager.GetSecretValue:${TOKEN_SECRET_ARN}`]));
  });

  it('enqueue: a wrong token gets 401 and touches nothing', async () => {
    dynamoCalls.length = 0;
    const outcome = await invoke(
      enqueue,
      httpApiEvent({
        body: '{"visitorId":"v","sid":"s"}',
        headers: { authorization: 'Bearer nope-nope-nope-nope' },
      }),
      enqueueEnv(),
      15_000,
    );
    expect((outcome.result as { statusCode: number }).statusCode).toBe(401);
    expect(dynamoCalls).toEqual([]);
    // EMF: the 401 is counted under the enqueue function's own dimension, as the enqueue alarms read it.
    const docs = emfDocuments(outcome.stdout);
    expect(docs).toHaveLength(1);
    for (const directive of docs[0]!._aws.CloudWatchMetrics) {
      expect(directive.Namespace).toBe(METRICS_NAMESPACE);
      expect(directive.Dimensions).toEqual([Object.keys(ENQUEUE_METRIC_DIMENSIONS)]);
    }
    expect(docs[0]).toMatchObject({
      ...ENQUEUE_METRIC_DIMENSIONS,
      [ENQUEUE_METRIC.unauthorized]: 1,
      [ENQUEUE_METRIC.serverErrors]: 0,
    });
    const alarmed = metricNamesInTemplate(ENQUEUE_METRIC_DIMENSIONS);
    expect(alarmed).toEqual(new Set(Object.values(ENQUEUE_METRIC)));
  });

  it('poller: a scheduled event runs one tick against the simulator, captures, and emits the alarmed metrics', async () => {
    simulator = new VisitSimulator({ world, credentials: DEFAULT_SIMULATOR_CREDENTIALS, faults: NO_FAULTS });
    await simulator.start();
    dynamoCalls.length = 0;
    secretReads.length = 0;

    const env: Record<string, string> = {
      ...resolveEnvironment(poller, {
        [tableIds.queue]: storage.queueTable,
        [tableIds.capture]: storage.captureTable,
        [tableIds.hashKey]: HASH_KEY_SECRET_ARN,
      }),
      DYNAMODB_ENDPOINT: proxyUrl,
      LP_BASE_URL: simulator.baseUrl,
    };
    // The template's poller reads its credentials from the secret, not from the environment.
    expect(env.LP_CREDENTIALS_SECRET_ID).toBe(LP_SECRET_NAME);
    expect(Object.keys(env).filter((k) => /^LP_(CONSUMER|TOKEN)/.test(k))).toEqual([]);

    const outcome = await invoke(poller, scheduledEvent(), env, 60_000);
    expect(outcome.error).toBeUndefined();
    const summary = outcome.result as {
      stoppedBy: string;
      fetches: Record<string, number>;
      sessions: Record<string, number>;
      expiredBeforeCapture: number;
      rowsWritten: number;
    };
    expect(summary.stoppedBy).toBe('done');
    expect(summary.fetches).toMatchObject({
      ok: live.length,
      expired_12: ended.length,
      invalid_visitor_37: 1,
    });
    expect(summary.sessions).toMatchObject({ LOST: ended.length, INVALID: 1, CAPTURED: 0, FAILED: 0 });
    expect(summary.expiredBeforeCapture).toBe(ended.length);
    expect(summary.rowsWritten).toBeGreaterThan(live.length);
    expect(simulator.stats().authFailures).toEqual({});

    // Rows of every live session are in the capture table; the queue reflects each outcome.
    const { documentClient, queue } = createStorage(storage, systemClock);
    for (const s of live) {
      const rows = await documentClient.send(
        new QueryCommand({
          TableName: storage.captureTable,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': `S#${ACCOUNT}#${s.sid}` },
        }),
      );
      expect(rows.Items?.length ?? 0).toBeGreaterThan(0);
    }
    const items: QueueItem[] = [];
    for await (const page of queue.list(ACCOUNT)) items.push(...page);
    const stateOf = (sid: string) => items.find((i) => i.sid === sid)?.state;
    expect(live.map((s) => stateOf(s.sid))).toEqual(live.map(() => 'ACTIVE'));
    expect(ended.map((s) => stateOf(s.sid))).toEqual(ended.map(() => 'LOST'));
    expect(stateOf(unknown.sid)).toBe('INVALID');
    documentClient.destroy();

    // Every DynamoDB operation the bundle sent is one the poller's IAM policy grants, on that resource.
    const allowed = new Set([
      ...POLLER_DYNAMODB_ACTIONS.queueTable.map(
        (a) => `${a.slice('dynamodb:'.length)}:${storage.queueTable}:`,
      ),
      ...POLLER_DYNAMODB_ACTIONS.queueDueIndex.map(
        (a) => `${a.slice('dynamodb:'.length)}:${storage.queueTable}:${QUEUE_DUE_INDEX.indexName}`,
      ),
      ...POLLER_DYNAMODB_ACTIONS.captureTable.map(
        (a) => `${a.slice('dynamodb:'.length)}:${storage.captureTable}:`,
      ),
    ]);
    const used = new Set(dynamoCalls.map((c) => `${c.op}:${c.table}:${c.index ?? ''}`));
    expect([...used].filter((u) => !allowed.has(u))).toEqual([]);
    // ...and the grant is not wider than what a tick uses, but for the paths this one first tick cannot take:
    // the side item's digests are read only when a session is polled again, a row goes alone by PutItem only
    // when DynamoDB refused its batch, and deferred columns are written into rows only at a session's end.
    const notOnAFirstTick = new Set([
      `GetItem:${storage.queueTable}:`,
      `PutItem:${storage.captureTable}:`,
      `UpdateItem:${storage.captureTable}:`,
    ]);
    expect([...allowed].filter((a) => !used.has(a) && !notOnAFirstTick.has(a))).toEqual([]);
    // The secrets it read: the LivePerson credentials and the privacy hash key (at the tick's start), no other.
    expect(new Set(secretReads)).toEqual(
      new Set([
        `secretsmanager.GetSecretValue:${LP_SECRET_NAME}`,
        `secretsmanager.GetSecretValue:${HASH_KEY_SECRET_ARN}`,
      ]),
    );
    expect(secretReads[0]).toBe(`secretsmanager.GetSecretValue:${HASH_KEY_SECRET_ARN}`);

    // EMF: namespace, the exact dimension set the alarms use, and every metric the alarms watch.
    const docs = emfDocuments(outcome.stdout);
    expect(docs.length).toBeGreaterThan(0);
    const emitted = new Set<string>();
    for (const doc of docs) {
      for (const directive of doc._aws.CloudWatchMetrics) {
        expect(directive.Namespace).toBe(METRICS_NAMESPACE);
        expect(directive.Dimensions).toEqual([Object.keys(POLLER_METRIC_DIMENSIONS)]);
        for (const m of directive.Metrics) emitted.add(m.Name);
      }
      for (const [name, value] of Object.entries(POLLER_METRIC_DIMENSIONS)) expect(doc[name]).toBe(value);
    }
    expect(emitted).toEqual(
      new Set([...Object.values(METRIC), ...FETCH_OUTCOMES.map((o) => fetchMetricName(o))]),
    );
    for (const name of metricNamesInTemplate(POLLER_METRIC_DIMENSIONS)) expect(emitted.has(name)).toBe(true);
  });
});
