import type { HttpRequest, HttpResponse, TemplatedApp } from 'uWebSockets.js';
import { ThrottledLog, type Logger } from '../logger.js';
import { httpMethod, sendMethodNotAllowed } from '../server/index.js';
import { sendJson, sendNoContent } from './http-reply.js';
import { authenticate, authorize, type AuthContext, type Credentials, type Principal, type Requirement } from './principal.js';
import { parseQuery, type QueryParams } from './query-params.js';
import { ReadError, sendReadError } from './read-errors.js';
import type { ScopedKeyCache } from './scoped-key-cache.js';

export interface Call {
  principal: Principal;
  query: QueryParams;
  /** The request body as sent (empty for GET). */
  body: Uint8Array;
  /** The path's `:name` parts, in order. */
  pathParams: string[];
  nowMs: number;
}

export interface Reply {
  status: number;
  /** Serialised as JSON; null for 204. */
  body: unknown;
}

export interface ReadEndpoint {
  method: 'get' | 'post' | 'put' | 'del';
  pattern: string;
  /** The query parameters it takes; any other is a 400. */
  query: readonly string[];
  need: Requirement;
  /** Largest body read (POST/PUT); past it, 413. */
  maxBody?: number;
  handle(call: Call): Promise<Reply | ReadError> | Reply | ReadError;
}

export interface RouteContext {
  keys: ScopedKeyCache;
  clock: () => number;
  timestampWindowMs: number;
  log: Logger;
}

const EMPTY = new Uint8Array(0);

/**
 * Registers one endpoint. Everything the request object holds is copied before the first
 * await (uWS frees it when the handler returns), onAborted is set before any async work,
 * and the answer is written in one corked write unless the client has gone.
 * Order of checks: body size, authentication (401), scope (403), query (400), then the
 * handler's own (404, 409, …).
 */
export function attachEndpoint(app: TemplatedApp, ep: ReadEndpoint, ctx: RouteContext): void {
  const allowed = new Set(ep.query);
  const paramCount = ep.pattern.split('/').filter((s) => s.startsWith(':')).length;
  const failures = new ThrottledLog(ctx.log, 10_000);

  app[ep.method](ep.pattern, (res: HttpResponse, req: HttpRequest) => {
    const url = req.getUrl();
    const rawQuery = req.getQuery() ?? '';
    const creds: Credentials = {
      authorization: req.getHeader('authorization'),
      signature: {
        agent: req.getHeader('x-machpay-agent'),
        timestamp: req.getHeader('x-machpay-timestamp'),
        signature: req.getHeader('x-machpay-signature'),
      },
    };
    const pathParams: string[] = [];
    // Taken as sent: the ids in paths are base58 or plain ASCII, and a decode could throw inside the handler.
    for (let i = 0; i < paramCount; i++) pathParams.push(req.getParameter(i));
    // The signed path is the path plus the query string exactly as sent (docs/read-api.md §1).
    const signedPath = rawQuery === '' ? url : `${url}?${rawQuery}`;
    let aborted = false;
    res.onAborted(() => (aborted = true));

    const finish = (reply: Reply | ReadError): void => {
      if (aborted) return;
      aborted = true;
      if (reply instanceof ReadError) sendReadError(res, reply);
      else if (reply.status === 204) sendNoContent(res);
      else sendJson(res, reply.status, JSON.stringify(reply.body));
    };

    const run = async (body: Uint8Array): Promise<void> => {
      const nowMs = ctx.clock();
      const auth: AuthContext = { keys: ctx.keys, nowMs, windowMs: ctx.timestampWindowMs };
      const principal = await authenticate(creds, signedPath, body, auth);
      if (principal instanceof ReadError) return finish(principal);
      const denied = authorize(principal, ep.need);
      if (denied !== null) return finish(denied);
      const query = parseQuery(rawQuery, allowed);
      if (query instanceof ReadError) return finish(query);
      finish(await ep.handle({ principal, query, body, pathParams, nowMs }));
    };
    const start = (body: Uint8Array): void => {
      run(body).catch((err: unknown) => {
        failures.warn({ err: (err as Error).message, route: ep.pattern }, 'read request failed');
        finish(isUnavailable(err) ? new ReadError('not_ready', undefined, 1) : new ReadError('internal_error'));
      });
    };

    if (ep.maxBody === undefined) return start(EMPTY);
    readBody(res, ep.maxBody, (body) => {
      if (body === null) finish(new ReadError('body_too_large', `The body is over ${ep.maxBody} bytes.`));
      else start(body);
    });
  });
}

/** Collects the body, up to `max` bytes; null once it is over (the rest is ignored). */
function readBody(res: HttpResponse, max: number, done: (body: Uint8Array | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over) return;
    size += chunk.byteLength;
    if (size > max) {
      over = true;
      return done(null);
    }
    // uWS reuses the chunk's memory after this callback returns: copy it.
    chunks.push(Buffer.from(new Uint8Array(chunk).slice()));
    if (isLast) done(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks));
  });
}

/** Connection-level failures of PostgreSQL: the reader cannot answer now, but may soon. */
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return (
    (typeof e.code === 'string' && (e.code.startsWith('08') || e.code === '57P01' || e.code === 'ECONNREFUSED')) ||
    /timeout exceeded when trying to connect|Connection terminated/i.test(e.message ?? '')
  );
}

/** Wrong method on a read path: 405 with the methods it takes, as on every other path. */
export function attachMethodNotAllowed(app: TemplatedApp, pattern: string, methods: readonly string[]): void {
  const allow = [...new Set(methods.map(httpMethod))].sort();
  app.any(pattern, (res) => sendMethodNotAllowed(res, allow));
}
