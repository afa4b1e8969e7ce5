/**
 * Figure 5: peak RSS of a poller process while ONE tick handles 10,000 sessions, against the 512 MB target
 * (the Lambda's memory). The tick runs in a child process of its own (rss-tick.ts) that samples its RSS and
 * reads the kernel's VmHWM; the simulator and dynalite run in processes of their own as well.
 */
import { systemClock } from '../../lib/clock';
import { runTsChild, startDynamoProcess, startSimulatorProcess } from './processes';
import { fixed, mib, type Figure } from './report';
import type { RssTickArgs, RssTickResult } from './rss-tick';
import { bulkEnqueue, freshStorage } from './storage';

const LIMIT_BYTES = 512 * 1024 * 1024;

export async function benchPeakRss(options: {
  sessions: number;
  /** The size the target is set for (10,000); --quick runs fewer and says so. */
  fullSessions: number;
  concurrency: number;
  latencyMs: number;
}): Promise<Figure[]> {
  const dynamo = await startDynamoProcess();
  try {
    const simulator = await startSimulatorProcess({
      seed: 5,
      sessions: options.sessions,
      'latency-ms': options.latencyMs,
      'early-end-probability': 0,
    });
    try {
      const { settings, storage } = await freshStorage(dynamo.endpoint, 'bench-rss', systemClock);
      try {
        await bulkEnqueue(
          storage,
          settings,
          simulator.accountId,
          simulator.sessions.map((s) => ({ visitorId: s.visitorId, sid: s.sid, startTimeMs: s.startTimeMs })),
        );
      } finally {
        storage.documentClient.destroy();
      }
      const args: RssTickArgs = {
        storage: settings,
        accountId: simulator.accountId,
        baseUrl: simulator.baseUrl,
        concurrency: options.concurrency,
      };
      const result = await runTsChild<RssTickResult>(
        'test/bench/rss-tick.ts',
        [JSON.stringify(args)],
        'rss-tick',
      );
      const peakBytes = Math.max(result.peakRssSampledBytes, result.vmHwmBytes ?? 0);
      const partial = options.sessions < options.fullSessions;
      return [
        {
          id: '5',
          title: `peak RSS, one tick over ${options.sessions} sessions${partial ? ` (--quick; the target is for ${options.fullSessions})` : ''}`,
          ratio: peakBytes / LIMIT_BYTES,
          against: `of 512 MiB`,
          target: { op: '<', value: 1 },
          raw:
            `peak ${mib(peakBytes)} (sampled ${mib(result.peakRssSampledBytes)}, VmHWM ${result.vmHwmBytes !== undefined ? mib(result.vmHwmBytes) : 'n/a'}); ` +
            `before the tick ${mib(result.baselineRssBytes)}; heap used peak ${mib(result.heapUsedPeakBytes)}; ` +
            `${result.itemsClaimed} sessions, ${result.fetchesOk} ok, ${result.rowsWritten} rows in ${fixed(result.wallMs / 1000, 1)} s ` +
            `(C=${options.concurrency}, L=${options.latencyMs} ms)`,
        },
      ];
    } finally {
      await simulator.child.stop();
    }
  } finally {
    await dynamo.child.stop();
  }
}
