import { readFileSync } from 'node:fs';
import { flattenVisitState } from '../../lib/capture/flatten';
import {
  buildDictionary,
  defaultSamples,
  payloadFacts,
  type DataDictionary,
} from '../../lib/query/dictionary';
import { classifyColumn } from '../../lib/query/pii';
import type { VisitState } from '../../lib/liveperson/types';
import { generatedFiles, REPO_ROOT } from '../../lib/query/generate-docs';

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
    ['personalInfo_name', 'session', undefined, undefined, 'name'],
    ['personalInfo_surname', 'session', undefined, undefined, 'name'],
    ['name', 'event', 'personalInfo', undefined, 'name'],
    ['surname', 'event', 'personalInfo', undefined, 'name'],
    ['email', 'eventItem', 'personalInfo', 'contacts', 'contact'],
    ['phone', 'eventItem', 'personalInfo', 'contacts', 'contact'],
    ['personalInfo_contacts', 'session', undefined, undefined, 'contact'],
    ['ipv4', 'session', undefined, undefined, 'network'],
    ['lpv4', 'session', undefined, undefined, 'network'],
    ['customerId', 'event', 'customerInfo', undefined, 'identifier'],
    ['userName', 'event', 'customerInfo', undefined, 'identifier'],
    ['socialId', 'event', 'customerInfo', undefined, 'identifier'],
    ['imei', 'event', 'customerInfo', undefined, 'identifier'],
    ['customerInfo_customerId', 'session', undefined, undefined, 'identifier'],
  ])('marks %s of %s rows (%s %s) as %s', (name, rowType, eventType, childPath, category) => {
    const c = column(name, rowType, eventType, childPath);
    expect(c?.pii?.category).toBe(category);
    expect(c?.example).toBeUndefined();
  });

  it('marks our identifying columns and leaves product data alone', () => {
    const fixed = (name: string) => dictionary.fixed.find((c) => c.name === name);
    expect(fixed('visitorId')?.pii?.category).toBe('identifier');
    expect(fixed('sid')?.pii?.category).toBe('identifier');
    expect(fixed('ip')?.pii?.category).toBe('network');
    expect(fixed('eventType')?.pii).toBeUndefined();
    expect(column('product_name', 'eventItem', 'purchase', 'cart_products')?.pii).toBeUndefined();
    expect(column('orderId', 'event', 'purchase')?.pii).toBeUndefined();
    expect(
      classifyColumn({ name: 'x', sourcePath: ['personalInfo', 'personalInfo', 'name'] })?.category,
    ).toBe('name');
  });

  it('shows ids used as keys as one <id> pattern', () => {
    expect(column('revActiveVPs_<id>_revision', 'session')?.source).toBe(
      'appSessions[].revActiveVPs.<id>.revision',
    );
    expect(section('session')?.columns.some((c) => /_\d+_/.test(c.name))).toBe(false);
  });

  it("explains every payload column of the flattener's rows by a source path", () => {
    const state = JSON.parse(
      readFileSync(`${REPO_ROOT}/test/fixtures/example-state.json`, 'utf8'),
    ) as VisitState;
    const facts = payloadFacts(state);
    const rows = flattenVisitState({ accountId: '1', visitorId: 'v', sid: 's', state }).rows;
    const purchase = rows.find((r) => r.rowType === 'event' && r.eventType === 'purchase');
    const names = facts
      .filter((f) => f.group.eventType === 'purchase' && f.group.rowType === 'event')
      .map((f) => f.column.name);
    for (const name of names) expect(purchase && name in purchase).toBe(true);
    expect(facts.find((f) => f.column.name === 'orderId')?.sourcePath).toEqual([
      'appSessions[]',
      'events[]',
      'purchase',
      'orderId',
    ]);
  });
});
