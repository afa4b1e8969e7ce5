import { ManualClock, type Clock } from '../../lib/clock';
import { StaticCredentialsProvider } from '../../lib/liveperson/credentials';
import { DomainApiBaseUrl, FixedBaseUrl } from '../../lib/liveperson/base-url';
import { VisitInformationClient } from '../../lib/liveperson/client';
import { createAgents } from '../../lib/liveperson/http';
import type { LivePersonCredentials } from '../../lib/liveperson/oauth';
import { DEFAULT_SIMULATOR_CREDENTIALS, VisitSimulator, type FaultOptions } from '../../lib/simulator/server';
import { SimulatedWorld } from '../../lib/simulator/world';

export const TEST_ACCOUNT = '12345678';
export const T0_MS = Date.UTC(2026, 10, 25, 8, 0, 0);

export interface SimulatorFixture {
  clock: ManualClock;
  world: SimulatedWorld;
  simulator: VisitSimulator;
  credentials: LivePersonCredentials;
  client(options?: {
    credentials?: LivePersonCredentials;
    requestTimeoutMs?: number;
    maxBodyBytes?: number;
    viaDomainApi?: boolean;
  }): VisitInformationClient;
  stop(): Promise<void>;
}

/** A LivePerson simulator on a loopback port, on a manual clock the test drives. */
export async function startSimulator(
  options: {
    seed?: number;
    faults?: Partial<FaultOptions>;
    clock?: Clock;
    earlyEndProbability?: number;
  } = {},
): Promise<SimulatorFixture> {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock(T0_MS);
  const world = new SimulatedWorld({
    seed: options.seed ?? 7,
    accountId: TEST_ACCOUNT,
    clock: options.clock ?? clock,
    ...(options.earlyEndProbability !== undefined
      ? { earlyEndProbability: options.earlyEndProbability }
      : {}),
  });
  const credentials = { ...DEFAULT_SIMULATOR_CREDENTIALS };
  const simulator = new VisitSimulator({
    world,
    credentials,
    ...(options.faults ? { faults: options.faults } : {}),
  });
  await simulator.start();
  const agents = createAgents();
  return {
    clock,
    world,
    simulator,
    credentials,
    client(clientOptions = {}) {
      return new VisitInformationClient({
        accountId: TEST_ACCOUNT,
        baseUrl: clientOptions.viaDomainApi
          ? new DomainApiBaseUrl({ accountId: TEST_ACCOUNT, domainApiUrl: simulator.baseUrl, agents, clock })
          : new FixedBaseUrl(simulator.baseUrl),
        credentials: new StaticCredentialsProvider(clientOptions.credentials ?? credentials),
        agents,
        ...(clientOptions.requestTimeoutMs !== undefined
          ? { requestTimeoutMs: clientOptions.requestTimeoutMs }
          : {}),
        ...(clientOptions.maxBodyBytes !== undefined ? { maxBodyBytes: clientOptions.maxBodyBytes } : {}),
      });
    },
    async stop() {
      agents.http.destroy();
      await simulator.stop();
    },
  };
}
