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

/** The LivePerson base URI could not be resolved (unknown account or service, Domain API down). */
export class BaseUriResolutionError extends LpvError {}

/** LivePerson credentials could not be loaded (secret missing, unreadable or of the wrong shape). */
export class CredentialsError extends LpvError {}

/** The caller's AbortSignal fired: the request was cancelled on purpose, not failed. */
export class RequestCancelledError extends LpvError {}
