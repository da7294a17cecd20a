import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { enqueueWebhookEvent, type WebhookDispatcher } from '../../src/webhooks/index.js';
import { createWebhook } from '../../src/webhooks/webhook-store.js';
import { deliveries, eventually, openWebhookDatabase, type WebhookDatabase } from './fixtures/database.js';
import { FAST, startDispatcher } from './fixtures/dispatcher.js';
import { startTarget, type Behaviour, type Target } from './fixtures/target.js';

/**
 * The queue survives the death of the receiver sending from it, and several receivers on one
 * database share it without sending a message twice.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/dispatcher-child.ts', import.meta.url));
// vite-node (vitest's own TypeScript runner) runs the child from source, as the tests run.
const VITE_NODE = fileURLToPath(new URL('../../node_modules/vite-node/vite-node.mjs', import.meta.url));

let wdb: WebhookDatabase;
const targets: Target[] = [];
const dispatchers: WebhookDispatcher[] = [];
const pools: pg.Pool[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  wdb = await openWebhookDatabase('webhooks_durability');
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await Promise.all(dispatchers.splice(0).map((d) => d.stop(0)));
  await Promise.all(pools.splice(0).map((p) => p.end()));
  await Promise.all(targets.splice(0).map((t) => t.close()));
});
afterAll(async () => {
  await wdb.close();
});

async function queueEvents(tenantId: string, count: number): Promise<string[]> {
  const client = await wdb.pool.connect();
  try {
    await client.query('BEGIN');
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push((await enqueueWebhookEvent(client, tenantId, 'alert.firing', { id: `alert-${i}`, n: i })).messageId);
    await client.query('COMMIT');
    return ids;
  } finally {
    client.release();
  }
}

async function startChild(config: Record<string, unknown>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [VITE_NODE, CHILD], {
    cwd: ROOT,
    env: { ...process.env, WEBHOOK_TEST_DB_URL: wdb.db.url, WEBHOOK_TEST_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  let stdout = '';
  await new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
      if (stdout.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`dispatcher child exited (${code}) before it was ready: ${stderr}`)));
  });
  return child;
}

describe('webhook queue durability', () => {
  it('delivers every pending message after the dispatcher is killed with SIGKILL mid-delivery, with the same webhook-id', async () => {
    let phase: Behaviour = 'hang';
    const t = await startTarget(() => phase);
    targets.push(t);
    const hook = await createWebhook(wdb.pool, { tenantId: 'durable', url: t.url, eventTypes: ['alert.firing'], description: null });
    const ids = await queueEvents('durable', 5);

    // Two attempts in flight and held open by the target, three not yet claimed.
    const child = await startChild({ ...FAST, concurrency: 2, timeoutMs: 5_000, claimLeaseMs: 6_000 });
    await t.waitForRequests(2, 20_000);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(child.signalCode).toBe('SIGKILL');
    const inFlight = t.received.map((r) => r.headers['webhook-id'] as string);
    expect(inFlight).toHaveLength(2);

    phase = 200;
    const run = startDispatcher(wdb.pool);
    dispatchers.push(run.dispatcher);
    await eventually(async () => ((await deliveries(wdb.pool)).every((d) => d.state === 'delivered') ? true : undefined), 20_000, 'all delivered');

    const rows = await deliveries(wdb.pool);
    expect(rows.map((r) => r.message_id).sort()).toEqual([...ids].sort());
    for (const r of rows) expect(r.attempts).toBe(inFlight.includes(r.message_id) ? 2 : 1);
    // Every message reached the endpoint, the interrupted ones twice under one id, all verifiable.
    const verifier = new Webhook(hook.secret);
    const seen = new Map<string, number>();
    for (const r of t.received) {
      verifier.verify(r.body, r.headers as Record<string, string>);
      const id = r.headers['webhook-id'] as string;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    for (const id of ids) expect(seen.get(id)).toBe(inFlight.includes(id) ? 2 : 1);
  }, 60_000);

  it('two dispatchers on one database deliver each message exactly once when the endpoint answers 2xx', async () => {
    const t = await startTarget(async () => {
      await new Promise((r) => setTimeout(r, Math.random() * 20));
      return 200;
    });
    targets.push(t);
    await createWebhook(wdb.pool, { tenantId: 'shared', url: t.url, eventTypes: ['alert.firing'], description: null });
    const a = new pg.Pool({ connectionString: wdb.db.url, max: 2 });
    const b = new pg.Pool({ connectionString: wdb.db.url, max: 2 });
    pools.push(a, b);
    const runs = [startDispatcher(a, { pollIntervalMs: 10 }), startDispatcher(b, { pollIntervalMs: 10 })];
    dispatchers.push(...runs.map((r) => r.dispatcher));

    const ids = await queueEvents('shared', 60);
    for (const r of runs) r.dispatcher.wake();
    await t.waitForRequests(60, 30_000);
    await eventually(
      async () => ((await deliveries(wdb.pool)).filter((d) => ids.includes(d.message_id)).every((d) => d.state === 'delivered') ? true : undefined),
      10_000,
      'all delivered',
    );
    // A moment more, in case a duplicate were still on its way.
    await new Promise((r) => setTimeout(r, 300));
    const received = t.received.map((r) => r.headers['webhook-id'] as string);
    expect(received).toHaveLength(60);
    expect(new Set(received)).toEqual(new Set(ids));
    const sent = await Promise.all(runs.map(async (r) => (await r.registry.getSingleMetric('machpay_webhook_attempts_total')!.get()).values.reduce((s, v) => s + v.value, 0)));
    // Both took part (not a proof of fairness; a check that the test shares the work at all).
    expect(sent[0]! + sent[1]!).toBe(60);
    expect(sent.every((n) => n > 0)).toBe(true);
  }, 60_000);
});
