import type { GatewayRequestInput } from './gateway-emitter.js';
import { challengeError, decodeBase64Json, decodeX402Header, paymentTerms, settlement, X402_CHALLENGE_HEADER, X402_PAYMENT_HEADERS, X402_SETTLEMENT_HEADERS } from './x402-headers.js';

/** What the middleware reads of a request: node:http's IncomingMessage and Express's Request both fit. */
export interface MiddlewareRequest {
  method?: string | undefined;
  url?: string | undefined;
  /** Express: the URL before mounting stripped a prefix. */
  originalUrl?: string | undefined;
  /** Express: the matched route (`{ path: '/weather/:city' }`), kept instead of the raw path when present. */
  route?: { path?: unknown } | undefined;
  baseUrl?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
}

/** What the middleware reads of a response: node:http's ServerResponse and Express's Response both fit. */
export interface MiddlewareResponse {
  statusCode: number;
  getHeader(name: string): number | string | string[] | undefined;
  once(event: 'finish' | 'close', listener: () => void): unknown;
}

export interface GatewayMiddlewareOptions {
  /** Where each request goes: a {@link GatewayEmitter} (anything with its `recordRequest`). */
  emitter: { recordRequest(input: GatewayRequestInput): void };
  /** This gateway's id (`gateway_id`, ≤ 64 characters). */
  gatewayId: string;
  /** The seller's `vendor_id`: fixed, or per request. */
  vendorId: string | ((req: MiddlewareRequest) => string);
  /**
   * The `route` recorded: by default Express's matched route pattern, else the path without
   * its query (give patterns yourself on plain node:http when paths carry ids).
   */
  route?: ((req: MiddlewareRequest) => string) | undefined;
  /** The paying agent's id; by default the request's `X-MachPay-Agent` header, when it sends one. */
  agentId?: ((req: MiddlewareRequest) => string | undefined) | undefined;
  /** A risk score from 0 to 1 of your own, recorded as `risk_score`. */
  riskScore?: ((req: MiddlewareRequest, res: MiddlewareResponse) => number | undefined) | undefined;
  /** Told about a recording that failed; the request itself is never affected. */
  onError?: ((err: unknown) => void) | undefined;
}

/**
 * Middleware for node:http and Express-style servers that records each request as a
 * gateway event (docs/protocol.md §5, `com.machpay.gateway.request.v1`) once its response
 * has been sent. It sits beside x402's own middleware (mount it first, so that it also sees
 * the 402s that middleware answers) and reads only headers:
 *
 * - `amount_atomic`: what the request's `PAYMENT-SIGNATURE`/`X-PAYMENT` payment accepted;
 * - `payment_verified`: true when the response carries a successful
 *   `PAYMENT-RESPONSE`/`X-PAYMENT-RESPONSE` settlement, false when a payment was sent but
 *   refused or failed to settle, absent when the request carried no payment;
 * - `error_code`: the settlement's error reason, or for a 402 the `error` of its v2 `PAYMENT-REQUIRED` header (a v1 body is not read)
 *   (`payment_required` when it states none).
 *
 * ```ts
 * app.use(gatewayMiddleware({ emitter, gatewayId: 'gw-eu-1', vendorId: 'weather-api' }));
 * app.use(paymentMiddleware(routes, resourceServer));
 * ```
 * On plain node:http, call it first in the request handler: `record(req, res)`.
 */
export function gatewayMiddleware(options: GatewayMiddlewareOptions): (req: MiddlewareRequest, res: MiddlewareResponse, next?: (err?: unknown) => void) => void {
  return (req, res, next) => {
    const startedAt = typeof performance === 'object' ? performance.now() : Date.now();
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      try {
        options.emitter.recordRequest(requestRecord(options, req, res, startedAt));
      } catch (err) {
        options.onError?.(err);
      }
    };
    // 'finish' once the response is handed to the OS; 'close' alone when the client went away first.
    res.once('finish', finish);
    res.once('close', finish);
    next?.();
  };
}

function requestRecord(options: GatewayMiddlewareOptions, req: MiddlewareRequest, res: MiddlewareResponse, startedAt: number): GatewayRequestInput {
  const payment = decodeX402Header((name) => headerText(req.headers[name]), X402_PAYMENT_HEADERS);
  const settledRaw = decodeX402Header((name) => headerText(res.getHeader(name)), X402_SETTLEMENT_HEADERS);
  const settled = settledRaw === null ? null : settlement(settledRaw);
  const status = res.statusCode;
  let paymentVerified: boolean | undefined;
  let errorCode: string | undefined;
  if (settled !== null) {
    paymentVerified = settled.success;
    if (!settled.success) errorCode = settled.errorReason ?? 'settlement_failed';
  } else if (payment !== null) {
    // A payment that reached the handler without a settlement header was verified but not (yet) settled.
    paymentVerified = status !== 402 && status < 400;
  }
  if (status === 402 && errorCode === undefined) {
    const challenge = decodeBase64Json(headerText(res.getHeader(X402_CHALLENGE_HEADER)) ?? '');
    errorCode = (challenge === null ? undefined : challengeError(challenge)) ?? 'payment_required';
  }
  const vendorId = typeof options.vendorId === 'function' ? options.vendorId(req) : options.vendorId;
  const agentId = options.agentId === undefined ? headerText(req.headers['x-machpay-agent']) : options.agentId(req);
  return {
    gatewayId: options.gatewayId,
    vendorId,
    route: options.route === undefined ? defaultRoute(req) : options.route(req),
    method: (req.method ?? 'GET').toUpperCase(),
    statusCode: status,
    latencyMs: Math.max(0, (typeof performance === 'object' ? performance.now() : Date.now()) - startedAt),
    agentId: agentId === '' ? undefined : agentId,
    amountAtomic: settled?.amountAtomic ?? (payment === null ? undefined : paymentTerms(payment).amountAtomic),
    paymentVerified,
    riskScore: options.riskScore?.(req, res),
    errorCode: errorCode?.slice(0, 64),
  };
}

function defaultRoute(req: MiddlewareRequest): string {
  if (typeof req.route?.path === 'string') return (req.baseUrl ?? '') + req.route.path;
  const url = req.originalUrl ?? req.url ?? '/';
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function headerText(value: number | string | string[] | undefined): string | undefined {
  if (Array.isArray(value)) return value[0];
  return value === undefined ? undefined : String(value);
}
