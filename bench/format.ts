/** Number formatting shared by the console output and the Markdown report. */

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtNum(n: number, unit: string): string {
  if (unit === 'ms') return n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : fmtInt(n);
  if (unit === 'MiB') return n.toFixed(1);
  if (unit === '×') return n.toFixed(2);
  return fmtInt(n);
}

export function fmtPct(ratio: number): string {
  return `${(ratio * 100).toFixed(ratio < 0.1 ? 1 : 0)}%`;
}

/** "+12.3%" / "−4.0%" change from `previous` to `value`. */
export function fmtDelta(value: number, previous: number | null): string {
  if (previous === null || previous === 0) return '–';
  const d = (value - previous) / previous;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d * 100).toFixed(1)}%`;
}
