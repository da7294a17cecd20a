import type { InteractionInput } from './telemetry-emitter.js';
import {
  challengeError,
  challengeTerms,
  decodeBase64Json,
  decodeX402Header,
  paymentTerms,
  settlement,
  X402_CHALLENGE_HEADER,
  X402_PAYMENT_HEADERS,
  X402_SETTLEMENT_HEADERS,
  type X402Settlement,
  type X402Terms,
} from './x402-headers.js';

/** The `fetch` signature the recorder takes and returns (the global one, or x402's wrapped one). */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface X402FetchRecorderOptions {
  /** Where each exchange goes: a {@link TelemetryEmitter} (anything with its `recordInteraction`). */
  emitter: { recordInteraction(input: InteractionInput): void };
  /** The `vendor_id` of a request (≤ 64 characters). Default: the URL's host. */
  vendorId?: string | ((url: URL) => string) | undefined;
  /**
   * How long a 402 challenge waits for the paid request that answers it before it is recorded
   * as a failed, unpaid interaction (`error_type` `payment_required`). Default 30 000 ms.
   */
  challengeTimeoutMs?: number | undefined;
  /** Keep the query string in `request_url`. Default false: queries often carry tokens. */
  keepQuery?: boolean | undefined;
  /** Told about a recording that failed (a vendor id too long…); the request itself is never affected. */
  onError?: ((err: unknown) => void) | undefined;
}

interface PendingChallenge {
  startedAt: number;
  terms: X402Terms;
  error: string | undefined;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Wraps `fetch` so that every x402 exchange it carries becomes an interaction event
 * (docs/protocol.md §5), while every request and response passes through untouched: the
 * recorder creates, signs and checks no payment.
 *
 * Put it under x402's payment wrapper, where it sees each HTTP exchange: the 402 challenge,
 * the retry with `PAYMENT-SIGNATURE`/`X-PAYMENT`, and the `PAYMENT-RESPONSE`/`X-PAYMENT-RESPONSE`
 * settlement. One interaction is recorded per paid request: latency from the challenge to
 * the settled answer, the amount paid, the token, the settlement transaction as `signature`,
 * and success when the answer is 2xx and the settlement did not fail.
 *
 * ```ts
 * const pay = wrapFetchWithPayment(recordX402Fetch(fetch, { emitter }), x402client);
 * ```
 *
 * Wrapped around x402's fetch instead, it sees only the first request and the final answer:
 * a settled answer is recorded (with the amount only when the settlement states it), and a
 * final 402 after `challengeTimeoutMs`. A challenge never followed by a payment (no wallet
 * option matched, the payer gave up) is recorded as failed after `challengeTimeoutMs`;
 * requests that involve no 402 and no payment are not recorded.
 */
export function recordX402Fetch(fetchImpl: FetchLike, options: X402FetchRecorderOptions): FetchLike {
  const timeoutMs = options.challengeTimeoutMs ?? 30_000;
  const pending = new Map<string, PendingChallenge[]>();

  const safely = (work: () => void): void => {
    try {
      work();
    } catch (err) {
      options.onError?.(err);
    }
  };

  const record = (url: URL, method: string, outcome: Omit<InteractionInput, 'vendorId' | 'requestUrl' | 'requestMethod'>): void => {
    safely(() => {
      const vendorId = typeof options.vendorId === 'function' ? options.vendorId(url) : (options.vendorId ?? url.host);
      const requestUrl = options.keepQuery === true ? url.href : url.origin + url.pathname;
      options.emitter.recordInteraction({ ...outcome, vendorId, requestUrl, requestMethod: method });
    });
  };

  const takePending = (key: string): PendingChallenge | undefined => {
    const queue = pending.get(key);
    const first = queue?.shift();
    if (queue !== undefined && queue.length === 0) pending.delete(key);
    if (first !== undefined) clearTimeout(first.timer);
    return first;
  };

  const addPending = (key: string, url: URL, method: string, startedAt: number, terms: X402Terms, error: string | undefined): void => {
    const entry: PendingChallenge = { startedAt, terms, error, timer: undefined as unknown as ReturnType<typeof setTimeout> };
    entry.timer = setTimeout(() => {
      const queue = pending.get(key);
      const at = queue?.indexOf(entry) ?? -1;
      if (queue === undefined || at < 0) return;
      queue.splice(at, 1);
      if (queue.length === 0) pending.delete(key);
      record(url, method, {
        success: false,
        latencyMs: now() - startedAt,
        amountAtomic: terms.amountAtomic,
        tokenMint: terms.asset,
        errorType: 'payment_required',
        errorMessage: error ?? 'a 402 challenge was not followed by a payment',
      });
    }, timeoutMs);
    // A pending challenge must not keep a Node process alive on its own.
    (entry.timer as { unref?: () => void }).unref?.();
    const queue = pending.get(key);
    if (queue === undefined) pending.set(key, [entry]);
    else queue.push(entry);
  };

  return async (input, init) => {
    const startedAt = now();
    const request = describeRequest(input, init);
    const payment = decodeX402Header((name) => request.headers.get(name), X402_PAYMENT_HEADERS);
    const key = `${request.method} ${request.url.href}`;
    let response: Response;
    try {
      response = await fetchImpl(input, init);
    } catch (err) {
      if (payment !== null) {
        const challenge = takePending(key);
        const terms = paymentTerms(payment);
        record(request.url, request.method, {
          success: false,
          latencyMs: now() - (challenge?.startedAt ?? startedAt),
          amountAtomic: terms.amountAtomic,
          tokenMint: terms.asset,
          errorType: 'network_error',
          errorMessage: err instanceof Error ? err.message : String(err),
        });
      }
      throw err;
    }

    const settledRaw = decodeX402Header((name) => response.headers.get(name), X402_SETTLEMENT_HEADERS);
    const settled = settledRaw === null ? null : settlement(settledRaw);
    if (response.status === 402 && payment === null && settled === null) {
      const challenge = await readChallenge(response);
      safely(() => addPending(key, request.url, request.method, startedAt, challenge === null ? {} : challengeTerms(challenge), challenge === null ? undefined : challengeError(challenge)));
      return response;
    }
    if (payment === null && settled === null) {
      // Answered without a payment (a free resource, or a challenge met another way): no x402 exchange to record.
      takePending(key);
      return response;
    }
    const challenge = takePending(key);
    const terms = payment === null ? {} : paymentTerms(payment);
    const ok = response.status >= 200 && response.status < 300 && settled?.success !== false;
    const refusal = ok ? null : await refusalOf(response, settled);
    record(request.url, request.method, {
      success: ok,
      latencyMs: now() - (challenge?.startedAt ?? startedAt),
      amountAtomic: settled?.amountAtomic ?? terms.amountAtomic ?? challenge?.terms.amountAtomic,
      tokenMint: terms.asset ?? challenge?.terms.asset,
      signature: settled?.transaction,
      errorType: refusal?.type,
      errorMessage: refusal?.message,
    });
    return response;
  };
}

function now(): number {
  return typeof performance === 'object' ? performance.now() : Date.now();
}

function describeRequest(input: string | URL | Request, init: RequestInit | undefined): { url: URL; method: string; headers: Headers } {
  const isRequest = typeof Request === 'function' && input instanceof Request;
  const url = new URL(isRequest ? input.url : String(input));
  const method = (init?.method ?? (isRequest ? input.method : 'GET')).toUpperCase();
  const headers = new Headers(init?.headers ?? (isRequest ? input.headers : undefined));
  return { url, method, headers };
}

/** The challenge of a 402: v2's header, else v1's JSON body (read from a clone, so the caller still gets the body). */
async function readChallenge(response: Response): Promise<Record<string, unknown> | null> {
  const header = response.headers.get(X402_CHALLENGE_HEADER);
  if (header !== null && header !== '') return decodeBase64Json(header);
  try {
    const parsed: unknown = JSON.parse(await response.clone().text());
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

async function refusalOf(response: Response, settled: X402Settlement | null): Promise<{ type: string; message: string | undefined }> {
  if (settled !== null && !settled.success) return { type: settled.errorReason ?? 'settlement_failed', message: undefined };
  if (response.status === 402) {
    const challenge = await readChallenge(response);
    return { type: 'payment_rejected', message: challenge === null ? undefined : challengeError(challenge) };
  }
  return { type: `http_${response.status}`, message: undefined };
}
