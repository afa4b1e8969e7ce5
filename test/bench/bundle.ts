/**
 * Our code as the Lambda runs it: an entry point bundled by esbuild into one minified CommonJS file, as
 * infra/function.ts's BUNDLING does for the deployed functions (the AWS SDK inside the bundle, not beside it).
 *
 * Run through tsx instead, every call from one module into another goes through an export getter (tsx's
 * CommonJS interop), which the bundle does not have: figures that time our code time the bundle.
 */
import { buildSync } from 'esbuild';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, lastLineOf, startNodeProcess } from './processes';

/**
 * The bundle of `entry` (a path relative to the repository root), as JavaScript source. BENCH_UNMINIFIED=1
 * leaves it readable (function names in CPU profiles); figures are measured minified, as deployed.
 */
export function bundledSource(entry: string): string {
  const built = buildSync({
    entryPoints: [path.join(ROOT, entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: process.env.BENCH_UNMINIFIED !== '1',
    target: `node${process.versions.node.split('.')[0]}`,
    write: false,
    logLevel: 'silent',
  });
  const text = built.outputFiles[0]?.text;
  if (text === undefined) throw new Error(`esbuild produced nothing for ${entry}`);
  return text;
}

/**
 * Runs a bench child (as runTsChild does) from the bundle of its entry point, written to a temporary
 * directory that goes when the child has ended.
 */
export async function runBundledChild<T>(entry: string, args: readonly string[], label: string): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lpv-bench-'));
  try {
    const file = path.join(dir, `${path.basename(entry, '.ts')}.js`);
    writeFileSync(file, bundledSource(entry));
    return await lastLineOf<T>(await startNodeProcess<unknown>([file, ...args], label), label);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
