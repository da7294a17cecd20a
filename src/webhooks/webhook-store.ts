import type pg from 'pg';
import type { WebhookEventType } from './event-types.js';
import { generateWebhookSecret } from './signing.js';

/** A webhook as GET /v1/webhooks shows it: never with its secret. */
export interface WebhookView {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  disabled_at: string | null;
  disabled_reason: string | null;
  created_at: string;
}

interface WebhookRow {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  disabled_at: Date | null;
  disabled_reason: string | null;
  created_at: Date;
}

const VIEW_COLUMNS = 'id, url, event_types, description, disabled_at, disabled_reason, created_at';

function toView(r: WebhookRow): WebhookView {
  return {
    id: r.id,
    url: r.url,
    event_types: r.event_types,
    description: r.description,
    disabled_at: r.disabled_at?.toISOString() ?? null,
    disabled_reason: r.disabled_reason,
    created_at: r.created_at.toISOString(),
  };
}

/** Registers a webhook; the secret is returned here once and never again. */
export async function createWebhook(
  db: pg.Pool | pg.ClientBase,
  w: { tenantId: string; url: string; eventTypes: readonly WebhookEventType[]; description: string | null },
): Promise<WebhookView & { secret: string }> {
  const secret = generateWebhookSecret();
  const { rows } = await db.query<WebhookRow>(
    `INSERT INTO webhooks (tenant_id, url, event_types, description, secret) VALUES ($1, $2, $3, $4, $5) RETURNING ${VIEW_COLUMNS}`,
    [w.tenantId, w.url, [...w.eventTypes], w.description, secret],
  );
  const row = rows[0];
  if (row === undefined) throw new Error('INSERT … RETURNING returned no row');
  return { ...toView(row), secret };
}

/** The tenant's webhooks, newest first (deleted ones are gone). */
export async function listWebhooks(db: pg.Pool | pg.ClientBase, tenantId: string): Promise<WebhookView[]> {
  const { rows } = await db.query<WebhookRow>(
    `SELECT ${VIEW_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND deleted_at IS NULL ORDER BY created_at DESC, id DESC`,
    [tenantId],
  );
  return rows.map(toView);
}

/** Whether the tenant has this (undeleted) webhook: another tenant's is as absent as none. */
export async function webhookExists(db: pg.Pool | pg.ClientBase, tenantId: string, id: string): Promise<boolean> {
  const { rowCount } = await db.query('SELECT 1 FROM webhooks WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL', [id, tenantId]);
  return rowCount === 1;
}

/**
 * Deletes a webhook: it stops receiving at once and its pending deliveries end as `disabled`.
 * The row stays (soft delete) so its attempt log keeps its foreign key until pruned.
 * Returns false when the tenant has no such webhook.
 */
export async function deleteWebhook(pool: pg.Pool, tenantId: string, id: string): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rowCount } = await client.query(
      'UPDATE webhooks SET deleted_at = now() WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL',
      [id, tenantId],
    );
    if (rowCount === 1) {
      await client.query(
        `UPDATE webhook_deliveries SET state = 'disabled', claim_token = NULL, completed_at = now() WHERE webhook_id = $1 AND state = 'pending'`,
        [id],
      );
    }
    await client.query('COMMIT');
    return rowCount === 1;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** One line of GET /v1/webhooks/{id}/deliveries. */
export interface AttemptView {
  webhook_id: string;
  message_id: string;
  event_type: string;
  attempt: number;
  status: string;
  response_code: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: string;
  next_attempt_at: string | null;
}

interface AttemptRow {
  id: string;
  webhook_id: string;
  message_id: string;
  event_type: string;
  attempt: number;
  status: string;
  response_code: number | null;
  error: string | null;
  duration_ms: number;
  attempted_at: Date;
  next_attempt_at: Date | null;
}

/**
 * A page of a webhook's attempt log, newest first, by keyset on the log's id: `beforeId` is
 * the last id of the previous page. Returns the page and the id to continue from, if any.
 */
export async function listDeliveryAttempts(
  db: pg.Pool | pg.ClientBase,
  webhookId: string,
  limit: number,
  beforeId: string | null,
): Promise<{ data: AttemptView[]; nextBeforeId: string | null }> {
  const { rows } = await db.query<AttemptRow>(
    `SELECT id, webhook_id, message_id, event_type, attempt, status, response_code, error, duration_ms, attempted_at, next_attempt_at
       FROM webhook_delivery_attempts
      WHERE webhook_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint)
      ORDER BY id DESC
      LIMIT $3`,
    [webhookId, beforeId, limit + 1],
  );
  const page = rows.slice(0, limit);
  const more = rows.length > limit;
  return {
    data: page.map((r) => ({
      webhook_id: r.webhook_id,
      message_id: r.message_id,
      event_type: r.event_type,
      attempt: r.attempt,
      status: r.status,
      response_code: r.response_code,
      error: r.error,
      duration_ms: r.duration_ms,
      attempted_at: r.attempted_at.toISOString(),
      next_attempt_at: r.next_attempt_at?.toISOString() ?? null,
    })),
    nextBeforeId: more ? (page[page.length - 1]?.id ?? null) : null,
  };
}
