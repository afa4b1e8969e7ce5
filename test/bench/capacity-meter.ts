/**
 * The capacity meter of figure 7 (issue 16): an SDK middleware, installed on a bench's DynamoDB client only
 * (never in lib/), that adds `ReturnConsumedCapacity: "INDEXES"` to every request and adds up the capacity units
 * DynamoDB answers, by step, table and index.
 *
 * Amazon's DynamoDB Local answers these units the way DynamoDB bills them (table and every index written, an
 * index key change counted as a delete plus a put); dynalite answers table units only, so the figure runs on
 * DynamoDB Local.
 *
 * A request's step is read from what it sends (command, table, expressions, the rows' types), not from where
 * our code sends it, so the meter needs no hook in lib/:
 *
 *   enqueue   queue PutItem whose condition is `attribute_not_exists(pk)` (DynamoQueue.enqueue), and the GetItem
 *             that follows a refused put (the tombstone check)
 *   claim     queue UpdateItem that sets `leaseOwner` (DynamoQueue.claim), every Query on the queue's due
 *             index (how a tick finds the items it claims), and the GetItem of an item's side item (its stored
 *             rows' digests, `#capture:state`)
 *   ack       queue UpdateItem whose condition is `leaseOwner = :owner` (DynamoQueue.ack), the release that
 *             hands an item back (`REMOVE leaseOwner, leaseUntilMs`): both close a claim; and the write of an
 *             item's side item that goes with an ack
 *   rows      capture PutItem or BatchWriteItem of capture rows other than the outcome row, and capture
 *             UpdateItem (the deferred lagging columns a session's end writes into its rows)
 *   outcome   capture PutItem or BatchWriteItem of outcome rows only (rowType `outcome`, sk `OUTCOME`)
 *   other     the rest: the tick summary (queue PutItem/GetItem of `TICK#<account>`, once per tick whatever the
 *             traffic), scans, capture reads; the dollar model spreads it per tick, not per session
 *
 * A write whose condition fails is billed by DynamoDB too, but its error carries no ConsumedCapacity: the
 * meter counts such refusals per step (expected 0 with one poller) instead of guessing their units.
 */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { OUTCOME_ROW_TYPE } from '../../lib/capture/rows';

export const STEPS = ['enqueue', 'claim', 'ack', 'rows', 'outcome', 'other'] as const;
export type Step = (typeof STEPS)[number];

export interface MeterTables {
  queueTable: string;
  captureTable: string;
  /** The queue's due index (sort key nextPollAtMs): its queries are the claim step's reads. */
  dueIndex: string;
}

/** Write and read units, as DynamoDB reports them (halves for eventually consistent reads). */
export interface Units {
  write: number;
  read: number;
}

/** Where units were spent: `table` is `queue` or `capture`; `index` is an index name, or `table` for the base table. */
export interface UnitsKey {
  step: Step;
  table: string;
  index: string;
}

export interface MeterReading {
  /** `step|table|index` → units. */
  units: Record<string, Units>;
  /** Requests sent, by step (SDK retries included: each is a request DynamoDB bills). */
  requests: Record<Step, number>;
  /** Conditional writes refused, by step (billed, but reported without units: see the header). */
  conditionalFailures: Record<Step, number>;
  /** Capture items put, by step (each a stream record, when it changed the item: the analytics feed's volume). */
  captureItemsPut: Record<Step, number>;
}

export function unitsKey(key: UnitsKey): string {
  return `${key.step}|${key.table}|${key.index}`;
}

export function parseUnitsKey(text: string): UnitsKey {
  const [step, table, index] = text.split('|');
  if (!(STEPS as readonly string[]).includes(step ?? '') || table === undefined || index === undefined)
    throw new Error(`not a units key: ${text}`);
  return { step: step as Step, table, index };
}

function zeroBySteps(): Record<Step, number> {
  return Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<Step, number>;
}

export function emptyReading(): MeterReading {
  return {
    units: {},
    requests: zeroBySteps(),
    conditionalFailures: zeroBySteps(),
    captureItemsPut: zeroBySteps(),
  };
}

const WRITE_COMMANDS = new Set([
  'PutItemCommand',
  'UpdateItemCommand',
  'DeleteItemCommand',
  'BatchWriteItemCommand',
  'TransactWriteItemsCommand',
]);

/** A string attribute as sent at the serialize step: marshalled (`{ S: ... }`) by then, whichever client built it. */
function stringOf(value: unknown): string | undefined {
  if (typeof value === 'object' && value !== null && 'S' in value) return String((value as { S: unknown }).S);
  return typeof value === 'string' ? value : undefined;
}

type Input = Record<string, unknown>;

/** The step of one request (see the header), from its command name and its marshalled input. */
export function classify(command: string, input: Input, tables: MeterTables): Step {
  const table = typeof input.TableName === 'string' ? input.TableName : undefined;
  const condition = typeof input.ConditionExpression === 'string' ? input.ConditionExpression : '';
  const update = typeof input.UpdateExpression === 'string' ? input.UpdateExpression : '';
  const key = (input.Key ?? input.Item) as Input | undefined;
  const pk = key === undefined ? undefined : stringOf(key.pk);
  const isTick = pk?.startsWith('TICK#') === true;
  // A queue item's side item (lib/keys.ts queueCaptureStateKey): written with an ack that changed the stored
  // rows' digests or the bad body, read before an answer's rows are stored.
  const isCaptureState = pk?.endsWith('#capture:state') === true;

  if (command === 'BatchWriteItemCommand') {
    const requestItems = (input.RequestItems ?? {}) as Record<
      string,
      Array<{ PutRequest?: { Item: Input } }>
    >;
    const names = Object.keys(requestItems);
    if (names.length === 1 && names[0] === tables.captureTable) {
      const types = (requestItems[tables.captureTable] ?? []).map((r) =>
        stringOf(r.PutRequest?.Item.rowType),
      );
      return types.length > 0 && types.every((t) => t === OUTCOME_ROW_TYPE) ? 'outcome' : 'rows';
    }
    return 'other';
  }
  if (table === tables.captureTable) {
    if (command === 'PutItemCommand') {
      return stringOf((input.Item as Input | undefined)?.rowType) === OUTCOME_ROW_TYPE ? 'outcome' : 'rows';
    }
    // The poller's only capture update: deferred lagging columns written into their rows as a session ends
    // (lib/poller/rewrite-rule.ts), part of storing its rows.
    if (command === 'UpdateItemCommand') return 'rows';
    return 'other';
  }
  if (table !== tables.queueTable || isTick) return 'other';
  if (isCaptureState) {
    if (command === 'GetItemCommand') return 'claim';
    if (command === 'UpdateItemCommand' || command === 'PutItemCommand') return 'ack';
  }
  switch (command) {
    case 'PutItemCommand':
      return condition === 'attribute_not_exists(pk)' ? 'enqueue' : 'other';
    case 'GetItemCommand':
      // Only DynamoQueue.enqueue reads a queue item by key (after a refused put: a tombstone or a duplicate).
      return 'enqueue';
    case 'UpdateItemCommand':
      if (update.startsWith('SET leaseOwner = :owner')) return 'claim';
      if (condition.startsWith('leaseOwner = :owner')) return 'ack';
      return 'other';
    case 'QueryCommand':
      return input.IndexName === tables.dueIndex ? 'claim' : 'other';
    default:
      return 'other';
  }
}

function tableLabel(name: string | undefined, tables: MeterTables): string {
  if (name === tables.queueTable) return 'queue';
  if (name === tables.captureTable) return 'capture';
  return name ?? 'unknown';
}

/**
 * Adds one answer's ConsumedCapacity to `reading`. Units come per table and per index; a write command's units
 * are write units and a read command's read units (DynamoDB Local fills CapacityUnits, and sometimes the
 * Read/Write split: the command decides, which is what DynamoDB bills).
 */
export function addConsumed(
  reading: MeterReading,
  step: Step,
  command: string,
  consumed: readonly ConsumedCapacity[],
  tables: MeterTables,
): void {
  const isWrite = WRITE_COMMANDS.has(command);
  const add = (table: string, index: string, units: number | undefined): void => {
    if (units === undefined || units === 0) return;
    const k = unitsKey({ step, table, index });
    const entry = (reading.units[k] ??= { write: 0, read: 0 });
    if (isWrite) entry.write += units;
    else entry.read += units;
  };
  for (const c of consumed) {
    const table = tableLabel(c.TableName, tables);
    const indexes = c.GlobalSecondaryIndexes ?? {};
    const local = c.LocalSecondaryIndexes ?? {};
    if (c.Table === undefined && Object.keys(indexes).length === 0 && Object.keys(local).length === 0) {
      // No breakdown: all of it is the table's.
      add(table, 'table', c.CapacityUnits);
      continue;
    }
    add(table, 'table', c.Table?.CapacityUnits);
    // The due index is labelled `due` whatever its name (`dueV2` since issue 16's projection), so that a
    // measurement lines up with the baseline's.
    for (const [name, capacity] of [...Object.entries(indexes), ...Object.entries(local)])
      add(table, name === tables.dueIndex ? 'due' : name, capacity.CapacityUnits);
  }
}

/** Capture items a request puts (BatchWriteItem's put requests, or one PutItem), as sent. */
export function captureItemsPut(command: string, input: Input, tables: MeterTables): number {
  if (command === 'BatchWriteItemCommand') {
    const requests = ((input.RequestItems ?? {}) as Record<string, Array<{ PutRequest?: unknown }>>)[
      tables.captureTable
    ];
    return (requests ?? []).filter((r) => r.PutRequest !== undefined).length;
  }
  return command === 'PutItemCommand' && input.TableName === tables.captureTable ? 1 : 0;
}

function isConditionFailure(error: unknown): boolean {
  const name = (error as { name?: string } | undefined)?.name;
  return name === 'ConditionalCheckFailedException' || name === 'TransactionCanceledException';
}

export interface CapacityMeter {
  /** What was metered since the last reset (a copy). */
  reading(): MeterReading;
  reset(): void;
  /** Requests sent while paused are sent as they are, unmetered (the bench's own reads after a run). */
  pause(): void;
  resume(): void;
}

/**
 * Installs the meter on `client` (every command sent through it: DocumentClient commands and low-level ones
 * alike). At the serialize step, before the serializer, so the input is marshalled and the parameter reaches
 * the wire; once per attempt, so SDK retries are metered as DynamoDB bills them.
 */
export function installCapacityMeter(client: DynamoDBDocumentClient, tables: MeterTables): CapacityMeter {
  let reading = emptyReading();
  let paused = false;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (paused) return next(args);
      const command = context.commandName ?? 'unknown';
      const input = args.input as Input;
      const step = classify(command, input, tables);
      reading.requests[step]++;
      let output: Awaited<ReturnType<typeof next>>;
      try {
        output = await next({ ...args, input: { ...input, ReturnConsumedCapacity: 'INDEXES' } });
      } catch (error) {
        if (isConditionFailure(error)) reading.conditionalFailures[step]++;
        throw error;
      }
      const answer = output.output as {
        ConsumedCapacity?: ConsumedCapacity | ConsumedCapacity[];
        UnprocessedItems?: Record<string, unknown[]>;
      };
      // Items DynamoDB left unprocessed are sent again (and counted then), not put by this request.
      const unprocessed = answer.UnprocessedItems?.[tables.captureTable]?.length ?? 0;
      reading.captureItemsPut[step] += captureItemsPut(command, input, tables) - unprocessed;
      const consumed = answer.ConsumedCapacity;
      if (consumed === undefined)
        throw new Error(`${command} answered without ConsumedCapacity: the meter would miss its units`);
      addConsumed(reading, step, command, Array.isArray(consumed) ? consumed : [consumed], tables);
      return output;
    },
    { step: 'serialize', priority: 'high', name: 'benchCapacityMeter' },
  );
  return {
    reading: () => structuredClone(reading),
    reset: () => {
      reading = emptyReading();
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
    },
  };
}
