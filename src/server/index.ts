/**
 * The HTTP side of the receiver (uWebSockets.js): the app and its routes, the ingest route
 * (header checks, admission, body streaming into the ring), agent header parsing, rate
 * limits, the table of registered routes behind 404 and 405, and the response writers.
 */
export {
  assertNativeUws,
  SERVER_ROUTES,
  startHttpServer,
  type HttpHandlers,
  type HttpServer,
  type RouteRegistration,
} from './http-server.js';
export { Exchange, IngestRoute, type IngestRouteDeps } from './ingest-route.js';
export { parseAgentHeaders, type AgentCredentials } from './agent-auth.js';
export { RateLimiter } from './rate-limiter.js';
export { httpMethod, RouteTable, type RegisteredRoute } from './route-table.js';
export {
  reply,
  sendError,
  sendJson,
  sendMethodNotAllowed,
  sendNoContent,
  sendText,
  statusLine,
  type ReplyOptions,
} from './responses.js';
