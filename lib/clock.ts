/**
 * Time source shared by the poller, the queue and the simulator. Everything is epoch milliseconds.
 * Injected so tests can freeze time and `npm start` can run six hours of traffic in minutes.
 */
export interface Clock {
  /** Current time, epoch milliseconds. */
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that only moves when told to (unit tests). */
export class ManualClock implements Clock {
  constructor(private currentMs: number) {}
  nowMs(): number {
    return this.currentMs;
  }
  setMs(ms: number): void {
    this.currentMs = ms;
  }
  advanceMs(deltaMs: number): void {
    this.currentMs += deltaMs;
  }
}

/**
 * Simulated time running `speed` times faster than the wall clock from `startMs`
 * (speed 120 turns six hours into three minutes). Only session times use it; OAuth timestamps stay
 * on the wall clock because the server checks them against its own.
 */
export class CompressedClock implements Clock {
  private readonly wallStartMs: number;
  constructor(
    readonly startMs: number,
    readonly speed: number,
    private readonly wall: Clock = systemClock,
  ) {
    if (!(speed > 0)) throw new TypeError(`speed must be > 0, got ${speed}`);
    this.wallStartMs = wall.nowMs();
  }
  nowMs(): number {
    return Math.floor(this.startMs + (this.wall.nowMs() - this.wallStartMs) * this.speed);
  }
  /** Wall-clock milliseconds that correspond to `simulatedMs` of simulated time. */
  wallMsFor(simulatedMs: number): number {
    return simulatedMs / this.speed;
  }
}

export const SECOND_MS = 1000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
/** LivePerson keeps a session in memory for at most six hours ("maybe less"). */
export const SESSION_MAX_AGE_MS = 6 * HOUR_MS;
