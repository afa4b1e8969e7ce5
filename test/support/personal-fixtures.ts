/**
 * Answers with distinctive personal values, and a search for those values in stored rows: what the privacy
 * tests (the flattener's, privacy-flatten.test.ts, and `lpv scrub`'s, unit and integration) feed in and look for. Personal values are read at the paths the spec documents,
 * not through lib/privacy, so the search does not share the classification it checks.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Json, JsonObject, VisitState } from '../../lib/liveperson/types';

const exampleText = readFileSync(join(__dirname, '..', 'fixtures', 'example-state.json'), 'utf8');

/** The spec example as published. */
export const example = (): VisitState => JSON.parse(exampleText) as VisitState;

/** Distinctive values put in every personal field of the spec example (userName, null there, included). */
export const DISTINCT = {
  name: 'Quintessa',
  surname: 'Vandermolen',
  email: 'quintessa.v@example.org',
  phone: '+1 212-555-0199',
  customerId: 'CUST-7731-QX',
  userName: 'qvander77',
  ip: '203.0.113.77',
} as const;

/** The spec example with DISTINCT's values in its session and events. */
export function distinctiveExample(): VisitState {
  const state = example();
  const app = state.appSessions[0] as JsonObject;
  const personal = (body: JsonObject): void => {
    const info = (body.personalInfo as JsonObject).personalInfo as JsonObject;
    info.name = DISTINCT.name;
    info.surname = DISTINCT.surname;
    info.contacts = [{ email: DISTINCT.email, phone: DISTINCT.phone }];
  };
  const customer = (body: JsonObject): void => {
    const info = (body.customerInfo as JsonObject).customerInfo as JsonObject;
    info.customerId = DISTINCT.customerId;
    info.userName = DISTINCT.userName;
  };
  personal(app);
  customer(app);
  app.ipv4 = DISTINCT.ip;
  for (const event of app.events as JsonObject[]) {
    if (event.personalInfo !== undefined) personal({ personalInfo: event.personalInfo });
    if (event.customerInfo !== undefined) customer({ customerInfo: event.customerInfo });
  }
  return state;
}

/** The personal values of an answer (names, contacts, customer ids, user names, IPs), at the spec's paths. */
export function personalValuesOf(state: VisitState): string[] {
  const out = new Set<string>();
  const add = (v: Json | undefined): void => {
    if (typeof v === 'string' && v !== '') out.add(v);
  };
  const fromPersonal = (info: Json | undefined): void => {
    if (info === null || typeof info !== 'object' || Array.isArray(info)) return;
    add(info.name);
    add(info.surname);
    for (const c of Array.isArray(info.contacts) ? info.contacts : []) {
      if (c !== null && typeof c === 'object' && !Array.isArray(c)) {
        add(c.email);
        add(c.phone);
      }
    }
  };
  const fromCustomer = (info: Json | undefined): void => {
    if (info === null || typeof info !== 'object' || Array.isArray(info)) return;
    add(info.customerId);
    add(info.userName);
  };
  for (const app of state.appSessions as JsonObject[]) {
    add(app.ipv4);
    add(app.lpv4);
    fromPersonal((app.personalInfo as JsonObject | undefined)?.personalInfo);
    fromCustomer((app.customerInfo as JsonObject | undefined)?.customerInfo);
    for (const event of (app.events ?? []) as JsonObject[]) {
      fromPersonal((event.personalInfo as JsonObject | undefined)?.personalInfo);
      fromCustomer((event.customerInfo as JsonObject | undefined)?.customerInfo);
    }
  }
  return [...out];
}

type Stored = string | number | boolean | null | undefined;

/**
 * Where `value` shows in a stored value: equal, inside JSON text as a string, or (8 characters and more)
 * anywhere in a string; shorter values are not looked for as bare substrings, which hashes hold by chance.
 */
function leaks(stored: Stored, value: string): boolean {
  if (stored === value) return true;
  if (typeof stored !== 'string') return false;
  return stored.includes(JSON.stringify(value)) || (value.length >= 8 && stored.includes(value));
}

/** Every (row, column) whose value shows one of `values`. */
export function leaksIn(rows: readonly Record<string, Stored>[], values: readonly string[]): string[] {
  const found: string[] = [];
  for (const row of rows) {
    for (const [column, stored] of Object.entries(row)) {
      for (const value of values) {
        if (leaks(stored, value)) found.push(`${String(row.rowType)}.${column} shows ${value}`);
      }
    }
  }
  return found;
}
