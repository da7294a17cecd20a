/**
 * Small self-contained SVG charts for the report (no dependencies, readable on GitHub):
 * a line chart for throughput over time and a grouped bar chart for percentiles/ratios.
 */

export interface LineSeries {
  name: string;
  values: readonly number[];
  color: string;
  dashed?: boolean;
}

export interface HLine {
  label: string;
  value: number;
  color: string;
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round axis maximum at or above `v` (1, 2, 2.5, 5 × 10^k). */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  for (const m of [1, 2, 2.5, 5, 10]) if (m * base >= v) return m * base;
  return 10 * base;
}

function short(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(v < 10 ? 2 : 0)}`;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function frame(width: number, height: number): Frame {
  return { width, height, left: 64, right: 16, top: 40, bottom: 44 };
}

function axes(f: Frame, yMax: number, title: string, yLabel: string, xLabel: string): string[] {
  const out: string[] = [];
  const ph = f.height - f.top - f.bottom;
  out.push(`<text x="${f.width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600" ${FONT}>${esc(title)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    const y = +(f.top + ph - (ph * i) / 5).toFixed(1);
    out.push(`<line x1="${f.left}" y1="${y}" x2="${f.width - f.right}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${f.left - 6}" y="${y + 4}" text-anchor="end" font-size="11" fill="#555" ${FONT}>${short(v)}</text>`);
  }
  out.push(`<line x1="${f.left}" y1="${f.top}" x2="${f.left}" y2="${f.top + ph}" stroke="#999"/>`);
  out.push(`<line x1="${f.left}" y1="${f.top + ph}" x2="${f.width - f.right}" y2="${f.top + ph}" stroke="#999"/>`);
  out.push(`<text x="14" y="${f.top + ph / 2}" transform="rotate(-90 14 ${f.top + ph / 2})" text-anchor="middle" font-size="11" fill="#555" ${FONT}>${esc(yLabel)}</text>`);
  out.push(`<text x="${f.left + (f.width - f.left - f.right) / 2}" y="${f.height - 8}" text-anchor="middle" font-size="11" fill="#555" ${FONT}>${esc(xLabel)}</text>`);
  return out;
}

function legend(f: Frame, items: { name: string; color: string; dashed?: boolean }[]): string[] {
  const out: string[] = [];
  let x = f.left + 8;
  const y = f.top + 12;
  for (const it of items) {
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 18}" y2="${y}" stroke="${it.color}" stroke-width="3"${it.dashed === true ? ' stroke-dasharray="5,3"' : ''}/>`);
    out.push(`<text x="${x + 22}" y="${y + 4}" font-size="11" ${FONT}>${esc(it.name)}</text>`);
    x += 30 + it.name.length * 6.2;
  }
  return out;
}

export function lineChart(opts: { title: string; yLabel: string; xLabel: string; series: LineSeries[]; hLines?: HLine[]; width?: number; height?: number }): string {
  const f = frame(opts.width ?? 760, opts.height ?? 320);
  const hLines = opts.hLines ?? [];
  const n = Math.max(2, ...opts.series.map((s) => s.values.length));
  const yMax = niceMax(Math.max(1, ...opts.series.flatMap((s) => [...s.values]), ...hLines.map((h) => h.value)) * 1.08);
  const pw = f.width - f.left - f.right;
  const ph = f.height - f.top - f.bottom;
  const x = (i: number) => f.left + (pw * i) / (n - 1);
  const y = (v: number) => f.top + ph - (ph * Math.min(v, yMax)) / yMax;
  const out = axes(f, yMax, opts.title, opts.yLabel, opts.xLabel);
  for (let i = 0; i < n; i += Math.max(1, Math.ceil(n / 12))) {
    out.push(`<text x="${x(i).toFixed(1)}" y="${f.top + ph + 16}" text-anchor="middle" font-size="11" fill="#555" ${FONT}>${i + 1}</text>`);
  }
  for (const h of hLines) {
    const hy = y(h.value).toFixed(1);
    out.push(`<line x1="${f.left}" y1="${hy}" x2="${f.width - f.right}" y2="${hy}" stroke="${h.color}" stroke-width="1.5" stroke-dasharray="2,3"/>`);
    out.push(`<text x="${f.width - f.right - 4}" y="${(y(h.value) - 4).toFixed(1)}" text-anchor="end" font-size="11" fill="${h.color}" ${FONT}>${esc(`${h.label} ${short(h.value)}`)}</text>`);
  }
  for (const s of opts.series) {
    if (s.values.length === 0) continue;
    const pts = s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed === true ? ' stroke-dasharray="5,3"' : ''}/>`);
  }
  out.push(...legend(f, opts.series));
  return wrap(f, out);
}

export interface BarSeries {
  name: string;
  values: readonly (number | null)[];
  color: string;
}

/** Bars per group (e.g. p50, p90, p99, p99.9), one colour per series, values printed on the bars. */
export function barChart(opts: {
  title: string;
  yLabel: string;
  groups: readonly string[];
  series: BarSeries[];
  width?: number;
  height?: number;
  refLine?: HLine;
  /** Only the first this-many series set the axis (a noisy previous run must not flatten this one); taller bars are cut at the top, their value still printed. */
  scaleBy?: number;
}): string {
  const f = frame(opts.width ?? 760, opts.height ?? 320);
  const all = opts.series.slice(0, opts.scaleBy ?? opts.series.length).flatMap((s) => s.values.filter((v): v is number => v !== null));
  const yMax = niceMax(Math.max(1e-9, ...all, opts.refLine?.value ?? 0) * 1.12);
  const pw = f.width - f.left - f.right;
  const ph = f.height - f.top - f.bottom;
  const y = (v: number) => f.top + ph - (ph * Math.min(v, yMax)) / yMax;
  const out = axes(f, yMax, opts.title, opts.yLabel, '');
  const groupW = pw / Math.max(1, opts.groups.length);
  const barW = Math.min(40, (groupW * 0.8) / Math.max(1, opts.series.length));
  opts.groups.forEach((g, gi) => {
    const gx = f.left + groupW * gi + (groupW - barW * opts.series.length) / 2;
    out.push(`<text x="${f.left + groupW * gi + groupW / 2}" y="${f.top + ph + 16}" text-anchor="middle" font-size="11" fill="#333" ${FONT}>${esc(g)}</text>`);
    opts.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null || v === undefined) return;
      const bx = gx + barW * si;
      out.push(`<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(f.top + ph - y(v)).toFixed(1)}" fill="${s.color}"/>`);
      out.push(`<text x="${(bx + barW / 2 - 1).toFixed(1)}" y="${(y(v) - 3).toFixed(1)}" text-anchor="middle" font-size="10" ${FONT}>${short(v)}</text>`);
    });
  });
  if (opts.refLine !== undefined) {
    const r = opts.refLine;
    out.push(`<line x1="${f.left}" y1="${y(r.value)}" x2="${f.width - f.right}" y2="${y(r.value)}" stroke="${r.color}" stroke-width="1.5" stroke-dasharray="4,3"/>`);
    out.push(`<text x="${f.width - f.right - 4}" y="${y(r.value) - 4}" text-anchor="end" font-size="11" fill="${r.color}" ${FONT}>${esc(r.label)}</text>`);
  }
  out.push(...legend(f, opts.series));
  return wrap(f, out);
}

function wrap(f: Frame, parts: string[]): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}">\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`;
}
