/**
 * What the stream takes from the read API: who a request is, what it may read, and its
 * answers' shape. The read module's front door does not export these yet, so they are
 * imported from its files here, in one place.
 */
export { authenticate, authorize, type Credentials, type Principal } from '../read/principal.js';
export { ScopedKeyCache } from '../read/scoped-key-cache.js';
export { ReadError, sendReadError } from '../read/read-errors.js';
export { sendJson } from '../read/http-reply.js';
export { parseQuery, isAgentId, type QueryParams } from '../read/query-params.js';
export { isLinkedTo } from '../read/agent-access.js';
export { apiTime, utcMicros } from '../read/times.js';
