/**
 * Child of figure 2: the end-to-end measurement in a process of its own, run from its esbuild bundle (see
 * bundle.ts) so that the poller and the reference writer run the build the Lambda runs.
 *
 *   node <bundle of test/bench/end-to-end-run.ts> '<json EndToEndOptions>'
 *
 * Prints `{"started":true}`, then the figures as one JSON line.
 */
import './env';
import { runJsonChild } from './child';
import { benchEndToEnd, type EndToEndOptions } from './end-to-end';

runJsonChild<EndToEndOptions>('end-to-end-run', benchEndToEnd);
