import {
  claimable,
  oldestPendingAgeMs,
  requestDecision,
  requestsToRun,
  retryAtMs,
  runFits,
  type PendingErasure,
} from '../../lib/erasure/requests';
import { parseForgetBody } from '../../lib/enqueue/body';
import { erasureDueShardKey, dueShardKey, QUEUE_DUE_SHARDS } from '../../lib/keys';

const NOW = 1_750_000_000_000;
const request = (id: string, extra: Partial<PendingErasure> = {}): PendingErasure => ({
  requestId: id,
  visitorId: `visitor-${id}`,
  status: 'requested',
  requestedAtMs: NOW - 60_000,
  nextPollAtMs: NOW - 60_000,
  attempts: 0,
  ...extra,
});

describe('erasure request decisions (lib/erasure/requests.ts)', () => {
  it.each([
    // [what, request fields, claimable at NOW]
    ['requested and due', {}, true],
    ['due exactly now', { nextPollAtMs: NOW }, true],
    ['waiting out a failure backoff', { nextPollAtMs: NOW + 1 }, false],
    ['leased by a live eraser', { status: 'running', leaseUntilMs: NOW + 1, nextPollAtMs: NOW + 1 }, false],
    [
      'leased, lease ended (its eraser crashed)',
      { status: 'running', leaseUntilMs: NOW, nextPollAtMs: NOW },
      true,
    ],
    [
      'handed back after a failure, due again',
      { status: 'running', nextPollAtMs: NOW - 1, attempts: 1 },
      true,
    ],
  ] as const)('claimable: %s', (_what, fields, expected) => {
    expect(claimable(request('r1', fields as Partial<PendingErasure>), NOW)).toBe(expected);
  });

  it('takes the claimable requests oldest first, at most the cap', () => {
    const pending = [
      request('young', { requestedAtMs: NOW - 1_000, nextPollAtMs: NOW - 1_000 }),
      request('old', { requestedAtMs: NOW - 9_000, nextPollAtMs: NOW - 9_000 }),
      request('leased', { requestedAtMs: NOW - 99_000, leaseUntilMs: NOW + 5, nextPollAtMs: NOW + 5 }),
      request('middle', { requestedAtMs: NOW - 5_000, nextPollAtMs: NOW - 5_000 }),
    ];
    expect(requestsToRun(pending, NOW, 2).map((r) => r.requestId)).toEqual(['old', 'middle']);
    expect(requestsToRun(pending, NOW, 10).map((r) => r.requestId)).toEqual(['old', 'middle', 'young']);
  });

  it.each([
    [1, 60_000],
    [2, 120_000],
    [3, 240_000],
    [4, 480_000],
    [5, 900_000],
    [50, 900_000],
  ])('retries attempt %i after %i ms (doubling, capped at 15 min)', (attempts, delayMs) => {
    expect(retryAtMs(attempts, NOW)).toBe(NOW + delayMs);
  });

  it('reports the age of the oldest pending request, 0 when none', () => {
    expect(oldestPendingAgeMs([], NOW)).toBe(0);
    expect(
      oldestPendingAgeMs(
        [request('a', { requestedAtMs: NOW - 10 }), request('b', { requestedAtMs: NOW - 70 })],
        NOW,
      ),
    ).toBe(70);
  });

  it.each([
    // [remaining, wait (lease + margin), work budget, fits]
    [300_000, 60_000, 90_000, true],
    [150_000, 60_000, 90_000, true],
    [149_999, 60_000, 90_000, false],
    [10_000, 60_000, 90_000, false],
  ])('runFits(%i ms left, %i ms wait, %i ms work) = %s', (remaining, wait, work, fits) => {
    expect(runFits(remaining, wait, work)).toBe(fits);
  });

  it('a POST for a visitor with a pending request names that request; otherwise, or once it is done, a new one', () => {
    const pending = [
      request('theirs', { visitorId: 'someone-else' }),
      request('mine-later', { visitorId: 'v1', requestedAtMs: NOW - 10 }),
      request('mine', { visitorId: 'v1', requestedAtMs: NOW - 20 }),
    ];
    expect(requestDecision(pending, 'v1')).toEqual({ kind: 'existing', request: pending[2] });
    expect(requestDecision(pending, 'v2')).toEqual({ kind: 'new' });
    expect(requestDecision([], 'v1')).toEqual({ kind: 'new' });
  });

  it("puts pending requests on a due-index partition of their own, never one of the poller's shards", () => {
    const shards = Array.from({ length: QUEUE_DUE_SHARDS }, (_, i) => dueShardKey('acct', i));
    expect(shards).not.toContain(erasureDueShardKey('acct'));
    expect(erasureDueShardKey('acct')).toBe('acct#erasure');
  });

  it('parses {"visitorId"} bodies and never quotes the id in an error', () => {
    const parse = (text: string) => parseForgetBody(Buffer.from(text));
    expect(parse('{"visitorId":"abc.DEF_1~-"}')).toEqual({ kind: 'visitor', visitorId: 'abc.DEF_1~-' });
    for (const bad of ['{"visitorId":"pii pii"}', '{"visitorId":"pii/x"}', '{"visitorId":"pii","x":1}']) {
      const parsed = parse(bad);
      expect(parsed.kind).toBe('bad_request');
      expect(JSON.stringify(parsed)).not.toContain('pii');
    }
  });
});
