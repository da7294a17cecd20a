import type pg from 'pg';
import type { Principal } from './principal.js';
import { parseAgentIdParam, type QueryParams } from './query-params.js';
import { AGENT_NOT_FOUND, ReadError } from './read-errors.js';

/**
 * Whose data a request reads and on what condition: the agent itself reads its own
 * (`tenantId` null), a key reads an agent only while it is linked to the key's tenant.
 */
export interface AgentAccess {
  agentId: string;
  tenantId: string | null;
}

/**
 * The agent a request is about, before any lookup. With a key, `agent_id` is required; the
 * agent itself may omit it or name itself. Naming another agent is the same 404 as an
 * agent not linked to the key's tenant (docs/read-api.md §1), so nobody can probe which
 * agents exist.
 */
export function agentAccess(p: Principal, q: QueryParams): AgentAccess | ReadError {
  const named = parseAgentIdParam(q);
  if (named instanceof ReadError) return named;
  if (p.kind === 'agent') return named === undefined || named === p.agentId ? { agentId: p.agentId, tenantId: null } : AGENT_NOT_FOUND;
  if (named === undefined) return new ReadError('invalid_query', "Query parameter 'agent_id' is required with an API key.");
  return { agentId: named, tenantId: p.key.tenantId };
}

/**
 * SQL condition checking an AgentAccess inside a read's own statement (parameter references
 * `agent` and `tenant`), so the check and the figures are one round trip and one snapshot.
 */
export function accessSql(agent: string, tenant: string): string {
  return `(${tenant}::text IS NULL OR EXISTS (SELECT 1 FROM agents WHERE pubkey = ${agent} AND tenant_id = ${tenant}::text))`;
}

/** agentAccess, then the link checked by its own query: for reads that are not one statement. */
export async function resolveAgent(pool: pg.Pool, p: Principal, q: QueryParams): Promise<string | ReadError> {
  const access = agentAccess(p, q);
  if (access instanceof ReadError) return access;
  if (access.tenantId === null) return access.agentId;
  return (await isLinkedTo(pool, access.agentId, access.tenantId)) ? access.agentId : AGENT_NOT_FOUND;
}

export async function isLinkedTo(pool: pg.Pool | pg.ClientBase, agentId: string, tenantId: string): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM agents WHERE pubkey = $1 AND tenant_id = $2', [agentId, tenantId]);
  return rowCount === 1;
}
