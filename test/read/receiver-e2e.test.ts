/**
 * The read side through the real receiver (dist/, as production runs it): an agent linked
 * to a tenant sends interactions and a telemetry snapshot with the SDK through /v1/agent;
 * its own signed read of /v1/agent/metrics, once complete_through has passed the last
 * acknowledgement, equals the stored rows exactly; its low balance raises an alert whose
 * webhook reaches a local endpoint signed as Standard Webhooks verifies; and an SSE
 * subscriber of its topic sees every interaction.
 */
import pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keypairFromSecretKey, TelemetryEmitter } from '../../src/sdk/index.js';
import { newAgent } from '../helpers/agent.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { bearer, eventsUrl, listen } from '../stream/support.js';
import { startTarget, type Target } from '../webhooks/fixtures/target.js';
import { apiKeyWithScopes, errorMessage, signed, withKey } from './support.js';

const TENANT = 'tenant-e2e';
const VENDORS = ['vendor-weather', 'vendor-search', 'vendor-llm'];

let db: TestDatabase;
let pool: pg.Pool;
let receiver: RunningReceiver;
let target: Target;
let adminKey: string;

beforeAll(async () => {
  db = await createTestDatabase('read_e2e');
  receiver = await startReceiver({
    DATABASE_URL: db.url,
    WEBHOOK_ALLOW_PRIVATE_URLS: 'true',
    ROLLUP_FOLD_INTERVAL_MS: '200',
    ALERT_SWEEP_INTERVAL_MS: '1000',
    LOG_LEVEL: 'warn',
  });
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
  adminKey = await apiKeyWithScopes(pool, TENANT, ['admin']);
  target = await startTarget(() => 200);
}, 120_000);

afterAll(async () => {
  await receiver?.stop().catch(() => undefined);
  await target?.close();
  await pool?.end();
  await db?.drop();
});

interface Metrics {
  complete_through: string;
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  total_spend_atomic: string;
  chart_data: { requests: number }[];
}

describe('read side through the real receiver', () => {
  it('links an agent, reads its exact metrics, fires a low-balance alert to a signed webhook, and streams its interactions', async () => {
    const base = receiver.url;
    const agent = newAgent();
    const explain = (what: string) => `${what}\n--- receiver stderr ---\n${receiver.stderrText().slice(-4000)}`;

    // Link the agent to the tenant: the agent asks for a code, the tenant's admin confirms it.
    const init = await signed(base, 'POST', '/v1/link/init', agent, { body: {} });
    expect(init.status, explain(errorMessage(init))).toBe(201);
    const confirm = await withKey(base, 'POST', '/v1/link/confirm', adminKey, { code: (init.json as { code: string }).code });
    expect(confirm.status, explain(errorMessage(confirm))).toBe(200);

    // A webhook for alerts, and a live subscriber of the agent's topic.
    const hook = await withKey(base, 'POST', '/v1/webhooks', adminKey, { url: `${target.url}/hook`, event_types: ['alert.firing'] });
    expect(hook.status, explain(errorMessage(hook))).toBe(201);
    const secret = (hook.json as { secret: string }).secret;
    const live = listen(eventsUrl(base, `agent:${agent.agentId}`), bearer(adminKey));
    await live.opened;

    // Traffic through the SDK: interactions over three vendors, then a snapshot with 1 USDC left.
    const emitter = new TelemetryEmitter({
      receiverUrl: base,
      keypair: keypairFromSecretKey(agent.secretKey),
      flushIntervalMs: 20,
      maxBatchEvents: 25,
      telemetryIntervalMs: 0,
      walletProvider: () => ({ usdcBalanceAtomic: 1_000_000n, solBalanceLamports: 5_000_000n }),
    });
    emitter.start();
    const count = 90;
    for (let i = 0; i < count; i++) {
      emitter.recordInteraction({ vendorId: VENDORS[i % 3] as string, success: i % 7 !== 0, latencyMs: 20 + ((i * 37) % 400), amountAtomic: 1000 + i });
    }
    expect(await emitter.emitTelemetrySnapshot()).not.toBeNull();
    await emitter.flush();
    const lastAck = Date.now();
    const stats = await emitter.stop();
    expect(stats).toMatchObject({ recorded: count + 1, sent: count + 1, rejected: 0, dropped: 0 });

    // The agent's own read, once its snapshot is past the last acknowledgement.
    const path = `/v1/agent/metrics?agent_id=${agent.agentId}&range=1h`;
    let metrics: Metrics | null = null;
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const read = await signed(base, 'GET', path, agent);
      expect(read.status, explain(errorMessage(read))).toBe(200);
      metrics = read.json as Metrics;
      if (Date.parse(metrics.complete_through) > lastAck) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.parse(metrics?.complete_through ?? '')).toBeGreaterThan(lastAck);
    const [truth] = (
      await pool.query<{ requests: number; successes: number; spend: string }>(
        `SELECT count(*)::int AS requests, (count(*) FILTER (WHERE success))::int AS successes, sum(amount_atomic)::text AS spend
         FROM agent_interactions WHERE agent_id = $1`,
        [agent.agentId],
      )
    ).rows;
    expect(truth).toEqual({ requests: count, successes: count - Math.ceil(count / 7), spend: String(count * 1000 + (count * (count - 1)) / 2) });
    expect(metrics).toMatchObject({
      total_requests: truth?.requests,
      successful_requests: truth?.successes,
      failed_requests: count - (truth?.successes ?? 0),
      total_spend_atomic: truth?.spend,
    });
    expect(metrics?.chart_data.reduce((n, b) => n + b.requests, 0)).toBe(count);

    // 1 USDC is under the default 5 USDC threshold: low_balance fires and its webhook arrives, signed.
    await target.waitForRequests(1, 15_000);
    const [delivery] = target.received;
    const payload = new Webhook(secret).verify(delivery?.body ?? '', delivery?.headers as Record<string, string>) as { type: string; data: Record<string, unknown> };
    expect(payload.type).toBe('alert.firing');
    expect(payload.data).toMatchObject({ agent_id: agent.agentId, type: 'low_balance' });

    // The subscriber saw every interaction once.
    await live.until((events) => events.filter((e) => e.type === 'interaction').length >= count, 15_000);
    const interactions = live.events.filter((e) => e.type === 'interaction');
    expect(new Set(interactions.map((e) => String(e.data.nonce))).size).toBe(count);
    live.close();
  }, 90_000);
});
