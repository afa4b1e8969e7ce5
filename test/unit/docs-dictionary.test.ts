import { readFileSync } from 'node:fs';
import { flattenVisitState, newFlattenPlans } from '../../lib/capture/flatten';
import { classifyPath } from '../../lib/privacy/categories';
import type { VisitState } from '../../lib/liveperson/types';
import { buildDictionary, type DataDictionary } from '../../tools/docs/dictionary';
import { generatedFiles, REPO_ROOT } from '../../tools/docs/generate';
import { payloadFacts } from '../../tools/docs/payload-facts';
import { FIXED_COLUMN_DOCS } from '../../tools/docs/fixed-columns';
import { buildAnalyticsSchema } from '../../tools/docs/analytics-schema';
import { defaultSamples } from '../../tools/docs/samples';
import { documentationPolicy } from '../../tools/docs/documentation-key';

describe('generated files (docs/data-dictionary.md, lib/query/analytics-schema.json)', () => {
  it('are exactly what `npm run docs` generates from the code (run it after changing columns)', async () => {
    const files = await generatedFiles();
    expect(files.size).toBe(2);
    for (const [path, text] of files)
      expect({ path, text: readFileSync(path, 'utf8') }).toEqual({ path, text });
  });
});

describe('the dictionary model', () => {
  let dictionary: DataDictionary;
  beforeAll(async () => {
    dictionary = await buildDictionary(defaultSamples(REPO_ROOT));
  });

  const section = (rowType: string, eventType?: string, childPath?: string) =>
    dictionary.sections.find(
      (s) =>
        s.group.rowType === rowType && s.group.eventType === eventType && s.group.childPath === childPath,
    );
  const column = (name: string, rowType: string, eventType?: string, childPath?: string) =>
    section(rowType, eventType, childPath)?.columns.find((c) => c.name === name);

  it('covers every row type and every event type of the samples', () => {
    expect(new Set(dictionary.sections.map((s) => s.group.rowType))).toEqual(
      new Set(['session', 'page', 'engagement', 'event', 'eventItem']),
    );
    expect(dictionary.fixed.find((c) => c.name === 'finalState')?.rowTypes).toEqual(['outcome']);
    expect(dictionary.fixed.find((c) => c.name === 'capturedAtMs')?.rowTypes).not.toContain('outcome');
    const eventTypes = dictionary.sections
      .filter((s) => s.group.rowType === 'event')
      .map((s) => s.group.eventType);
    expect(eventTypes).toEqual(
      expect.arrayContaining([
        'purchase',
        'cartStatus',
        'lead',
        'personalInfo',
        'customerInfo',
        'searchInfo',
        'loyaltyStatus',
      ]),
    );
  });

  it.each([
    ['personalInfo_name', 'session', undefined, undefined, 'name', 'hash'],
    ['personalInfo_surname', 'session', undefined, undefined, 'name', 'hash'],
    ['name', 'event', 'personalInfo', undefined, 'name', 'hash'],
    ['surname', 'event', 'personalInfo', undefined, 'name', 'hash'],
    ['email', 'eventItem', 'personalInfo', 'contacts', 'contact', 'hash'],
    ['phone', 'eventItem', 'personalInfo', 'contacts', 'contact', 'hash'],
    ['personalInfo_contacts', 'session', undefined, undefined, 'contact', 'hash'],
    ['ipv4', 'session', undefined, undefined, 'network', 'truncate'],
    ['lpv4', 'session', undefined, undefined, 'network', 'truncate'],
    ['customerId', 'event', 'customerInfo', undefined, 'customer-id', 'hash'],
    ['userName', 'event', 'customerInfo', undefined, 'customer-id', 'hash'],
    ['socialId', 'event', 'customerInfo', undefined, 'customer-id', 'hash'],
    ['imei', 'event', 'customerInfo', undefined, 'customer-id', 'hash'],
    ['customerInfo_customerId', 'session', undefined, undefined, 'customer-id', 'hash'],
    ['customerAge_customerDateOfBirth', 'event', 'personalInfo', undefined, 'birth-day', 'drop'],
    ['customerAge_customerMonthOfBirth', 'event', 'personalInfo', undefined, 'birth-day', 'drop'],
    ['customerAge_customerYearOfBirth', 'event', 'personalInfo', undefined, 'personal', 'keep'],
    ['gender', 'event', 'personalInfo', undefined, 'personal', 'keep'],
    ['geo_city', 'session', undefined, undefined, 'location', 'keep'],
    ['pageBasic_url', 'page', undefined, undefined, 'free-text', 'keep'],
  ])('marks %s of %s rows (%s %s) as %s, %s', (name, rowType, eventType, childPath, category, mode) => {
    const c = column(name, rowType, eventType, childPath);
    expect(c?.pii).toMatchObject({ category, mode });
    expect(c?.example).toBeUndefined();
  });

  it('lists the columns the default policy drops, with no type (no row has them)', () => {
    const c = column('personalInfo_customerAge_customerDateOfBirth', 'session');
    expect(c).toMatchObject({ types: [], pii: { category: 'birth-day', mode: 'drop' } });
  });

  it('marks our identifying columns and leaves product data alone', () => {
    const fixed = (name: string) => dictionary.fixed.find((c) => c.name === name);
    expect(fixed('visitorId')?.pii).toMatchObject({ category: 'pseudonymous-id', mode: 'keep' });
    expect(fixed('sid')?.pii).toMatchObject({ category: 'pseudonymous-id', mode: 'keep' });
    expect(fixed('ip')?.pii).toMatchObject({ category: 'network', mode: 'truncate' });
    expect(fixed('eventType')?.pii).toBeUndefined();
    expect(column('product_name', 'eventItem', 'purchase', 'cart_products')?.pii).toBeUndefined();
    expect(column('orderId', 'event', 'purchase')?.pii).toBeUndefined();
    expect(classifyPath(['personalInfo', 'personalInfo', 'name'])).toBe('name');
  });

  it('declares every personal-data column a string in the analytics schema (a hash is text)', () => {
    const schema = buildAnalyticsSchema(dictionary);
    const type = (table: string, name: string) =>
      schema.tables.find((t) => t.name === table)?.columns.find((c) => c.name === name)?.type;
    // Numbers in the answer, strings once hashed (or whatever mode an operator picks).
    expect(type('session', 'customerinfo_customerid')).toBe('string');
    expect(type('event', 'customerage_customeryearofbirth')).toBe('string');
    expect(type('event', 'customerage_customerdateofbirth')).toBe('string');
    expect(type('session', 'ip')).toBe('string');
    // Unclassified numbers stay numbers.
    expect(type('event', 'total')).toBe('double');
  });

  it('names no column after an id: id-keyed maps are one json column (schema version 3)', () => {
    const allDigits = /(^|_)\d+(_|$)/;
    const payload = dictionary.sections.flatMap((s) => s.columns);
    expect(
      [...dictionary.fixed, ...payload].filter((c) => allDigits.test(c.name)).map((c) => c.name),
    ).toEqual([]);
    expect(payload.filter((c) => c.name.includes('<id>') || c.source?.includes('<id>'))).toEqual([]);
    const schema = buildAnalyticsSchema(dictionary);
    const schemaColumns = schema.tables.flatMap((t) => t.columns.map((c) => `${t.name}.${c.name}`));
    expect(schemaColumns.filter((c) => allDigits.test(c.split('.')[1] as string))).toEqual([]);
    for (const [name, rowType] of [
      ['revActiveVPs', 'session'],
      ['revAllVBs', 'session'],
      ['revActiveOSLs', 'page'],
      ['campaignEntity_activeVPs', 'engagement'],
      ['engagementEntity_activeVBs', 'engagement'],
    ] as const) {
      const c = column(name, rowType);
      expect({ name, types: c?.types, idKeyedMap: c?.idKeyedMap }).toEqual({
        name,
        types: ['json'],
        idKeyedMap: true,
      });
      expect(schemaColumns).toContain(`${rowType}.${name.toLowerCase()}`);
    }
    expect(column('revActiveVPs', 'session')?.source).toBe('appSessions[].revActiveVPs');
    expect(schema.tables.find((t) => t.name === 'session')?.columns).toContainEqual({
      name: 'revactivevps',
      type: 'string',
      comment: '',
    });
  });

  it("explains every payload column of the flattener's rows by the source path the flattener reports", () => {
    const state = JSON.parse(
      readFileSync(`${REPO_ROOT}/test/fixtures/example-state.json`, 'utf8'),
    ) as VisitState;
    const { facts, flattened } = payloadFacts({ accountId: '1', visitorId: 'v', sid: 's', state });
    // Fresh plans hear every column: each payload column of each row has a fact of its row type.
    const ours = new Set(Object.keys(FIXED_COLUMN_DOCS));
    for (const row of flattened.rows) {
      const known = new Set(
        facts
          .filter(
            (f) =>
              f.rowType === row.rowType &&
              f.eventType ===
                (row.rowType === 'event' || row.rowType === 'eventItem' ? row.eventType : undefined) &&
              f.childPath === (row.rowType === 'eventItem' ? row.childPath : undefined),
          )
          .map((f) => f.name),
      );
      for (const name of Object.keys(row))
        if (!ours.has(name)) expect({ name, known: known.has(name) }).toEqual({ name, known: true });
    }
    expect(facts.find((f) => f.name === 'orderId')?.sourcePath).toEqual([
      'appSessions[]',
      'events[]',
      'purchase',
      'orderId',
    ]);
    expect(facts.find((f) => f.name === 'revActiveVPs')).toMatchObject({
      rowType: 'session',
      sourcePath: ['appSessions[]', 'revActiveVPs'],
      encoding: 'json',
    });
    // The same columns as plans of the same policy give (a plan's columns do not depend on its cache).
    const plain = flattenVisitState(
      { accountId: '1', visitorId: 'v', sid: 's', state },
      newFlattenPlans({ privacy: documentationPolicy() }),
    ).rows;
    expect(flattened.rows).toEqual(plain);
  });
});
