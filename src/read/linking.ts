import type pg from 'pg';
import { hashLinkCode, LINK_CODE_TTL_MS, newLinkCode, normalizeLinkCode } from './link-code.js';
import { AGENT_NOT_FOUND, ReadError } from './read-errors.js';
import { apiTime, utcMicros } from './times.js';
import type { LinkedAgent } from '../protocol/index.js';

/**
 * POST /v1/link/init (docs/read-api.md §2): a new code for the agent, replacing any earlier
 * one. An agent that has not sent telemetry yet gets its `agents` row here, so it can be
 * linked before its first packet.
 */
export async function initLink(pool: pg.Pool, agentId: string, name: string | undefined): Promise<{ code: string; expires_at: string }> {
  await pool.query(
    `INSERT INTO agents (pubkey, first_seen_at, last_seen_at) VALUES ($1, now(), now()) ON CONFLICT (pubkey) DO NOTHING`,
    [agentId],
  );
  // 40 random bits: a collision with another agent's live code is rare, and then a new code is drawn.
  for (let attempt = 0; ; attempt++) {
    const code = newLinkCode();
    try {
      const { rows } = await pool.query<{ e: string }>(
        `INSERT INTO agent_link_codes (agent_id, code_hash, requested_name, created_at, expires_at)
         VALUES ($1, $2, $3, now(), now() + $4::interval)
         ON CONFLICT (agent_id) DO UPDATE SET code_hash = EXCLUDED.code_hash, requested_name = EXCLUDED.requested_name,
           created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at, used_at = NULL, used_by_tenant = NULL
         RETURNING ${utcMicros('expires_at')} AS e`,
        [agentId, hashLinkCode(code.normal), name ?? null, `${LINK_CODE_TTL_MS / 1000} seconds`],
      );
      return { code: code.shown, expires_at: apiTime((rows[0] as { e: string }).e) };
    } catch (err) {
      if ((err as { code?: string }).code !== '23505' || attempt >= 3) throw err;
    }
  }
}

interface CodeRow {
  agent_id: string;
  requested_name: string | null;
  live: boolean;
  used: boolean;
  used_by_tenant: string | null;
}

interface AgentRow {
  tenant_id: string | null;
  name: string | null;
  linked_at: string | null;
}

/**
 * POST /v1/link/confirm. A code already used by this same tenant for an agent still linked
 * to it answers the same 200 again (a retried confirm whose answer was lost); a fresh code
 * of an agent already linked to this tenant is used up and changes nothing but the name.
 * A code is not used up by a confirm that fails.
 */
export async function confirmLink(pool: pg.Pool, tenantId: string, codeText: unknown, name: string | undefined): Promise<LinkedAgent | ReadError> {
  const normal = typeof codeText === 'string' ? normalizeLinkCode(codeText) : null;
  if (normal === null) return new ReadError('invalid_link_code', "'code' is not a link code (8 characters of Crockford base32, e.g. ABCD-EFGH).");
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const out = await confirmIn(client, tenantId, hashLinkCode(normal), name);
    await client.query(out instanceof ReadError ? 'ROLLBACK' : 'COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}

async function confirmIn(c: pg.ClientBase, tenantId: string, hash: Buffer, name: string | undefined): Promise<LinkedAgent | ReadError> {
  const invalid = new ReadError('invalid_link_code');
  const code = (
    await c.query<CodeRow>(
      `SELECT agent_id, requested_name, expires_at > now() AS live, used_at IS NOT NULL AS used, used_by_tenant
       FROM agent_link_codes WHERE code_hash = $1 FOR UPDATE`,
      [hash],
    )
  ).rows[0];
  if (code === undefined) return invalid;
  const agent = (
    await c.query<AgentRow>(`SELECT tenant_id, name, ${utcMicros('linked_at')} AS linked_at FROM agents WHERE pubkey = $1 FOR UPDATE`, [
      code.agent_id,
    ])
  ).rows[0];
  if (agent === undefined) return invalid;
  if (code.used) {
    if (code.used_by_tenant !== tenantId || agent.tenant_id !== tenantId || agent.linked_at === null) return invalid;
    return { agent_id: code.agent_id, tenant_id: tenantId, name: agent.name, linked_at: apiTime(agent.linked_at) };
  }
  if (!code.live) return invalid;
  if (agent.tenant_id !== null && agent.tenant_id !== tenantId) return new ReadError('already_linked');
  const updated = (
    await c.query<{ name: string | null; linked_at: string }>(
      `UPDATE agents SET tenant_id = $2::varchar,
         linked_at = CASE WHEN tenant_id = $2::varchar AND linked_at IS NOT NULL THEN linked_at ELSE now() END,
         name = COALESCE($3::varchar, name)
       WHERE pubkey = $1 RETURNING name, ${utcMicros('linked_at')} AS linked_at`,
      [code.agent_id, tenantId, name ?? code.requested_name],
    )
  ).rows[0] as { name: string | null; linked_at: string };
  await c.query('UPDATE agent_link_codes SET used_at = now(), used_by_tenant = $2 WHERE agent_id = $1', [code.agent_id, tenantId]);
  return { agent_id: code.agent_id, tenant_id: tenantId, name: updated.name, linked_at: apiTime(updated.linked_at) };
}

/** DELETE /v1/agents/{agent_id}/link: only an agent linked to this tenant can be unlinked by it. */
export async function unlinkAgent(pool: pg.Pool, tenantId: string, agentId: string): Promise<null | ReadError> {
  const { rowCount } = await pool.query('UPDATE agents SET tenant_id = NULL, linked_at = NULL WHERE pubkey = $1 AND tenant_id = $2', [
    agentId,
    tenantId,
  ]);
  return rowCount === 1 ? null : AGENT_NOT_FOUND;
}

/**
 * The operator's unlink (the `agents unlink` command): whatever tenant holds the agent, or
 * only `tenantId` when given. Returns the tenant it was linked to, or null if it was not.
 */
export async function unlinkAgentAsOperator(pool: pg.Pool, agentId: string, tenantId?: string): Promise<string | null> {
  const { rows } = await pool.query<{ tenant_id: string }>(
    `UPDATE agents a SET tenant_id = NULL, linked_at = NULL FROM agents old
     WHERE a.pubkey = $1 AND old.pubkey = a.pubkey AND a.tenant_id IS NOT NULL AND ($2::varchar IS NULL OR a.tenant_id = $2::varchar)
     RETURNING old.tenant_id`,
    [agentId, tenantId ?? null],
  );
  return rows[0]?.tenant_id ?? null;
}
