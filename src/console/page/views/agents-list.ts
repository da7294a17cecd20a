/**
 * The tenant's agents: name, USDC balance, runway, last seen and open alerts, with a form
 * to link an agent by the code it obtained from `POST /v1/link/init` (admin key).
 */
import { ApiError, type ApiClient } from '../api-client.js';
import { formatAgo, formatRunway, formatTime, formatUsdc } from '../amounts.js';
import { announce, h, replace, scrollBox } from '../dom.js';
import type { AgentMetrics, AgentSummary, Alert, LinkedAgent, Page } from '../types.js';

interface Row {
  agent: AgentSummary;
  runwayHours: number | null;
  openAlerts: string;
}

function shortId(id: string): string {
  return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id;
}

async function loadRows(api: ApiClient): Promise<{ rows: Row[]; more: boolean }> {
  const page = await api.get<Page<AgentSummary>>('/v1/agents', { limit: '100' });
  const rows = await Promise.all(
    page.data.map(async (agent): Promise<Row> => {
      const [metrics, alerts] = await Promise.all([
        api.get<AgentMetrics>('/v1/agent/metrics', { agent_id: agent.agent_id, range: '24h' }),
        api.get<Page<Alert>>('/v1/agent/alerts', { agent_id: agent.agent_id, state: 'firing', limit: '500' }),
      ]);
      const open = alerts.data.filter((a) => a.state === 'firing').length;
      return { agent, runwayHours: metrics.runway_hours, openAlerts: alerts.next_cursor === null ? String(open) : `${open}+` };
    }),
  );
  return { rows, more: page.next_cursor !== null };
}

function agentsTable(rows: readonly Row[], nowMs: number): HTMLElement {
  if (rows.length === 0) return h('p', { class: 'empty' }, 'No agent is linked to this tenant yet. Link one with its code below.');
  return h(
    'table',
    { class: 'data agents' },
    h('caption', { class: 'visually-hidden' }, 'Agents linked to this tenant'),
    h(
      'thead',
      {},
      h('tr', {}, h('th', { scope: 'col' }, 'Agent'), h('th', { scope: 'col', class: 'num' }, 'Balance'), h('th', { scope: 'col', class: 'num' }, 'Runway'), h('th', { scope: 'col' }, 'Last seen'), h('th', { scope: 'col', class: 'num' }, 'Open alerts')),
    ),
    h(
      'tbody',
      {},
      ...rows.map(({ agent, runwayHours, openAlerts }) =>
        h(
          'tr',
          { 'data-agent-id': agent.agent_id },
          h(
            'th',
            { scope: 'row' },
            h('a', { href: `#/agents/${encodeURIComponent(agent.agent_id)}` }, agent.name ?? shortId(agent.agent_id)),
            h('span', { class: 'sub mono' }, shortId(agent.agent_id)),
          ),
          h('td', { class: 'num mono', 'data-field': 'balance', title: agent.balance?.usdc_balance_atomic ?? '' }, formatUsdc(agent.balance?.usdc_balance_atomic)),
          h('td', { class: 'num', 'data-field': 'runway' }, formatRunway(runwayHours)),
          h('td', { title: formatTime(agent.last_seen_at) }, formatAgo(agent.last_seen_at, nowMs)),
          h('td', { class: `num${openAlerts === '0' ? '' : ' alerting'}`, 'data-field': 'open-alerts' }, openAlerts === '0' ? '0' : `⚠ ${openAlerts}`),
        ),
      ),
    ),
  );
}

function linkForm(api: ApiClient, linked: () => void): HTMLElement {
  const code = h('input', { id: 'link-code', name: 'code', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'ABCD-EFGH', 'aria-describedby': 'link-help' });
  const name = h('input', { id: 'link-name', name: 'name', autocomplete: 'off', maxlength: '128' });
  const result = h('p', { id: 'link-result', role: 'status' });
  const submit = h('button', { type: 'submit' }, 'Link agent');
  const form = h(
    'form',
    { class: 'panel link-form', 'aria-labelledby': 'link-title' },
    h('h2', { id: 'link-title' }, 'Link an agent'),
    h('p', { id: 'link-help', class: 'help' }, 'The agent gets a code from POST /v1/link/init; confirming it needs an admin key.'),
    h('div', { class: 'fields' }, h('div', {}, h('label', { for: 'link-code' }, 'Link code'), code), h('div', {}, h('label', { for: 'link-name' }, 'Name (optional)'), name), submit),
    result,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    submit.disabled = true;
    result.className = '';
    const body: { code: string; name?: string } = { code: code.value.trim() };
    if (name.value.trim() !== '') body.name = name.value.trim();
    api
      .post<LinkedAgent>('/v1/link/confirm', body)
      .then((agent) => {
        result.textContent = `Linked ${agent.name ?? agent.agent_id}.`;
        announce(result.textContent);
        code.value = '';
        name.value = '';
        linked();
      })
      .catch((err: unknown) => {
        result.className = 'error';
        result.textContent =
          err instanceof ApiError && err.code === 'forbidden'
            ? 'Linking needs an admin key.'
            : err instanceof ApiError && err.code === 'invalid_link_code'
              ? 'This code is unknown, used or expired.'
              : err instanceof ApiError && err.code === 'already_linked'
                ? 'This agent is linked to another tenant.'
                : err instanceof Error
                  ? err.message
                  : 'Linking failed.';
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  return form;
}

export function showAgentsList(main: HTMLElement, api: ApiClient): () => void {
  let stopped = false;
  const tableSlot = h('div', { class: 'panel', 'aria-busy': 'true' }, h('p', {}, 'Loading agents…'));
  const title = h('h1', { tabindex: '-1' }, 'Agents');
  const refresh = (): void => {
    loadRows(api)
      .then(({ rows, more }) => {
        if (stopped) return;
        replace(tableSlot, scrollBox('Agents table', agentsTable(rows, Date.now())), more ? h('p', { class: 'help' }, 'Showing the 100 most recently seen agents.') : null);
        tableSlot.setAttribute('aria-busy', 'false');
      })
      .catch((err: unknown) => {
        if (!stopped) replace(tableSlot, h('p', { class: 'error', role: 'alert' }, err instanceof Error ? err.message : 'Loading failed.'));
      });
  };
  replace(main, title, tableSlot, linkForm(api, refresh));
  title.focus();
  refresh();
  const timer = setInterval(refresh, 30_000);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
