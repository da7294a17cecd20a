/**
 * One agent: figures for the chosen window, charts, vendors, the live feed, alerts and
 * history. Live events only trigger reloads of the figures (at most one a second), so the
 * cards always show the API's exact totals however fast events arrive.
 */
import type { ApiClient } from '../api-client.js';
import { h, replace } from '../dom.js';
import { AlertsPanel } from '../parts/alerts-panel.js';
import { createFigureCharts, updateFigureCharts } from '../parts/figure-charts.js';
import { HistoryTable } from '../parts/history-table.js';
import { LiveFeed } from '../parts/live-feed.js';
import { renderCards } from '../parts/metric-cards.js';
import { rangePicker } from '../parts/range-picker.js';
import { renderVendors } from '../parts/vendor-table.js';
import type { AgentMetrics, AgentSummary, AgentVendors, BalanceSeries, Page, Range } from '../types.js';
import { Throttle } from '../throttle.js';

const FIGURES_EVERY_MS = 1000;
const ALERTS_EVERY_MS = 2000;
const POLL_MS = 15_000;

export function showAgentPage(main: HTMLElement, api: ApiClient, agentId: string, initialRange: Range): () => void {
  let range = initialRange;
  let stopped = false;
  const title = h('h1', { tabindex: '-1', class: 'mono-title' }, agentId);
  const error = h('p', { class: 'error', role: 'alert' });
  const cards = h('dl', { class: 'cards', 'aria-label': 'Figures for the window', 'aria-busy': 'true' });
  const windowNote = h('p', { class: 'help window-note' });
  const vendors = h('div', {});
  const charts = createFigureCharts();
  const alerts = new AlertsPanel(api, agentId);
  const historyTable = new HistoryTable(api, agentId);

  const loadFigures = async (): Promise<void> => {
    const q = { agent_id: agentId, range };
    const [m, v, b] = await Promise.all([
      api.get<AgentMetrics>('/v1/agent/metrics', q),
      api.get<AgentVendors>('/v1/agent/vendors', q),
      api.get<BalanceSeries>('/v1/agent/balance', q),
    ]);
    if (stopped) return;
    renderCards(cards, m);
    cards.setAttribute('aria-busy', 'false');
    cards.dataset.completeThrough = m.complete_through;
    windowNote.textContent = `From ${m.from} to ${m.to}; includes every event committed before ${m.complete_through}.`;
    renderVendors(vendors, v.vendors);
    updateFigureCharts(charts, m, b);
  };
  const report = (err: unknown): void => {
    if (!stopped) error.textContent = err instanceof Error ? err.message : 'Loading failed.';
  };
  const figures = new Throttle(FIGURES_EVERY_MS, () => loadFigures().then(() => void (error.textContent = '')), report);
  const alertsRefresh = new Throttle(ALERTS_EVERY_MS, () => alerts.refresh(), report);
  const feed = new LiveFeed(api, agentId, {
    interaction: () => figures.request(),
    telemetry: () => {
      figures.request();
      alertsRefresh.request();
    },
    alert: () => alertsRefresh.request(),
    reset: () => {
      figures.request();
      alertsRefresh.request();
      void historyTable.show(0).catch(report);
    },
  });

  const picker = rangePicker(range, (r) => {
    range = r;
    // The range is kept in the URL for reloads and links, without a hashchange (which would rebuild the page).
    window.history.replaceState(null, '', `#/agents/${encodeURIComponent(agentId)}?range=${r}`);
    figures.request();
  });

  replace(
    main,
    h('p', { class: 'crumbs' }, h('a', { href: '#/agents' }, '← All agents')),
    h('div', { class: 'page-head' }, title, picker),
    error,
    cards,
    windowNote,
    h('div', { class: 'charts' }, charts.spend.element, charts.requests.element, charts.p99.element, charts.balance.element),
    h('section', { class: 'panel', 'aria-labelledby': 'vendors-title' }, h('h2', { id: 'vendors-title' }, 'Vendors'), vendors),
    alerts.element,
    feed.element,
    historyTable.element,
  );
  title.focus();

  api
    .get<Page<AgentSummary>>('/v1/agents', { limit: '500' })
    .then((page) => {
      const me = page.data.find((a) => a.agent_id === agentId);
      if (!stopped && me?.name !== undefined && me.name !== null) {
        title.textContent = me.name;
        title.appendChild(h('span', { class: 'sub mono' }, agentId));
      }
    })
    .catch(() => undefined);
  figures.request();
  alertsRefresh.request();
  historyTable.show(0).catch(report);
  feed.start();
  // Time moves windows and runway even when no event arrives.
  const poll = setInterval(() => {
    figures.request();
    alertsRefresh.request();
  }, POLL_MS);

  return () => {
    stopped = true;
    clearInterval(poll);
    figures.stop();
    alertsRefresh.stop();
    feed.stop();
    for (const c of Object.values(charts)) c.destroy();
  };
}
