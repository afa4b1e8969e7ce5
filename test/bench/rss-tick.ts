/**
 * Child of figure 5: runs ONE Poller.tick (wired as the Lambda wires it) in a process that does nothing else,
 * sampling its resident set size, and prints one JSON line with the result.
 *
 *   node --import tsx test/bench/rss-tick.ts '<json RssTickArgs>'
 *
 * Prints `{"started":true}` first, then `RssTickResult` when the tick is over.
 */
import './env';
import { runChild } from './child';
import fs from 'node:fs';
import { systemClock } from '../../lib/clock';
import { createStorage } from '../../lib/wiring';
import { benchPoller } from './bench-poller';
import type { StorageSettings } from '../../lib/config';

export interface RssTickArgs {
  storage: StorageSettings;
  accountId: string;
  baseUrl: string;
  concurrency: number;
}

export interface RssTickResult {
  baselineRssBytes: number;
  peakRssSampledBytes: number;
  /** VmHWM from /proc/self/status (the kernel's own peak), when available. */
  vmHwmBytes?: number;
  samples: number;
  wallMs: number;
  itemsClaimed: number;
  fetchesOk: number;
  rowsWritten: number;
  heapUsedPeakBytes: number;
}

function vmHwmBytes(): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as RssTickArgs;
  const storage = createStorage(args.storage, systemClock);
  const poller = benchPoller(storage, args.accountId, args.baseUrl, args.concurrency);
  process.stdout.write(`${JSON.stringify({ started: true })}\n`);
  const baselineRssBytes = process.memoryUsage.rss();
  let peakRssSampledBytes = baselineRssBytes;
  let heapUsedPeakBytes = process.memoryUsage().heapUsed;
  let samples = 0;
  const sampler = setInterval(() => {
    samples++;
    peakRssSampledBytes = Math.max(peakRssSampledBytes, process.memoryUsage.rss());
    if (samples % 10 === 0) heapUsedPeakBytes = Math.max(heapUsedPeakBytes, process.memoryUsage().heapUsed);
  }, 20);
  const startMs = performance.now();
  const summary = await poller.tick({ budgetMs: 30 * 60_000, safetyMarginMs: 0 });
  const wallMs = performance.now() - startMs;
  clearInterval(sampler);
  peakRssSampledBytes = Math.max(peakRssSampledBytes, process.memoryUsage.rss());
  storage.documentClient.destroy();
  const hwm = vmHwmBytes();
  const result: RssTickResult = {
    baselineRssBytes,
    peakRssSampledBytes,
    ...(hwm !== undefined ? { vmHwmBytes: hwm } : {}),
    samples,
    wallMs,
    itemsClaimed: summary.itemsClaimed,
    fetchesOk: summary.fetches.ok,
    rowsWritten: summary.rowsWritten,
    heapUsedPeakBytes,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

runChild('rss-tick', main);
