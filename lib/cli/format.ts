import { UsageError } from './io';

/** Output formats of the CLI: JSON (stable field names), RFC 4180 CSV, and an aligned table for people. */
export type OutputFormat = 'json' | 'csv' | 'table';

export function parseFormat(
  value: string | undefined,
  isTty: boolean,
  allowed: readonly OutputFormat[],
): OutputFormat {
  if (value === undefined) return isTty && allowed.includes('table') ? 'table' : 'json';
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(`--format must be one of ${allowed.join(', ')}, got "${value}"`);
  }
  return value as OutputFormat;
}

type Cell = unknown;

function cellText(value: Cell): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** RFC 4180: fields with comma, quote, CR or LF are quoted, quotes doubled; lines end with CRLF. */
export function csvField(value: Cell): string {
  const text = cellText(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(rows: readonly Record<string, Cell>[], columns: readonly string[]): string {
  const lines = [columns.map(csvField).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvField(row[c])).join(','));
  return lines.join('\r\n') + '\r\n';
}

export function toTable(
  rows: readonly Record<string, Cell>[],
  columns: readonly string[],
  maxWidth = 40,
): string {
  const cut = (s: string): string =>
    (s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s).replace(/[\r\n\t]/g, ' ');
  const texts = rows.map((row) => columns.map((c) => cut(cellText(row[c]))));
  const widths = columns.map((c, i) => Math.max(c.length, ...texts.map((t) => (t[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...texts.map(line)].join('\n') + '\n';
}

/** Union of the rows' keys, first-seen order, with `preferred` first. */
export function columnsOf(
  rows: readonly Record<string, Cell>[],
  preferred: readonly string[] = [],
): string[] {
  const seen = new Set<string>(preferred.filter((p) => rows.some((r) => p in r)));
  for (const row of rows) for (const key of Object.keys(row)) seen.add(key);
  return [...seen];
}

export function render(
  format: OutputFormat,
  rows: readonly Record<string, Cell>[],
  columns: readonly string[],
): string {
  switch (format) {
    case 'json':
      return JSON.stringify(rows, null, 2) + '\n';
    case 'csv':
      return toCsv(rows, columns);
    case 'table':
      return toTable(rows, columns);
  }
}
