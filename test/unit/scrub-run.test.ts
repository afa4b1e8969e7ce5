/**
 * lib/scrub/scrub.ts's run over an in-memory table: a segment that fails stops the run with the pages done
 * saved (never half a page counted), and the next run continues to exactly the full counts; a checkpoint file
 * that is not one fails loudly.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointFile, parseCheckpoint, ScrubCheckpointFileError } from '../../lib/scrub/checkpoint-file';
import type { RowScrubber, ScrubRow } from '../../lib/scrub/plan';
import {
  runScrub,
  ScrubCheckpointMismatchError,
  type CheckpointStore,
  type ScanKey,
  type ScrubCheckpoint,
  type ScrubTable,
} from '../../lib/scrub/scrub';

const PAGE = 3;

/** 20 rows in 2 segments (even and odd), the odd ones to change; `failAt` makes that scan call throw once. */
class MemoryTable implements ScrubTable {
  readonly rows: ScrubRow[] = Array.from({ length: 20 }, (_, i) => ({
    pk: `p${i}`,
    sk: 's',
    n: i,
    raw: i % 2 === 1,
  }));
  scans = 0;
  writes = 0;
  constructor(public failAt?: number) {}

  scanPage(segment: number, total: number, start: ScanKey | undefined) {
    this.scans += 1;
    if (this.scans === this.failAt) return Promise.reject(new Error('network down'));
    const mine = this.rows.filter((_, i) => i % total === segment);
    const from = start === undefined ? 0 : mine.findIndex((r) => r.pk === start.pk) + 1;
    const rows = mine.slice(from, from + PAGE).map((r) => ({ ...r }));
    const last = rows.at(-1);
    return Promise.resolve({
      rows,
      next: from + PAGE < mine.length && last !== undefined ? { pk: last.pk as string, sk: 's' } : undefined,
    });
  }

  replaceRow(_scanned: Readonly<ScrubRow>, next: Readonly<ScrubRow>) {
    this.writes += 1;
    const i = this.rows.findIndex((r) => r.pk === next.pk);
    this.rows[i] = { ...next };
    return Promise.resolve('written' as const);
  }
}

const scrubber: RowScrubber = {
  scrub: (row) =>
    row.raw === true
      ? { row: { ...row, raw: false }, valuesTreated: { name: 1 }, cutValuesCleared: 0 }
      : { row: undefined, valuesTreated: {}, cutValuesCleared: 0 },
};

class MemoryCheckpoint implements CheckpointStore {
  saved: ScrubCheckpoint | undefined;
  removed = false;
  load = () =>
    Promise.resolve(
      this.saved === undefined ? undefined : (JSON.parse(JSON.stringify(this.saved)) as ScrubCheckpoint),
    );
  save = (c: ScrubCheckpoint) => {
    this.saved = JSON.parse(JSON.stringify(c)) as ScrubCheckpoint;
    return Promise.resolve();
  };
  remove = () => {
    this.removed = true;
    this.saved = undefined;
    return Promise.resolve();
  };
}

describe('runScrub', () => {
  it('stops on a failing segment with its finished pages saved, and the next run ends at exactly the full counts', async () => {
    const table = new MemoryTable(4);
    const checkpoint = new MemoryCheckpoint();
    const request = { table: 't', totalSegments: 2, dryRun: false };
    await expect(runScrub(request, { table, scrubber, checkpoint })).rejects.toThrow('network down');
    const saved = checkpoint.saved as ScrubCheckpoint;
    expect(saved.counts.pages).toBeGreaterThan(0);
    expect(saved.counts.rowsScanned).toBe(saved.counts.pages * PAGE);
    expect(checkpoint.removed).toBe(false);

    table.failAt = undefined;
    const report = await runScrub(request, { table, scrubber, checkpoint });
    expect(report).toMatchObject({
      complete: true,
      resumed: true,
      rowsScanned: 20,
      rowsChanged: 10,
      valuesTreated: { name: 10 },
      segments: { total: 2, done: 2 },
    });
    expect(table.rows.every((r) => r.raw === false)).toBe(true);
    expect(checkpoint.removed).toBe(true);
  });

  it('with dryRun writes nothing and counts what would change', async () => {
    const table = new MemoryTable();
    const report = await runScrub({ table: 't', totalSegments: 3, dryRun: true }, { table, scrubber });
    expect(report).toMatchObject({ rowsScanned: 20, rowsChanged: 10, complete: true, resumed: false });
    expect(table.writes).toBe(0);
  });

  it('stops at maxPages with the checkpoint kept, and refuses it for another table or mode', async () => {
    const table = new MemoryTable();
    const checkpoint = new MemoryCheckpoint();
    const report = await runScrub(
      { table: 't', totalSegments: 2, dryRun: false, maxPages: 2 },
      { table, scrubber, checkpoint },
    );
    expect(report).toMatchObject({ complete: false, pages: 2, rowsScanned: 2 * PAGE });
    expect(checkpoint.saved?.counts.pages).toBe(2);
    await expect(
      runScrub({ table: 'u', totalSegments: 2, dryRun: false }, { table, scrubber, checkpoint }),
    ).rejects.toThrow(ScrubCheckpointMismatchError);
    await expect(
      runScrub({ table: 't', totalSegments: 2, dryRun: true }, { table, scrubber, checkpoint }),
    ).rejects.toThrow(ScrubCheckpointMismatchError);
  });
});

describe('the checkpoint file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lpv-scrub-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips, and is gone once removed', async () => {
    const file = new CheckpointFile(join(dir, 'c.json'));
    expect(await file.load()).toBeUndefined();
    const checkpoint: ScrubCheckpoint = {
      version: 1,
      table: 't',
      totalSegments: 1,
      dryRun: false,
      segments: [{ next: { pk: 'S#a#b', sk: 'x' }, done: false }],
      counts: {
        rowsScanned: 1,
        rowsChanged: 0,
        valuesTreated: {},
        conflicts: 0,
        rowsRefused: 0,
        cutValuesCleared: 0,
        pages: 1,
      },
    };
    await file.save(checkpoint);
    expect(await file.load()).toEqual(checkpoint);
    await file.remove();
    expect(await file.load()).toBeUndefined();
  });

  it.each([
    ['not JSON', '{'],
    ['another file', '{"version":1}'],
    [
      'segments that do not match their count',
      '{"version":1,"table":"t","totalSegments":2,"dryRun":false,"segments":[],"counts":{}}',
    ],
  ])('fails loudly on %s', async (_, text) => {
    expect(() => parseCheckpoint(text)).toThrow(ScrubCheckpointFileError);
    writeFileSync(join(dir, 'bad.json'), text);
    await expect(new CheckpointFile(join(dir, 'bad.json')).load()).rejects.toThrow(ScrubCheckpointFileError);
  });
});
