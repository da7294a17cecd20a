/** The window buttons (1h, 24h, 7d, 30d): a group of toggle buttons, the current one pressed. */
import { h } from '../dom.js';
import { RANGES, type Range } from '../types.js';

export function rangePicker(current: Range, choose: (r: Range) => void): HTMLElement {
  const buttons = RANGES.map((r) => h('button', { type: 'button', class: 'range', 'aria-pressed': String(r === current), 'data-range': r }, r));
  for (const b of buttons) {
    b.addEventListener('click', () => {
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === b));
      choose(b.dataset.range as Range);
    });
  }
  return h('div', { class: 'range-picker', role: 'group', 'aria-label': 'Time range' }, h('span', { class: 'range-label', 'aria-hidden': 'true' }, 'Range'), ...buttons);
}
