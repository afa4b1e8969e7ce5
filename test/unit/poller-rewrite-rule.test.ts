/**
 * The rewrite rule of mutable capture rows (lib/poller/rewrite-rule.ts), the keyed digests it compares with
 * (lib/poller/digests.ts), and the poller's choice of rows over successive answers (lib/poller/row-writes.ts).
 */
import type { CaptureRow } from '../../lib/capture/rows';
import {
  DIGEST_CHARS,
  MUTABLE_ENTRY_CHARS,
  parseCaptureDigests,
  rowDigest,
  rowKeyDigest,
  serializeCaptureDigests,
  serializeDigests,
} from '../../lib/poller/digests';
import {
  isRewritePoll,
  LAGGING_COLUMNS,
  MAX_DEFERRED_CHARS,
  parseDeferred,
  REWRITE_EVERY_POLLS,
  rowWrite,
  serializeDeferred,
  type RowWrite,
} from '../../lib/poller/rewrite-rule';
import { planRowWrites } from '../../lib/poller/row-writes';

describe('rowWrite', () => {
  // sameAsStored, sameBesidesLagging, rewritePoll, fits → what happens to the row.
  it.each<[boolean, boolean, boolean, boolean, RowWrite]>([
    [true, true, false, true, 'unchanged'],
    [true, true, true, true, 'unchanged'],
    [true, true, false, false, 'unchanged'],
    [false, false, false, true, 'write'],
    [false, false, true, true, 'write'],
    [false, false, false, false, 'write'],
    [false, true, false, true, 'defer'],
    [false, true, true, true, 'write'],
    [false, true, false, false, 'write'],
    [false, true, true, false, 'write'],
  ])('same %s, same but lagging %s, rewrite poll %s, fits %s → %s', (same, besides, rewrite, fits, out) => {
    expect(rowWrite({ sameAsStored: same, sameBesidesLagging: besides, rewritePoll: rewrite, fits })).toBe(
      out,
    );
  });

  it('lets only a page’s timeOnPage lag (the one column measured to change without an event)', () => {
    expect(LAGGING_COLUMNS).toEqual({ session: [], page: ['timeOnPage'], engagement: [] });
  });
});

describe('isRewritePoll', () => {
  it.each<[number, boolean, boolean]>([
    [1, false, false],
    [REWRITE_EVERY_POLLS - 1, false, false],
    [REWRITE_EVERY_POLLS, false, true],
    [REWRITE_EVERY_POLLS + 1, false, false],
    [2 * REWRITE_EVERY_POLLS, false, true],
    [1, true, true],
    [REWRITE_EVERY_POLLS + 1, true, true],
  ])('success %i, last poll before the deadline %s → %s', (successCount, last, out) => {
    expect(isRewritePoll(successCount, last)).toBe(out);
  });
});

describe('deferred columns text', () => {
  it('round-trips, and is absent when nothing is deferred', () => {
    const deferred = { capturedAtMs: 42, rows: new Map([['PAGE#a#p1#1', { timeOnPage: 1000 }]]) };
    expect(parseDeferred(serializeDeferred(deferred))).toEqual(deferred);
    expect(serializeDeferred({ capturedAtMs: 1, rows: new Map() })).toBeUndefined();
  });

  it.each([
    '',
    'not json',
    '{"at":"x","rows":[]}',
    '{"at":1,"rows":[[1,{}]]}',
    '{"at":1,"rows":[["k",{"c":{}}]]}',
  ])('reads %j as none (a hand-edited item)', (text) => {
    expect(parseDeferred(text)).toBeUndefined();
  });
});

describe('keyed digests', () => {
  it('round-trips identified digests and one entry per mutable row, sorted', () => {
    const digests = {
      identified: new Set(['bbbbbbbbbb', 'aaaaaaaaaa']),
      mutable: new Map([
        ['k2k2k2k2k', { full: 'f2f2f2f2f2', stable: 's2s2s2s2s2' }],
        ['k1k1k1k1k', { full: 'f1f1f1f1f1', stable: 's1s1s1s1s1' }],
      ]),
    };
    const text = serializeCaptureDigests(digests);
    expect(text).toBe('aaaaaaaaaabbbbbbbbbb~k1k1k1k1kf1f1f1f1f1s1s1s1s1s1~k2k2k2k2kf2f2f2f2f2s2s2s2s2s2');
    expect(text.length).toBe(2 * DIGEST_CHARS + 2 * MUTABLE_ENTRY_CHARS);
    expect(parseCaptureDigests(text)).toEqual(digests);
  });

  it('reads a string of the earlier format (10-character digests only) as identified digests', () => {
    const old = serializeDigests(['xxxxxxxxxx', 'yyyyyyyyyy']);
    expect(parseCaptureDigests(old)).toEqual({
      identified: new Set(['xxxxxxxxxx', 'yyyyyyyyyy']),
      mutable: new Map(),
    });
  });

  it('gives up past the cap: every row is written again rather than the item outgrowing DynamoDB', () => {
    const digests = { identified: new Set(['aaaaaaaaaa']), mutable: new Map() };
    expect(serializeCaptureDigests(digests, 5)).toBe('');
  });
});

describe('planRowWrites over successive answers', () => {
  const session = (cart: string): CaptureRow => ({
    pk: 'S#a#s1',
    sk: 'SESSION#app',
    rowType: 'session',
    cart,
  });
  const page = (id: string, timeOnPage: number, title = 't'): CaptureRow => ({
    pk: 'S#a#s1',
    sk: `PAGE#app#${id}#0000000000001`,
    rowType: 'page',
    pageId: id,
    title,
    timeOnPage,
  });
  const event = (n: number): CaptureRow => ({
    pk: 'S#a#s1',
    sk: `EVENT#x#${n}`,
    rowType: 'event',
    appSessionId: 'app',
  });

  /** Successive polls as the poller runs them: plan, write everything planned, keep what `after` says. */
  function polls() {
    let digests: string | undefined;
    let deferred: string | undefined;
    let successCount = 0;
    return (
      rows: CaptureRow[],
      options: { complete?: boolean; last?: boolean } = {},
    ): { written: string[]; deferredColumns: string | undefined; deferredRows: number } => {
      successCount++;
      const plan = planRowWrites({
        rows: rows.map((r) => ({ ...r })),
        storedDigests: digests,
        storedDeferred: deferred,
        capturedAtMs: 1000 * successCount,
        expiresAtSec: undefined,
        rewritePoll: isRewritePoll(successCount, options.last ?? false),
      });
      const after = plan.after(options.complete ?? true);
      digests = after.rowDigests;
      if (after.deferredColumns !== undefined) deferred = after.deferredColumns;
      return {
        written: plan.rows.map((r) => `${String(r.sk)}@${String(r.capturedAtMs)}`),
        deferredColumns: after.deferredColumns,
        deferredRows: plan.deferredRows,
      };
    };
  }

  it('writes new rows, defers a growing timeOnPage, and writes it on the rewrite poll', () => {
    const poll = polls();
    expect(poll([session('c'), page('p1', 10), event(1)]).written).toEqual([
      'SESSION#app@1000',
      'PAGE#app#p1#0000000000001@1000',
      'EVENT#x#1@1000',
    ]);
    const second = poll([session('c'), page('p1', 20), event(1)]);
    expect(second.written).toEqual([]);
    expect(parseDeferred(second.deferredColumns)).toEqual({
      capturedAtMs: 2000,
      rows: new Map([['PAGE#app#p1#0000000000001', { timeOnPage: 20 }]]),
    });
    for (let n = 3; n < REWRITE_EVERY_POLLS; n++)
      expect(poll([session('c'), page('p1', 10 * n)]).written).toEqual([]);
    const rewrite = poll([session('c'), page('p1', 99)]);
    expect(rewrite.written).toEqual([`PAGE#app#p1#0000000000001@${REWRITE_EVERY_POLLS * 1000}`]);
    // Nothing deferred any more: the item's text is emptied.
    expect(rewrite.deferredColumns).toBe('');
    expect(poll([session('c'), page('p1', 99)]).deferredColumns).toBeUndefined();
  });

  it('writes a row at once when a column that does not lag changed, with its lagging ones', () => {
    const poll = polls();
    poll([page('p1', 10)]);
    expect(poll([page('p1', 20)]).written).toEqual([]);
    const renamed = poll([page('p1', 30, 'new title')]);
    expect(renamed.written).toEqual(['PAGE#app#p1#0000000000001@3000']);
    expect(renamed.deferredColumns).toBe('');
  });

  it('compares a row with the version stored under its key, not with any version ever stored', () => {
    const poll = polls();
    poll([session('empty')]);
    expect(poll([session('full')]).written).toEqual(['SESSION#app@2000']);
    // Back to the first content: the stored row holds `full`, so it is written again.
    expect(poll([session('empty')]).written).toEqual(['SESSION#app@3000']);
  });

  it('writes everything on the last poll before the deadline', () => {
    const poll = polls();
    poll([page('p1', 10)]);
    expect(poll([page('p1', 20)]).written).toEqual([]);
    expect(poll([page('p1', 30)], { last: true }).written).toEqual(['PAGE#app#p1#0000000000001@3000']);
  });

  it('after a partial store, writes the attempted rows again and counts no new event as stored', () => {
    const poll = polls();
    poll([session('a'), event(1)]);
    expect(poll([session('b'), event(1), event(2)], { complete: false }).written).toEqual([
      'SESSION#app@2000',
      'EVENT#x#2@2000',
    ]);
    expect(poll([session('b'), event(1), event(2)]).written).toEqual(['SESSION#app@3000', 'EVENT#x#2@3000']);
    expect(poll([session('b'), event(1), event(2)]).written).toEqual([]);
  });

  it('writes mutable rows once more after a digest string of the earlier format', () => {
    const rows = [session('c'), page('p1', 10), event(1)];
    const plan = planRowWrites({
      rows,
      storedDigests: serializeDigests(rows.map((r) => rowDigest(r))),
      storedDeferred: undefined,
      capturedAtMs: 5,
      expiresAtSec: undefined,
      rewritePoll: false,
    });
    expect(plan.rows.map((r) => r.sk)).toEqual(['SESSION#app', 'PAGE#app#p1#0000000000001']);
  });

  it('writes at once what would not fit on the queue item, and keeps the text under its cap', () => {
    const poll = polls();
    const many = Array.from({ length: 40 }, (_, i) => page(`p${i}`, 10));
    poll(many);
    const grown = poll(many.map((r) => ({ ...r, timeOnPage: 20 })));
    expect(grown.deferredRows).toBeGreaterThan(0);
    expect(grown.written.length).toBe(40 - grown.deferredRows);
    expect((grown.deferredColumns ?? '').length).toBeLessThanOrEqual(MAX_DEFERRED_CHARS);
  });

  it('keeps the deferred values of a row an answer no longer holds, for the end of the session', () => {
    const poll = polls();
    poll([page('p1', 10), page('p2', 10)]);
    poll([page('p1', 20), page('p2', 10)]);
    const dropped = poll([page('p2', 10)]);
    expect(parseDeferred(dropped.deferredColumns)?.rows).toEqual(
      new Map([['PAGE#app#p1#0000000000001', { timeOnPage: 20 }]]),
    );
  });

  it('keys a row by its sort key alone', () => {
    expect(rowKeyDigest(page('p1', 1))).toBe(rowKeyDigest(page('p1', 2, 'other')));
    expect(rowKeyDigest(page('p1', 1))).not.toBe(rowKeyDigest(page('p2', 1)));
  });
});
