import { parseDigests, rowDigest, serializeDigests, serializeDigestsCapped } from '../../lib/poller/digests';

describe('row digests kept on the queue item', () => {
  it('round-trip, order-independent, one digest per (sk, content)', () => {
    const digests = ['EVENT#a', 'EVENT#b', 'PAGE#c'].map((sk) => rowDigest(sk, 'hash1'));
    expect(new Set(digests).size).toBe(3);
    expect(rowDigest('EVENT#a', 'hash2')).not.toBe(digests[0]);
    expect(parseDigests(serializeDigests(digests))).toEqual(new Set(digests));
    expect(serializeDigests([...digests].reverse())).toBe(serializeDigests(digests));
    expect(parseDigests(undefined).size).toBe(0);
  });

  it('drops the digests rather than outgrow the queue item (rows are then rewritten, never lost)', () => {
    const digests = Array.from({ length: 30 }, (_, i) => rowDigest(`EVENT#${i}`, 'h'));
    expect(serializeDigestsCapped(digests, 300)).toHaveLength(300);
    expect(serializeDigestsCapped(digests, 299)).toBe('');
    expect(parseDigests('').size).toBe(0);
  });
});
