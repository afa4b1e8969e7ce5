import { SESSION_MAX_AGE_MS } from '../../lib/clock';
import {
  ANALYTICS_PIPE_BATCHING_SEC,
  ANALYTICS_PROCESSING_BUFFER_SEC,
  ANALYTICS_RESEND_MARGIN_SEC,
  analyticsResendAtMs,
  analyticsResendWaitMs,
  chunkBySize,
  DEFAULT_ANALYTICS_BUFFER_INTERVAL_SEC,
  uniqueErasedRows,
  finishedAudit,
  planQueueErasure,
  REQUEST_ID_PATTERN,
  secondPassWaitMs,
  sessionsToErase,
  startedAudit,
  tombstoneExpiresAtSec,
  type ErasedRow,
  type ErasureCounts,
} from '../../lib/erasure/plan';
import { erasureAuditKey, queueKey, queueVisitorKeyPrefix, tickSummaryKey } from '../../lib/keys';

const NOW = 1_750_000_000_000;
const LEASE = 45_000;

describe('erasure decisions (lib/erasure/plan.ts)', () => {
  it("gives a tombstone a TTL past its item's deadline plus the lease", () => {
    expect(tombstoneExpiresAtSec(NOW + 1000, LEASE, NOW)).toBe(Math.ceil((NOW + 1000 + LEASE) / 1000));
    expect(tombstoneExpiresAtSec(NOW + 1, 0, NOW)).toBe(Math.ceil((NOW + 1) / 1000));
    // No readable deadline: as if the session had just started.
    expect(tombstoneExpiresAtSec(undefined, LEASE, NOW)).toBe(
      Math.ceil((NOW + SESSION_MAX_AGE_MS + LEASE) / 1000),
    );
    expect(tombstoneExpiresAtSec(Number.NaN, LEASE, NOW)).toBe(
      Math.ceil((NOW + SESSION_MAX_AGE_MS + LEASE) / 1000),
    );
  });

  it('tombstones every live item, keeps the tombstones, and says whether a poll may still be writing', () => {
    const plan = planQueueErasure(
      [
        { sid: 's3', state: 'CAPTURED', deadlineMs: NOW - 1000 },
        { sid: 's1', state: 'ACTIVE', deadlineMs: NOW + 5000 },
        { sid: 's2', state: 'ERASED', expiresAtSec: 1 },
      ],
      LEASE,
      NOW,
    );
    expect(plan).toEqual({
      tombstones: [
        { sid: 's1', expiresAtSec: Math.ceil((NOW + 5000 + LEASE) / 1000) },
        { sid: 's3', expiresAtSec: Math.ceil((NOW - 1000 + LEASE) / 1000) },
      ],
      alreadyErased: ['s2'],
      pollMayBeInFlight: true,
    });
  });

  it.each([
    ['only ended items', false, [{ sid: 's', state: 'LOST' as const, deadlineMs: NOW }]],
    ['no item at all', false, []],
    ['an ACTIVE item', true, [{ sid: 's', state: 'ACTIVE' as const, deadlineMs: NOW - 1 }]],
    ['a tombstone past its TTL', false, [{ sid: 's', state: 'ERASED' as const, expiresAtSec: NOW / 1000 }]],
    [
      'a tombstone before its TTL',
      true,
      [{ sid: 's', state: 'ERASED' as const, expiresAtSec: NOW / 1000 + 1 }],
    ],
    ['a tombstone without a TTL', true, [{ sid: 's', state: 'ERASED' as const }]],
  ])('with %s, a poll may be in flight: %s', (_name, expected, entries) => {
    const plan = planQueueErasure(entries, LEASE, NOW);
    expect(plan.pollMayBeInFlight).toBe(expected);
    expect(secondPassWaitMs(plan, NOW, LEASE, 15_000, NOW)).toBe(expected ? LEASE + 15_000 : 0);
  });

  it('counts the wait from the tombstones, not from the end of the first pass', () => {
    const plan = { pollMayBeInFlight: true };
    expect(secondPassWaitMs(plan, NOW, LEASE, 1000, NOW + 10_000)).toBe(LEASE + 1000 - 10_000);
    expect(secondPassWaitMs(plan, NOW, LEASE, 1000, NOW + LEASE + 5000)).toBe(0);
  });

  it('erases each session once, whichever sources name it', () => {
    expect(sessionsToErase(['b', 'a'], new Set(['c', 'a']), [])).toEqual(['a', 'b', 'c']);
    expect(sessionsToErase()).toEqual([]);
  });

  it('audits an erasure without any personal data: a keyed hash of the visitor id only when one is given', () => {
    const counts: ErasureCounts = {
      queueItemsTombstoned: 2,
      queueItemsAlreadyErased: 0,
      sessions: 3,
      rowsDeleted: { firstPass: 40, secondPass: 2 },
    };
    const bare = finishedAudit(startedAudit('req-0001', 'visitor-x', NOW, undefined), NOW + 5, counts);
    expect(bare).toEqual({
      requestId: 'req-0001',
      status: 'done',
      startedAtMs: NOW,
      finishedAtMs: NOW + 5,
      counts,
    });
    expect(JSON.stringify(bare)).not.toContain('visitor-x');
    const hashed = startedAudit('req-0001', 'visitor-x', NOW, (v) => `h1:${v.length}`);
    expect(hashed).toEqual({
      requestId: 'req-0001',
      status: 'running',
      visitorHash: 'h1:9',
      startedAtMs: NOW,
    });
  });

  it('keys the audit item apart from every queue item and tick summary', () => {
    expect(REQUEST_ID_PATTERN.test('0b9f3c1e-2a7d-4c55-9a51-3f0f1c2b7d10')).toBe(true);
    expect(REQUEST_ID_PATTERN.test('a#b#c#d')).toBe(false);
    const audit = erasureAuditKey('AUDIT', 'req-0001');
    expect(audit.split('#')).toHaveLength(4);
    expect(queueKey('AUDIT', 'x', 'y').split('#')).toHaveLength(3);
    expect(tickSummaryKey('AUDIT').split('#')).toHaveLength(2);
    // A visitor's prefix never matches a longer visitor id that starts the same way.
    expect(queueKey('a', 'v12', 's').startsWith(queueVisitorKeyPrefix('a', 'v1'))).toBe(false);
  });
});

describe('the analytics re-send (lib/erasure/plan.ts)', () => {
  it("waits Firehose's buffer, the route processor's buffer, the pipe's window and a margin: 450 s by default", () => {
    expect(analyticsResendWaitMs(DEFAULT_ANALYTICS_BUFFER_INTERVAL_SEC)).toBe(450_000);
    expect(analyticsResendWaitMs(0)).toBe(
      (ANALYTICS_PROCESSING_BUFFER_SEC + ANALYTICS_PIPE_BATCHING_SEC + ANALYTICS_RESEND_MARGIN_SEC) * 1000,
    );
    expect(analyticsResendWaitMs(900)).toBe(1_050_000);
  });

  it('counts the wait from the last row delete: the second pass when it deleted rows, else the first', () => {
    const passes = { firstPassEndMs: NOW, secondPassEndMs: NOW + 60_000 };
    expect(analyticsResendAtMs({ ...passes, secondPassRows: 3 }, 450_000)).toBe(NOW + 60_000 + 450_000);
    // Nothing written after the first pass: the wait overlapped the one before the second pass.
    expect(analyticsResendAtMs({ ...passes, secondPassRows: 0 }, 450_000)).toBe(NOW + 450_000);
  });

  it('keeps each (pk, sk) once, in key order', () => {
    const rows: ErasedRow[] = [
      { pk: 'S#a#2', sk: 'SESSION#x', rowType: 'session', startTime: 2 },
      { pk: 'S#a#1', sk: 'PAGE#y', rowType: 'page', startTime: 1 },
      { pk: 'S#a#2', sk: 'SESSION#x', rowType: 'session', startTime: 2 },
      { pk: 'S#a#1', sk: 'OUTCOME', rowType: 'outcome', startTimeMs: 5 },
    ];
    expect(uniqueErasedRows(rows).map((r) => `${r.pk} ${r.sk}`)).toEqual([
      'S#a#1 OUTCOME',
      'S#a#1 PAGE#y',
      'S#a#2 SESSION#x',
    ]);
    expect(uniqueErasedRows([])).toEqual([]);
  });

  it('chunks by count and by size, in order, an oversized item alone', () => {
    const size = (n: number): number => n;
    expect(chunkBySize([1, 1, 1, 1, 1], 2, 100, size)).toEqual([[1, 1], [1, 1], [1]]);
    expect(chunkBySize([40, 40, 40, 10], 10, 100, size)).toEqual([
      [40, 40],
      [40, 10],
    ]);
    expect(chunkBySize([30, 200, 30], 10, 100, size)).toEqual([[30], [200], [30]]);
    expect(chunkBySize([50, 50], 10, 100, size)).toEqual([[50, 50]]);
    expect(chunkBySize([], 10, 100, size)).toEqual([]);
  });

  it('marks an audit whose hash key was unreadable, unless a hash was made', () => {
    expect(startedAudit('req-00000001', 'v', NOW, undefined, true)).toEqual({
      requestId: 'req-00000001',
      status: 'running',
      visitorHashUnavailable: true,
      startedAtMs: NOW,
    });
    expect(startedAudit('req-00000001', 'v', NOW, (id) => `h1:${id}`, true).visitorHash).toBe('h1:v');
    expect(startedAudit('req-00000001', 'v', NOW, undefined)).not.toHaveProperty('visitorHashUnavailable');
  });
});
