/**
 * The live feed: the agent's interactions as they are stored, over Server-Sent Events
 * (docs/read-api.md §4). The key never goes into the URL: a stream token does. After a
 * dropped connection the browser reconnects by itself and sends Last-Event-ID; when the
 * server refuses the reconnection (an expired token), a new token is fetched and the stream
 * reopened with `last_event_id`, so no event is lost either way.
 *
 * At a thousand events a second the feed is sampled for the eyes (the table is redrawn at
 * most ten times a second and shows the newest rows) while every event is still counted.
 */
import type { ApiClient } from '../api-client.js';
import { formatMs, formatTime, formatUsdc } from '../amounts.js';
import { h, replace, scrollBox } from '../dom.js';
import type { HistoryRow, StreamToken } from '../types.js';

export interface FeedHooks {
  /** New rows changed the figures (called for every interaction; the listener throttles). */
  interaction(): void;
  telemetry(): void;
  alert(): void;
  /** The server could not continue without a gap: everything shown must be reloaded. */
  reset(): void;
}

type FeedStatus = 'connecting' | 'live' | 'reconnecting';

const SHOWN = 15;
const REDRAW_MS = 100;
const STATUS_TEXT: Record<FeedStatus, string> = { connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…' };

export class LiveFeed {
  readonly element: HTMLElement;
  private readonly status = h('span', { class: 'feed-status', 'data-status': 'connecting' }, STATUS_TEXT.connecting);
  private readonly count = h('span', { 'data-field': 'feed-count' }, '0');
  private readonly body = h('tbody');
  private readonly topic: string;
  private rows: HistoryRow[] = [];
  private received = 0;
  private lastId: string | null = null;
  private source: EventSource | null = null;
  private redrawTimer: ReturnType<typeof setTimeout> | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly api: ApiClient,
    agentId: string,
    private readonly hooks: FeedHooks,
  ) {
    this.topic = `agent:${agentId}`;
    this.element = h(
      'section',
      { class: 'panel feed', 'aria-labelledby': 'feed-title' },
      h('div', { class: 'panel-head' }, h('h2', { id: 'feed-title' }, 'Live feed'), h('p', { class: 'feed-meta' }, this.status, ' · ', this.count, ' interactions since the page opened')),
      scrollBox(
        'Live feed table',
        h(
          'table',
          { class: 'data feed-table' },
          h('caption', { class: 'visually-hidden' }, 'Newest interactions, newest first'),
          h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Time (UTC)'), h('th', { scope: 'col' }, 'Vendor'), h('th', { scope: 'col', class: 'num' }, 'Amount'), h('th', { scope: 'col' }, 'Result'), h('th', { scope: 'col', class: 'num' }, 'Latency'))),
          this.body,
        ),
      ),
    );
  }

  start(): void {
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    if (this.redrawTimer !== null) clearTimeout(this.redrawTimer);
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
  }

  private setStatus(s: FeedStatus): void {
    this.status.dataset.status = s;
    this.status.textContent = STATUS_TEXT[s];
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    let token: StreamToken;
    try {
      token = await this.api.post<StreamToken>('/v1/stream/tokens', { topics: [this.topic] });
    } catch {
      this.retryLater();
      return;
    }
    if (this.stopped) return;
    const params = new URLSearchParams({ topic: this.topic, access_token: token.token });
    if (this.lastId !== null) params.set('last_event_id', this.lastId);
    const source = new EventSource(`/v1/agent/events?${params.toString()}`);
    this.source = source;
    source.onopen = () => {
      this.failures = 0;
      this.setStatus('live');
    };
    source.onerror = () => {
      this.setStatus('reconnecting');
      // CONNECTING: the browser retries by itself with Last-Event-ID. CLOSED: it gave up
      // (the token expired, the server answered an error): start again with a new token.
      if (source.readyState === EventSource.CLOSED && this.source === source) {
        this.source = null;
        this.retryLater();
      }
    };
    source.addEventListener('interaction', (e) => this.onInteraction(e as MessageEvent<string>));
    source.addEventListener('telemetry', (e) => this.remember(e as MessageEvent<string>, () => this.hooks.telemetry()));
    source.addEventListener('alert', (e) => this.remember(e as MessageEvent<string>, () => this.hooks.alert()));
    source.addEventListener('reset', () => {
      source.close();
      this.source = null;
      this.lastId = null;
      this.hooks.reset();
      void this.open();
    });
  }

  private retryLater(): void {
    if (this.stopped) return;
    this.setStatus('reconnecting');
    const base = Math.min(30_000, 500 * 2 ** this.failures++);
    this.retryTimer = setTimeout(() => void this.open(), base / 2 + Math.random() * (base / 2));
  }

  private remember(e: MessageEvent<string>, then: () => void): void {
    if (e.lastEventId !== '') this.lastId = e.lastEventId;
    then();
  }

  private onInteraction(e: MessageEvent<string>): void {
    if (e.lastEventId !== '') this.lastId = e.lastEventId;
    let row: HistoryRow;
    try {
      row = JSON.parse(e.data) as HistoryRow;
    } catch {
      return;
    }
    this.received++;
    this.rows.push(row);
    // Only the newest rows are shown: trim rarely, so a burst costs pushes, not copies.
    if (this.rows.length > SHOWN * 8) this.rows = this.rows.slice(-SHOWN);
    if (this.redrawTimer === null) this.redrawTimer = setTimeout(() => this.redraw(), REDRAW_MS);
    this.hooks.interaction();
  }

  private redraw(): void {
    this.redrawTimer = null;
    this.count.textContent = String(this.received);
    const newest = this.rows.slice(-SHOWN).reverse();
    replace(
      this.body,
      ...newest.map((r) =>
        h(
          'tr',
          { 'data-nonce': r.nonce },
          h('td', { class: 'mono', title: formatTime(r.time) }, r.time.slice(11, 19)),
          h('td', { class: 'mono' }, r.vendor_id),
          h('td', { class: 'num mono', title: r.amount_atomic }, formatUsdc(r.amount_atomic)),
          h('td', { class: r.success ? 'ok' : 'failed' }, r.success ? '✓ success' : `✗ failed${r.error_type === null ? '' : ` (${r.error_type})`}`),
          h('td', { class: 'num' }, formatMs(r.latency_ms)),
        ),
      ),
    );
  }
}
