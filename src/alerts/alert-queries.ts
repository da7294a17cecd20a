import type pg from 'pg';
import { decodeCursor, encodeCursor, MICROS_TIME, ReadError } from '../read/index.js';
import { inTransaction } from '../database/index.js';
import { recordAlertChange } from './alert-changes.js';
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
 * an agent, its own. Anything else is null (one 404 for "absent" and "not yours"). The first
 * acknowledgement appends its stream event in the same transaction; a repeat changes nothing.
 */
export async function acknowledgeAlert(pool: pg.Pool, id: string, owner: AlertOwner, nowMs: number): Promise<Alert | null> {
  const ownerSql =
    owner.kind === 'tenant'
      ? `tenant_id = $2 AND EXISTS (SELECT 1 FROM agents a WHERE a.pubkey = agent_alerts.agent_id AND a.tenant_id = $2)`
      : 'agent_id = $2';
  const ownerParam = owner.kind === 'tenant' ? owner.tenantId : owner.agentId;
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query<AlertRow & { tenant_id: string }>(
      `UPDATE agent_alerts SET acknowledged_at = $3::timestamptz, updated_at = now()
        WHERE id = $1::uuid AND acknowledged_at IS NULL AND ${ownerSql}
        RETURNING ${ALERT_COLUMNS}, tenant_id`,
      [id, ownerParam, new Date(nowMs).toISOString()],
    );
    const changed = rows[0];
    if (changed !== undefined) {
      const alert = toAlert(changed);
      await recordAlertChange(c, changed.tenant_id, 'acknowledged', alert);
      return alert;
    }
    const found = await c.query<AlertRow>(`SELECT ${ALERT_COLUMNS} FROM agent_alerts WHERE id = $1::uuid AND ${ownerSql}`, [id, ownerParam]);
    return found.rows[0] === undefined ? null : toAlert(found.rows[0]);
  });
}
