import path from 'node:path';
import { silentLog } from '../../lib/log';
import { runLocal } from '../../lib/local/run';
import { runCommand } from '../support/cli';

jest.setTimeout(120_000);

describe('the local run (npm start) on a compressed clock', () => {
  it('captures 100% of observable events with no duplicates when nothing fails', async () => {
    const report = await runLocal({
      visitors: 16,
      speed: 3000,
      arrivalWindowMs: 10 * 60_000,
      seed: 11,
      faults: { latencyMs: 1 },
      log: silentLog,
    });
    expect(report.pipelineErrors).toEqual([]);
    expect(report.sessions.ACTIVE).toBe(0);
    expect(report.sessions.CAPTURED + report.sessions.LOST).toBe(16);
    expect(report.completeness.observableEvents).toBeGreaterThan(100);
    expect(report.completeness.completeness).toBe(1);
    expect(report.completeness.duplicates).toBe(0);
    expect(report.rowsByType.event).toBe(report.completeness.storedEvents);
    expect(report.rowsByType.outcome).toBe(16);
  });

  it('loses nothing that was still on the simulator when it was polled, with faults injected', async () => {
    const report = await runLocal({
      visitors: 16,
      speed: 3000,
      seed: 12,
      arrivalWindowMs: 10 * 60_000,
      faults: {
        latencyMs: { min: 1, max: 5 },
        serverErrorRate: 0.15,
        throttleRate: 0.05,
        malformedRate: 0.05,
        resetRate: 0.05,
      },
      log: silentLog,
    });
    expect(report.pipelineErrors).toEqual([]);
    expect(Object.values(report.simulatorFaults).reduce((a, b) => a + b, 0)).toBeGreaterThan(10);
    expect(report.fetches.retryable + report.fetches.malformed).toBeGreaterThan(0);
    expect(report.completeness.incompleteSessions).toEqual([]);
    expect(report.completeness.completeness).toBe(1);
    expect(report.completeness.duplicates).toBe(0);
  });

  it('runs as `npm start` does, with a small, fast configuration, and exits 0 with a readable summary', async () => {
    const result = await runCommand(
      process.execPath,
      [
        path.resolve(__dirname, '../../node_modules/tsx/dist/cli.mjs'),
        'lib/cli/start.ts',
        '--visitors',
        '8',
        '--speed',
        '2000',
        '--seed',
        '5',
      ],
      {},
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/sessions {3}captured \d+, lost \d+, invalid 0, failed 0, still active 0/);
    expect(result.stdout).toMatch(/complete {3}100% of observable events stored/);
    expect(result.stdout).toMatch(/duplicates 0/);
    expect(result.stdout).toMatch(/LPV_LOCAL_DATA=/);
    expect(result.stderr).toMatch(/\[sim \d\d:\d\d\/\d\d:\d\d\]/);
    const bad = await runCommand(
      process.execPath,
      [path.resolve(__dirname, '../../node_modules/tsx/dist/cli.mjs'), 'lib/cli/start.ts', '--speed', 'fast'],
      {},
    );
    expect(bad.code).toBe(2);
  });
});
