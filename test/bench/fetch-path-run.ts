/**
 * Child of figure 1: the fetch-path measurement in a process of its own, run from its esbuild bundle (see
 * bundle.ts) so that the client and flattener run the build the Lambda runs.
 *
 *   node <bundle of test/bench/fetch-path-run.ts> '<json FetchPathOptions>'
 *
 * Prints `{"started":true}`, then the figures as one JSON line.
 */
import './env';
import { runJsonChild } from './child';
import { benchFetchPath, type FetchPathOptions } from './fetch-path';

runJsonChild<FetchPathOptions>('fetch-path-run', benchFetchPath);
