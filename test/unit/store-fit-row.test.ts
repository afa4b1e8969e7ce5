import { BOOKKEEPING_COLUMNS } from '../../lib/capture/naming';
import { CAPTURE_KEY_ATTRIBUTES } from '../../lib/keys';
import type { StoredRow } from '../../lib/store/capture-store';
import {
  captureItem,
  fitRow,
  itemByteSize,
  MAX_ITEM_BYTES,
  MAX_MARKER_BYTES,
  NUMBERS_AS_TEXT_COLUMN,
  OVERFLOW_COLUMN,
  OVERFLOW_MARKER_COLUMN,
  TRUNCATION_MARKER,
} from '../../lib/store/dynamo-capture-store';

const NEVER_MOVED = new Set([...CAPTURE_KEY_ATTRIBUTES, ...BOOKKEEPING_COLUMNS, 'capturedAtMs', 'endedAtMs']);

function row(extra: StoredRow = {}): StoredRow {
  return {
    pk: 'S#acct#sid1',
    sk: 'EVENT#x#0001',
    gsi2pk: 'E#acct#x#2026-11-25#3',
    gsi2sk: '1764028800000#sid1#EVENT#x#0001',
    rowType: 'event',
    accountId: 'acct',
    visitorId: 'v',
    sid: 'sid1',
    eventType: 'x',
    capturedAtMs: 1764028800000,
    ...extra,
  };
}

interface Marker {
  cut: number;
  cutColumns: string[];
  limitBytes: number;
  moved: number;
  pass: number;
  rowBytes: number;
}

function marker(fitted: StoredRow): Marker {
  return JSON.parse(fitted[OVERFLOW_MARKER_COLUMN] as string) as Marker;
}

/**
 * What a fitted row promises: within the limit; our columns untouched; every payload column either kept as
 * it was, whole in overflowJson, or counted as cut (at most one of them, a string, partly in overflowJson).
 */
function expectHonestFit(original: StoredRow, fitted: StoredRow, limitBytes: number): void {
  expect(itemByteSize(fitted)).toBeLessThanOrEqual(limitBytes);
  const overflow = JSON.parse(fitted[OVERFLOW_COLUMN] as string) as StoredRow;
  const m = marker(fitted);
  expect(m.limitBytes).toBe(limitBytes);
  expect(m.rowBytes).toBe(itemByteSize(original));
  const moved = new Set(
    Object.keys(original).filter(
      (name) => !(name in fitted) || name === OVERFLOW_COLUMN || name === OVERFLOW_MARKER_COLUMN,
    ),
  );
  expect(m.moved).toBe(moved.size);
  let whole = 0;
  let partial = 0;
  for (const name of Object.keys(original)) {
    if (NEVER_MOVED.has(name)) expect(fitted[name]).toBe(original[name]);
    if (!moved.has(name)) {
      expect(fitted[name]).toBe(original[name]);
      continue;
    }
    if (!(name in overflow)) continue;
    if (overflow[name] === original[name]) whole++;
    else {
      partial++;
      expect(String(overflow[name]).endsWith(TRUNCATION_MARKER)).toBe(true);
      expect(
        String(original[name]).startsWith(String(overflow[name]).slice(0, -TRUNCATION_MARKER.length)),
      ).toBe(true);
    }
  }
  expect(partial).toBeLessThanOrEqual(1);
  expect(m.cut).toBe(moved.size - whole);
  expect(m.cutColumns.length).toBeLessThanOrEqual(m.cut);
  expect(m.cutColumns.every((name) => moved.has(name))).toBe(true);
  expect(Buffer.byteLength(fitted[OVERFLOW_MARKER_COLUMN] as string)).toBeLessThanOrEqual(MAX_MARKER_BYTES);
}

/**
 * DynamoDB's size of an item of scalars as dynalite computes it (node_modules/dynalite/db/index.js, itemSize),
 * which DynamoDB Local matches: names and strings in UTF-8; a number 1 + ⌈digits/2⌉, + 1 when its digits
 * straddle the decimal point unevenly, + 1 if negative; a boolean or null 1.
 */
function dynamoItemBytes(item: ReturnType<typeof captureItem>): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) {
    size += Buffer.byteLength(name);
    if (value.S !== undefined) size += Buffer.byteLength(value.S);
    else if (value.N !== undefined) {
      const [mantissa, exponent] = Number(value.N).toExponential().split('e') as [string, string];
      const digits = mantissa.replace(/[-.]/g, '').replace(/0+$/, '');
      const e = Number(exponent);
      size +=
        digits === '' || digits === '0'
          ? 1
          : 1 +
            Math.ceil(digits.length / 2) +
            (digits.length % 2 || Math.abs(e) % 2 ? 0 : 1) +
            (value.N.startsWith('-') ? 1 : 0);
    } else size += 1;
  }
  return size;
}

/** 30,000 numeric columns (an event body with tens of thousands of numeric keys): about 560 KB. */
function numericColumns(count: number): StoredRow {
  const columns: StoredRow = {};
  for (let i = 0; i < count; i++) {
    const name = `metric_${String(i).padStart(5, '0')}`;
    columns[name] = i % 3 === 0 ? -(123456.789 + i) : i % 3 === 1 ? i * 1000 + 7 : 0.5 + i;
  }
  return columns;
}

describe('fitRow: the overflow rule', () => {
  it('leaves a row within the limit untouched (the very same object)', () => {
    const small = row({ note: 'short', n: 1 });
    expect(fitRow(small, NEVER_MOVED)).toEqual({ row: small, fitted: false });
    expect(fitRow(small, NEVER_MOVED).row).toBe(small);
    // The cheap bound says 4,500+ bytes, the exact estimate about 1,700: measured, and left as it is.
    const ascii = row({ a: 'y'.repeat(1500) });
    expect(fitRow(ascii, NEVER_MOVED, 2000).row).toBe(ascii);
  });

  it.each([
    ['one huge string', { payload: 'é'.repeat(300_000), other: 'x'.repeat(100_000) }, MAX_ITEM_BYTES],
    ['two equal strings', { a: 'x'.repeat(300_000), b: 'y'.repeat(300_000) }, MAX_ITEM_BYTES],
    ['30,000 numeric columns', numericColumns(30_000), MAX_ITEM_BYTES],
    ['numbers DynamoDB cannot hold', { ...numericColumns(20_000), huge: 1e300, minute: -1e-200 }, 150_000],
    ['emoji cut inside a pair', { e: '😀'.repeat(5000) }, 8000],
    ['strings needing JSON escapes', { q: '"\\\n'.repeat(50_000) }, 60_000],
    ['a small limit', { a: '€'.repeat(700) }, 2000],
  ])('fits %s within the limit, honestly marked', (_label, payload, limitBytes) => {
    const original = row(payload as StoredRow);
    expect(itemByteSize(original)).toBeGreaterThan(limitBytes);
    const { row: fitted, fitted: changed } = fitRow(original, NEVER_MOVED, limitBytes);
    expect(changed).toBe(true);
    expectHonestFit(original, fitted, limitBytes);
    expect(marker(fitted).pass).toBe(1);
  });

  it('moves the largest payload columns first and keeps the rest as columns', () => {
    const original = row({ payload: 'é'.repeat(300_000), other: 'x'.repeat(100_000), small: 1 });
    const { row: fitted } = fitRow(original, NEVER_MOVED);
    expect(fitted.payload).toBeUndefined();
    expect(fitted.other).toBe(original.other);
    expect(fitted.small).toBe(1);
    const overflow = JSON.parse(fitted[OVERFLOW_COLUMN] as string) as StoredRow;
    expect(String(overflow.payload).endsWith(TRUNCATION_MARKER)).toBe(true);
    expect(marker(fitted)).toMatchObject({ moved: 1, cut: 1, cutColumns: ['payload'], pass: 1 });
  });

  it('never moves key, index, bookkeeping or partition columns, however large', () => {
    const original = row({
      eventType: 'T'.repeat(200_000),
      pageId: 'P'.repeat(300_000),
      a: 'a'.repeat(50_000),
    });
    const { row: fitted } = fitRow(original, NEVER_MOVED);
    for (const name of Object.keys(row())) expect(fitted[name]).toBe(original[name]);
    expect(fitted.pageId).toBe(original.pageId);
    expect(fitted.a).toBeUndefined();
  });

  it('moves a payload column whose name DynamoDB refuses (empty, or past 255 bytes), even in a small row', () => {
    const original = row({ '': 'empty name', ['n'.repeat(256)]: 2, ['é'.repeat(128)]: 3, fine: 4 });
    const { row: fitted, fitted: changed } = fitRow(original, NEVER_MOVED);
    expect(changed).toBe(true);
    expect(Object.keys(fitted).filter((name) => name.length === 0 || Buffer.byteLength(name) > 255)).toEqual(
      [],
    );
    expect(fitted.fine).toBe(4);
    expect(JSON.parse(fitted[OVERFLOW_COLUMN] as string)).toEqual({
      '': 'empty name',
      ['n'.repeat(256)]: 2,
      ['é'.repeat(128)]: 3,
    });
    expect(marker(fitted)).toMatchObject({ moved: 3, cut: 0, cutColumns: [] });
    // 255 bytes exactly is a valid name.
    const edge = row({ ['n'.repeat(255)]: 1 });
    expect(fitRow(edge, NEVER_MOVED).row).toBe(edge);
  });

  it('moves a payload column holding one of our names, so the marker is always ours', () => {
    const original = row({
      [OVERFLOW_COLUMN]: 'from the answer',
      [OVERFLOW_MARKER_COLUMN]: 7,
      big: 'b'.repeat(5000),
    });
    expect(fitRow(original, NEVER_MOVED).row).toBe(original); // not fitted: plain payload columns
    const { row: fitted } = fitRow(original, NEVER_MOVED, 4000);
    const overflow = JSON.parse(fitted[OVERFLOW_COLUMN] as string) as StoredRow;
    expect(overflow[OVERFLOW_COLUMN]).toBe('from the answer');
    expect(overflow[OVERFLOW_MARKER_COLUMN]).toBe(7);
    expectHonestFit(original, fitted, 4000);
  });

  it('lists cut names only as far as MAX_MARKER_BYTES allows, and counts them all', () => {
    const original = row(numericColumns(30_000));
    const { row: fitted } = fitRow(original, NEVER_MOVED, 100_000);
    const m = marker(fitted);
    expect(m.cut).toBeGreaterThan(m.cutColumns.length);
    expect(m.cutColumns).toEqual([...m.cutColumns].sort());
    expectHonestFit(original, fitted, 100_000);
  });

  it("never counts less than DynamoDB does (dynalite's formula, which DynamoDB Local matches) for the item captureItem makes", () => {
    const rows = [
      row(numericColumns(3000)),
      row({
        ...numericColumns(1000),
        huge: 1e300,
        tiny: -1e-300,
        big: 2 ** 60,
        neg: -0.5,
        z: 0,
        t: true,
        n: null,
      }),
      row({ s: 'é€😀', a: 12.5, b: 0.5, c: 7, d: -1234567.891, e: 1e125, f: 1e-130 }),
    ];
    for (const r of rows) expect(itemByteSize(r)).toBeGreaterThanOrEqual(dynamoItemBytes(captureItem(r)));
    // Out-of-range numbers are stored as text and listed: the estimate includes both.
    const asText = row({ huge: 1e300 });
    expect(captureItem(asText)[NUMBERS_AS_TEXT_COLUMN]).toEqual({ S: 'huge' });
    expect(itemByteSize(asText)).toBe(dynamoItemBytes(captureItem(asText)) + 1);
  });

  it('is the stricter second pass at half the limit, marked pass 2', () => {
    const original = row(numericColumns(30_000));
    const { row: fitted } = fitRow(original, NEVER_MOVED, Math.floor(MAX_ITEM_BYTES / 2), 2);
    expect(marker(fitted).pass).toBe(2);
    expectHonestFit(original, fitted, Math.floor(MAX_ITEM_BYTES / 2));
  });
});
