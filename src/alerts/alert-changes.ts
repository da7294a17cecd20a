import type pg from 'pg';
import type { Alert } from './alert-types.js';

/** What happened to an alert; each is one `alert` event of the stream (docs/read-api.md §4). */
export type AlertChange = 'fired' | 'resolved' | 'acknowledged';

/**
 * Appends a change to agent_alert_changes, the stream's log of alerts, on the caller's client:
 * in the transaction that made the change, so the event exists exactly when the change does.
 * `alert` is the alert after the change, the event's data; `tenantId` the tenant it fired for.
 */
export async function recordAlertChange(c: pg.ClientBase, tenantId: string, change: AlertChange, alert: Alert): Promise<void> {
  await c.query('INSERT INTO agent_alert_changes (alert_id, agent_id, tenant_id, change, alert) VALUES ($1, $2, $3, $4, $5::jsonb)', [
    alert.id,
    alert.agent_id,
    tenantId,
    change,
    JSON.stringify(alert),
  ]);
}

/**
 * Deletes changes older than a day (by the database's clock, which wrote changed_at): far past
 * any resume window, which is minutes. The number deleted.
 */
export async function pruneAlertChanges(pool: pg.Pool): Promise<number> {
  const r = await pool.query("DELETE FROM agent_alert_changes WHERE changed_at < now() - interval '1 day'");
  return r.rowCount ?? 0;
}
