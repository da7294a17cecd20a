import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueWebhookEvent, pruneWebhookHistory } from '../../src/webhooks/index.js';
import { createWebhook, deleteWebhook } from '../../src/webhooks/webhook-store.js';
import { openWebhookDatabase, type WebhookDatabase } from './fixtures/database.js';

let wdb: WebhookDatabase;
beforeAll(async () => {
  wdb = await openWebhookDatabase('webhooks_pruning');
});
afterAll(async () => {
  await wdb.close();
});

async function queue(tenantId: string, n: number): Promise<void> {
  const client = await wdb.pool.connect();
  try {
    for (let i = 0; i < n; i++) await enqueueWebhookEvent(client, tenantId, 'alert.firing', { i });
  } finally {
    client.release();
  }
}

describe('pruneWebhookHistory', () => {
  it('removes ended deliveries older than the cut-off with their attempts, keeps pending ones of any age, then drops deleted webhooks left empty', async () => {
    const kept = await createWebhook(wdb.pool, { tenantId: 'p', url: 'http://127.0.0.1:9/kept', eventTypes: ['alert.firing'], description: null });
    await queue('p', 4);
    const gone = await createWebhook(wdb.pool, { tenantId: 'q', url: 'http://127.0.0.1:9/gone', eventTypes: ['alert.firing'], description: null });
    await queue('q', 2);
    const { rows } = await wdb.pool.query<{ id: string; webhook_id: string }>('SELECT id, webhook_id FROM webhook_deliveries ORDER BY id');
    const ofKept = rows.filter((r) => r.webhook_id === kept.id).map((r) => r.id);
    // Two old and delivered, one recent and delivered, one old but still pending.
    await wdb.pool.query(`UPDATE webhook_deliveries SET state = 'delivered', completed_at = now() - interval '40 days' WHERE id = ANY ($1)`, [ofKept.slice(0, 2)]);
    await wdb.pool.query(`UPDATE webhook_deliveries SET state = 'delivered', completed_at = now() WHERE id = $1`, [ofKept[2]]);
    await wdb.pool.query(`UPDATE webhook_deliveries SET created_at = now() - interval '40 days' WHERE id = $1`, [ofKept[3]]);
    for (const id of ofKept.slice(0, 2)) {
      await wdb.pool.query(
        `INSERT INTO webhook_delivery_attempts (webhook_id, delivery_id, message_id, event_type, attempt, status, duration_ms, attempted_at)
         SELECT webhook_id, id, message_id, event_type, 1, 'delivered', 5, now() - interval '40 days' FROM webhook_deliveries WHERE id = $1`,
        [id],
      );
    }
    // The deleted webhook's deliveries end as disabled when it is deleted; age them too.
    expect(await deleteWebhook(wdb.pool, 'q', gone.id)).toBe(true);
    await wdb.pool.query(`UPDATE webhook_deliveries SET completed_at = now() - interval '40 days' WHERE webhook_id = $1`, [gone.id]);
    await wdb.pool.query(`UPDATE webhooks SET deleted_at = now() - interval '40 days' WHERE id = $1`, [gone.id]);

    const pruned = await pruneWebhookHistory(wdb.pool, new Date(Date.now() - 30 * 86_400_000));
    expect(pruned).toEqual({ deliveries: 4, webhooks: 1 });
    const left = await wdb.pool.query<{ id: string; state: string }>('SELECT id, state FROM webhook_deliveries ORDER BY id');
    expect(left.rows.map((r) => r.id)).toEqual(ofKept.slice(2));
    expect((await wdb.pool.query('SELECT count(*)::int AS n FROM webhook_delivery_attempts')).rows[0].n).toBe(0);
    expect((await wdb.pool.query('SELECT id FROM webhooks')).rows.map((r) => r.id)).toEqual([kept.id]);
  });
});
