import type pg from 'pg';
import { deleteInBatches } from '../retention/index.js';
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

/** Rows one prune statement deletes at most: each is a short transaction of its own. */
const PRUNE_BATCH_ROWS = 1_000;

/**
 * Deletes changes older than a day (by the database's clock, which wrote changed_at): far past
 * any resume window, which is minutes. In batches of `batchRows` through the changed_at index,
 * so that after a long pause of the sweep (many receivers down, or alerts flapping) no single
 * DELETE holds many row locks or one long snapshot. The number deleted.
 */
export async function pruneAlertChanges(pool: pg.Pool, batchRows: number = PRUNE_BATCH_ROWS): Promise<number> {
  const r = await deleteInBatches(pool, 'agent_alert_changes', "changed_at < now() - interval '1 day'", [], { batchRows, expired: () => false });
  return r.deleted;
}
