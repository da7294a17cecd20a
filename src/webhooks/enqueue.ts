import type pg from 'pg';
import { isWebhookEventType, type WebhookEventType } from './event-types.js';
import { newMessageId } from './signing.js';

export interface EnqueuedEvent {
  /** The `webhook-id` every endpoint receives for this event. */
  readonly messageId: string;
  /** Deliveries queued: one per enabled webhook of the tenant subscribed to the type. */
  readonly deliveries: number;
}

/**
 * Queues one event for every enabled webhook of `tenantId` that subscribed to `type`, on the
 * caller's client and inside the caller's transaction: the alert change and its deliveries
 * commit together or not at all. The deliveries become visible to dispatchers at that commit;
 * call the dispatcher's `wake()` after it to send them at once rather than at the next poll.
 *
 * `messageId` makes a retried caller transaction idempotent: the same id queues nothing twice.
 */
export async function enqueueWebhookEvent(
  client: pg.ClientBase,
  tenantId: string,
  type: WebhookEventType,
  data: unknown,
  opts: { messageId?: string; timestamp?: Date } = {},
): Promise<EnqueuedEvent> {
  if (!isWebhookEventType(type)) throw new Error(`unknown webhook event type ${String(type)}`);
  const messageId = opts.messageId ?? newMessageId();
  const payload = { type, timestamp: (opts.timestamp ?? new Date()).toISOString(), data };
  const { rowCount } = await client.query(
    `INSERT INTO webhook_deliveries (message_id, webhook_id, event_type, payload)
     SELECT $1::text, w.id, $2::text, $3::jsonb FROM webhooks w
      WHERE w.tenant_id = $4 AND w.deleted_at IS NULL AND w.disabled_at IS NULL AND $2::text = ANY (w.event_types)
     ON CONFLICT (message_id, webhook_id) DO NOTHING`,
    [messageId, type, JSON.stringify(payload), tenantId],
  );
  return { messageId, deliveries: rowCount ?? 0 };
}
