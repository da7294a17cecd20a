import { backoffDelayMs, type BackoffPolicy } from '../retry/index.js';
import { clockOffsetFromDate } from './clock-offset.js';
import { MachPayConfigError } from './errors.js';
import { classifyFailure, classifyResponse, retryAfterDelayMs, type SendOutcome } from './retry-policy.js';
import { MachPayReadError } from './read-request-error.js';
import type {
  AgentMetrics,
  AgentVendors,
  AlertSettings,
  BalanceSeries,
  HistoryPage,
  HistoryQuery,
  LinkCode,
  ReadWindow,
} from './read-types.js';
import { signAgentRequest, type AgentSigner } from './signing.js';

export interface AgentReadClientOptions {
  /** The receiver's base URL, e.g. `https://telemetry.example.com` (a path prefix is kept and signed). */
  readonly receiverUrl: string;
  /** The agent's key: it reads its own data, signed as for ingest (docs/read-api.md §1). */
  readonly signer: AgentSigner;
  /** Default globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /** One attempt's limit; default 10 s. */
  readonly requestTimeoutMs?: number;
  /** Attempts after the first for network failures, timeouts, 429, 5xx; default 2. */
  readonly maxRetries?: number;
  /** Backoff between attempts (Retry-After wins when longer); default 500 ms doubling up to 5 s. */
  readonly backoff?: BackoffPolicy;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialDelayMs: 500, maxDelayMs: 5000 };

/**
 * The read API as the agent itself calls it: its metrics, vendors, history, balances and
 * alert settings, and a link code for its owner. Every request is signed over the path, `?`
 * and the query string exactly as sent, and the body (docs/read-api.md §1); each retry signs
 * again with a fresh timestamp. A 401 `timestamp_out_of_window` teaches the client the
 * receiver's clock from its `Date` header (docs/protocol.md §6): the request is signed with
 * that clock and sent once more, and every later request signs with it from the start.
 *
 * ```ts
 * const reader = new AgentReadClient({ receiverUrl, signer: keypair });
 * const { runway_hours } = await reader.getMetrics({ range: '24h' });
 * ```
 */
export class AgentReadClient {
  private readonly base: string;
  private readonly fetchFn: typeof fetch;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly backoff: BackoffPolicy;
  /** Added to Date.now() to read the receiver's clock; learnt from the `Date` of a 401 timestamp_out_of_window. */
  private clockOffsetMs = 0;

  constructor(private readonly options: AgentReadClientOptions) {
    let url: URL;
    try {
      url = new URL(options.receiverUrl);
    } catch {
      throw new MachPayConfigError('receiverUrl', 'must be an absolute http(s) URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MachPayConfigError('receiverUrl', 'must be an absolute http(s) URL');
    if (url.search !== '' || url.hash !== '') throw new MachPayConfigError('receiverUrl', 'must not carry a query or fragment');
    this.base = url.href.replace(/\/+$/, '');
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new MachPayConfigError('fetch', 'no fetch in this runtime: pass one');
    // A plain call, never `this.fetchFn(…)` on the raw function: browsers and Workers throw
    // "Illegal invocation" when fetch runs as a method of another object.
    this.fetchFn = ((input, init) => f(input, init)) as typeof fetch;
    this.timeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs ?? 10_000);
    this.maxRetries = options.maxRetries ?? 2;
    if (!Number.isInteger(this.maxRetries) || this.maxRetries < 0) throw new MachPayConfigError('maxRetries', 'must be an integer ≥ 0');
    this.backoff = options.backoff ?? DEFAULT_BACKOFF;
  }

  /** GET /v1/agent/metrics: totals, percentiles, balance, burn rate, runway and the chart. */
  getMetrics(window?: ReadWindow): Promise<AgentMetrics> {
    return this.get('/v1/agent/metrics', windowParams(window));
  }

  /** GET /v1/agent/vendors: the window's figures per vendor, by spend. */
  getVendors(window?: ReadWindow): Promise<AgentVendors> {
    return this.get('/v1/agent/vendors', windowParams(window));
  }

  /** GET /v1/agent/history: one page of stored interactions, newest first. */
  getHistory(query: HistoryQuery = {}): Promise<HistoryPage> {
    const params = query.window === undefined ? [] : windowParams(query.window);
    if (query.cursor !== undefined) params.push(['cursor', query.cursor]);
    if (query.limit !== undefined) params.push(['limit', String(query.limit)]);
    if (query.vendorId !== undefined) params.push(['vendor_id', query.vendorId]);
    if (query.success !== undefined) params.push(['success', String(query.success)]);
    return this.get('/v1/agent/history', params);
  }

  /** GET /v1/agent/balance: the wallet snapshots of the window, oldest first. */
  getBalance(window?: ReadWindow): Promise<BalanceSeries> {
    return this.get('/v1/agent/balance', windowParams(window));
  }

  /** GET /v1/agent/settings: the alert settings in effect for this agent. */
  getSettings(): Promise<AlertSettings> {
    return this.get('/v1/agent/settings', []);
  }

  /** POST /v1/link/init: a code, valid 10 minutes and once, for a tenant admin to link this agent. */
  linkInit(name?: string): Promise<LinkCode> {
    return this.request('POST', '/v1/link/init', [], name === undefined ? {} : { name });
  }

  private get<T>(path: string, params: [string, string][]): Promise<T> {
    return this.request('GET', path, params, undefined);
  }

  private async request<T>(method: 'GET' | 'POST', path: string, params: [string, string][], body: unknown): Promise<T> {
    const query = new URLSearchParams(params).toString();
    const url = this.base + path + (query === '' ? '' : `?${query}`);
    // The receiver verifies the path it sees plus the query string exactly as sent.
    const signedPath = new URL(this.base + path).pathname + (query === '' ? '' : `?${query}`);
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    let clockCorrected = false;
    let retries = 0;
    for (;;) {
      const outcome = await this.attempt(method, url, signedPath, bytes);
      if ('value' in outcome) return outcome.value as T;
      if (outcome.kind === 'clock_skew') {
        // Our clock is off by more than the receiver's window: sign with its clock, once.
        // That resend is none of the maxRetries and waits for no backoff.
        if (clockCorrected) throw new MachPayReadError(outcome.failure.code, outcome.failure.message, outcome.failure.status);
        clockCorrected = true;
        this.clockOffsetMs = outcome.offsetMs;
        continue;
      }
      if (outcome.kind !== 'retry' || retries >= this.maxRetries) throw new MachPayReadError(outcome.code, outcome.message, outcome.status);
      const backoff = backoffDelayMs(retries, this.backoff);
      retries++;
      await sleep(outcome.retryAfterMs === null ? backoff : Math.max(backoff, retryAfterDelayMs(outcome.retryAfterMs)));
    }
  }

  private async attempt(method: string, url: string, signedPath: string, body: Uint8Array): Promise<AttemptResult> {
    let headers: Record<string, string>;
    try {
      headers = await signAgentRequest(this.options.signer, signedPath, body, Date.now() + this.clockOffsetMs);
    } catch (err) {
      return { kind: 'permanent', status: null, code: 'signing_failed', message: err instanceof Error ? err.message : String(err), rejected: [] };
    }
    if (body.length > 0) headers['Content-Type'] = 'application/json';
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.timeoutMs);
    const sentAt = Date.now();
    try {
      const init: RequestInit = { method, headers, signal: controller.signal, redirect: 'manual' };
      if (body.length > 0) init.body = body;
      const res = await this.fetchFn(url, init);
      const text = await res.text();
      if (res.status >= 200 && res.status < 300) {
        try {
          return { value: JSON.parse(text) as unknown };
        } catch {
          return { kind: 'permanent', status: res.status, code: 'unexpected_status', message: `HTTP ${res.status} with a body that is not JSON`, rejected: [] };
        }
      }
      const outcome = classifyResponse(res.status, text, res.headers.get('retry-after'), Date.now());
      if (outcome.kind === 'permanent' && outcome.code === 'timestamp_out_of_window') {
        const offsetMs = clockOffsetFromDate(res.headers.get('date'), sentAt, Date.now());
        if (offsetMs !== null) return { kind: 'clock_skew', offsetMs, failure: outcome };
      }
      // 413 splits a batch on ingest; a read has nothing to split.
      if (outcome.kind === 'retry' || outcome.kind === 'permanent') return outcome;
      return { kind: 'permanent', status: res.status, code: outcome.kind === 'split' ? outcome.code : 'unexpected_status', message: `HTTP ${res.status}`, rejected: [] };
    } catch (err) {
      // classifyFailure always answers retry: the request may not have arrived.
      return classifyFailure(timedOut ? 'request_timeout' : 'network_error', err) as Failure;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What an attempt that did not answer 2xx means: retry or give up. */
type Failure = Extract<SendOutcome, { kind: 'retry' | 'permanent' }>;

/** One attempt: the parsed 2xx body, a failure, or a refused timestamp with the clock offset the answer implies. */
type AttemptResult = { value: unknown } | Failure | { kind: 'clock_skew'; offsetMs: number; failure: Failure };

function windowParams(w: ReadWindow | undefined): [string, string][] {
  if (w === undefined) return [];
  if ('range' in w) return [['range', w.range]];
  const out: [string, string][] = [['from', time(w.from)]];
  if (w.to !== undefined) out.push(['to', time(w.to)]);
  return out;
}

function time(t: Date | string): string {
  return typeof t === 'string' ? t : t.toISOString();
}

function positive(key: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0) throw new MachPayConfigError(key, 'must be a positive number');
  return v;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
