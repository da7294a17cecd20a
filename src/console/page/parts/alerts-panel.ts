/**
 * The agent's alerts (docs/read-api.md §5), newest first, each with its severity and state
 * in words as well as colour, and a button to acknowledge the ones not yet acknowledged.
 */
import { ApiError, type ApiClient } from '../api-client.js';
import { formatTime } from '../amounts.js';
import { announce, h, replace } from '../dom.js';
import type { Alert, Page } from '../types.js';

const SEVERITY_TEXT: Record<Alert['severity'], string> = { info: 'ℹ Info', warning: '▲ Warning', critical: '■ Critical' };
const TYPE_TEXT: Record<string, string> = {
  low_balance: 'Low balance',
  runway: 'Short runway',
  spend_limit: 'Daily spend limit',
  high_error_rate: 'High error rate',
  stale_telemetry: 'Stale telemetry',
};

export class AlertsPanel {
  readonly element: HTMLElement;
  private readonly list = h('ul', { class: 'alerts', 'aria-live': 'polite' });
  private readonly summary = h('span', { class: 'alerts-summary' });

  constructor(
    private readonly api: ApiClient,
    private readonly agentId: string,
  ) {
    this.element = h('section', { class: 'panel', 'aria-labelledby': 'alerts-title' }, h('div', { class: 'panel-head' }, h('h2', { id: 'alerts-title' }, 'Alerts'), this.summary), this.list);
  }

  async refresh(): Promise<void> {
    const page = await this.api.get<Page<Alert>>('/v1/agent/alerts', { agent_id: this.agentId, state: 'all', limit: '20' });
    const firing = page.data.filter((a) => a.state === 'firing').length;
    this.summary.textContent = firing === 0 ? 'none firing' : `${firing} firing`;
    if (page.data.length === 0) {
      replace(this.list, h('li', { class: 'empty' }, 'No alert has fired for this agent.'));
      return;
    }
    replace(this.list, ...page.data.map((a) => this.item(a)));
  }

  private item(a: Alert): HTMLElement {
    const kind = TYPE_TEXT[a.type] ?? a.type;
    const when = a.state === 'firing' ? `firing since ${formatTime(a.fired_at)}` : `resolved ${formatTime(a.resolved_at)}`;
    const li = h(
      'li',
      { class: `alert sev-${a.severity} state-${a.state}`, 'data-alert-id': a.id, 'data-type': a.type },
      h('span', { class: 'badge' }, SEVERITY_TEXT[a.severity]),
      h('div', { class: 'alert-body' }, h('strong', {}, kind), ` — ${a.state === 'firing' ? 'Firing' : 'Resolved'}, ${when}`, h('p', { class: 'alert-message' }, a.message)),
    );
    if (a.acknowledged_at !== null) {
      li.appendChild(h('span', { class: 'acked', 'data-field': 'acknowledged' }, `✓ Acknowledged ${formatTime(a.acknowledged_at)}`));
      return li;
    }
    const button = h('button', { type: 'button', 'aria-label': `Acknowledge the ${kind.toLowerCase()} alert` }, 'Acknowledge');
    button.addEventListener('click', () => {
      button.disabled = true;
      this.api
        .post<Alert>(`/v1/agent/alerts/${encodeURIComponent(a.id)}/ack`, {})
        .then((acked) => {
          const next = this.item(acked);
          li.replaceWith(next);
          announce(`${kind} alert acknowledged.`);
          next.querySelector<HTMLElement>('.acked')?.setAttribute('tabindex', '-1');
          next.querySelector<HTMLElement>('.acked')?.focus();
        })
        .catch((err: unknown) => {
          button.disabled = false;
          announce(err instanceof ApiError ? err.message : 'Acknowledging failed.');
        });
    });
    li.appendChild(button);
    return li;
  }
}
