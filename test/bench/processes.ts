import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { SessionInfo } from '../../lib/simulator/world';
import { stopChild } from '../support/child-process';

/** The repository root; a bundled child (bundle.ts), which runs from a temporary directory, is told it. */
export const ROOT = process.env.LPV_BENCH_ROOT ?? path.resolve(__dirname, '../..');

/** Every child the bench started and has not stopped yet, so that a crash still ends them (by pid). */
const running = new Set<ChildProcess>();

export interface ChildHandle {
  readonly pid: number;
  /** What the child wrote on stderr so far. */
  stderr(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the child has exited. */
  stop(graceMs?: number): Promise<void>;
  /** Resolves with the exit code once the child has exited on its own. */
  exited: Promise<number | null>;
}

/**
 * Starts a TypeScript entry point of the repository in a node process of its own (`node --import tsx`: one
 * pid, no wrapper process in between) and resolves with the first line it prints on stdout, parsed as JSON.
 */
export async function startTsProcess<T>(
  script: string,
  args: readonly string[],
  label: string,
  env: Record<string, string> = {},
): Promise<{ ready: T; child: ChildHandle; stdoutLines: AsyncIterable<string> }> {
  return startNodeProcess<T>(['--import', 'tsx', path.join(ROOT, script), ...args], label, env);
}

/** `node ...nodeArgs` in the repository root; resolves as startTsProcess does. */
export async function startNodeProcess<T>(
  nodeArgs: readonly string[],
  label: string,
  env: Record<string, string> = {},
): Promise<{ ready: T; child: ChildHandle; stdoutLines: AsyncIterable<string> }> {
  const proc = spawn(
    process.execPath,
    [...(process.env.BENCH_CHILD_NODE_OPTIONS ?? '').split(' ').filter((o) => o !== ''), ...nodeArgs],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        LPV_BENCH_ROOT: ROOT,
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.add(proc);
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    // Keep the tail only: a long-running child must not grow the bench's memory.
    stderr = (stderr + chunk.toString()).slice(-64 * 1024);
  });
  const exited = new Promise<number | null>((resolve) => {
    proc.once('exit', (code) => {
      running.delete(proc);
      resolve(code);
    });
  });
  const lines = createInterface({ input: proc.stdout as NodeJS.ReadableStream });
  const iterator = lines[Symbol.asyncIterator]();
  const first = await Promise.race([
    iterator.next(),
    exited.then((code) => {
      throw new Error(`${label} exited (code ${code}) before it was ready: ${stderr.trim().slice(-2000)}`);
    }),
  ]);
  if (first.done === true) throw new Error(`${label} closed stdout before it was ready`);
  const child: ChildHandle = {
    pid: proc.pid as number,
    stderr: () => stderr,
    exited,
    stop: (graceMs) => stopChild(proc, graceMs),
  };
  return {
    ready: JSON.parse(first.value) as T,
    child,
    stdoutLines: { [Symbol.asyncIterator]: () => iterator },
  };
}

/** Kills every child still running (the bench crashed or was interrupted). Only our own pids. */
export function killRunningChildren(): void {
  for (const proc of running) proc.kill('SIGKILL');
  running.clear();
}

export interface SimulatorProcess {
  baseUrl: string;
  accountId: string;
  sessions: SessionInfo[];
  child: ChildHandle;
}

/** lib/simulator/process.ts in its own process; `flags` are its command-line flags (see its header). */
export async function startSimulatorProcess(
  flags: Record<string, string | number>,
): Promise<SimulatorProcess> {
  const args = Object.entries(flags).flatMap(([name, value]) => [`--${name}`, String(value)]);
  // Its own defaults for credentials: the bench signs with DEFAULT_SIMULATOR_CREDENTIALS.
  const env: Record<string, string> = {
    LP_CONSUMER_KEY: '',
    LP_CONSUMER_SECRET: '',
    LP_TOKEN: '',
    LP_TOKEN_SECRET: '',
  };
  const { ready, child } = await startTsProcess<{
    baseUrl: string;
    accountId: string;
    sessions: SessionInfo[];
  }>('lib/simulator/process.ts', ['--port', '0', ...args], 'simulator', env);
  return { ...ready, child };
}

export interface DynamoProcess {
  endpoint: string;
  child: ChildHandle;
}

/** dynalite (in memory) in its own process. */
export async function startDynamoProcess(): Promise<DynamoProcess> {
  const { ready, child } = await startTsProcess<{ endpoint: string }>(
    'test/bench/dynalite-process.ts',
    [],
    'dynalite',
  );
  return { endpoint: ready.endpoint, child };
}

/** Runs a bench child to completion and returns the last JSON line it printed. */
export async function runTsChild<T>(script: string, args: readonly string[], label: string): Promise<T> {
  return lastLineOf<T>(await startTsProcess<unknown>(script, args, label), label);
}

/** Reads a started child's stdout to its end and returns its last JSON line; throws if it exited non-zero. */
export async function lastLineOf<T>(
  started: { ready: unknown; child: ChildHandle; stdoutLines: AsyncIterable<string> },
  label: string,
): Promise<T> {
  const { ready, child, stdoutLines } = started;
  let last: unknown = ready;
  for await (const line of stdoutLines) if (line.trim() !== '') last = JSON.parse(line);
  const code = await child.exited;
  if (code !== 0) throw new Error(`${label} exited with code ${code}: ${child.stderr().trim().slice(-2000)}`);
  return last as T;
}

/** CPU time (user + system) a process has used so far, in ms; undefined where /proc is not available. */
export function processCpuMs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces, hence the last ')'): utime is the 14th field.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** CPU cores a process used between `startCpuMs` (from processCpuMs) and now, over `wallMs`. */
export function coresSince(pid: number, startCpuMs: number | undefined, wallMs: number): number | undefined {
  const now = processCpuMs(pid);
  return now === undefined || startCpuMs === undefined || wallMs <= 0
    ? undefined
    : (now - startCpuMs) / wallMs;
}

function procStatTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((a, b) => a + b, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Share of the machine's CPU time busy over `sampleMs` (from /proc/stat), e.g. others' work before the bench. */
export async function machineBusyShare(sampleMs = 1000): Promise<number | undefined> {
  const before = procStatTicks();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const after = procStatTicks();
  if (before === undefined || after === undefined || after.total === before.total) return undefined;
  return (after.busy - before.busy) / (after.total - before.total);
}

export interface CpuAccount {
  /** CPU time the whole machine was busy, ms (all cores). */
  machineBusyMs: number;
  /** CPU time of this process and of its children that have exited (and been waited for), ms. */
  ownTreeMs: number;
}

/** A snapshot for telling this bench's CPU use from other work on the machine (Linux /proc only). */
export function cpuAccount(): CpuAccount | undefined {
  const machine = procStatTicks();
  if (machine === undefined) return undefined;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime: fields 14 to 17, in clock ticks (100 per second).
    const ownTicks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return { machineBusyMs: machine.busy * 10, ownTreeMs: ownTicks * 10 };
  } catch {
    return undefined;
  }
}
