/**
 * Child of figure 1: the fetch-path measurement in a process of its own, run from its esbuild bundle (see
 * bundle.ts) so that the client and flattener run the build the Lambda runs.
 *
 *   node <bundle of test/bench/fetch-path-run.ts> '<json FetchPathOptions>'
 *
 * Prints `{"started":true}`, then the figures as one JSON line.
 */
import './env';
import { runChild } from './child';
import { benchFetchPath, type FetchPathOptions } from './fetch-path';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as FetchPathOptions;
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  const figures = await benchFetchPath(options);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

runChild('fetch-path-run', main);
