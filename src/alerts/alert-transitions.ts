import type pg from 'pg';
import { enqueueWebhookEvent } from '../webhooks/index.js';
import type { OpenAlert } from './agent-context.js';
import { recordAlertChange } from './alert-changes.js';
import { insertFiring, resolveOpen, type NewAlert } from './alert-store.js';
import type { Alert } from './alert-types.js';

/**
 * Opens an alert, queues its `alert.firing` webhooks and appends its stream event, on the
 * caller's client inside the caller's transaction: all commit together or not at all. Null
 * (and nothing queued) when the alert was already open.
 */
export async function fireInTransaction(c: pg.ClientBase, a: NewAlert): Promise<Alert | null> {
  const alert = await insertFiring(c, a);
  if (alert === null) return null;
  await enqueueWebhookEvent(c, a.tenantId, 'alert.firing', alert, { timestamp: new Date(a.firedAtMs) });
  await recordAlertChange(c, a.tenantId, 'fired', alert);
  return alert;
}

/** Resolves an open alert, queues `alert.resolved` for the tenant it fired for and appends its stream event, in the caller's transaction. */
export async function resolveInTransaction(
  c: pg.ClientBase,
  open: OpenAlert,
  resolvedAtMs: number,
  resolution: Record<string, unknown>,
): Promise<Alert | null> {
  const alert = await resolveOpen(c, open.id, resolvedAtMs, resolution);
  if (alert === null) return null;
  await enqueueWebhookEvent(c, open.tenantId, 'alert.resolved', alert, { timestamp: new Date(resolvedAtMs) });
  await recordAlertChange(c, open.tenantId, 'resolved', alert);
  return alert;
}

