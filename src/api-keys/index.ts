/**
 * Gateway API keys (docs/protocol.md §4): the SQL store (create, list, revoke, look up by
 * hash, record use) and the cache that answers the ingest route, dropped on revocation.
 */
export {
  API_KEY_CHANNEL,
  API_KEY_SCOPES,
  createApiKey,
  findApiKeyByHash,
  hashApiKey,
  KEY_PATTERN,
  listApiKeys,
  revokeApiKey,
  TENANT_PATTERN,
  touchApiKeys,
  type ApiKeyRecord,
  type ApiKeyScope,
  type KeyLookup,
} from './api-key-store.js';
export { ApiKeyCache, type ApiKeyCacheLimits } from './api-key-cache.js';
export { KeyLookupBusyError } from './lookup-gate.js';
