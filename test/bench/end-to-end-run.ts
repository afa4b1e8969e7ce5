/**
 * Child of figure 2: the end-to-end measurement in a process of its own, run from its esbuild bundle (see
 * bundle.ts) so that the poller and the reference writer run the build the Lambda runs.
 *
 *   node <bundle of test/bench/end-to-end-run.ts> '<json EndToEndOptions>'
 *
 * Prints `{"started":true}`, then the figures as one JSON line.
 */
import './env';
import { runChild } from './child';
import { benchEndToEnd, type EndToEndOptions } from './end-to-end';

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as EndToEndOptions;
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  const figures = await benchEndToEnd(options);
  process.stdout.write(`${JSON.stringify(figures)}\n`);
}

runChild('end-to-end-run', main);
