/**
 * The SDK's AgentReadClient against the real read routes on a real PostgreSQL: an agent
 * reads its own metrics, vendors, history, balance and settings, and asks for a link code,
 * every request signed over the path and the query string exactly as sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentReadClient, generateKeypair, MachPayReadError, type AgentKeypair } from '../../src/sdk/index.js';
import { cell, insertPending } from '../read/rollup-fixtures.js';
import { apiKeyWithScopes, startReadServer, withKey, type ReadServer } from '../read/support.js';

let s: ReadServer;
let agent: AgentKeypair;
let reader: AgentReadClient;
const sent: string[] = [];

/** The platform's fetch, noting each URL as it goes out. */
const notingFetch: typeof fetch = (input, init) => {
  sent.push(String(input));
  return fetch(input, init);
};

const hourAgo = new Date(Date.now() - 3600_000);
const minute = new Date(Math.floor((Date.now() - 5 * 60_000) / 60_000) * 60_000);

beforeAll(async () => {
  s = await startReadServer('sdk_read_client');
  agent = generateKeypair();
  reader = new AgentReadClient({ receiverUrl: `${s.baseUrl}/`, signer: agent, fetch: notingFetch, backoff: { initialDelayMs: 10, maxDelayMs: 20 } });
  await insertPending(s.pool, agent.agentId, minute, cell('api.weather.example', [10, 20, 30], 1500n, 1));
  await insertPending(s.pool, agent.agentId, minute, cell('llm vendor/eu', [100], 9000n));
  await s.pool.query(
    `INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, success, latency_ms, amount_atomic, request_method)
     VALUES ($1, $2, 'api.weather.example', 1, true, 10, 500, 'GET'), ($1, $2, 'llm vendor/eu', 2, false, 100, 9000, 'POST')`,
    [minute, agent.agentId],
  );
  await s.pool.query(
    `INSERT INTO agent_telemetry (time, agent_id, usdc_balance_atomic, sol_balance_lamports) VALUES ($2, $1, 7000000, 5), ($3, $1, 6500000, 5)`,
    [agent.agentId, hourAgo, minute],
  );
});

afterAll(async () => {
  await s?.close();
});

describe('AgentReadClient', () => {
  it('reads the agent’s own metrics, with a window of RFC 3339 times in the signed query string', async () => {
    const day = await reader.getMetrics({ range: '24h' });
    expect(day).toMatchObject({ agent_id: agent.agentId, total_requests: 4, failed_requests: 1, total_spend_atomic: '10500' });
    expect(day.balance).toMatchObject({ usdc_balance_atomic: '6500000' });
    const since = await reader.getMetrics({ from: new Date(minute.getTime() - 60_000), to: new Date(minute.getTime() + 60_000) });
    expect(since.total_requests).toBe(4);
    expect(since.chart_data.length).toBeGreaterThan(0);
    // The colons of the times went out percent-encoded, and the signature covered them so.
    expect(sent.at(-1)).toContain('from=');
    expect(sent.at(-1)).toContain('%3A');
  });

  it('reads vendors, history pages with filters, balance points and settings', async () => {
    const vendors = await reader.getVendors();
    expect(vendors.vendors.map((v) => [v.vendor_id, v.spend_atomic])).toEqual([
      ['llm vendor/eu', '9000'],
      ['api.weather.example', '1500'],
    ]);
    const first = await reader.getHistory({ limit: 1 });
    expect(first.data).toHaveLength(1);
    expect(first.next_cursor).not.toBeNull();
    const second = await reader.getHistory({ limit: 1, cursor: first.next_cursor as string });
    expect(second.next_cursor).toBeNull();
    expect(new Set([...first.data, ...second.data].map((r) => r.nonce))).toEqual(new Set(['1', '2']));
    const failed = await reader.getHistory({ vendorId: 'llm vendor/eu', success: false, window: { range: '24h' } });
    expect(failed.data.map((r) => r.nonce)).toEqual(['2']);
    const balance = await reader.getBalance({ from: new Date(hourAgo.getTime() - 1000) });
    expect(balance.points.map((p) => p.usdc_balance_atomic)).toEqual(['7000000', '6500000']);
    const settings = await reader.getSettings();
    expect(settings).toMatchObject({ agent_id: agent.agentId, alerts_enabled: true });
  });

  it('asks for a link code that a tenant admin confirms', async () => {
    const { code, expires_at } = await reader.linkInit('sdk agent');
    expect(code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(Date.parse(expires_at)).toBeGreaterThan(Date.now());
    const admin = await apiKeyWithScopes(s.pool, 'sdk-tenant', ['admin']);
    const confirmed = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', admin, { code });
    expect(confirmed.json).toMatchObject({ agent_id: agent.agentId, tenant_id: 'sdk-tenant', name: 'sdk agent' });
  });

  it('throws the receiver’s code for a refused read, without retrying it', async () => {
    const before = sent.length;
    const err = await reader.getHistory({ limit: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachPayReadError);
    expect(err).toMatchObject({ code: 'invalid_query', status: 400 });
    expect(sent.length - before).toBe(1);
  });

  it('signs again and retries after a network failure', async () => {
    let calls = 0;
    const flaky: typeof fetch = (input, init) => {
      calls++;
      if (calls === 1) return Promise.reject(new TypeError('fetch failed'));
      return fetch(input, init);
    };
    const client = new AgentReadClient({ receiverUrl: s.baseUrl, signer: agent, fetch: flaky, backoff: { initialDelayMs: 10, maxDelayMs: 20 } });
    expect((await client.getMetrics({ range: '1h' })).agent_id).toBe(agent.agentId);
    expect(calls).toBe(2);
    const dead = new AgentReadClient({ receiverUrl: 'http://127.0.0.1:1', signer: agent, maxRetries: 1, backoff: { initialDelayMs: 10, maxDelayMs: 20 } });
    await expect(dead.getMetrics()).rejects.toMatchObject({ code: 'network_error', status: null });
  });

  it('a signature by another key reads that key’s own (empty) figures, never this agent’s', async () => {
    const stranger = new AgentReadClient({ receiverUrl: s.baseUrl, signer: generateKeypair() });
    const m = await stranger.getMetrics({ range: '24h' });
    expect(m.total_requests).toBe(0);
    expect(m.agent_id).not.toBe(agent.agentId);
  });

  it('refuses a receiver URL it cannot sign for', () => {
    expect(() => new AgentReadClient({ receiverUrl: 'ftp://x', signer: agent })).toThrow(/receiverUrl/);
    expect(() => new AgentReadClient({ receiverUrl: 'http://x/?a=1', signer: agent })).toThrow(/receiverUrl/);
  });
});
