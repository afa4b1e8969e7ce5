/**
 * A small seeded PRNG (mulberry32) for the simulator. Every random choice the simulator makes (ids,
 * timelines, faults, latency) comes from one of these, so a run can be replayed from its seed. Not for
 * anything security-related: it is fast and reproducible, not unpredictable.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new TypeError(`seed must be a finite number, got ${seed}`);
    // Fold the seed (which may be fractional or larger than 32 bits) into 32 bits, so seeds like 1.5 or
    // 2**40 still give distinct, reproducible streams instead of collapsing through `>>> 0`.
    const whole = Math.floor(seed);
    this.state = (whole ^ Math.floor(whole / 2 ** 32) ^ Math.round((seed - whole) * 2 ** 31)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform 32-bit unsigned integer (the raw mulberry32 output). */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Integer uniform in [min, max], both inclusive. */
  int(min: number, max: number): number {
    if (!Number.isInteger(min) || !Number.isInteger(max) || max < min) {
      throw new RangeError(`int(${min}, ${max}): need integers with min <= max`);
    }
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Float uniform in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability `p` (p <= 0 never, p >= 1 always). */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() from an empty list');
    // noUncheckedIndexedAccess cannot see that the index is in range; the length check above guarantees it.
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** One element chosen by weight; weights must be >= 0 with a positive sum. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of entries) total += w;
    if (!(total > 0)) throw new RangeError('weighted() needs a positive total weight');
    let r = this.next() * total;
    for (const [value, w] of entries) {
      r -= w;
      if (r < 0) return value;
    }
    // Floating-point rounding can leave r at ~0 after the last entry: the last positive entry wins.
    for (let i = entries.length - 1; i >= 0; i--) {
      const entry = entries[i] as readonly [T, number];
      if (entry[1] > 0) return entry[0];
    }
    throw new RangeError('unreachable: no positive weight');
  }

  /** Exponentially distributed with the given mean (inter-arrival times of a Poisson process). */
  exponential(mean: number): number {
    // 1 - next() is in (0, 1], so the log is finite.
    return -mean * Math.log(1 - this.next());
  }

  /** A string of `length` characters drawn from `alphabet`. */
  string(alphabet: string, length: number): string {
    let out = '';
    for (let i = 0; i < length; i++) out += alphabet.charAt(Math.floor(this.next() * alphabet.length));
    return out;
  }

  /**
   * An independent child stream. Used to give each session its own stream, so generating one session's
   * timeline consumes a fixed number of draws from the parent whatever the session's size.
   */
  fork(): Random {
    return new Random(this.nextUint32());
  }
}

export const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const ALPHANUMERIC_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const HEX_ALPHABET = '0123456789abcdef';
export const DIGITS = '0123456789';
