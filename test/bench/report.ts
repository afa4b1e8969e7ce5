/** How a figure's ratio is judged. */
export interface Target {
  op: '>=' | '<=' | '<' | '=';
  value: number;
}

export interface Figure {
  /** `1`, `2`, `4a`, ...; comparison lines carry the id of the figure they compare with. */
  id: string;
  title: string;
  /** The figure as a ratio against its floor (or baseline) measured in the same run. */
  ratio: number;
  /** What the ratio is taken against, in words (`of 1280/s = 64 / 50 ms`). */
  against: string;
  /** Undefined for comparison lines: they are information, not a verdict. */
  target?: Target;
  /** The raw numbers behind the ratio. */
  raw: string;
}

/** What a bench returns: figure lines, and free text (a table) printed as it is. */
export type Line = Figure | string;

export function passes(ratio: number, target: Target): boolean {
  switch (target.op) {
    case '>=':
      return ratio >= target.value;
    case '<=':
      return ratio <= target.value;
    case '<':
      return ratio < target.value;
    case '=':
      return Math.abs(ratio - target.value) < 1e-9;
  }
}

function ratioText(ratio: number): string {
  if (!Number.isFinite(ratio)) return String(ratio);
  return Math.abs(ratio) >= 100 ? ratio.toFixed(0) : ratio.toFixed(2);
}

/** One line per figure: id, title, ratio and what it is against, target and verdict, then the raw numbers. */
export function formatFigure(figure: Figure): string {
  const verdict =
    figure.target === undefined
      ? `(comparison)`
      : `target ${figure.target.op} ${figure.target.value}  ${passes(figure.ratio, figure.target) ? 'PASS' : 'MISS'}`;
  return `[${figure.id}] ${figure.title}: ${ratioText(figure.ratio)} ${figure.against}  ${verdict}  | ${figure.raw}`;
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

export function fixed(n: number, digits = 1): string {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
