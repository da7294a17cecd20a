/**
 * The agent's stored interactions, newest first, a page at a time (docs/read-api.md §3).
 * The API pages by opaque cursors that only go forward, so the cursors of the pages seen
 * are kept to go back.
 */
import type { ApiClient } from '../api-client.js';
import { formatMs, formatTime, formatUsdc } from '../amounts.js';
import { h, replace, scrollBox } from '../dom.js';
import type { HistoryRow, Page } from '../types.js';

const PAGE_SIZE = 20;

export class HistoryTable {
  readonly element: HTMLElement;
  private readonly body = h('tbody');
  private readonly pageLabel = h('span', { class: 'page-label', 'aria-live': 'polite' });
  private readonly newer = h('button', { type: 'button', disabled: true }, '← Newer');
  private readonly older = h('button', { type: 'button', disabled: true }, 'Older →');
  /** cursors[i] opens page i (null: the first page). */
  private cursors: (string | null)[] = [null];
  private page = 0;

  constructor(
    private readonly api: ApiClient,
    private readonly agentId: string,
  ) {
    this.newer.addEventListener('click', () => void this.show(this.page - 1));
    this.older.addEventListener('click', () => void this.show(this.page + 1));
    const latest = h('button', { type: 'button' }, 'Latest');
    latest.addEventListener('click', () => {
      this.cursors = [null];
      void this.show(0);
    });
    this.element = h(
      'section',
      { class: 'panel', 'aria-labelledby': 'history-title' },
      h('div', { class: 'panel-head' }, h('h2', { id: 'history-title' }, 'History')),
      scrollBox(
        'History table',
        h(
          'table',
          { class: 'data history' },
          h('caption', { class: 'visually-hidden' }, 'Stored interactions, newest first'),
          h(
            'thead',
            {},
            h('tr', {}, h('th', { scope: 'col' }, 'Time'), h('th', { scope: 'col' }, 'Vendor'), h('th', { scope: 'col', class: 'num' }, 'Amount'), h('th', { scope: 'col' }, 'Request'), h('th', { scope: 'col' }, 'Result'), h('th', { scope: 'col', class: 'num' }, 'Latency')),
          ),
          this.body,
        ),
      ),
      h('nav', { class: 'pager', 'aria-label': 'History pages' }, this.newer, this.pageLabel, this.older, latest),
    );
  }

  async show(page: number): Promise<void> {
    const cursor = this.cursors[page];
    if (cursor === undefined) return;
    const query: Record<string, string> = { agent_id: this.agentId, limit: String(PAGE_SIZE) };
    if (cursor !== null) query.cursor = cursor;
    this.element.setAttribute('aria-busy', 'true');
    let answer: Page<HistoryRow>;
    try {
      answer = await this.api.get<Page<HistoryRow>>('/v1/agent/history', query);
    } finally {
      this.element.setAttribute('aria-busy', 'false');
    }
    this.page = page;
    this.cursors.length = page + 1;
    if (answer.next_cursor !== null) this.cursors.push(answer.next_cursor);
    this.render(answer.data);
    this.newer.disabled = page === 0;
    this.older.disabled = answer.next_cursor === null;
    this.pageLabel.textContent = `Page ${page + 1}`;
  }

  private render(rows: readonly HistoryRow[]): void {
    if (rows.length === 0) {
      replace(this.body, h('tr', {}, h('td', { colspan: '6', class: 'empty' }, 'No interaction stored yet.')));
      return;
    }
    replace(
      this.body,
      ...rows.map((r) =>
        h(
          'tr',
          { 'data-nonce': r.nonce },
          h('td', { class: 'mono' }, formatTime(r.time)),
          h('td', { class: 'mono' }, r.vendor_id),
          h('td', { class: 'num mono', title: r.amount_atomic }, formatUsdc(r.amount_atomic)),
          h('td', { class: 'url' }, r.request_method ?? '', ' ', r.request_url ?? ''),
          h('td', { class: r.success ? 'ok' : 'failed' }, r.success ? '✓ success' : `✗ failed${r.error_type === null ? '' : ` (${r.error_type})`}`),
          h('td', { class: 'num' }, formatMs(r.latency_ms)),
        ),
      ),
    );
  }
}
