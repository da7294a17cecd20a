/**
 * The HTTP side of the receiver (uWebSockets.js): the app and its routes, the ingest route
 * (header checks, admission, body streaming into the ring), agent header parsing, rate
 * limits and the response writers.
 */
export { assertNativeUws, startHttpServer, type HttpHandlers, type HttpServer } from './http-server.js';
export { Exchange, IngestRoute, type IngestRouteDeps } from './ingest-route.js';
export { parseAgentHeaders, type AgentCredentials } from './agent-auth.js';
export { RateLimiter } from './rate-limiter.js';
export { sendError, sendJson, sendText, statusLine } from './responses.js';
