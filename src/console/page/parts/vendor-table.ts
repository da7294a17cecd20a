/** Spend and quality per vendor for the window (GET /v1/agent/vendors), by spend descending. */
import { formatCount, formatMs, formatRate, formatUsdc } from '../amounts.js';
import { h, replace, scrollBox } from '../dom.js';
import type { VendorFigures } from '../types.js';

export function renderVendors(target: HTMLElement, vendors: readonly VendorFigures[]): void {
  if (vendors.length === 0) {
    replace(target, h('p', { class: 'empty' }, 'No paid request in this window.'));
    return;
  }
  const table = h(
    'table',
    { class: 'data vendors' },
    h('caption', { class: 'visually-hidden' }, 'Vendors in this window, by spend'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Vendor'),
        h('th', { scope: 'col', class: 'num' }, 'Requests'),
        h('th', { scope: 'col', class: 'num' }, 'Failed'),
        h('th', { scope: 'col', class: 'num' }, 'Success rate'),
        h('th', { scope: 'col', class: 'num' }, 'Spend'),
        h('th', { scope: 'col', class: 'num' }, 'p50'),
        h('th', { scope: 'col', class: 'num' }, 'p99'),
      ),
    ),
    h(
      'tbody',
      {},
      ...vendors.map((v) =>
        h(
          'tr',
          { 'data-vendor': v.vendor_id },
          h('th', { scope: 'row', class: 'mono' }, v.vendor_id),
          h('td', { class: 'num', 'data-field': 'requests' }, formatCount(v.request_count)),
          h('td', { class: 'num', 'data-field': 'failed' }, formatCount(v.failed_requests)),
          h('td', { class: 'num', 'data-field': 'success-rate' }, formatRate(v.success_rate)),
          h('td', { class: 'num mono', 'data-field': 'spend', title: v.spend_atomic }, formatUsdc(v.spend_atomic)),
          h('td', { class: 'num', 'data-field': 'p50' }, formatMs(v.p50_latency_ms)),
          h('td', { class: 'num', 'data-field': 'p99' }, formatMs(v.p99_latency_ms)),
        ),
      ),
    ),
  );
  replace(target, scrollBox('Vendors table', table));
}
