/**
 * Times of analyst queries. Only ISO 8601 is accepted, never guessed:
 *   - a calendar date `YYYY-MM-DD`: the start of that UTC day;
 *   - a date-time `YYYY-MM-DDThh:mm[:ss[.fraction]]` followed by `Z` or an offset `±hh:mm`.
 * A date-time without a zone, a week or ordinal date, `now`, epoch numbers, `2024-1-5`: all rejected.
 * Ranges are half-open: `from` inclusive, `to` exclusive, in epoch milliseconds. A fraction finer than a
 * millisecond rounds up (stored times are whole milliseconds, so `t >= from` and `t < to` keep their meaning).
 */
import { isIndexableMs, utcDay } from '../keys';
import { DAY_MS } from '../clock';
import { QueryArgumentError } from './errors';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})$/;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Epoch-ms of an ISO 8601 date (UTC day start) or zoned date-time; throws QueryArgumentError otherwise. */
export function parseInstant(text: string, argument: string): number {
  const problem = (why: string): QueryArgumentError =>
    new QueryArgumentError(
      argument,
      `${why}; expected an ISO 8601 date (2024-03-10, a UTC day) or a date-time with Z or an offset ` +
        `(2024-03-10T14:00:00Z, 2024-03-10T16:00+02:00), got "${text}"`,
    );
  const date = DATE.exec(text);
  const dateTime = date ? undefined : DATE_TIME.exec(text);
  const parts = date ?? dateTime;
  if (!parts) {
    const zoneless = /^\d{4}-\d{2}-\d{2}T[\d:.,]+$/.test(text);
    throw problem(zoneless ? 'a date-time needs a zone (Z or ±hh:mm)' : 'not an ISO 8601 date or date-time');
  }
  const year = Number(parts[1]);
  const month = Number(parts[2]);
  const day = Number(parts[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) throw problem('no such date');
  if (date) return checked(Date.UTC(year, month - 1, day), problem);

  const [, , , , hh, mm, ss, fraction, zone] = dateTime as RegExpExecArray;
  const hour = Number(hh);
  const minute = Number(mm);
  const second = ss === undefined ? 0 : Number(ss);
  if (hour > 23 || minute > 59 || second > 59) throw problem('no such time of day');
  let offsetMin = 0;
  if (zone !== undefined && zone !== 'Z') {
    const offsetHour = Number(zone.slice(1, 3));
    const offsetMinute = Number(zone.slice(4, 6));
    if (offsetHour > 23 || offsetMinute > 59) throw problem('no such offset');
    offsetMin = (zone.startsWith('-') ? -1 : 1) * (offsetHour * 60 + offsetMinute);
  }
  // Up to nanoseconds; rounded up to the millisecond (see the header).
  const fractionMs = fraction === undefined ? 0 : Math.ceil(Number(`0.${fraction}`) * 1000 - 1e-9);
  const ms = Date.UTC(year, month - 1, day, hour, minute, second) + fractionMs - offsetMin * 60_000;
  return checked(ms, problem);
}

function checked(ms: number, problem: (why: string) => QueryArgumentError): number {
  if (!isIndexableMs(ms)) throw problem('outside the times the capture table can index (1970 to 2286)');
  return ms;
}

export interface TimeRange {
  /** Inclusive, epoch ms. */
  fromMs: number;
  /** Exclusive, epoch ms. */
  toMs: number;
}

/** Validates a half-open range: from before to. */
export function checkRange(range: TimeRange): TimeRange {
  if (!(range.fromMs < range.toMs)) {
    throw new QueryArgumentError('--to', 'must be later than --from (the range is [from, to))');
  }
  return range;
}

/** Start (epoch ms) of the UTC day holding `ms`. */
export function utcDayStartMs(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS;
}

/** The UTC days (`yyyy-mm-dd`) that [fromMs, toMs) touches, oldest first, each with its part of the range. */
export function utcDaysOf(range: TimeRange): { day: string; fromMs: number; toMs: number }[] {
  checkRange(range);
  const days: { day: string; fromMs: number; toMs: number }[] = [];
  for (let start = utcDayStartMs(range.fromMs); start < range.toMs; start += DAY_MS) {
    days.push({
      day: utcDay(start),
      fromMs: Math.max(start, range.fromMs),
      toMs: Math.min(start + DAY_MS, range.toMs),
    });
  }
  return days;
}
