/**
 * `lpv scrub`: the current privacy policy applied to the rows already in the capture table (docs/privacy.md,
 * "Data stored before the policy"). Carries out lib/scrub/plan.ts's decision for every row, through the ports
 * below (lib/store/dynamo-scrub.ts on DynamoDB):
 *
 *   - the table is scanned in parallel segments, page by page; after each page the segment's position (the
 *     scan's LastEvaluatedKey) and the counts so far go to the checkpoint, so a run stopped anywhere continues
 *     from its last finished page (at most one page is read again, and a row written already is then unchanged);
 *   - a row the policy changes is written back only if it is still the row that was read (the store conditions
 *     on the poll's `capturedAtMs` stamp): a poll that wrote the row meanwhile wrote it under the policy, so
 *     such a row is counted as a conflict and left as it is;
 *   - with `dryRun` nothing is written: the counts say what a run would change.
 * The checkpoint is removed when every segment is done.
 */
import pLimit from 'p-limit';
import { LpvError } from '../errors';
import type { PrivacyCategory } from '../privacy/categories';
import type { CategoryCounts, RowScrubber, ScrubRow } from './plan';

/** A scan position: the key attributes of the last item a page read (DynamoDB's LastEvaluatedKey). */
export type ScanKey = Record<string, string | number>;

export interface ScanPage {
  readonly rows: ScrubRow[];
  /** Where the next page starts; undefined when the segment is done. */
  readonly next: ScanKey | undefined;
}

/** What a conditional write of a scrubbed row did. */
export type ReplaceOutcome = 'written' | 'conflict' | 'refused';

/** The capture table as the scrub sees it (lib/store/dynamo-scrub.ts). */
export interface ScrubTable {
  /** One page of one scan segment, from `start` (undefined: the segment's beginning). */
  scanPage(segment: number, totalSegments: number, start: ScanKey | undefined): Promise<ScanPage>;
  /**
   * Replaces `scanned` by `next` if the stored row is still the one scanned (same `capturedAtMs`, and not
   * deleted meanwhile): else `conflict`, nothing written. `refused` when DynamoDB refuses the item itself.
   */
  replaceRow(scanned: Readonly<ScrubRow>, next: Readonly<ScrubRow>): Promise<ReplaceOutcome>;
}

export interface ScrubCounts {
  rowsScanned: number;
  /** Rows written back changed (with dryRun: rows a run would change). */
  rowsChanged: number;
  /** Values treated in the rows changed, by category (a scalar changed, a JSON member or a column dropped). */
  valuesTreated: CategoryCounts;
  /** Rows a poll rewrote (or an erasure deleted) between the scan and the write: left as they are. */
  conflicts: number;
  /** Rows DynamoDB refused (an item grown past its limits by the hashes): left as they are. */
  rowsRefused: number;
  /** Cut JSON values in `overflowJson` stored as null (plan.ts RowScrub.cutValuesCleared). */
  cutValuesCleared: number;
  pages: number;
}

/** The checkpoint of a run: per segment, where to go on; the counts so far. */
export interface ScrubCheckpoint {
  readonly version: 1;
  readonly table: string;
  readonly totalSegments: number;
  readonly dryRun: boolean;
  readonly segments: Array<{ next: ScanKey | null; done: boolean }>;
  readonly counts: ScrubCounts;
}

export interface CheckpointStore {
  load(): Promise<ScrubCheckpoint | undefined>;
  save(checkpoint: ScrubCheckpoint): Promise<void>;
  /** The run is complete: the checkpoint goes. */
  remove(): Promise<void>;
}

export interface ScrubRequest {
  /** The capture table's name (the checkpoint belongs to it). */
  table: string;
  /** Parallel scan segments. A resumed run keeps its checkpoint's. */
  totalSegments: number;
  dryRun: boolean;
  /** Stop after this many pages (over all segments) with the checkpoint kept: a bounded run. @default no limit */
  maxPages?: number;
}

export interface ScrubDeps {
  table: ScrubTable;
  scrubber: RowScrubber;
  /** Without it the run cannot be resumed (it starts from the beginning each time). */
  checkpoint?: CheckpointStore;
  /** One line of progress per page (the CLI writes it to stderr). Holds counts only, never a value or an id. */
  onProgress?: (message: string) => void;
}

export interface ScrubReport extends ScrubCounts {
  dryRun: boolean;
  /** False when the run stopped at `maxPages` before the end (its checkpoint continues it). */
  complete: boolean;
  /** True when it continued a checkpoint. */
  resumed: boolean;
  segments: { total: number; done: number };
}

/** A checkpoint that belongs to another table, segment count or mode. */
export class ScrubCheckpointMismatchError extends LpvError {}

/** Rows of one page written at once (one conditional PutItem each). */
const WRITE_CONCURRENCY = 8;

export function emptyScrubCounts(): ScrubCounts {
  return {
    rowsScanned: 0,
    rowsChanged: 0,
    valuesTreated: {},
    conflicts: 0,
    rowsRefused: 0,
    cutValuesCleared: 0,
    pages: 0,
  };
}

function addCategoryCounts(into: CategoryCounts, add: CategoryCounts): void {
  for (const [category, n] of Object.entries(add) as [PrivacyCategory, number][]) {
    into[category] = (into[category] ?? 0) + n;
  }
}

function addCounts(into: ScrubCounts, add: ScrubCounts): void {
  into.rowsScanned += add.rowsScanned;
  into.rowsChanged += add.rowsChanged;
  into.conflicts += add.conflicts;
  into.rowsRefused += add.rowsRefused;
  into.cutValuesCleared += add.cutValuesCleared;
  into.pages += add.pages;
  addCategoryCounts(into.valuesTreated, add.valuesTreated);
}

export async function runScrub(request: ScrubRequest, deps: ScrubDeps): Promise<ScrubReport> {
  const progress = deps.onProgress ?? ((): void => undefined);
  const saved = await deps.checkpoint?.load();
  if (saved !== undefined) {
    if (saved.table !== request.table) {
      throw new ScrubCheckpointMismatchError('the checkpoint belongs to another capture table');
    }
    if (saved.dryRun !== request.dryRun) {
      throw new ScrubCheckpointMismatchError(
        `the checkpoint is of a ${saved.dryRun ? '--dry-run' : 'real'} run: continue it the same way, or use another file`,
      );
    }
  }
  const state: ScrubCheckpoint = saved ?? {
    version: 1,
    table: request.table,
    totalSegments: request.totalSegments,
    dryRun: request.dryRun,
    segments: Array.from({ length: request.totalSegments }, () => ({ next: null, done: false })),
    counts: emptyScrubCounts(),
  };
  const counts = state.counts;
  if (saved !== undefined) {
    progress(
      `continuing from the checkpoint: ${state.segments.filter((s) => s.done).length} of ` +
        `${state.totalSegments} segment(s) done, ${counts.rowsScanned} row(s) scanned before`,
    );
  }

  // Checkpoint writes one after the other, each of the state as it is then.
  let saving: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    const store = deps.checkpoint;
    if (store === undefined) return Promise.resolve();
    saving = saving.then(() => store.save(state));
    return saving;
  };

  let pagesThisRun = 0;
  let stopped = false;
  /** The first failure of a segment: the others stop at their next page (their pages done are saved). */
  let failure: { error: unknown } | undefined;
  const limit = pLimit(WRITE_CONCURRENCY);

  const runSegment = async (segment: number): Promise<void> => {
    const position = state.segments[segment] as { next: ScanKey | null; done: boolean };
    while (!position.done && failure === undefined) {
      if (request.maxPages !== undefined && pagesThisRun >= request.maxPages) {
        stopped = true;
        return;
      }
      pagesThisRun += 1;
      const page = await deps.table.scanPage(segment, state.totalSegments, position.next ?? undefined);
      // The page's counts join the run's with its position, so a checkpoint never counts half a page.
      const pageCounts = emptyScrubCounts();
      await Promise.all(
        page.rows.map((row) =>
          limit(async () => {
            const decision = deps.scrubber.scrub(row);
            pageCounts.rowsScanned += 1;
            if (decision.row === undefined) return;
            const outcome = request.dryRun ? 'written' : await deps.table.replaceRow(row, decision.row);
            if (outcome === 'conflict') pageCounts.conflicts += 1;
            else if (outcome === 'refused') pageCounts.rowsRefused += 1;
            else {
              pageCounts.rowsChanged += 1;
              pageCounts.cutValuesCleared += decision.cutValuesCleared;
              addCategoryCounts(pageCounts.valuesTreated, decision.valuesTreated);
            }
          }),
        ),
      );
      pageCounts.pages = 1;
      addCounts(counts, pageCounts);
      position.next = page.next ?? null;
      position.done = page.next === undefined;
      await save();
      progress(
        `segment ${segment + 1}/${state.totalSegments}: ${position.done ? 'done' : 'page read'}; ` +
          `${counts.rowsScanned} row(s) scanned, ${counts.rowsChanged} ${request.dryRun ? 'to change' : 'changed'}, ` +
          `${counts.conflicts} conflict(s)`,
      );
    }
  };

  await Promise.all(
    state.segments.map((_, segment) =>
      runSegment(segment).catch((error: unknown) => {
        failure ??= { error };
      }),
    ),
  );
  await saving;
  if (failure !== undefined) throw failure.error;
  const done = state.segments.filter((s) => s.done).length;
  const complete = done === state.totalSegments;
  if (complete) await deps.checkpoint?.remove();
  else if (stopped) progress('stopped at --max-pages: run again with the same --checkpoint to go on');
  return {
    dryRun: request.dryRun,
    complete,
    resumed: saved !== undefined,
    segments: { total: state.totalSegments, done },
    ...counts,
  };
}
