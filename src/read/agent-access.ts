import type pg from 'pg';
import type { Principal } from './principal.js';
import { parseAgentIdParam, type QueryParams } from './query-params.js';
import { AGENT_NOT_FOUND, ReadError } from './read-errors.js';

/**
 * The agent a request is about. With a key, `agent_id` is required and must name an agent
 * linked to the key's tenant; the agent itself may omit it or name itself. Everything
 * else is one 404 (docs/read-api.md §1), so a key cannot probe which agents exist.
 */
export async function resolveAgent(pool: pg.Pool, p: Principal, q: QueryParams): Promise<string | ReadError> {
  const named = parseAgentIdParam(q);
  if (named instanceof ReadError) return named;
  if (p.kind === 'agent') return named === undefined || named === p.agentId ? p.agentId : AGENT_NOT_FOUND;
  if (named === undefined) return new ReadError('invalid_query', "Query parameter 'agent_id' is required with an API key.");
  return (await isLinkedTo(pool, named, p.key.tenantId)) ? named : AGENT_NOT_FOUND;
}

export async function isLinkedTo(pool: pg.Pool | pg.ClientBase, agentId: string, tenantId: string): Promise<boolean> {
  const { rowCount } = await pool.query('SELECT 1 FROM agents WHERE pubkey = $1 AND tenant_id = $2', [agentId, tenantId]);
  return rowCount === 1;
}
