import { readFileSync } from 'node:fs';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import path from 'node:path';
import { flattenVisitState } from '../../lib/capture/flatten';
import type { VisitState } from '../../lib/liveperson/types';
import { Random } from '../../lib/simulator/random';
import { checkScript } from '../../lib/simulator/scripts';
import { faultScript, growingExampleAnswers } from '../bench/capacity';
import {
  addConsumed,
  captureItemsPut,
  classify,
  emptyReading,
  parseUnitsKey,
  unitsKey,
  type Step,
} from '../bench/capacity-meter';
import { itemBytes, valueBytes } from '../bench/item-size';

const TABLES = { queueTable: 'q-table', captureTable: 'c-table', dueIndex: 'due' };

describe('classify: the step of a request, from what it sends', () => {
  it.each<[string, string, Record<string, unknown>, Step]>([
    [
      'enqueue put',
      'PutItemCommand',
      {
        TableName: 'q-table',
        Item: { pk: { S: 'Q#a#v#s' } },
        ConditionExpression: 'attribute_not_exists(pk)',
      },
      'enqueue',
    ],
    [
      'tombstone check after a refused put',
      'GetItemCommand',
      { TableName: 'q-table', Key: { pk: { S: 'Q#a#v#s' } } },
      'enqueue',
    ],
    [
      'claim',
      'UpdateItemCommand',
      {
        TableName: 'q-table',
        Key: { pk: { S: 'Q#a#v#s' } },
        UpdateExpression: 'SET leaseOwner = :owner, leaseUntilMs = :leaseUntil',
        ConditionExpression: '#state = :active',
      },
      'claim',
    ],
    ['due-index query', 'QueryCommand', { TableName: 'q-table', IndexName: 'due' }, 'claim'],
    [
      'ack',
      'UpdateItemCommand',
      {
        TableName: 'q-table',
        Key: { pk: { S: 'Q#a#v#s' } },
        UpdateExpression: 'SET #a0 = :v0 REMOVE leaseOwner',
        ConditionExpression: 'leaseOwner = :owner',
      },
      'ack',
    ],
    [
      'release (hand-back)',
      'UpdateItemCommand',
      {
        TableName: 'q-table',
        Key: { pk: 'Q#a#v#s' },
        UpdateExpression: 'SET nextPollAtMs = prevNextPollAtMs REMOVE leaseOwner',
        ConditionExpression: 'leaseOwner = :owner AND attribute_exists(prevNextPollAtMs)',
      },
      'ack',
    ],
    [
      'row batch',
      'BatchWriteItemCommand',
      {
        RequestItems: {
          'c-table': [
            { PutRequest: { Item: { rowType: { S: 'event' } } } },
            { PutRequest: { Item: { rowType: { S: 'outcome' } } } },
          ],
        },
      },
      'rows',
    ],
    [
      'outcome row alone',
      'BatchWriteItemCommand',
      { RequestItems: { 'c-table': [{ PutRequest: { Item: { rowType: { S: 'outcome' } } } }] } },
      'outcome',
    ],
    [
      'a row written alone',
      'PutItemCommand',
      { TableName: 'c-table', Item: { rowType: { S: 'page' } } },
      'rows',
    ],
    [
      'the outcome written alone',
      'PutItemCommand',
      { TableName: 'c-table', Item: { rowType: { S: 'outcome' } } },
      'outcome',
    ],
    [
      'tick summary',
      'PutItemCommand',
      { TableName: 'q-table', Item: { pk: 'TICK#a', summary: '{}' } },
      'other',
    ],
    ['tick summary read', 'GetItemCommand', { TableName: 'q-table', Key: { pk: 'TICK#a' } }, 'other'],
    ['queue scan', 'ScanCommand', { TableName: 'q-table' }, 'other'],
    ['capture query', 'QueryCommand', { TableName: 'c-table' }, 'other'],
    [
      'deferred columns written as a session ends',
      'UpdateItemCommand',
      {
        TableName: 'c-table',
        Key: { pk: { S: 'S#a#s' }, sk: { S: 'PAGE#x' } },
        UpdateExpression: 'SET #c0 = :v0',
      },
      'rows',
    ],
    ['a table of no one', 'PutItemCommand', { TableName: 'elsewhere', Item: {} }, 'other'],
  ])('%s → %s', (_what, command, input, step) => {
    expect(classify(command, input, TABLES)).toBe(step);
  });
});

describe('addConsumed', () => {
  it('adds table and index units, as write units for a write and read units for a read', () => {
    const reading = emptyReading();
    addConsumed(
      reading,
      'claim',
      'UpdateItemCommand',
      [
        {
          TableName: 'q-table',
          CapacityUnits: 6,
          Table: { CapacityUnits: 2 },
          GlobalSecondaryIndexes: { due: { CapacityUnits: 4 } },
        },
      ],
      TABLES,
    );
    addConsumed(
      reading,
      'claim',
      'QueryCommand',
      [
        {
          TableName: 'q-table',
          CapacityUnits: 0.5,
          Table: { CapacityUnits: 0 },
          GlobalSecondaryIndexes: { due: { CapacityUnits: 0.5 } },
        },
      ],
      TABLES,
    );
    addConsumed(
      reading,
      'rows',
      'BatchWriteItemCommand',
      [{ TableName: 'c-table', CapacityUnits: 3 }],
      TABLES,
    );
    expect(reading.units).toEqual({
      'claim|queue|table': { write: 2, read: 0 },
      'claim|queue|due': { write: 4, read: 0.5 },
      'rows|capture|table': { write: 3, read: 0 },
    });
  });

  it('round-trips its keys', () => {
    expect(parseUnitsKey(unitsKey({ step: 'ack', table: 'queue', index: 'due' }))).toEqual({
      step: 'ack',
      table: 'queue',
      index: 'due',
    });
    expect(() => parseUnitsKey('nope|queue|table')).toThrow(/not a units key/);
  });
});

describe('captureItemsPut', () => {
  it.each([
    [
      'BatchWriteItemCommand',
      { RequestItems: { 'c-table': [{ PutRequest: {} }, { PutRequest: {} }, { DeleteRequest: {} }] } },
      2,
    ],
    ['BatchWriteItemCommand', { RequestItems: { 'q-table': [{ PutRequest: {} }] } }, 0],
    ['PutItemCommand', { TableName: 'c-table' }, 1],
    ['PutItemCommand', { TableName: 'q-table' }, 0],
    ['UpdateItemCommand', { TableName: 'c-table' }, 0],
  ])('%s %j puts %i capture items', (command, input, n) => {
    expect(captureItemsPut(command, input, TABLES)).toBe(n);
  });
});

describe('item sizes (DynamoDB rules)', () => {
  it.each<[AttributeValue, number]>([
    [{ S: 'abc' }, 3],
    [{ S: 'é' }, 2],
    [{ N: '1234567890123' }, 8],
    [{ N: '1000' }, 2],
    [{ BOOL: true }, 1],
    [{ NULL: true }, 1],
    [{ L: [{ S: 'ab' }, { N: '1' }] }, 3 + (1 + 2) + (1 + 2)],
    [{ M: { k: { S: 'v' } } }, 3 + 1 + 1 + 1],
  ])('%j is %i bytes', (value, bytes) => {
    expect(valueBytes(value)).toBe(bytes);
  });

  it('counts attribute names', () => {
    expect(itemBytes({ pk: { S: 'abcd' }, n: { N: '12' } })).toBe(2 + 4 + 1 + 2);
  });
});

describe('faultScript', () => {
  it('is the same script for the same seed, a valid one, and faults at about the sprinkle rate', () => {
    const scripts = (seed: number): unknown[] => {
      const rng = new Random(seed);
      return Array.from({ length: 500 }, () => faultScript(rng));
    };
    const first = scripts(43);
    expect(scripts(43)).toEqual(first);
    const present = first.filter((s) => s !== undefined) as Parameters<typeof checkScript>[0][];
    for (const script of present) expect(() => checkScript(script)).not.toThrow();
    // 500 sessions × 200 requests × 0.55 % ≈ 550 faults.
    const faults = present
      .flat()
      .filter((step) => (typeof step === 'string' ? step !== 'live' : step.kind !== 'live'));
    expect(faults.length).toBeGreaterThan(400);
    expect(faults.length).toBeLessThan(700);
  });
});

describe('growingExampleAnswers', () => {
  const example = JSON.parse(
    readFileSync(path.join(__dirname, '../fixtures/example-state.json'), 'utf8'),
  ) as VisitState;
  const startMs = Date.UTC(2099, 0, 12, 9, 0, 0);
  const answers = growingExampleAnswers(example, startMs);

  it('grows by 2 pages and 3 events an answer, to 24 and 36', () => {
    expect(answers).toHaveLength(12);
    answers.forEach((answer, i) => {
      expect(answer.appSessions[0]?.pages).toHaveLength(2 * (i + 1));
      expect(answer.appSessions[0]?.events).toHaveLength(3 * (i + 1));
    });
  });

  it('gives every event a row of its own, and an answer the rows of the one before plus its news', () => {
    const rows = answers.map(
      (state) => flattenVisitState({ accountId: 'a', visitorId: 'v', sid: String(example.id), state }).rows,
    );
    const events = (k: number): string[] =>
      (rows[k] ?? []).filter((r) => r.rowType === 'event').map((r) => String(r.sk));
    expect(new Set(events(11)).size).toBe(36);
    for (let k = 1; k < 12; k++) expect(events(k)).toEqual(expect.arrayContaining(events(k - 1)));
  });

  it('leaves the example itself alone', () => {
    expect(example.appSessions[0]?.pages).toHaveLength(1);
  });
});
