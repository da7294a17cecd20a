/**
 * The SDK's AgentReadClient against the real receiver (the built CLI, as in production):
 * what an agent sends through ingest, it reads back signed as itself, exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentReadClient, keypairFromSecretKey } from '../../src/sdk/index.js';
import { interactionEvent, newAgent, postAgentBatch, telemetryEvent } from '../helpers/agent.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';

let db: TestDatabase;
let rx: RunningReceiver;

beforeAll(async () => {
  db = await createTestDatabase('sdk_read_rx');
  rx = await startReceiver({ DATABASE_URL: db.url, WORKERS: '1', LOG_LEVEL: 'warn' });
});
afterAll(async () => {
  await rx?.stop();
  await db?.drop();
});

describe('AgentReadClient on a running receiver', () => {
  it('reads back what the agent sent: metrics, vendors, history, balance, and a link code', async () => {
    const agent = newAgent();
    const events = [
      interactionEvent(agent.agentId, { data: { vendor_id: 'vendor a', amount_atomic: 1200, latency_ms: 30 } }),
      interactionEvent(agent.agentId, { data: { vendor_id: 'vendor a', amount_atomic: 800, latency_ms: 50, success: false, error_type: 'timeout' } }),
      interactionEvent(agent.agentId, { data: { vendor_id: 'vendor-b', amount_atomic: '9223372036854775807', latency_ms: 10 } }),
      telemetryEvent(agent.agentId),
    ];
    expect((await postAgentBatch(rx.url, agent, events, { signer: 'node' })).status).toBe(202);

    const reader = new AgentReadClient({ receiverUrl: rx.url, signer: keypairFromSecretKey(agent.secretKey) });
    const metrics = await reader.getMetrics({ range: '1h' });
    expect(metrics).toMatchObject({ agent_id: agent.agentId, total_requests: 3, failed_requests: 1, total_spend_atomic: '9223372036854777807' });
    expect(metrics.balance?.usdc_balance_atomic).toBe('25000000');
    const vendors = await reader.getVendors({ range: '1h' });
    expect(vendors.vendors.map((v) => [v.vendor_id, v.request_count])).toEqual([
      ['vendor-b', 1],
      ['vendor a', 2],
    ]);
    const failures = await reader.getHistory({ vendorId: 'vendor a', success: false });
    expect(failures.data.map((r) => [r.amount_atomic, r.error_type])).toEqual([['800', 'timeout']]);
    const balance = await reader.getBalance({ from: new Date(Date.now() - 3_600_000) });
    expect(balance.points).toHaveLength(1);
    const link = await reader.linkInit();
    expect(link.code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
  });
});
