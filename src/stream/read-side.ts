/** What the stream takes from the read API: who a request is, what it may read, and its answers' shape. */
export {
  apiTime,
  authenticate,
  authorize,
  isAgentId,
  isLinkedTo,
  parseQuery,
  ReadError,
  ScopedKeyCache,
  sendJson,
  sendReadError,
  utcMicros,
  type Credentials,
  type Principal,
  type QueryParams,
} from '../read/index.js';
