import { LEGACY_QUEUE_DUE_INDEX_NAME, QUEUE_DUE_INDEX, queueCaptureStateKey, queueKey } from '../../lib/keys';
import { idProblem } from '../../lib/ids';
import { REQUEST_ID_PATTERN } from '../../lib/erasure/plan';
import {
  QUEUE_DUE_PROJECTED_ATTRIBUTES,
  QUEUE_TABLE,
  queueDueIndexRead,
  queueTableDefinition,
} from '../../lib/store/schema';
import { loadDeploymentConfig } from '../../infra/config';

const names = (migration?: Parameters<typeof queueTableDefinition>[0]) =>
  queueTableDefinition(migration).indexes.map((i) => `${i.indexName}:${i.projection}`);

describe('the queue table across the due index migration (docs/deploy.md)', () => {
  it('adds one index, switches the readers, then removes one index: never two index changes in a step', () => {
    expect(names('add')).toEqual([
      `${LEGACY_QUEUE_DUE_INDEX_NAME}:ALL`,
      `${QUEUE_DUE_INDEX.indexName}:INCLUDE`,
    ]);
    expect(names('switch')).toEqual(names('add'));
    expect(names('done')).toEqual([`${QUEUE_DUE_INDEX.indexName}:INCLUDE`]);
    expect(names()).toEqual(names('done'));
    expect(QUEUE_TABLE).toEqual(queueTableDefinition('done'));
    // Readers stay on the old index until the new one is built, and never query an index that is not there.
    expect(queueDueIndexRead('add')).toBe(LEGACY_QUEUE_DUE_INDEX_NAME);
    expect(queueDueIndexRead('switch')).toBe(QUEUE_DUE_INDEX.indexName);
    expect(queueDueIndexRead('done')).toBe(QUEUE_DUE_INDEX.indexName);
    for (const step of ['add', 'switch', 'done'] as const) {
      expect(queueTableDefinition(step).indexes.map((i) => i.indexName)).toContain(queueDueIndexRead(step));
    }
  });

  it('projects what the due query, its lease filter and the eraser read, not the big or often-changed fields', () => {
    const projected = new Set(QUEUE_DUE_PROJECTED_ATTRIBUTES);
    for (const needed of [
      'state',
      'leaseUntilMs',
      'deadlineMs',
      'accountId',
      'visitorId',
      'sid',
      'requestId',
    ])
      expect(projected.has(needed)).toBe(true);
    // Written by claims, acks or only on the side item: projecting them would make the index rewrite its copy.
    for (const left of [
      'leaseOwner',
      'lastClaimedAtMs',
      'pollCount',
      'lastOutcome',
      'rowDigests',
      'lastBadBody',
    ])
      expect(projected.has(left)).toBe(false);
  });

  it('is chosen by lpv:queueDueIndexMigration, unset meaning done; other values are refused', () => {
    const load = (context: Record<string, unknown>) =>
      loadDeploymentConfig((key) => ({ 'lpv:accountId': '12345678', ...context })[key], Object.keys(context));
    expect(load({}).queueDueIndexMigration).toBe('done');
    expect(load({ 'lpv:queueDueIndexMigration': 'add' }).queueDueIndexMigration).toBe('add');
    expect(() => load({ 'lpv:queueDueIndexMigration': 'drop' })).toThrow(/queueDueIndexMigration/);
  });
});

describe('the side item key', () => {
  it('is no queue item, tick summary, audit or erased-rows key, and no valid sid follows the visitor prefix', () => {
    const key = queueCaptureStateKey('acct', 'visitor', 'sid');
    expect(key.startsWith(`${queueKey('acct', 'visitor', 'sid')}#`)).toBe(true);
    const tail = key.split('#')[3]!;
    // The fourth part holds a character no id and no erasure request id may hold.
    expect(REQUEST_ID_PATTERN.test(tail)).toBe(false);
    expect(idProblem('visitorId', tail)).toBeDefined();
    expect(idProblem('sid', key.slice('acct#visitor#'.length))).toBeDefined();
  });
});
