import type pg from 'pg';
import { decodeCursor, encodeCursor, MICROS_TIME } from './cursor.js';
import { isAgentId } from './query-params.js';
import { ReadError } from './read-errors.js';
import { apiTime, utcMicros } from './times.js';
import type { AgentSummary } from '../protocol/index.js';

interface Row {
  pubkey: string;
  name: string | null;
  status: string;
  linked_at: string | null;
  first_seen_at: string;
  last_seen_at: string;
  bt: string | null;
  usdc: string | null;
  sol: string | null;
}

/**
 * GET /v1/agents: the tenant's agents, most recently seen first, keyset on
 * (last_seen_at, agent_id); each with its latest telemetry snapshot.
 */
export async function listAgents(
  pool: pg.Pool,
  tenantId: string,
  cursor: string | undefined,
  limit: number,
): Promise<{ data: AgentSummary[]; next_cursor: string | null } | ReadError> {
  const params: unknown[] = [tenantId];
  let after = '';
  if (cursor !== undefined) {
    const parts = decodeCursor(cursor, [MICROS_TIME, /^.{1,64}$/]);
    if (parts instanceof ReadError) return parts;
    if (!isAgentId(parts[1] as string)) return new ReadError('invalid_query', "Query parameter 'cursor' is not a cursor this endpoint returned.");
    params.push(parts[0], parts[1]);
    after = 'AND (a.last_seen_at, a.pubkey) < ($2::timestamptz, $3)';
  }
  const { rows } = await pool.query<Row>(
    `SELECT a.pubkey, a.name, a.status, ${utcMicros('a.linked_at')} AS linked_at, ${utcMicros('a.first_seen_at')} AS first_seen_at,
            ${utcMicros('a.last_seen_at')} AS last_seen_at, ${utcMicros('b.time')} AS bt,
            b.usdc_balance_atomic::text AS usdc, b.sol_balance_lamports::text AS sol
     FROM (SELECT * FROM agents a WHERE a.tenant_id = $1 ${after}
           ORDER BY a.last_seen_at DESC, a.pubkey DESC LIMIT ${limit + 1}) a
     LEFT JOIN LATERAL (SELECT time, usdc_balance_atomic, sol_balance_lamports FROM agent_telemetry t
                        WHERE t.agent_id = a.pubkey ORDER BY time DESC LIMIT 1) b ON true
     ORDER BY a.last_seen_at DESC, a.pubkey DESC`,
    params,
  );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    data: page.map((r) => ({
      agent_id: r.pubkey,
      name: r.name,
      status: r.status,
      linked_at: apiTime(r.linked_at),
      first_seen_at: apiTime(r.first_seen_at),
      last_seen_at: apiTime(r.last_seen_at),
      balance: r.bt === null ? null : { usdc_balance_atomic: r.usdc, sol_balance_lamports: r.sol, at: apiTime(r.bt) },
    })),
    next_cursor: rows.length > limit && last !== undefined ? encodeCursor([last.last_seen_at, last.pubkey]) : null,
  };
}
