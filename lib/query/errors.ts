/**
 * Errors of the analyst read side (lib/query). The CLI turns QueryArgumentError into a usage error (exit 2);
 * anything else is a failure at run time.
 */
import { LpvError } from '../errors';

export class QueryError extends LpvError {}

/** A query argument the reader cannot accept (a time that is not ISO 8601, an empty range, ...). */
export class QueryArgumentError extends QueryError {
  constructor(
    readonly argument: string,
    problem: string,
  ) {
    super(`${argument}: ${problem}`);
  }
}

/** The export target cannot be used (not empty, not a directory). */
export class ExportTargetError extends QueryError {}
