import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { signRequest } from '../../lib/liveperson/oauth';
import { parseFlags } from '../../lib/simulator/process';
import { DEFAULT_SIMULATOR_CREDENTIALS } from '../../lib/simulator/server';

const ROOT = path.resolve(__dirname, '../..');

interface Ready {
  baseUrl: string;
  host: string;
  accountId: string;
  sessions: { visitorId: string; sid: string; startTimeMs: number; endTimeMs: number }[];
}

describe('simulator process entry', () => {
  it('parses its flags', () => {
    expect(parseFlags(['--port', '0', '--latency-ms=10-20', '--sessions', '3', '--age-ms', '60000'])).toEqual(
      {
        port: 0,
        'latency-ms': '10-20',
        sessions: 3,
        'age-ms': 60000,
      },
    );
    expect(() => parseFlags(['--nope', '1'])).toThrow(/unknown flag/);
    expect(() => parseFlags(['--seed', 'x'])).toThrow(/number/);
    expect(parseFlags(['--script', 'empty*3,live', '--domain-api-fault', 'reset'])).toEqual({
      script: 'empty*3,live',
      'domain-api-fault': 'reset',
    });
  });

  it('scripts every session (--script) and fails the Domain API (--domain-api-fault)', async () => {
    const child = spawn(
      process.execPath,
      [
        '--require',
        'tsx/cjs',
        'lib/simulator/process.ts',
        '--sessions',
        '1',
        '--early-end-probability',
        '0',
        '--script',
        'empty,bad_request_33',
        '--domain-api-fault',
        'account_not_found',
      ],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', () => reject(new Error('exited before listening')));
      });
      const ready = JSON.parse(line) as Ready;
      const s = ready.sessions[0];
      if (s === undefined) throw new Error('no session');
      const url = `${ready.baseUrl}/api/account/${ready.accountId}/monitoring/visitors/${s.visitorId}/visits/current/state?v=1&sid=${s.sid}`;
      const ask = () =>
        fetch(url, { headers: { Authorization: signRequest('GET', url, DEFAULT_SIMULATOR_CREDENTIALS) } });
      expect(await (await ask()).text()).toBe('{"appSessions":[]}');
      const bad = await ask();
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { internalCode: number }).internalCode).toBe(33);
      const lookup = await fetch(
        `${ready.baseUrl}/api/account/${ready.accountId}/service/smt/baseURI.json?version=1.0`,
      );
      expect(lookup.status).toBe(404);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('exits 2 on a bad --script or --domain-api-fault', async () => {
    for (const args of [
      ['--script', 'emtpy'],
      ['--domain-api-fault', 'down'],
    ]) {
      const child = spawn(process.execPath, ['--require', 'tsx/cjs', 'lib/simulator/process.ts', ...args], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      expect(code).toBe(2);
      expect(stderr).toMatch(/emtpy|down/);
    }
  });

  it('prints one JSON line once listening, serves signed requests, and exits 0 on SIGTERM', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of ['LP_CONSUMER_KEY', 'LP_CONSUMER_SECRET', 'LP_TOKEN', 'LP_TOKEN_SECRET']) delete env[k];
    const child = spawn(
      process.execPath,
      [
        '--require',
        'tsx/cjs',
        'lib/simulator/process.ts',
        '--port',
        '0',
        '--seed',
        '5',
        '--sessions',
        '3',
        '--age-ms',
        '1200000',
        '--early-end-probability',
        '0',
      ],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout }).once('line', resolve);
        child.once('exit', () => reject(new Error(`exited before listening: ${stderr}`)));
      });
      const ready = JSON.parse(line) as Ready;
      expect(ready.sessions).toHaveLength(3);
      // --age-ms: the sessions were already 20 minutes old when the simulator started.
      const listeningAtMs = Date.now();
      for (const session of ready.sessions) {
        expect(session.startTimeMs).toBeLessThanOrEqual(listeningAtMs - 1_200_000);
        expect(session.startTimeMs).toBeGreaterThan(listeningAtMs - 1_200_000 - 60_000);
      }
      expect(ready.baseUrl).toBe(`http://${ready.host}`);
      const s = ready.sessions[0];
      if (s === undefined) throw new Error('no session');
      const url = `${ready.baseUrl}/api/account/${ready.accountId}/monitoring/visitors/${s.visitorId}/visits/current/state?v=1&sid=${s.sid}`;
      const res = await fetch(url, {
        headers: { Authorization: signRequest('GET', url, DEFAULT_SIMULATOR_CREDENTIALS) },
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(s.sid);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    const stats = JSON.parse(stderr.trim().split('\n').pop() ?? '{}') as { requests: number };
    expect(stats.requests).toBe(1);
  });
});
