/**
 * The capture indexes' migration (docs/deploy.md, "Migrating the capture indexes"): from the table as it was
 * before issue 16, through every step, each deploy adds or removes exactly one index (CloudFormation allows no
 * more per table and update), and the readers always have an index to read.
 */
import { CAPTURE_BY_VISITOR, LEGACY_CAPTURE_INDEX_NAMES } from '../../lib/keys';
import {
  CAPTURE_INDEX_MIGRATION_STEPS,
  CAPTURE_TABLE,
  captureByVisitorIndexRead,
  captureTableDefinition,
} from '../../lib/store/schema';

/** The indexes a step's table has, as `name:projection:partitionKey/sortKey`. */
function indexesAt(step: (typeof CAPTURE_INDEX_MIGRATION_STEPS)[number]): Set<string> {
  return new Set(
    captureTableDefinition(step).indexes.map(
      (i) => `${i.indexName}:${i.projection}:${i.partitionKey.name}/${i.sortKey.name}`,
    ),
  );
}

/** The capture table deployed before issue 16 (its three ALL-projected indexes). */
const BEFORE = new Set([
  'byVisitor:ALL:gsi1pk/gsi1sk',
  'byEventType:ALL:gsi2pk/gsi2sk',
  'byStartDay:ALL:gsi3pk/gsi3sk',
]);

describe('capture index migration', () => {
  it('ends on the table new stacks get: three KEYS_ONLY indexes on the same keys as before', () => {
    expect(indexesAt('done')).toEqual(
      new Set([
        'byVisitorKeys:KEYS_ONLY:gsi1pk/gsi1sk',
        'byEventTypeKeys:KEYS_ONLY:gsi2pk/gsi2sk',
        'byStartDayKeys:KEYS_ONLY:gsi3pk/gsi3sk',
      ]),
    );
    expect(CAPTURE_TABLE).toEqual(captureTableDefinition('done'));
  });

  it('changes exactly one index per deploy, from the table before issue 16 to the end', () => {
    let previous = BEFORE;
    for (const step of CAPTURE_INDEX_MIGRATION_STEPS) {
      const now = indexesAt(step);
      const added = [...now].filter((i) => !previous.has(i));
      const removed = [...previous].filter((i) => !now.has(i));
      expect({ step, changes: added.length + removed.length }).toEqual({ step, changes: 1 });
      // No step keeps an index key pair without an index over it: every reader has one to read.
      for (const keys of ['gsi1pk/gsi1sk', 'gsi2pk/gsi2sk', 'gsi3pk/gsi3sk']) {
        expect([...now].some((i) => i.endsWith(keys))).toBe(true);
      }
      previous = now;
    }
  });

  it('has the eraser read the legacy byVisitor only while its successor is being built', () => {
    for (const step of CAPTURE_INDEX_MIGRATION_STEPS) {
      const read = captureByVisitorIndexRead(step);
      expect([...indexesAt(step)].some((i) => i.startsWith(`${read}:`))).toBe(true);
      expect(read).toBe(
        step === 'add-visitor'
          ? LEGACY_CAPTURE_INDEX_NAMES[CAPTURE_BY_VISITOR.indexName]
          : CAPTURE_BY_VISITOR.indexName,
      );
    }
  });
});
