import { getEventListeners } from 'node:events';
import { systemClock } from '../../lib/clock';
import { RateLimiter } from '../../lib/poller/rate-limiter';

describe('RateLimiter', () => {
  it('spaces requests to the rate and leaves nothing hooked on the tick’s signal', async () => {
    const limiter = new RateLimiter(200, systemClock);
    const tick = new AbortController();
    const startMs = Date.now();
    for (let i = 0; i < 5; i++) await limiter.take(tick.signal);
    // Four gaps of 5 ms after the first (free) slot.
    expect(Date.now() - startMs).toBeGreaterThanOrEqual(18);
    expect(getEventListeners(tick.signal, 'abort')).toHaveLength(0);
  });

  it('stops waiting when the tick is stopped', async () => {
    const limiter = new RateLimiter(0.5, systemClock);
    const tick = new AbortController();
    await limiter.take(tick.signal);
    const waiting = limiter.take(tick.signal);
    setTimeout(() => tick.abort(), 20);
    const startMs = Date.now();
    await waiting;
    expect(Date.now() - startMs).toBeLessThan(1000);
  });
});
