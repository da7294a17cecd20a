/**
 * What the stream takes from the read API, through its front door: who a request is, what
 * it may read, and its answers' shape, so a stream request is judged exactly as a read is.
 */
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
