/**
 * Exact display of the API's amounts. Atomic amounts arrive as decimal strings (sums can pass
 * 2^53, where a JavaScript number stops counting by ones), so they are formatted as text and
 * BigInt, never through a float. USDC has 6 decimals, SOL 9.
 */

export const USDC_DECIMALS = 6;
export const SOL_DECIMALS = 9;

const INTEGER = /^-?\d+$/;

/** Thousands separated by commas: "1234567" → "1,234,567". */
function group(digits: string): string {
  let out = '';
  for (let i = 0; i < digits.length; i++) {
    if (i > 0 && (digits.length - i) % 3 === 0) out += ',';
    out += digits[i];
  }
  return out;
}

/** "9007199254740993" with 6 decimals → "9,007,199,254.740993"; every decimal is kept. */
export function formatAtomic(atomic: string, decimals: number): string {
  if (!INTEGER.test(atomic)) return '—';
  const negative = atomic.startsWith('-');
  const digits = (negative ? atomic.slice(1) : atomic).replace(/^0+(?=\d)/, '').padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals);
  const fraction = digits.slice(digits.length - decimals);
  return `${negative ? '-' : ''}${group(whole)}${decimals > 0 ? '.' + fraction : ''}`;
}

export function formatUsdc(atomic: string | null | undefined): string {
  return atomic === null || atomic === undefined ? '—' : `${formatAtomic(atomic, USDC_DECIMALS)} USDC`;
}

export function formatSol(lamports: string | null | undefined): string {
  return lamports === null || lamports === undefined ? '—' : `${formatAtomic(lamports, SOL_DECIMALS)} SOL`;
}

/** A count (a JSON number the API keeps below 2^53). */
export function formatCount(n: number): string {
  return Number.isSafeInteger(n) ? (n < 0 ? '-' : '') + group(String(Math.abs(n))) : String(n);
}

/** A ratio 0..1 as a percentage with two decimals; null (no requests) as a dash. */
export function formatRate(rate: number | null): string {
  return rate === null ? '—' : `${(rate * 100).toFixed(2)} %`;
}

export function formatMs(ms: number | null): string {
  return ms === null ? '—' : `${formatCount(Math.round(ms))} ms`;
}

/** Runway hours (two decimals from the API) in hours, or days beyond two days. */
export function formatRunway(hours: number | null): string {
  if (hours === null) return '—';
  if (hours < 48) return `${hours.toFixed(2)} h`;
  return `${(hours / 24).toFixed(1)} days`;
}

/** An RFC 3339 time as "2026-02-01 12:00:05 UTC" (the API's times are UTC). */
export function formatTime(iso: string | null): string {
  if (iso === null) return '—';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})/.exec(iso);
  return m === null ? iso : `${m[1]} ${m[2]} UTC`;
}

/** How long ago `iso` was, from `nowMs`: "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function formatAgo(iso: string | null, nowMs: number): string {
  if (iso === null) return 'never';
  const s = Math.max(0, Math.round((nowMs - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 172_800) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

/** An amount as a float for drawing only (a chart's pixels cannot show 2^53 anyway). */
export function atomicToPlot(atomic: string | null, decimals: number): number | null {
  if (atomic === null || !INTEGER.test(atomic)) return null;
  const scale = 10n ** BigInt(decimals);
  const v = BigInt(atomic);
  return Number(v / scale) + Number(v % scale) / Number(scale);
}
