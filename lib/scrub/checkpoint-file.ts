/**
 * `lpv scrub --checkpoint FILE`: the run's position as a JSON file. Written after every page to a temporary
 * file beside it and renamed over it, so a run killed mid-write leaves the previous checkpoint whole. Mode 0600:
 * a scan position holds a row's key (an account id and a session id).
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { LpvError } from '../errors';
import type { CheckpointStore, ScrubCheckpoint } from './scrub';

/** A checkpoint file that cannot be read as one. */
export class ScrubCheckpointFileError extends LpvError {}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The checkpoint in `text`, checked field by field (a hand-edited or foreign file fails loudly). */
export function parseCheckpoint(text: string): ScrubCheckpoint {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ScrubCheckpointFileError('the checkpoint file is not JSON');
  }
  const bad = (what: string): never => {
    throw new ScrubCheckpointFileError(`the checkpoint file is not an lpv scrub checkpoint (${what})`);
  };
  if (!isRecord(parsed) || parsed.version !== 1) return bad('version');
  if (typeof parsed.table !== 'string') return bad('table');
  const total = parsed.totalSegments;
  if (typeof total !== 'number' || !Number.isInteger(total) || total < 1) return bad('totalSegments');
  if (typeof parsed.dryRun !== 'boolean') return bad('dryRun');
  const segments = parsed.segments;
  if (!Array.isArray(segments) || segments.length !== total) return bad('segments');
  for (const s of segments as unknown[]) {
    if (!isRecord(s) || typeof s.done !== 'boolean' || !(s.next === null || isRecord(s.next))) {
      return bad('segments');
    }
  }
  const counts = parsed.counts;
  if (!isRecord(counts) || !isRecord(counts.valuesTreated)) return bad('counts');
  for (const name of [
    'rowsScanned',
    'rowsChanged',
    'conflicts',
    'rowsRefused',
    'cutValuesCleared',
    'pages',
  ]) {
    if (typeof counts[name] !== 'number') return bad('counts');
  }
  return parsed as unknown as ScrubCheckpoint;
}

export class CheckpointFile implements CheckpointStore {
  constructor(private readonly path: string) {}

  async load(): Promise<ScrubCheckpoint | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    return parseCheckpoint(text);
  }

  async save(checkpoint: ScrubCheckpoint): Promise<void> {
    const temporary = `${this.path}.tmp`;
    await writeFile(temporary, JSON.stringify(checkpoint, null, 2) + '\n', { mode: 0o600 });
    await rename(temporary, this.path);
  }

  async remove(): Promise<void> {
    await rm(this.path, { force: true });
  }
}
