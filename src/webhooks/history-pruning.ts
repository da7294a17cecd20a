import type pg from 'pg';

/** Rows removed per statement: short transactions, so dispatchers never wait long on a prune. */
const BATCH = 5_000;

export interface PrunedHistory {
  readonly deliveries: number;
  readonly webhooks: number;
}

/**
 * Removes webhook history older than `before`: deliveries that ended (delivered, failed or
 * disabled) before it, with their attempt log, then deleted webhooks left with no history.
 * Pending deliveries are never touched, whatever their age. The retention job calls this
 * (docs/read-api.md §7); the attempt log of GET /v1/webhooks/{id}/deliveries shrinks with it.
 */
export async function pruneWebhookHistory(db: pg.Pool | pg.ClientBase, before: Date): Promise<PrunedHistory> {
  let deliveries = 0;
  for (;;) {
    const { rowCount } = await db.query(
      `DELETE FROM webhook_deliveries WHERE id IN (
         SELECT id FROM webhook_deliveries WHERE completed_at < $1 AND state <> 'pending' LIMIT $2)`,
      [before, BATCH],
    );
    deliveries += rowCount ?? 0;
    if ((rowCount ?? 0) < BATCH) break;
  }
  const { rowCount } = await db.query(
    `DELETE FROM webhooks w
      WHERE w.deleted_at < $1
        AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.webhook_id = w.id)
        AND NOT EXISTS (SELECT 1 FROM webhook_delivery_attempts a WHERE a.webhook_id = w.id)`,
    [before],
  );
  return { deliveries, webhooks: rowCount ?? 0 };
}
