import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enqueueWebhookEvent, type WebhookDispatcher } from '../../src/webhooks/index.js';
import { createWebhook } from '../../src/webhooks/webhook-store.js';
import { attempts, deliveries, eventually, openWebhookDatabase, type WebhookDatabase } from './fixtures/database.js';
import { counterValue, startDispatcher } from './fixtures/dispatcher.js';
import { startTarget, type Behaviour, type Target } from './fixtures/target.js';

/**
 * Deliveries end to end: the queue in a real PostgreSQL, a real dispatcher, and a real HTTP
 * endpoint that answers as each test scripts it.
 */

let wdb: WebhookDatabase;
const targets: Target[] = [];
const dispatchers: WebhookDispatcher[] = [];
let tenantSeq = 0;

beforeAll(async () => {
  wdb = await openWebhookDatabase('webhooks_delivery');
});
afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.stop(0)));
  await Promise.all(targets.splice(0).map((t) => t.close()));
  // Each test starts with an empty queue: what one leaves pending is not the next one's work.
  await wdb.pool.query(`UPDATE webhook_deliveries SET state = 'disabled', claim_token = NULL WHERE state = 'pending'`);
});
afterAll(async () => {
  await wdb.close();
});

async function target(script: (n: number) => Behaviour): Promise<Target> {
  const t = await startTarget((n) => script(n));
  targets.push(t);
  return t;
}

/** A tenant of its own per test, with one webhook on `url`. */
async function webhookFor(url: string, eventTypes: ('alert.firing' | 'alert.resolved')[] = ['alert.firing', 'alert.resolved']) {
  const tenantId = `tenant_${++tenantSeq}`;
  const hook = await createWebhook(wdb.pool, { tenantId, url, eventTypes, description: null });
  return { tenantId, hook };
}

function alert(id: string) {
  return { id, agent_id: 'agent-1', type: 'low_balance', severity: 'warning', state: 'firing', message: 'low', data: { usdc_balance_atomic: '100' } };
}

async function enqueue(tenantId: string, type: 'alert.firing' | 'alert.resolved', data: unknown) {
  const client = await wdb.pool.connect();
  try {
    await client.query('BEGIN');
    const queued = await enqueueWebhookEvent(client, tenantId, type, data);
    await client.query('COMMIT');
    return queued;
  } catch (err) {
    await client.query('ROLLBACK');
    throw err;
  } finally {
    client.release();
  }
}

async function settled(messageId: string) {
  return eventually(async () => (await deliveries(wdb.pool)).find((d) => d.message_id === messageId && d.state !== 'pending'), 15_000, `${messageId} settled`);
}

describe('webhook delivery', () => {
  it('delivers on the first 2xx, signed so that standardwebhooks verifies it', async () => {
    const t = await target(() => 204);
    const { tenantId, hook } = await webhookFor(t.url);
    const run = startDispatcher(wdb.pool);
    dispatchers.push(run.dispatcher);
    const queued = await enqueue(tenantId, 'alert.firing', alert('a1'));
    expect(queued.deliveries).toBe(1);
    run.dispatcher.wake();

    const row = await settled(queued.messageId);
    expect(row).toMatchObject({ state: 'delivered', attempts: 1, last_response_code: 204 });
    expect(t.received).toHaveLength(1);
    const [req] = t.received;
    const headers = req!.headers as Record<string, string>;
    expect(headers['webhook-id']).toBe(queued.messageId);
    expect(headers['content-type']).toBe('application/json');
    const verified = new Webhook(hook.secret).verify(req!.body, headers) as Record<string, unknown>;
    expect(verified).toMatchObject({ type: 'alert.firing', data: alert('a1') });
    expect(Object.keys(verified)).toEqual(['type', 'timestamp', 'data']);
    expect(new Date(verified.timestamp as string).toISOString()).toBe(verified.timestamp);
    expect(await counterValue(run.registry, 'machpay_webhook_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(await counterValue(run.registry, 'machpay_webhook_attempts_total', { result: 'success' })).toBe(1);
  });

  it('wakes at once when told that work was queued, long before its next poll', async () => {
    const t = await target(() => 200);
    const { tenantId } = await webhookFor(t.url);
    const run = startDispatcher(wdb.pool, { pollIntervalMs: 60_000 });
    dispatchers.push(run.dispatcher);
    // Let its first (empty) claim pass, so that only wake() can start the next.
    await new Promise((r) => setTimeout(r, 300));
    const queued = await enqueue(tenantId, 'alert.firing', alert('w1'));
    const woken = Date.now();
    run.dispatcher.wake();
    expect((await settled(queued.messageId)).state).toBe('delivered');
    expect(Date.now() - woken).toBeLessThan(5_000);
  });

  it('retries a failure and a timeout with the same webhook-id and a valid signature each time, then succeeds', async () => {
    const t = await target((n) => (n === 0 ? 500 : n === 1 ? 'hang' : 200));
    const { tenantId, hook } = await webhookFor(t.url);
    const run = startDispatcher(wdb.pool, { timeoutMs: 400 });
    dispatchers.push(run.dispatcher);
    const queued = await enqueue(tenantId, 'alert.resolved', alert('a2'));
    run.dispatcher.wake();

    const row = await settled(queued.messageId);
    expect(row).toMatchObject({ state: 'delivered', attempts: 3, last_response_code: 200 });
    expect(t.received).toHaveLength(3);
    const verifier = new Webhook(hook.secret);
    const bodies = new Set<string>();
    for (const r of t.received) {
      expect(r.headers['webhook-id']).toBe(queued.messageId);
      verifier.verify(r.body, r.headers as Record<string, string>);
      bodies.add(r.body);
    }
    expect(bodies.size).toBe(1);
    const log = (await attempts(wdb.pool)).filter((a) => a.message_id === queued.messageId);
    expect(log.map((a) => [a.attempt, a.status, a.response_code, a.error])).toEqual([
      [1, 'retrying', 500, 'http_status'],
      [2, 'retrying', null, 'timeout'],
      [3, 'delivered', 200, null],
    ]);
    expect(log[0]!.next_attempt_at).toBeInstanceOf(Date);
    expect(log[2]!.next_attempt_at).toBeNull();
    expect(await counterValue(run.registry, 'machpay_webhook_attempts_total', { result: 'timeout' })).toBe(1);
  });

  it('keeps other endpoints flowing while one holds every request open: at most concurrencyPerWebhook slots go to it', async () => {
    const slow = await target(() => 'hang');
    const fast = await target(() => 200);
    const stuck = await webhookFor(slow.url);
    const healthy = await webhookFor(fast.url);
    const backlog: string[] = [];
    for (let i = 0; i < 10; i++) backlog.push((await enqueue(stuck.tenantId, 'alert.firing', alert(`b${i}`))).messageId);
    const run = startDispatcher(wdb.pool, { concurrency: 4, concurrencyPerWebhook: 2, timeoutMs: 10_000, claimLeaseMs: 20_000 });
    dispatchers.push(run.dispatcher);
    await slow.waitForRequests(2);
    // The queue gauge, sampled at the first claim: the backlog, the two in flight included.
    expect((await run.metrics.pending.get()).values[0]?.value).toBe(10);
    const queued = await enqueue(healthy.tenantId, 'alert.firing', alert('h1'));
    run.dispatcher.wake();
    expect((await settled(queued.messageId)).state).toBe('delivered');
    await new Promise((r) => setTimeout(r, 300));
    expect(slow.received).toHaveLength(2);
    expect(run.dispatcher.activeAttempts).toBe(2);
  });

  it('does not follow redirects: a 3xx is a failed attempt, and the redirect target is never contacted', async () => {
    const elsewhere = await target(() => 200);
    const redirecting = await target(() => ({ status: 307, headers: { location: elsewhere.url } }));
    const { tenantId } = await webhookFor(redirecting.url);
    const run = startDispatcher(wdb.pool, { retryWindowMs: 300 });
    dispatchers.push(run.dispatcher);
    const queued = await enqueue(tenantId, 'alert.firing', alert('r1'));
    run.dispatcher.wake();
    expect(await settled(queued.messageId)).toMatchObject({ state: 'failed', last_response_code: 307 });
    expect(elsewhere.received).toHaveLength(0);
  });

  it('disables the endpoint on 410 and ends its other pending deliveries', async () => {
    const t = await target(() => 410);
    const { tenantId, hook } = await webhookFor(t.url);
    const first = await enqueue(tenantId, 'alert.firing', alert('a3'));
    const second = await enqueue(tenantId, 'alert.firing', alert('a4'));
    // One at a time, so the second is still pending when the first meets the 410.
    const run = startDispatcher(wdb.pool, { concurrency: 1 });
    dispatchers.push(run.dispatcher);

    expect(await settled(first.messageId)).toMatchObject({ state: 'disabled', attempts: 1, last_response_code: 410 });
    expect(await settled(second.messageId)).toMatchObject({ state: 'disabled', attempts: 0 });
    expect(t.received).toHaveLength(1);
    const { rows } = await wdb.pool.query('SELECT disabled_at, disabled_reason FROM webhooks WHERE id = $1', [hook.id]);
    expect(rows[0].disabled_at).toBeInstanceOf(Date);
    expect(rows[0].disabled_reason).toContain('410');
    expect((await enqueue(tenantId, 'alert.firing', alert('a5'))).deliveries).toBe(0);
    expect(await counterValue(run.registry, 'machpay_webhook_deliveries_total', { outcome: 'disabled' })).toBe(1);
  });

  it('gives up after the retry window and marks the delivery failed', async () => {
    const t = await target(() => 503);
    const { tenantId } = await webhookFor(t.url);
    const run = startDispatcher(wdb.pool, { retryWindowMs: 600 });
    dispatchers.push(run.dispatcher);
    const queued = await enqueue(tenantId, 'alert.firing', alert('a6'));
    run.dispatcher.wake();

    const row = await settled(queued.messageId);
    expect(row.state).toBe('failed');
    expect(row.attempts).toBeGreaterThanOrEqual(2);
    expect(t.received).toHaveLength(row.attempts);
    const log = (await attempts(wdb.pool)).filter((a) => a.message_id === queued.messageId);
    expect(log.at(-1)).toMatchObject({ status: 'failed', response_code: 503, next_attempt_at: null });
    expect(log.slice(0, -1).every((a) => a.status === 'retrying')).toBe(true);
    expect(await counterValue(run.registry, 'machpay_webhook_deliveries_total', { outcome: 'failed' })).toBe(1);
  });

  it('queues inside the caller transaction: a rollback queues nothing, and only subscribed, enabled webhooks of the tenant get one', async () => {
    const { tenantId } = await webhookFor('http://127.0.0.1:9/a', ['alert.firing']);
    await createWebhook(wdb.pool, { tenantId, url: 'http://127.0.0.1:9/b', eventTypes: ['alert.resolved'], description: null });
    await createWebhook(wdb.pool, { tenantId, url: 'http://127.0.0.1:9/c', eventTypes: ['alert.firing', 'alert.resolved'], description: null });
    await webhookFor('http://127.0.0.1:9/other-tenant');
    const client = await wdb.pool.connect();
    try {
      await client.query('BEGIN');
      const rolledBack = await enqueueWebhookEvent(client, tenantId, 'alert.firing', alert('a7'));
      expect(rolledBack.deliveries).toBe(2);
      await client.query('ROLLBACK');
      const { rows } = await client.query('SELECT count(*)::int AS n FROM webhook_deliveries WHERE message_id = $1', [rolledBack.messageId]);
      expect(rows[0].n).toBe(0);
      await client.query('BEGIN');
      const kept = await enqueueWebhookEvent(client, tenantId, 'alert.resolved', alert('a7'));
      // The same message id again (a retried caller transaction) queues nothing twice.
      const again = await enqueueWebhookEvent(client, tenantId, 'alert.resolved', alert('a7'), { messageId: kept.messageId });
      await client.query('COMMIT');
      expect(kept.deliveries).toBe(2);
      expect(again.deliveries).toBe(0);
    } finally {
      client.release();
    }
  });

  it('refuses loopback targets at delivery unless private URLs are allowed (literal address and a name resolving to loopback)', async () => {
    const t = await target(() => 200);
    const literal = await webhookFor(t.url);
    const named = await webhookFor(`http://localhost:${t.port}/hook`);
    const mapped = await webhookFor(`http://[::ffff:127.0.0.1]:${t.port}/hook`);
    const run = startDispatcher(wdb.pool, { allowPrivateUrls: false, retryWindowMs: 300 });
    dispatchers.push(run.dispatcher);
    const ids = [
      (await enqueue(literal.tenantId, 'alert.firing', alert('s1'))).messageId,
      (await enqueue(named.tenantId, 'alert.firing', alert('s2'))).messageId,
      (await enqueue(mapped.tenantId, 'alert.firing', alert('s3'))).messageId,
    ];
    run.dispatcher.wake();
    for (const id of ids) expect((await settled(id)).state).toBe('failed');
    expect(t.received).toHaveLength(0);
    const log = (await attempts(wdb.pool)).filter((a) => ids.includes(a.message_id));
    expect(log.length).toBeGreaterThanOrEqual(3);
    expect(log.every((a) => a.error === 'refused_address' && a.response_code === null)).toBe(true);
    await run.dispatcher.stop();

    // The same endpoints, with private URLs allowed: delivered.
    const open = startDispatcher(wdb.pool);
    dispatchers.push(open.dispatcher);
    const allowed = (await enqueue(named.tenantId, 'alert.firing', alert('s4'))).messageId;
    open.dispatcher.wake();
    expect((await settled(allowed)).state).toBe('delivered');
    expect(t.received).toHaveLength(1);
  });

  it('stops gracefully: an attempt cut short by stop() is handed back and delivered by the next dispatcher with the same id', async () => {
    const t = await target((n) => (n === 0 ? 'hang' : 200));
    const { tenantId } = await webhookFor(t.url);
    const first = startDispatcher(wdb.pool, { timeoutMs: 10_000, claimLeaseMs: 60_000 });
    const queued = await enqueue(tenantId, 'alert.firing', alert('g1'));
    first.dispatcher.wake();
    await t.waitForRequests(1);
    await first.dispatcher.stop(50);
    const log = (await attempts(wdb.pool)).filter((a) => a.message_id === queued.messageId);
    expect(log).toMatchObject([{ attempt: 1, status: 'retrying', error: 'receiver_stopping' }]);

    const second = startDispatcher(wdb.pool);
    dispatchers.push(second.dispatcher);
    expect(await settled(queued.messageId)).toMatchObject({ state: 'delivered', attempts: 2 });
    expect(t.received.map((r) => r.headers['webhook-id'])).toEqual([queued.messageId, queued.messageId]);
  });
});
