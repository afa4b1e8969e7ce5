/** Public API of the Visit Information API simulator (see world.ts for the model, server.ts for HTTP). */
export { Random } from './random';
export {
  SimulatedWorld,
  EXAMPLE_EVENT_TYPES,
  EXTRA_EVENT_TYPES,
  type SimulatedWorldOptions,
  type StartSessionOptions,
  type SessionInfo,
  type GroundTruthEvent,
  type SessionGroundTruth,
  type LookupResult,
} from './world';
export {
  VisitSimulator,
  NO_FAULTS,
  DEFAULT_SIMULATOR_CREDENTIALS,
  type FaultOptions,
  type FaultKind,
  type SimulatorStats,
  type VisitSimulatorOptions,
  type DomainApiFault,
} from './server';
export {
  SCRIPTED_ANSWER_KINDS,
  OVERSIZED_EVENT_NUMERIC_FIELDS,
  OVERSIZED_EVENT_TYPE,
  parseScript,
  type ScriptStep,
  type ScriptStepOptions,
  type ScriptedAnswerKind,
} from './scripts';
