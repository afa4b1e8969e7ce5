/**
 * Errors of lp-visit-capture. Each names what went wrong and carries context, never a secret or raw PII.
 */
export class LpvError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A missing or invalid setting: the message starts with the setting's name. */
export class ConfigError extends LpvError {
  constructor(
    readonly setting: string,
    problem: string,
  ) {
    super(`${setting}: ${problem}`);
  }
}

/**
 * The LivePerson base URI could not be resolved. `fault` says whose it is: `configuration` when the Domain API
 * answered that the account or service does not exist (no retry can help: the tick stops, items untouched, the
 * configuration-fault alarm fires); `unavailable` when the Domain API could not be asked or answered nonsense
 * (ours to retry later, with backoff).
 */
export class BaseUriResolutionError extends LpvError {
  constructor(
    message: string,
    readonly fault: 'configuration' | 'unavailable' = 'unavailable',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * LivePerson credentials could not be loaded (secret missing, access denied, not JSON, or missing fields): always
 * a configuration fault (the tick stops, items untouched, the configuration-fault alarm fires). The message names
 * the secret and what is wrong with it, never its value.
 */
export class CredentialsError extends LpvError {}

/**
 * The hash key of the privacy policy could not be had (its secret missing, access denied, not JSON, a field
 * missing or invalid): a configuration fault, as for the credentials (the tick stops before claiming anything,
 * items untouched, the configuration-fault alarm fires). The message names the secret and the problem, never the
 * key.
 */
export class HashKeyError extends LpvError {}

/** The caller's AbortSignal fired: the request was cancelled on purpose, not failed. */
export class RequestCancelledError extends LpvError {}
