import type pg from 'pg';
import { apiTime, utcMicros } from '../read/index.js';
import { SEVERITY, type Alert, type AlertState, type AlertType } from './alert-types.js';

/** The columns of an alert as the API shows it; times keep the row's microseconds (see `cursor`). */
export const ALERT_COLUMNS = `id::text AS id, agent_id, type, severity, state, message, data,
  ${utcMicros('fired_at')} AS fired_at, ${utcMicros('resolved_at')} AS resolved_at, ${utcMicros('acknowledged_at')} AS acknowledged_at`;

export interface AlertRow {
  id: string;
  agent_id: string;
  type: AlertType;
  severity: Alert['severity'];
  state: AlertState;
  message: string;
  data: Record<string, unknown>;
  fired_at: string;
  resolved_at: string | null;
  acknowledged_at: string | null;
}

export function toAlert(r: AlertRow): Alert {
  return {
    id: r.id,
    agent_id: r.agent_id,
    type: r.type,
    severity: r.severity,
    state: r.state,
    message: r.message,
    data: r.data,
    fired_at: apiTime(r.fired_at),
    resolved_at: apiTime(r.resolved_at),
    acknowledged_at: apiTime(r.acknowledged_at),
  };
}

export interface NewAlert {
  agentId: string;
  tenantId: string;
  type: AlertType;
  message: string;
  data: Record<string, unknown>;
  firedAtMs: number;
}

/**
 * Inserts an open alert; null when one of this (agent, type) is already open, whichever
 * receiver opened it (the unique partial index decides, and losing is not an error).
 */
export async function insertFiring(c: pg.ClientBase, a: NewAlert): Promise<Alert | null> {
  const { rows } = await c.query<AlertRow>(
    `INSERT INTO agent_alerts (agent_id, tenant_id, type, severity, message, data, fired_at)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::timestamptz)
     ON CONFLICT (agent_id, type) WHERE state = 'firing' DO NOTHING
     RETURNING ${ALERT_COLUMNS}`,
    [a.agentId, a.tenantId, a.type, SEVERITY[a.type], a.message, JSON.stringify(a.data), new Date(a.firedAtMs).toISOString()],
  );
  return rows[0] === undefined ? null : toAlert(rows[0]);
}

/**
 * Resolves an open alert, adding `resolution` to its data; null when it is no longer open
 * (another receiver resolved it first).
 */
export async function resolveOpen(c: pg.ClientBase, id: string, resolvedAtMs: number, resolution: Record<string, unknown>): Promise<Alert | null> {
  const { rows } = await c.query<AlertRow>(
    `UPDATE agent_alerts
        SET state = 'resolved', resolved_at = GREATEST($2::timestamptz, fired_at), clear_since = NULL,
            data = data || jsonb_build_object('resolution', $3::jsonb),
            updated_at = now()
      WHERE id = $1 AND state = 'firing'
      RETURNING ${ALERT_COLUMNS}`,
    [id, new Date(resolvedAtMs).toISOString(), JSON.stringify(resolution)],
  );
  return rows[0] === undefined ? null : toAlert(rows[0]);
}

/** Records (or, with null, forgets) when an open alert's condition was first seen false. */
export async function setClearSince(c: pg.ClientBase | pg.Pool, id: string, atMs: number | null): Promise<void> {
  await c.query(
    `UPDATE agent_alerts SET clear_since = $2::timestamptz, updated_at = now() WHERE id = $1 AND state = 'firing'`,
    [id, atMs === null ? null : new Date(atMs).toISOString()],
  );
}
