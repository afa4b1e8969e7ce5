/**
 * `lpv scrub` on both storage backends: rows stored raw (the spec example with distinctive values, the example as
 * published and simulator answers, flattened with every category kept, written through the real capture store),
 * then the CLI run in-process under the default policy with a test key. The oracle: afterwards no personal value
 * is anywhere in the table, and every row equals what the flattener makes of the same answer under the default
 * policy. Also: --dry-run changes nothing, no key without --allow-drop changes nothing, an interrupted run
 * continues from its checkpoint, a second run changes nothing, and the conditional write never overwrites a row
 * a poll rewrote or an erasure deleted.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteCommand, PutCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { flattenVisitState, newFlattenPlans } from '../../lib/capture/flatten';
import { buildOutcomeRow } from '../../lib/capture/outcome-row';
import { HOUR_MS, systemClock } from '../../lib/clock';
import type { Env, StorageSettings } from '../../lib/config';
import { CAPTURE_KEY_ATTRIBUTES } from '../../lib/keys';
import type { VisitState } from '../../lib/liveperson/types';
import { createPrivacyPolicy, keepEverythingPolicy, type PrivacyPolicy } from '../../lib/privacy/policy';
import type { ScrubReport } from '../../lib/scrub/scrub';
import type { StoredRow } from '../../lib/store/capture-store';
import { createDocumentClient } from '../../lib/store/dynamo';
import { DynamoCaptureStore } from '../../lib/store/dynamo-capture-store';
import { DynamoScrubTable } from '../../lib/store/dynamo-scrub';
import { storageBackends, type LocalDynamo } from '../support/local-dynamo';
import { runCli, type CliResult } from '../support/query-cli';
import {
  DISTINCT,
  distinctiveExample,
  example,
  leaksIn,
  personalValuesOf,
} from '../support/personal-fixtures';
import { agesUpToSixHours, simulatedAnswers } from '../support/simulated-answers';

const ACCOUNT = '12345678';
const KEY = Buffer.alloc(32, 0x3e);
const CAPTURED_AT = Date.parse('2026-01-05T09:00:00Z');

interface Answer {
  visitorId: string;
  sid: string;
  state: VisitState;
}

const ANSWERS: Answer[] = [
  { visitorId: 'visitorDistinct', sid: 'sidDistinct', state: distinctiveExample() },
  { visitorId: 'visitorExample', sid: 'sidExample', state: example() },
  ...simulatedAnswers(41, 8, agesUpToSixHours(8), ACCOUNT),
];

const rowsUnder = (policy: PrivacyPolicy, answer: Answer): StoredRow[] =>
  flattenVisitState({ accountId: ACCOUNT, ...answer }, newFlattenPlans({ privacy: policy }))
    .rows as StoredRow[];

const keyOf = (row: Record<string, unknown>): string => `${String(row.pk)}\u0000${String(row.sk)}`;

function byKey(rows: readonly Record<string, unknown>[]): Map<string, Record<string, unknown>> {
  return new Map(rows.map((row) => [keyOf(row), { ...row }]));
}

/** A row as text independent of its column order. */
const sortedJson = (row: Record<string, unknown>): string =>
  JSON.stringify(Object.entries(row).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

async function scanAll(client: DynamoDBDocumentClient, table: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await client.send(
      new ScanCommand({
        TableName: table,
        ConsistentRead: true,
        ...(start ? { ExclusiveStartKey: start } : {}),
      }),
    );
    rows.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return rows;
}

function outcomeRow(): StoredRow {
  return buildOutcomeRow(
    {
      accountId: ACCOUNT,
      visitorId: 'visitorDistinct',
      sid: 'sidDistinct',
      state: 'CAPTURED',
      startTimeMs: CAPTURED_AT - HOUR_MS,
      enqueuedAtMs: CAPTURED_AT - HOUR_MS,
      deadlineMs: CAPTURED_AT + 5 * HOUR_MS,
      attempts: 0,
      pollCount: 2,
      successCount: 2,
      expiresAtSec: 0,
    },
    {
      state: 'CAPTURED',
      reason: 'session ended (404/12)',
      lastOutcome: '404/12',
      pollCount: 2,
      endedAtMs: CAPTURED_AT,
    },
  ) as StoredRow;
}

describe.each(storageBackends())('lpv scrub on $name', ({ start }) => {
  let dynamo: LocalDynamo;
  let settings: StorageSettings;
  let client: DynamoDBDocumentClient;
  let env: Env;
  let dir: string;
  let rawRows: StoredRow[];

  const scrub = (argv: string[], extraEnv: Env = {}): Promise<CliResult> =>
    runCli(['scrub', ...argv], { ...env, ...extraEnv }, { clock: systemClock });
  const report = (result: CliResult): ScrubReport => JSON.parse(result.stdout) as ScrubReport;

  beforeAll(async () => {
    dynamo = await start();
    settings = dynamo.settings('scrub');
    await dynamo.createTables(settings);
    client = createDocumentClient(settings);
    env = {
      AWS_REGION: 'local',
      DYNAMODB_ENDPOINT: settings.dynamoDbEndpoint as string,
      QUEUE_TABLE: settings.queueTable,
      CAPTURE_TABLE: settings.captureTable,
      LPV_HASH_KEY: KEY.toString('base64'),
      LPV_HASH_KEY_VERSION: '3',
    };
    dir = mkdtempSync(join(tmpdir(), 'lpv-scrub-'));
    // Stored before the policy: every category kept, as the poller stored rows before issue 14.
    rawRows = [
      ...ANSWERS.flatMap((answer) => rowsUnder(keepEverythingPolicy(), answer)).map((row) => ({
        ...row,
        capturedAtMs: CAPTURED_AT,
      })),
      outcomeRow(),
    ];
    const stats = await new DynamoCaptureStore(
      client,
      settings.captureTable,
      new Set(CAPTURE_KEY_ATTRIBUTES),
    ).putRows(rawRows);
    expect(stats.rowsWritten).toBe(rawRows.length);
  }, 120_000);

  afterAll(async () => {
    client?.destroy();
    await dynamo?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the raw table shows the personal values (the checks below are not vacuous)', async () => {
    const rows = await scanAll(client, settings.captureTable);
    expect(rows).toHaveLength(rawRows.length);
    const shown = new Set(
      leaksIn(rows as StoredRow[], Object.values(DISTINCT)).map((l) => l.split(' shows ')[1]),
    );
    expect([...shown].sort()).toEqual(Object.values(DISTINCT).sort());
  });

  it('--dry-run counts what would change and changes nothing', async () => {
    const before = await scanAll(client, settings.captureTable);
    const result = await scrub(['--dry-run', '--segments', '3']);
    expect(result.code).toBe(0);
    const counts = report(result);
    expect(counts).toMatchObject({ dryRun: true, complete: true, rowsScanned: rawRows.length, conflicts: 0 });
    expect(counts.rowsChanged).toBeGreaterThan(10);
    expect(counts.valuesTreated).toMatchObject({
      name: expect.any(Number),
      contact: expect.any(Number),
      'customer-id': expect.any(Number),
      network: expect.any(Number),
      'birth-day': expect.any(Number),
    });
    expect(byKey(await scanAll(client, settings.captureTable))).toEqual(byKey(before));
  });

  it('without a hash key it warns and refuses to drop stored values unless --allow-drop', async () => {
    const before = await scanAll(client, settings.captureTable);
    const result = await scrub([], { LPV_HASH_KEY: '', LPV_HASH_KEY_VERSION: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/WARNING: no hash key configured/);
    expect(result.stderr).toMatch(/--allow-drop/);
    expect(result.stdout).toBe('');
    expect(byKey(await scanAll(client, settings.captureTable))).toEqual(byKey(before));
  });

  it('an interrupted run continues from its checkpoint; then every row is what the flattener makes under the policy', async () => {
    const checkpoint = join(dir, 'scrub.checkpoint.json');
    const first = await scrub([
      '--checkpoint',
      checkpoint,
      '--segments',
      '2',
      '--page-size',
      '7',
      '--max-pages',
      '1',
    ]);
    expect(first.code).toBe(0);
    const partial = report(first);
    expect(partial).toMatchObject({ complete: false, resumed: false, pages: 1, dryRun: false });
    expect(partial.rowsScanned).toBeLessThanOrEqual(7);
    expect(first.stderr).toMatch(/run again with the same --checkpoint/);
    expect(existsSync(checkpoint)).toBe(true);
    const saved = JSON.parse(readFileSync(checkpoint, 'utf8')) as { segments: { done: boolean }[] };
    expect(saved.segments).toHaveLength(2);

    // --segments on the second run is ignored: the checkpoint's count goes on.
    const second = await scrub(['--checkpoint', checkpoint, '--segments', '5', '--page-size', '7']);
    expect(second.code).toBe(0);
    const total = report(second);
    expect(total).toMatchObject({
      complete: true,
      resumed: true,
      segments: { total: 2, done: 2 },
      conflicts: 0,
    });
    // Every row counted once over both runs: the checkpoint holds the first run's counts and position.
    expect(total.rowsScanned).toBe(rawRows.length);
    expect(total.pages).toBeGreaterThan(2);
    expect(existsSync(checkpoint)).toBe(false);

    const rows = await scanAll(client, settings.captureTable);
    expect(rows).toHaveLength(rawRows.length);
    const values = [
      ...new Set([...Object.values(DISTINCT), ...ANSWERS.flatMap((a) => personalValuesOf(a.state))]),
    ];
    expect(leaksIn(rows as StoredRow[], values)).toEqual([]);
    // The strong oracle: the rows the poller would have stored under the default policy, stamps as they were.
    const policy = createPrivacyPolicy({ hashKey: { bytes: KEY, version: 3 } });
    const expected = [
      ...ANSWERS.flatMap((answer) => rowsUnder(policy, answer)).map((row) => ({
        ...row,
        capturedAtMs: CAPTURED_AT,
      })),
      outcomeRow(),
    ];
    expect(byKey(rows)).toEqual(byKey(expected));
    // Exactly the rows the policy changes were written (rows of no personal value were left alone).
    const raw = byKey(rawRows);
    const differing = expected.filter((row) => sortedJson(row) !== sortedJson(raw.get(keyOf(row)) ?? {}));
    expect(total.rowsChanged).toBe(differing.length);
    expect(differing.length).toBeLessThan(rawRows.length);
  });

  it('a second run changes nothing', async () => {
    const before = await scanAll(client, settings.captureTable);
    const result = await scrub(['--segments', '2']);
    expect(result.code).toBe(0);
    expect(report(result)).toMatchObject({
      complete: true,
      rowsScanned: rawRows.length,
      rowsChanged: 0,
      valuesTreated: {},
    });
    expect(byKey(await scanAll(client, settings.captureTable))).toEqual(byKey(before));
  });

  it('never overwrites a row a poll rewrote meanwhile, nor brings back a deleted one', async () => {
    const table = new DynamoScrubTable(client, settings.captureTable);
    const row: StoredRow = {
      pk: `S#${ACCOUNT}#race`,
      sk: 'SESSION#a',
      rowType: 'session',
      ip: '198.51.100.7',
      capturedAtMs: 1,
    };
    await client.send(new PutCommand({ TableName: settings.captureTable, Item: row }));
    const scrubbed = { ...row, ip: '198.51.100.0/24' };
    // A poll writes the row again (a later stamp) between the scan and the write.
    await client.send(
      new PutCommand({
        TableName: settings.captureTable,
        Item: { ...scrubbed, capturedAtMs: 2, pageCount: 3 },
      }),
    );
    expect(await table.replaceRow(row, scrubbed)).toBe('conflict');
    expect((await scanAll(client, settings.captureTable)).find((r) => r.pk === row.pk)).toMatchObject({
      capturedAtMs: 2,
      pageCount: 3,
    });
    // An erasure deletes it.
    await client.send(
      new DeleteCommand({ TableName: settings.captureTable, Key: { pk: row.pk, sk: row.sk } }),
    );
    expect(await table.replaceRow({ ...row, capturedAtMs: 2 }, scrubbed)).toBe('conflict');
    expect((await scanAll(client, settings.captureTable)).find((r) => r.pk === row.pk)).toBeUndefined();
    // A row without a stamp is written only while it still has none.
    const unstamped: StoredRow = {
      pk: row.pk as string,
      sk: row.sk as string,
      rowType: 'session',
      ip: '198.51.100.7',
    };
    await client.send(new PutCommand({ TableName: settings.captureTable, Item: unstamped }));
    expect(await table.replaceRow(unstamped, { ...unstamped, ip: '198.51.100.0/24' })).toBe('written');
    expect((await scanAll(client, settings.captureTable)).find((r) => r.pk === row.pk)).toMatchObject({
      ip: '198.51.100.0/24',
    });
    await client.send(
      new DeleteCommand({ TableName: settings.captureTable, Key: { pk: row.pk, sk: row.sk } }),
    );
  });

  it('refuses a checkpoint of the other mode (exit 2)', async () => {
    const checkpoint = join(dir, 'dry.checkpoint.json');
    const dry = await scrub([
      '--dry-run',
      '--checkpoint',
      checkpoint,
      '--page-size',
      '5',
      '--max-pages',
      '1',
    ]);
    expect(dry.code).toBe(0);
    const real = await scrub(['--checkpoint', checkpoint]);
    expect(real.code).toBe(2);
    expect(real.stderr).toMatch(/--dry-run/);
  });
});
