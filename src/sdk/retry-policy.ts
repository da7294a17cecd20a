import type { SdkErrorCode } from './errors.js';

/**
 * The one place that decides what a response means for a batch (docs/protocol.md §6):
 * delivered, retry (possibly after Retry-After), split (413), or give up.
 */

/** One per-event rejection from a 202 or 400 body. */
export interface ReceiverRejection {
  readonly index: number;
  readonly id: string | null;
  readonly code: string;
  readonly message: string;
}

export type SendOutcome =
  | { readonly kind: 'delivered'; readonly status: number; readonly rejected: readonly ReceiverRejection[] }
  | { readonly kind: 'retry'; readonly status: number | null; readonly code: string; readonly message: string; readonly retryAfterMs: number | null }
  | { readonly kind: 'split'; readonly status: 413; readonly code: string; readonly message: string }
  | {
      readonly kind: 'permanent';
      readonly status: number | null;
      readonly code: string;
      readonly message: string;
      readonly rejected: readonly ReceiverRejection[];
    };

export function classifyResponse(status: number, bodyText: string, retryAfter: string | null, nowMs: number): SendOutcome {
  const body = parseJson(bodyText);
  if (status >= 200 && status < 300) return { kind: 'delivered', status, rejected: rejectionsOf(body) };
  const { code, message } = errorOf(body, status);
  if (status === 413) return { kind: 'split', status, code, message };
  if (status === 429 || status === 503) return { kind: 'retry', status, code, message, retryAfterMs: parseRetryAfter(retryAfter, nowMs) };
  // Other 5xx: a proxy or a crashed receiver; §6 promises none, so retrying is safe.
  if (status >= 500 && status < 600) return { kind: 'retry', status, code, message, retryAfterMs: null };
  // Every other 4xx (and anything stranger, e.g. a redirect) will not improve by resending.
  return { kind: 'permanent', status, code, message, rejected: rejectionsOf(body) };
}

/** A fetch that threw: the request may or may not have arrived, and stable event ids make resending safe. */
export function classifyFailure(code: Extract<SdkErrorCode, 'network_error' | 'request_timeout'>, err: unknown): SendOutcome {
  return { kind: 'retry', status: null, code, message: describe(err), retryAfterMs: null };
}

/**
 * Retry-After in seconds (fractions accepted) or as an HTTP date; null when absent or
 * unreadable, in which case the caller falls back to its own backoff.
 */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  // An HTTP-date always names its weekday and month; Date.parse alone would read "-1" as a year.
  if (!/[a-z]{3}/i.test(text)) return null;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

/** Retry-After is honoured as a floor; up to 10 % (≤ 1 s) is added so producers told the same value do not return in step. */
export function retryAfterDelayMs(retryAfterMs: number, random: () => number = Math.random): number {
  return retryAfterMs + Math.round(random() * Math.min(retryAfterMs * 0.1, 1000));
}

function parseJson(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorOf(body: unknown, status: number): { code: string; message: string } {
  const error = isObject(body) ? body['error'] : undefined;
  if (isObject(error) && typeof error['code'] === 'string') {
    return { code: error['code'], message: typeof error['message'] === 'string' ? error['message'] : '' };
  }
  return { code: 'unexpected_status', message: `HTTP ${status} without a protocol error body` };
}

function rejectionsOf(body: unknown): ReceiverRejection[] {
  const list = isObject(body) ? body['rejected'] : undefined;
  if (!Array.isArray(list)) return [];
  const out: ReceiverRejection[] = [];
  for (const r of list) {
    if (!isObject(r)) continue;
    out.push({
      index: typeof r['index'] === 'number' ? r['index'] : -1,
      id: typeof r['id'] === 'string' ? r['id'] : null,
      code: typeof r['code'] === 'string' ? r['code'] : 'unknown',
      message: typeof r['message'] === 'string' ? r['message'] : '',
    });
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as { cause?: unknown }).cause;
    return cause instanceof Error ? `${err.message}: ${cause.message}` : err.message;
  }
  return String(err);
}
