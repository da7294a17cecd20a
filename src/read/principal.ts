import { verifyAgentRequest, type SignatureHeaders } from './agent-signature.js';
import { ReadError } from './read-errors.js';
import { hasScope, type ScopedKeyCache, type ScopedKey } from './scoped-key-cache.js';

/** Who is asking (docs/read-api.md §1): a tenant's API key, or an agent signing for itself. */
export type Principal = { kind: 'key'; key: ScopedKey } | { kind: 'agent'; agentId: string };

/** What a request carries that may authenticate it, read from the headers before any await. */
export interface Credentials {
  authorization: string;
  signature: SignatureHeaders;
}

export interface AuthContext {
  keys: ScopedKeyCache;
  nowMs: number;
  windowMs: number;
}

/**
 * An `Authorization` header decides for a key (and a bad key is a 401 even when signature
 * headers are present too); otherwise any signature header makes it an agent request;
 * with neither, the request is unauthenticated (401 invalid_api_key).
 */
export function authenticate(
  c: Credentials,
  signedPath: string,
  body: Uint8Array,
  ctx: AuthContext,
): Principal | ReadError | Promise<Principal | ReadError> {
  if (c.authorization !== '') {
    const key = ctx.keys.resolve(c.authorization);
    return key instanceof Promise ? key.then(keyPrincipal) : keyPrincipal(key);
  }
  const s = c.signature;
  if (s.agent !== '' || s.timestamp !== '' || s.signature !== '') {
    const agentId = verifyAgentRequest(s, signedPath, body, ctx.nowMs, ctx.windowMs);
    return typeof agentId === 'string' ? { kind: 'agent', agentId } : agentId;
  }
  return new ReadError('invalid_api_key');
}

function keyPrincipal(key: ScopedKey | null): Principal | ReadError {
  return key === null ? new ReadError('invalid_api_key') : { kind: 'key', key };
}

/**
 * Who may call an endpoint: keys with `read` (read or admin) or `admin`, and/or the agent
 * itself. `scope` null: no key at all (the agent's own link request).
 */
export interface Requirement {
  scope: 'read' | 'admin' | null;
  agentMayCall: boolean;
}

export function authorize(p: Principal, need: Requirement): ReadError | null {
  if (p.kind === 'agent') {
    return need.agentMayCall ? null : new ReadError('forbidden', 'This endpoint takes an API key, not an agent signature.');
  }
  if (need.scope === null) return new ReadError('forbidden', 'This endpoint takes an agent signature, not an API key.');
  return hasScope(p.key, need.scope) ? null : new ReadError('forbidden', `This endpoint needs an API key with the '${need.scope}' scope.`);
}
