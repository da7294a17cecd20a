import type pg from 'pg';
import { decodeCursor, encodeCursor, MICROS_TIME, ReadError } from '../read/index.js';
import { ALERT_COLUMNS, toAlert, type AlertRow } from './alert-store.js';
import type { Alert } from './alert-types.js';

export type StateFilter = 'firing' | 'resolved' | 'all';

export const UUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whose alerts a caller sees: a tenant sees those raised for it; an agent sees all of its own. */
export type AlertOwner = { kind: 'tenant'; tenantId: string } | { kind: 'agent'; agentId: string };

export interface AlertPage {
  data: Alert[];
  next_cursor: string | null;
}

/**
 * GET /v1/agent/alerts: newest first by (fired_at, id), a keyset page. The cursor holds the
 * last row's fired_at with its microseconds and its id, so rows fired in one millisecond are
 * neither skipped nor repeated.
 */
export async function listAlerts(
  pool: pg.Pool,
  q: { agentId: string; owner: AlertOwner; state: StateFilter; limit: number; cursor: string | undefined },
): Promise<AlertPage | ReadError> {
  const params: unknown[] = [q.agentId];
  const where = ['agent_id = $1'];
  if (q.owner.kind === 'tenant') {
    params.push(q.owner.tenantId);
    where.push(`tenant_id = $${params.length}`);
  }
  if (q.state !== 'all') {
    params.push(q.state);
    where.push(`state = $${params.length}`);
  }
  if (q.cursor !== undefined) {
    const parts = decodeCursor(q.cursor, [MICROS_TIME, UUID_TEXT]);
    if (parts instanceof ReadError) return parts;
    params.push(parts[0], parts[1]);
    where.push(`(fired_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
  }
  params.push(q.limit + 1);
  // Qualified: unqualified, ORDER BY would sort by the output's text columns of the same names.
  const { rows } = await pool.query<AlertRow>(
    `SELECT ${ALERT_COLUMNS} FROM agent_alerts WHERE ${where.join(' AND ')}
     ORDER BY agent_alerts.fired_at DESC, agent_alerts.id DESC LIMIT $${params.length}`,
    params,
  );
  const more = rows.length > q.limit;
  const page = more ? rows.slice(0, q.limit) : rows;
  const last = page[page.length - 1];
  return {
    data: page.map(toAlert),
    next_cursor: more && last !== undefined ? encodeCursor([last.fired_at, last.id]) : null,
  };
}

/**
 * POST /v1/agent/alerts/{id}/ack: sets acknowledged_at once (acknowledging again keeps the
 * first instant). A tenant acknowledges alerts raised for it on an agent still linked to it;
 * an agent, its own. Anything else is null (one 404 for "absent" and "not yours").
 */
export async function acknowledgeAlert(pool: pg.Pool, id: string, owner: AlertOwner, nowMs: number): Promise<Alert | null> {
  const ownerSql =
    owner.kind === 'tenant'
      ? `tenant_id = $3 AND EXISTS (SELECT 1 FROM agents a WHERE a.pubkey = agent_alerts.agent_id AND a.tenant_id = $3)`
      : 'agent_id = $3';
  const { rows } = await pool.query<AlertRow>(
    `UPDATE agent_alerts
        SET acknowledged_at = COALESCE(acknowledged_at, $2::timestamptz),
            updated_at = CASE WHEN acknowledged_at IS NULL THEN now() ELSE updated_at END
      WHERE id = $1::uuid AND ${ownerSql}
      RETURNING ${ALERT_COLUMNS}`,
    [id, new Date(nowMs).toISOString(), owner.kind === 'tenant' ? owner.tenantId : owner.agentId],
  );
  return rows[0] === undefined ? null : toAlert(rows[0]);
}
