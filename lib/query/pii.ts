/**
 * Which capture columns hold personal data, and how long each store keeps them. One classification for the
 * data dictionary (docs/data-dictionary.md) and for the analytics schema (Glue column comments), so both say
 * the same thing. Rules look at the column's source path in the Visit Information answer (or, for our own
 * columns, at the name), case-insensitively; the first rule that matches wins.
 */
import { DAY_MS } from '../clock';
import { QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS } from '../store/dynamo-queue';

export type PiiCategory =
  'identifier' | 'name' | 'contact' | 'network' | 'location' | 'personal' | 'free text';

export interface PiiClass {
  category: PiiCategory;
  /** Why, in a few words (shown in the dictionary). */
  why: string;
}

export interface ClassifiableColumn {
  /** Column name as stored. */
  name: string;
  /** Path in the API answer the value came from; undefined for our own columns. */
  sourcePath?: readonly string[];
}

/** Our own columns that identify a visitor or a session (logs never show them either: lib/log.ts idRef). */
const ID_COLUMNS: Readonly<Record<string, PiiClass>> = {
  visitorid: { category: 'identifier', why: 'pseudonymous visitor id (LivePerson cookie)' },
  sid: { category: 'identifier', why: 'pseudonymous session id' },
  visitid: { category: 'identifier', why: 'pseudonymous visit id' },
  appsessionid: { category: 'identifier', why: 'pseudonymous app session id' },
  ip: { category: 'network', why: "visitor's IP address" },
  // Storage keys built from those ids (kept only with --raw, and in the table itself).
  pk: { category: 'identifier', why: 'holds the sid' },
  sk: { category: 'identifier', why: 'may hold the appSessionId' },
  gsi1pk: { category: 'identifier', why: 'holds the visitorId' },
  gsi1sk: { category: 'identifier', why: 'holds the sid' },
  gsi2sk: { category: 'identifier', why: 'holds the sid' },
  gsi3sk: { category: 'identifier', why: 'holds the sid' },
};

const NETWORK = new Set(['ip', 'ipv4', 'lpv4', 'ipv6']);
const CONTACT = new Set(['email', 'phone', 'phonenumber', 'address', 'contacts', 'mobilephone']);
const NAMES = new Set(['name', 'surname', 'firstname', 'lastname', 'fullname']);
const IDENTIFIERS = new Set(['customerid', 'username', 'socialid', 'imei', 'accountname']);
const FREE_TEXT = new Set(['url', 'referrer', 'externalreferrer', 'keywords']);

export function classifyColumn(column: ClassifiableColumn): PiiClass | undefined {
  const path = (column.sourcePath ?? []).map((s) => s.toLowerCase());
  if (path.length === 0) return ID_COLUMNS[column.name.toLowerCase()];
  const last = path[path.length - 1] as string;
  if (NETWORK.has(last)) return { category: 'network', why: "visitor's IP address" };
  if (CONTACT.has(last)) return { category: 'contact', why: 'e-mail, phone or postal contact' };
  if (path.includes('personalinfo')) {
    if (NAMES.has(last)) return { category: 'name', why: "visitor's name" };
    return { category: 'personal', why: 'personal information the site sent (age, birth date, gender, ...)' };
  }
  if (IDENTIFIERS.has(last)) return { category: 'identifier', why: 'customer account identifier' };
  if (path.includes('geo')) return { category: 'location', why: 'location derived from the IP address' };
  if (FREE_TEXT.has(last)) {
    return { category: 'free text', why: 'may hold personal data (query strings, search terms)' };
  }
  return undefined;
}

/** Where rows live and how long; `id` is how the dictionary refers to each. */
export interface RetentionRule {
  id: string;
  store: string;
  retention: string;
}

export const RETENTION: readonly RetentionRule[] = [
  {
    id: 'capture',
    store: 'DynamoDB capture table (every row type)',
    retention:
      'kept until deleted: no TTL by default (a retention can be set in the CDK context; the default keeps ' +
      'everything, the point of the project being to keep what LivePerson forgets). Erasing a visitor: ' +
      '`lpv query visitor` lists the sessions, each session is one partition (pk) to delete.',
  },
  {
    id: 'queue',
    store: 'DynamoDB queue table (visitorId, sid, lastBadBody)',
    retention: `DynamoDB TTL (expiresAtSec) ${QUEUE_ITEM_RETENTION_AFTER_DEADLINE_MS / DAY_MS} days after the session's deadline (start + 6 h); TTL deletes within about 48 h of that.`,
  },
  {
    id: 'analytics',
    store: 'S3 analytics copy (rows/rowType=…/dt=…, infra/analytics.ts)',
    retention:
      'never expires (lifecycle rules only move objects to cheaper storage classes); the same columns as the ' +
      'capture table. Erasure means rewriting the affected dt partitions without the visitor.',
  },
];
