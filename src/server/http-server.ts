import uWS from 'uWebSockets.js';
import { ALL_ENDPOINTS, ENDPOINTS, errorBody } from '../protocol/index.js';
import type { IngestRoute } from './ingest-route.js';
import { sendJson, sendText } from './responses.js';

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

export interface HttpHandlers {
  ingest: IngestRoute;
  isReady(): boolean;
  metricsText(): Promise<{ contentType: string; body: string }>;
  retryAfterSeconds: number;
}

export interface HttpServer {
  port: number;
  /** Stops accepting connections; requests already received are still answered. */
  closeListener(): void;
}

const KNOWN_PATHS = new Set([...ALL_ENDPOINTS.map((e) => ENDPOINTS[e].path), '/metrics', '/healthz', '/readyz']);

export function startHttpServer(host: string, port: number, h: HttpHandlers): Promise<HttpServer> {
  assertNativeUws();
  const app = uWS.App();
  for (const endpoint of ALL_ENDPOINTS) app.post(ENDPOINTS[endpoint].path, (res, req) => h.ingest.handle(res, req, endpoint));
  app.get('/healthz', (res) => sendJson(res, 200, '{"status":"ok"}'));
  app.get('/readyz', (res) => {
    if (h.isReady()) sendJson(res, 200, '{"status":"ready"}');
    else sendJson(res, 503, errorBody('not_ready'), h.retryAfterSeconds);
  });
  app.get('/metrics', (res) => {
    let aborted = false;
    res.onAborted(() => (aborted = true));
    h.metricsText().then(
      (m) => !aborted && sendText(res, 200, m.contentType, m.body),
      () => !aborted && sendText(res, 500, 'text/plain', 'metrics unavailable\n'),
    );
  });
  app.any('/*', (res, req) => {
    const known = KNOWN_PATHS.has(req.getUrl());
    sendJson(res, known ? 405 : 404, errorBody(known ? 'method_not_allowed' : 'not_found'));
  });

  return new Promise((resolve, reject) => {
    app.listen(host, port, (socket) => {
      if (socket === false) return reject(new Error(`could not listen on ${host}:${port}`));
      resolve({
        port: uWS.us_socket_local_port(socket),
        closeListener: () => uWS.us_listen_socket_close(socket),
      });
    });
  });
}
