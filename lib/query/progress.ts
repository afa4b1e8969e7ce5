/**
 * Progress of long reads, for people: nothing for quick reads, then a line at most every `intervalMs` once a
 * read has run `delayMs`, and a closing line if anything was shown. Wall time (not the session clock: a
 * compressed clock in `npm start` must not make the CLI chatty).
 */
import { systemClock, type Clock } from '../clock';
import type { ReadProgress } from './reader';

export interface ProgressReporterOptions {
  /** Silence before the first line. @default 1000 (1 s): quick reads stay quiet. */
  delayMs?: number;
  /** Least time between two lines. @default 1000 (1 s) */
  intervalMs?: number;
  clock?: Clock;
}

export class ProgressReporter {
  private readonly startedAtMs: number;
  private lastShownAtMs: number | undefined;
  private last: ReadProgress | undefined;
  private rowsOut = 0;
  private readonly delayMs: number;
  private readonly intervalMs: number;
  private readonly clock: Clock;

  constructor(
    private readonly label: string,
    private readonly write: (line: string) => void,
    options: ProgressReporterOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.delayMs = options.delayMs ?? 1000;
    this.intervalMs = options.intervalMs ?? 1000;
    this.startedAtMs = this.clock.nowMs();
  }

  /** Pass as the reader's onProgress. */
  readonly onProgress = (progress: Readonly<ReadProgress>): void => {
    this.last = { ...progress };
    const now = this.clock.nowMs();
    if (now - this.startedAtMs < this.delayMs) return;
    if (this.lastShownAtMs !== undefined && now - this.lastShownAtMs < this.intervalMs) return;
    this.lastShownAtMs = now;
    this.write(`${this.label}: ${this.describe()}\n`);
  };

  /** Rows handed to the output so far (shown next to what was read). */
  rowsEmitted(count: number): void {
    this.rowsOut = count;
  }

  /** Closing line, only when a progress line was shown. */
  finish(): void {
    if (this.lastShownAtMs === undefined) return;
    const seconds = ((this.clock.nowMs() - this.startedAtMs) / 1000).toFixed(1);
    this.write(`${this.label}: done in ${seconds} s, ${this.describe()}\n`);
  }

  private describe(): string {
    const p = this.last ?? { queries: 0, itemsRead: 0, partitionsDone: 0, partitionsTotal: 0 };
    return (
      `${p.partitionsDone}/${p.partitionsTotal} partitions, ${p.queries} queries, ` +
      `${p.itemsRead} items read, ${this.rowsOut} rows out`
    );
  }
}
