import type { Clock } from '../clock';

/**
 * Spaces requests to at most `perSecond` (0: no cap). LivePerson's budget is shared by every poller: the cap
 * per invocation, times the invocations that can overlap, bounds the total (see the README).
 */
export class RateLimiter {
  private nextSlotMs = 0;
  constructor(
    private readonly perSecond: number,
    private readonly wallClock: Clock,
  ) {}

  async take(signal?: AbortSignal): Promise<void> {
    if (this.perSecond <= 0) return;
    const now = this.wallClock.nowMs();
    const slot = Math.max(now, this.nextSlotMs);
    this.nextSlotMs = slot + 1000 / this.perSecond;
    const waitMs = slot - now;
    if (waitMs <= 0 || signal?.aborted) return;
    await new Promise<void>((resolve) => {
      const onAbort = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        // Unhooked once the wait is over: the tick's signal lives for the whole tick and would collect one
        // listener per request.
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
