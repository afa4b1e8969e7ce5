/**
 * How often a live session is polled (issue 16): the settings, their defaults and their validation. Pure, and a
 * file directly in lib/ importing nothing, for the reason lib/poll-timing.ts gives: lib/config.ts and
 * infra/config.ts validate these settings, and neither may import lib/poller/ (the policy that applies them,
 * lib/poller/policy.ts pollPolicy, imports this file instead).
 *
 * The cadence (docs/reliability.md, "Poll cadence"):
 * - after an answer with new events, the next poll is `afterEventsIntervalSec` later;
 * - after an answer without new events, it is as long again as the session has been quiet (now − its newest
 *   event), at least `pollIntervalSec` and at most `quietMaxIntervalSec`: a session quiet for 20 minutes waits
 *   20 minutes, so consecutive quiet polls space out by doubling up to the cap, and the next new event puts it
 *   back on `afterEventsIntervalSec`;
 * - one poll always lands in the final window (lib/poll-timing.ts finalWindowMsFor) before the deadline, whatever
 *   the interval: the never-silent rule;
 * - with `lastLook`, one more poll lands at the retry-safe deadline (deadline − (schedule period + request
 *   timeout)): the latest time a poll is still sure to be answered, so a session that reaches the six-hour wall
 *   loses at most its last P + T instead of its last final window. Best effort: the timing rule guarantees the
 *   final-window poll, not this one (a poller that dies during it leaves the item to end at its deadline).
 *
 * Why these defaults (bench figure 6, on the simulator's ground truth): LivePerson calls per captured session
 * fall from 46 to about 23 while the share of produced events stored stays at the baseline's. What the figure
 * shows about where that comes from: the simulator's visitors produce events as a Poisson stream and LivePerson
 * ends 30 % of sessions early at a time that does not depend on activity, so an event is lost when the session
 * ends between it and the next poll, with a chance that grows with the gap. Polling sooner after a change (a
 * third of the interval, the cadence before issue 16) buys little there, because a change does not announce
 * more; the last look buys much (the 70 % of sessions that reach the wall lost their last ~2½ minutes); a quiet
 * session waiting longer costs about what it saves.
 */

/** The cadence settings, in seconds (the units operators set them in). */
export interface PollCadence {
  /** The interval after an answer without new events, and the least one after a quiet answer. */
  pollIntervalSec: number;
  /** The interval after an answer with new events. Undefined: `pollIntervalSec`. */
  afterEventsIntervalSec?: number;
  /**
   * The longest interval a quiet session gets. Undefined: DEFAULT_QUIET_MAX_INTERVAL_SEC, or `pollIntervalSec`
   * when that is longer. Equal to `pollIntervalSec`: a fixed interval (no quiet back-off).
   */
  quietMaxIntervalSec?: number;
  /** One more poll at the retry-safe deadline, after the final-window poll. Undefined: true. */
  lastLook?: boolean;
}

/** 14 minutes: with the other defaults, about 23 calls per captured session (bench figure 6). */
export const DEFAULT_POLL_INTERVAL_SEC = 840;
/** 20 minutes: a quiet session is polled at most this far apart. */
export const DEFAULT_QUIET_MAX_INTERVAL_SEC = 1200;

/** The cadence a deployment gets when it sets nothing. */
export const DEFAULT_POLL_CADENCE: Readonly<Required<PollCadence>> = {
  pollIntervalSec: DEFAULT_POLL_INTERVAL_SEC,
  afterEventsIntervalSec: DEFAULT_POLL_INTERVAL_SEC,
  quietMaxIntervalSec: DEFAULT_QUIET_MAX_INTERVAL_SEC,
  lastLook: true,
};

/** The cadence with every default filled in from `pollIntervalSec`. */
export function resolveCadence(cadence: PollCadence): Required<PollCadence> {
  return {
    pollIntervalSec: cadence.pollIntervalSec,
    afterEventsIntervalSec: cadence.afterEventsIntervalSec ?? cadence.pollIntervalSec,
    quietMaxIntervalSec:
      cadence.quietMaxIntervalSec ?? Math.max(DEFAULT_QUIET_MAX_INTERVAL_SEC, cadence.pollIntervalSec),
    lastLook: cadence.lastLook ?? true,
  };
}

/** What each cadence setting is called where the operator sets it. */
export interface CadenceSettingNames {
  pollInterval: string;
  afterEventsInterval: string;
  quietMaxInterval: string;
}

export const ENV_CADENCE_SETTING_NAMES: CadenceSettingNames = {
  pollInterval: 'POLL_INTERVAL_SECONDS',
  afterEventsInterval: 'POLL_INTERVAL_AFTER_EVENTS_SECONDS',
  quietMaxInterval: 'POLL_QUIET_MAX_INTERVAL_SECONDS',
};

/**
 * What is wrong with a cadence, one message per problem, empty when nothing is. The intervals must be whole
 * positive seconds (the caller's parser says so first), and the quiet cap no shorter than the interval: a cap
 * below it would poll quiet sessions more often than active ones, the opposite of the setting's purpose.
 */
export function cadenceProblems(
  cadence: PollCadence,
  names: CadenceSettingNames = ENV_CADENCE_SETTING_NAMES,
): string[] {
  const problems: string[] = [];
  const positive = (name: string, value: number | undefined): void => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
      problems.push(`${name} must be a whole number of seconds > 0, got ${value}`);
    }
  };
  positive(names.pollInterval, cadence.pollIntervalSec);
  positive(names.afterEventsInterval, cadence.afterEventsIntervalSec);
  positive(names.quietMaxInterval, cadence.quietMaxIntervalSec);
  if (cadence.quietMaxIntervalSec !== undefined && cadence.quietMaxIntervalSec < cadence.pollIntervalSec) {
    problems.push(
      `${names.quietMaxInterval} (${cadence.quietMaxIntervalSec} s) must be at least ${names.pollInterval} ` +
        `(${cadence.pollIntervalSec} s): a quiet session is never polled more often than the interval`,
    );
  }
  return problems;
}
