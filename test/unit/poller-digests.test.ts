import type { CaptureRow } from '../../lib/capture/rows';
import { parseDigests, rowDigest, serializeDigests, serializeDigestsCapped } from '../../lib/poller/digests';

describe('row digests kept on the queue item', () => {
  const row = (sk: string, value: string): CaptureRow =>
    Object.assign(Object.create(null) as CaptureRow, { pk: 'S#1#s', sk, value });

  it('round-trip, order-independent, one digest per (sk, content)', () => {
    const digests = ['EVENT#a', 'EVENT#b', 'PAGE#c'].map((sk) => rowDigest(row(sk, 'v1')));
    expect(new Set(digests).size).toBe(3);
    expect(rowDigest(row('EVENT#a', 'v2'))).not.toBe(digests[0]);
    expect(rowDigest(row('EVENT#a', 'v1'))).toBe(digests[0]);
    expect(parseDigests(serializeDigests(digests))).toEqual(new Set(digests));
    expect(serializeDigests([...digests].reverse())).toBe(serializeDigests(digests));
    expect(parseDigests(undefined).size).toBe(0);
  });

  it('digests an event or item row by its key, app session and schema version, not by its columns', () => {
    const event = (sk: string, extra: Record<string, unknown>): CaptureRow =>
      Object.assign(Object.create(null) as CaptureRow, {
        pk: 'S#1#s',
        sk,
        rowType: 'event',
        appSessionId: 'a1',
        schemaVersion: 2,
        ...extra,
      });
    const base = rowDigest(event('EVENT#lead#1#h#0', { topic: 't' }));
    // The columns follow from the key (the body's hash is in it): they are not read.
    expect(rowDigest(event('EVENT#lead#1#h#0', { topic: 'other' }))).toBe(base);
    expect(rowDigest(event('EVENT#lead#1#h#1', { topic: 't' }))).not.toBe(base);
    expect(rowDigest(event('EVENT#lead#1#h#0', { appSessionId: 'a2' }))).not.toBe(base);
    expect(rowDigest(event('EVENT#lead#1#h#0', { schemaVersion: 3 }))).not.toBe(base);
    expect(rowDigest(event('EVENT#lead#1#h#0', { rowType: 'eventItem' }))).toBe(base);
    // A page row under the same key is digested whole: its content changes between polls.
    const page = (timeOnPage: number): CaptureRow => event('PAGE#a1#p#1', { rowType: 'page', timeOnPage });
    expect(rowDigest(page(1))).not.toBe(rowDigest(page(2)));
  });

  it("takes the row's TTL in when it has one: stable per value, changed once when the retention changes", () => {
    const event = Object.assign(Object.create(null) as CaptureRow, {
      pk: 'S#1#s',
      sk: 'EVENT#lead#1#h#0',
      rowType: 'event',
      appSessionId: 'a1',
      schemaVersion: 2,
    });
    const page = row('PAGE#a1#p#1', 'v1');
    for (const r of [event, page]) {
      // No TTL: the digest of every earlier version (an upgrade rewrites nothing).
      expect(rowDigest(r, undefined)).toBe(rowDigest(r));
      // The same TTL on every poll of a session: the same digest.
      expect(rowDigest(r, 1_800_000_000)).toBe(rowDigest(r, 1_800_000_000));
      // Retention turned on, or changed: the row differs from what was stored, and is written again.
      expect(rowDigest(r, 1_800_000_000)).not.toBe(rowDigest(r));
      expect(rowDigest(r, 1_800_000_000)).not.toBe(rowDigest(r, 1_800_086_400));
    }
  });

  it('drops the digests rather than outgrow the queue item (rows are then rewritten, never lost)', () => {
    const digests = Array.from({ length: 30 }, (_, i) => rowDigest(row(`EVENT#${i}`, 'h')));
    expect(serializeDigestsCapped(digests, 300)).toHaveLength(300);
    expect(serializeDigestsCapped(digests, 299)).toBe('');
    expect(parseDigests('').size).toBe(0);
  });
});
