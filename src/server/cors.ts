import type { HttpRequest, HttpResponse, RecognizedString, TemplatedApp } from 'uWebSockets.js';
import { SIGNATURE_HEADERS, SIGNED_BINARY_MODE_HEADERS } from '../protocol/index.js';
import { statusLine } from './responses.js';

/**
 * Cross-origin access for pages on the origins of CORS_ORIGINS (an SDK in the browser, a
 * dashboard on another host). Off when the list is empty: then no route is wrapped and no
 * header is added.
 *
 * uWebSockets.js has no middleware, so {@link withCors} wraps the app: every HTTP handler
 * registered through it first reads `Origin`, and for an allowed origin the response gets
 * the CORS headers right after its status line, whichever handler writes it (ingest, read
 * API, stream, 404/405). Requests without an allowed `Origin` (every server-side producer)
 * pay one header read. Each path pattern registered also gets an OPTIONS handler at the
 * same specificity, so a component's own `any(pattern)` 405 answer never takes a preflight.
 */

/** What a page may send: the agent signature (docs/protocol.md §3), binary mode's ce-* attributes (§2), API keys (§4), gzip, stream resumption. */
export const CORS_ALLOWED_HEADERS = [
  'Content-Type',
  'Content-Encoding',
  'Authorization',
  SIGNATURE_HEADERS.agent,
  SIGNATURE_HEADERS.timestamp,
  SIGNATURE_HEADERS.signature,
  ...SIGNED_BINARY_MODE_HEADERS,
  'Last-Event-ID',
].join(', ');

/**
 * Response headers a page's script may read beyond the CORS-safelisted ones: `Date` (the
 * SDK corrects its clock from it after a 401 timestamp_out_of_window, §6) and `Retry-After`
 * (429 and 503 on ingest and the read API). Every other answer is in the JSON body.
 */
export const CORS_EXPOSED_HEADERS = 'Date, Retry-After';

/** How long a browser may reuse a preflight's answer. Chromium caps it at 2 hours; 10 minutes lets a changed CORS_ORIGINS take effect soon. */
export const CORS_MAX_AGE_SECONDS = 600;

const WRAPPED_METHODS = new Set(['get', 'post', 'put', 'patch', 'del', 'head', 'connect', 'trace', 'any']);

type Handler = (res: HttpResponse, req: HttpRequest) => void | Promise<void>;

export interface CorsOptions {
  /** Allowed origins, exactly as browsers send them (`https://app.example.com`). */
  origins: readonly string[];
  /** The methods the server takes at a path (the route table), upper case; empty for an unknown path. */
  allowedMethods(path: string): readonly string[];
  /** Answers a request no route takes (404, or 405 with `Allow`): a preflight that is not granted gets this too. */
  unrouted: Handler;
}

/**
 * The app itself when no origin is allowed; otherwise a view of it whose HTTP route
 * registrations add CORS, plus the OPTIONS handlers that answer preflights.
 */
export function withCors(app: TemplatedApp, options: CorsOptions): TemplatedApp {
  if (options.origins.length === 0) return app;
  const origins = new Set(options.origins);
  const preflight = preflightHandler(origins, options);
  const patterns = new Set<string>();
  const view: TemplatedApp = new Proxy(app, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property);
      if (typeof value !== 'function') return value;
      if (typeof property !== 'string' || !WRAPPED_METHODS.has(property)) return (value as (...args: unknown[]) => unknown).bind(target);
      return (pattern: RecognizedString, handler: Handler): TemplatedApp => {
        const key = String(pattern);
        if (!patterns.has(key)) {
          patterns.add(key);
          target.options(pattern, preflight);
        }
        (value as (p: RecognizedString, h: Handler) => TemplatedApp).call(target, pattern, allowedOriginFirst(origins, handler));
        return view;
      };
    },
  });
  return view;
}

function allowedOriginFirst(origins: ReadonlySet<string>, handler: Handler): Handler {
  return (res, req) => {
    const origin = req.getHeader('origin');
    if (origin !== '' && origins.has(origin)) addCorsHeaders(res, origin);
    return handler(res, req);
  };
}

function preflightHandler(origins: ReadonlySet<string>, options: CorsOptions): Handler {
  return (res, req) => {
    const origin = req.getHeader('origin');
    const requested = req.getHeader('access-control-request-method').toUpperCase();
    const allowed = origin !== '' && origins.has(origin) ? options.allowedMethods(req.getUrl()) : [];
    if (requested === '' || !allowed.includes(requested)) {
      // Not a preflight this server grants: answered like any other OPTIONS, without CORS
      // headers for an origin that is not allowed, so the browser blocks the request.
      if (origin !== '' && origins.has(origin)) addCorsHeaders(res, origin);
      return options.unrouted(res, req);
    }
    res.cork(() => {
      res
        .writeStatus(statusLine(204))
        .writeHeader('access-control-allow-origin', origin)
        .writeHeader('vary', 'Origin')
        .writeHeader('access-control-allow-methods', allowed.join(', '))
        .writeHeader('access-control-allow-headers', CORS_ALLOWED_HEADERS)
        .writeHeader('access-control-max-age', String(CORS_MAX_AGE_SECONDS))
        .endWithoutBody();
    });
  };
}

/**
 * Makes `res` write the CORS headers of `origin` once, just after its status line (or
 * before its first header or body byte when the handler writes no status). The methods are
 * replaced on this one response object only.
 */
function addCorsHeaders(res: HttpResponse, origin: string): void {
  const own = res as unknown as Record<string, unknown>;
  const writeStatus = res.writeStatus;
  const writeHeader = res.writeHeader;
  let written = false;
  const writeOnce = (): void => {
    if (written) return;
    written = true;
    writeHeader.call(res, 'access-control-allow-origin', origin);
    writeHeader.call(res, 'vary', 'Origin');
    writeHeader.call(res, 'access-control-expose-headers', CORS_EXPOSED_HEADERS);
  };
  own.writeStatus = (status: RecognizedString): HttpResponse => {
    writeStatus.call(res, status);
    writeOnce();
    return res;
  };
  own.writeHeader = (key: RecognizedString, value: RecognizedString): HttpResponse => {
    writeOnce();
    return writeHeader.call(res, key, value);
  };
  for (const name of ['write', 'end', 'endWithoutBody', 'tryEnd'] as const) {
    const original = res[name] as (...args: unknown[]) => unknown;
    own[name] = (...args: unknown[]): unknown => {
      writeOnce();
      return original.apply(res, args);
    };
  }
}
