import uWS, { type HttpRequest, type HttpResponse, type TemplatedApp } from 'uWebSockets.js';
import { ALL_ENDPOINTS, ENDPOINTS, errorBody } from '../protocol/index.js';
import { withCors } from './cors.js';
import type { IngestRoute } from './ingest-route.js';
import { loadOpenApiDocument } from './openapi-document.js';
import { reply, sendError, sendJson, sendMethodNotAllowed, sendText } from './responses.js';
import { RouteTable, type RegisteredRoute } from './route-table.js';

/**
 * The uWebSockets.js package quietly falls back to a slow pure-JS server when its native
 * binary does not load; only the native module exports `getParts`. We refuse to run on the
 * fallback rather than serve at a fraction of the measured speed.
 */
export function assertNativeUws(): void {
  if (typeof (uWS as unknown as Record<string, unknown>).getParts !== 'function') {
    throw new Error(
      'uWebSockets.js loaded its pure-JS fallback, not the native binary (unsupported Node.js ABI or platform; Node 20 on Linux x64/arm64 is supported). Refusing to start.',
    );
  }
}

/** Adds routes to the app and returns every (method, pattern) it registered. */
export type RouteRegistration = (app: TemplatedApp) => readonly RegisteredRoute[];

export interface HttpHandlers {
  ingest: IngestRoute;
  /**
   * Whether a 202 is honest now, and what each part says (src/database readiness()): the
   * checks go into the /readyz body for operators, 200 or 503 alike.
   */
  readiness(): { ready: boolean; checks: Record<string, { ok: boolean; detail: string }> };
  metricsText(): Promise<{ contentType: string; body: string }>;
  retryAfterSeconds: number;
  /** The other components' routes (read API, webhooks, alerts, stream, console), registered before the catch-all. */
  routes?: readonly RouteRegistration[];
  /** Origins whose pages may call the receiver (CORS_ORIGINS, src/server/cors.ts); none when absent. */
  corsOrigins?: readonly string[];
}

export interface HttpServer {
  port: number;
  /** Every (method, pattern) the server answers, methods in upper case. */
  routes: readonly RegisteredRoute[];
  /** Stops accepting connections; requests already received are still answered. */
  closeListener(): void;
}

/** The routes the server registers itself, whatever components are wired in. */
export const SERVER_ROUTES: readonly RegisteredRoute[] = [
  ...ALL_ENDPOINTS.map((e) => ({ method: 'post', pattern: ENDPOINTS[e].path })),
  { method: 'get', pattern: '/healthz' },
  { method: 'get', pattern: '/readyz' },
  { method: 'get', pattern: '/metrics' },
  { method: 'get', pattern: '/openapi.json' },
];

export function startHttpServer(host: string, port: number, h: HttpHandlers): Promise<HttpServer> {
  assertNativeUws();
  const openApi = loadOpenApiDocument();
  const table = new RouteTable();
  const unrouted = (res: HttpResponse, req: HttpRequest): void => {
    const allow = table.allowedMethods(req.getUrl());
    if (allow.length > 0) sendMethodNotAllowed(res, allow);
    else sendError(res, 'not_found', undefined, 0);
  };
  const app = withCors(uWS.App(), { origins: h.corsOrigins ?? [], allowedMethods: (path) => table.allowedMethods(path), unrouted });
  for (const endpoint of ALL_ENDPOINTS) app.post(ENDPOINTS[endpoint].path, (res, req) => h.ingest.handle(res, req, endpoint));
  app.get('/healthz', (res) => sendJson(res, 200, '{"status":"ok"}'));
  app.get('/readyz', (res) => {
    const r = h.readiness();
    if (r.ready) sendJson(res, 200, JSON.stringify({ status: 'ready', checks: r.checks }));
    else sendJson(res, 503, JSON.stringify({ ...(JSON.parse(errorBody('not_ready')) as object), checks: r.checks }), h.retryAfterSeconds);
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    h.metricsText().then(
      (m) => !aborted && sendText(res, 200, m.contentType, m.body),
      () => !aborted && sendText(res, 500, 'text/plain', 'metrics unavailable\n'),
    );
  });
  app.get('/openapi.json', (res) => reply(res, 200, openApi));

  for (const r of SERVER_ROUTES) table.add(r);
  for (const register of h.routes ?? []) for (const r of register(app)) table.add(r);

  // Registered last: uWS tries it only when no route of the path took the method.
  app.any('/*', unrouted);

  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) return reject(new Error(`could not listen on ${host}:${port}`));
      resolve({
        port: uWS.us_socket_local_port(socket),
        routes: table.routes(),
        closeListener: () => uWS.us_listen_socket_close(socket),
      });
    });
  });
}
