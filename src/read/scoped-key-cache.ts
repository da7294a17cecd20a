import type pg from 'pg';
import { hashApiKey, KEY_PATTERN } from '../api-keys/index.js';

export type Scope = 'ingest' | 'read' | 'admin';

/** A live (not revoked) API key as the read side needs it. */
export interface ScopedKey {
  id: string;
  tenantId: string;
  scopes: ReadonlySet<string>;
}

interface Entry {
  key: ScopedKey | null;
  expires: number;
}

/**
 * API keys with their scopes, looked up by SHA-256 and remembered for `ttlMs`, so a burst of
 * reads with one key costs one query. Unknown keys are remembered too (bounded), so guessing
 * cannot turn into a query per request; concurrent first uses of a key share one query.
 * A revoked key stops working for reads within `ttlMs`.
 */
export class ScopedKeyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly inFlight = new Map<string, Promise<ScopedKey | null>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly ttlMs = 5000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** The key of an `Authorization` header value, or null when it is malformed, unknown or revoked. */
  resolve(authorization: string): ScopedKey | null | Promise<ScopedKey | null> {
    const match = /^bearer +(\S+) *$/i.exec(authorization);
    const token = match?.[1];
    if (token === undefined || !KEY_PATTERN.test(token)) return null;
    const id = hashApiKey(token).toString('hex');
    const hit = this.entries.get(id);
    if (hit !== undefined && hit.expires > this.now()) return hit.key;
    const pending = this.inFlight.get(id);
    if (pending !== undefined) return pending;
    const lookup = this.lookup(id).finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, lookup);
    return lookup;
  }

  private async lookup(hashHex: string): Promise<ScopedKey | null> {
    const { rows } = await this.pool.query<{ id: string; tenant_id: string; scopes: string[] }>(
      'SELECT id, tenant_id, scopes FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [Buffer.from(hashHex, 'hex')],
    );
    const row = rows[0];
    const key = row === undefined ? null : { id: row.id, tenantId: row.tenant_id, scopes: new Set(row.scopes) };
    // Past the bound, start over: every entry is at most ttlMs old anyway.
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    this.entries.set(hashHex, { key, expires: this.now() + this.ttlMs });
    return key;
  }
}

/** `admin` implies `read`. */
export function hasScope(key: ScopedKey, scope: 'read' | 'admin'): boolean {
  return key.scopes.has('admin') || (scope === 'read' && key.scopes.has('read'));
}
