/**
 * The SDK's AgentReadClient against the real receiver (the built CLI, as in production):
 * what an agent sends through ingest, it reads back signed as itself, exactly.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { AgentReadClient, generateKeypair, keypairFromSecretKey, MachPayReadError } from '../../src/sdk/index.js';
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

afterEach(() => {
  vi.restoreAllMocks();
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

describe('AgentReadClient with a skewed clock (docs/protocol.md §6)', () => {
  /** The platform's fetch, noting the status of each answer. */
  function notingFetch(statuses: number[], dropDate = false): typeof fetch {
    return async (input, init) => {
      const res = await fetch(input, init);
      statuses.push(res.status);
      if (!dropDate) return res;
      // A proxy that strips `Date`: the answer no longer says the receiver's clock.
      const headers = new Headers(res.headers);
      headers.delete('date');
      return new Response(await res.text(), { status: res.status, headers });
    };
  }

  it.each([
    ['10 minutes behind', -600_000],
    ['2 hours ahead', 7_200_000],
  ])('reads when its clock is %s: the first read after one resend, the next at once', async (_name, skewMs) => {
    const realNow = Date.now.bind(Date);
    // The receiver runs in its own process on the real clock; only this process's clock is skewed.
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + skewMs);
    const keypair = generateKeypair();
    const statuses: number[] = [];
    const reader = new AgentReadClient({ receiverUrl: rx.url, signer: keypair, fetch: notingFetch(statuses), maxRetries: 0 });

    expect((await reader.getMetrics({ range: '1h' })).agent_id).toBe(keypair.agentId);
    expect(statuses).toEqual([401, 200]);
    expect((await reader.getSettings()).agent_id).toBe(keypair.agentId);
    expect(statuses).toEqual([401, 200, 200]);
  });

  it('without a Date header to learn from, the refusal is final', async () => {
    const realNow = Date.now.bind(Date);
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 600_000);
    const statuses: number[] = [];
    const reader = new AgentReadClient({ receiverUrl: rx.url, signer: generateKeypair(), fetch: notingFetch(statuses, true) });
    const err = await reader.getMetrics().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachPayReadError);
    expect(err).toMatchObject({ code: 'timestamp_out_of_window', status: 401 });
    expect(statuses).toEqual([401]);
  });
});
