import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';

/** Channel on which key changes are announced, so receivers drop cached keys at once. */
export const API_KEY_CHANNEL = 'machpay_api_keys';

export const KEY_PATTERN = /^mpk_(live|test)_[A-Za-z0-9_-]{43,}$/;
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** What a key may do (docs/read-api.md §1): send gateway events, read, administer the tenant. */
export const API_KEY_SCOPES = ['ingest', 'read', 'admin'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  environment: 'live' | 'test';
  keyPrefix: string;
  scopes: string[];
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** A new key: shown once to its creator, stored only as its SHA-256. */
export async function createApiKey(
  client: pg.ClientBase,
  opts: { tenantId: string; name: string; test: boolean; scopes?: readonly ApiKeyScope[] },
): Promise<{ record: ApiKeyRecord; key: string }> {
  if (!TENANT_PATTERN.test(opts.tenantId)) throw new Error('tenant: 1 to 64 characters of A-Z a-z 0-9 _ . : - (starting with a letter or digit)');
  if (opts.name.length === 0 || opts.name.length > 128) throw new Error('name: 1 to 128 characters');
  const scopes = [...new Set(opts.scopes ?? ['ingest'])];
  if (scopes.length === 0 || !scopes.every((s) => (API_KEY_SCOPES as readonly string[]).includes(s))) {
    throw new Error(`scopes: one or more of ${API_KEY_SCOPES.join(', ')}`);
  }
  const environment = opts.test ? 'test' : 'live';
  const key = `mpk_${environment}_${randomBytes(32).toString('base64url')}`;
  const keyPrefix = key.slice(0, 13);
  const { rows } = await client.query(
    `INSERT INTO api_keys (tenant_id, name, environment, key_prefix, key_hash, scopes) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *`,
    [opts.tenantId, opts.name, environment, keyPrefix, hashApiKey(key), scopes],
  );
  return { record: toRecord(rows[0]), key };
}

export async function listApiKeys(client: pg.ClientBase, tenantId?: string): Promise<ApiKeyRecord[]> {
  const { rows } =
    tenantId === undefined
      ? await client.query('SELECT * FROM api_keys ORDER BY created_at')
      : await client.query('SELECT * FROM api_keys WHERE tenant_id = $1 ORDER BY created_at', [tenantId]);
  return rows.map(toRecord);
}

/** Revokes a key by id (or unique id prefix); returns the revoked record, or null if none matched. */
export async function revokeApiKey(client: pg.ClientBase, id: string): Promise<ApiKeyRecord | null> {
  if (!/^[0-9a-f-]{4,36}$/i.test(id)) return null;
  const matches = await client.query<{ id: string }>(`SELECT id FROM api_keys WHERE id::text LIKE $1 || '%' LIMIT 2`, [id.toLowerCase()]);
  if (matches.rows.length !== 1) return null;
  const { rows } = await client.query('UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING *', [
    matches.rows[0]?.id,
  ]);
  if (rows.length === 0) return null;
  await client.query(`SELECT pg_notify($1, $2)`, [API_KEY_CHANNEL, rows[0].key_hash.toString('hex')]);
  return toRecord(rows[0]);
}

export interface KeyLookup {
  id: string;
  tenantId: string;
  revoked: boolean;
  /** What the key may do (API_KEY_SCOPES); /v1/ingest needs `ingest`. */
  scopes: readonly string[];
}

export async function findApiKeyByHash(client: pg.Pool | pg.ClientBase, hash: Buffer): Promise<KeyLookup | null> {
  const { rows } = await client.query<{ id: string; tenant_id: string; revoked: boolean; scopes: string[] }>(
    'SELECT id, tenant_id, revoked_at IS NOT NULL AS revoked, scopes FROM api_keys WHERE key_hash = $1',
    [hash],
  );
  const row = rows[0];
  return row === undefined ? null : { id: row.id, tenantId: row.tenant_id, revoked: row.revoked, scopes: row.scopes };
}

export async function touchApiKeys(pool: pg.Pool, ids: string[]): Promise<void> {
  if (ids.length > 0) await pool.query('UPDATE api_keys SET last_used_at = now() WHERE id = ANY($1::uuid[])', [ids]);
}

function toRecord(row: Record<string, unknown>): ApiKeyRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    name: row.name as string,
    environment: row.environment as 'live' | 'test',
    keyPrefix: row.key_prefix as string,
    scopes: row.scopes as string[],
    createdAt: row.created_at as Date,
    lastUsedAt: (row.last_used_at as Date | null) ?? null,
    revokedAt: (row.revoked_at as Date | null) ?? null,
  };
}
