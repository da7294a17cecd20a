/** The four charts of the agent page, fed from the metrics' chart_data and the balance points. */
import { atomicToPlot, formatCount, formatMs, formatUsdc, USDC_DECIMALS } from '../amounts.js';
import type { AgentMetrics, BalanceSeries } from '../types.js';
import { createChart, type Chart } from './chart.js';

const seconds = (iso: string): number => Date.parse(iso) / 1000;
// Axis ticks only (the legend and summaries carry the exact figures): short enough for the axis.
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 2 });
const plain = (v: number): string => (Math.abs(v) >= 1000 ? compact.format(v) : String(+v.toFixed(4)));

export interface FigureCharts {
  spend: Chart;
  requests: Chart;
  p99: Chart;
  balance: Chart;
}

export function createFigureCharts(): FigureCharts {
  return {
    spend: createChart({ id: 'chart-spend', title: 'Spend (USDC)', color: '#1f5fbf', kind: 'bars', tick: plain }),
    requests: createChart({ id: 'chart-requests', title: 'Requests', color: '#2f855a', kind: 'bars', tick: plain }),
    p99: createChart({ id: 'chart-p99', title: 'Latency p99 (ms)', color: '#b7791f', kind: 'line', tick: (v) => `${plain(v)} ms` }),
    balance: createChart({ id: 'chart-balance', title: 'USDC balance', color: '#6b46c1', kind: 'steps', tick: plain }),
  };
}

export function updateFigureCharts(c: FigureCharts, m: AgentMetrics, b: BalanceSeries): void {
  const xs = m.chart_data.map((p) => seconds(p.bucket));
  const span: [number, number] = [seconds(m.from), seconds(m.to)];
  const buckets = `${m.chart_data.length} buckets`;
  c.spend.update({
    xs,
    ys: m.chart_data.map((p) => atomicToPlot(p.spend_atomic, USDC_DECIMALS)),
    labels: m.chart_data.map((p) => formatUsdc(p.spend_atomic)),
    summary: `${formatUsdc(m.total_spend_atomic)} spent over ${buckets}.`,
    span,
  });
  c.requests.update({
    xs,
    ys: m.chart_data.map((p) => p.requests),
    labels: m.chart_data.map((p) => `${formatCount(p.requests)} (${formatCount(p.failed_requests)} failed)`),
    summary: `${formatCount(m.total_requests)} requests, ${formatCount(m.failed_requests)} failed, over ${buckets}.`,
    span,
  });
  c.p99.update({
    xs,
    ys: m.chart_data.map((p) => p.p99_latency_ms),
    labels: m.chart_data.map((p) => formatMs(p.p99_latency_ms)),
    summary: `p99 latency over the window: ${formatMs(m.p99_latency_ms)}.`,
    span,
  });
  const last = b.points[b.points.length - 1];
  c.balance.update({
    xs: b.points.map((p) => seconds(p.time)),
    ys: b.points.map((p) => atomicToPlot(p.usdc_balance_atomic, USDC_DECIMALS)),
    labels: b.points.map((p) => formatUsdc(p.usdc_balance_atomic)),
    summary: last === undefined ? 'No balance snapshot in this window.' : `${b.points.length} snapshots; latest ${formatUsdc(last.usdc_balance_atomic)}.`,
    span,
  });
}
