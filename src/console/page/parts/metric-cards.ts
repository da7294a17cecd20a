/** The agent's figures for the window (GET /v1/agent/metrics), each shown exactly as the API gives it. */
import { formatAtomic, formatCount, formatMs, formatRate, formatRunway, formatSol, formatUsdc } from '../amounts.js';
import { h, replace } from '../dom.js';
import type { AgentMetrics } from '../types.js';

function card(field: string, label: string, value: string, detail: string | null = null, title: string | null = null): HTMLElement {
  return h('div', { class: 'card', 'data-field': field }, h('dt', {}, label), h('dd', { class: 'value', title }, value), detail === null ? null : h('dd', { class: 'detail' }, detail));
}

export function renderCards(target: HTMLElement, m: AgentMetrics): void {
  const balance = m.balance;
  const failedNote = m.failed_requests === 0 ? 'no failures' : `${formatCount(m.failed_requests)} failed`;
  replace(
    target,
    card('requests', 'Requests', formatCount(m.total_requests), failedNote),
    card('success-rate', 'Success rate', formatRate(m.success_rate), `${formatCount(m.successful_requests)} succeeded`),
    card('spend', 'Spend', formatUsdc(m.total_spend_atomic), `${m.total_spend_atomic} atomic units`, m.total_spend_atomic),
    card('latency', 'Latency p50 / p99', `${formatMs(m.p50_latency_ms)} / ${formatMs(m.p99_latency_ms)}`, m.avg_latency_ms === null ? null : `mean ${formatMs(m.avg_latency_ms)}`),
    card('balance', 'Balance', formatUsdc(balance?.usdc_balance_atomic), balance === null ? 'no snapshot yet' : formatSol(balance.sol_balance_lamports), balance?.usdc_balance_atomic ?? null),
    card('runway', 'Runway', formatRunway(m.runway_hours), `burn ${formatAtomic(m.burn_rate_atomic_per_hour, 6)} USDC/h`),
  );
}
