/** docs/read-api.md §1: who may read what, through real HTTP against real PostgreSQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAgent, type TestAgent } from '../helpers/agent.js';
import { apiKeyWithScopes, errorCode, errorMessage, seedAgent, signed, startReadServer, withKey, type ReadServer } from './support.js';

let s: ReadServer;
let readKey: string;
let adminKey: string;
let ingestKey: string;
let otherTenantKey: string;
let mine: TestAgent;
let theirs: TestAgent;
let unlinked: TestAgent;

beforeAll(async () => {
  s = await startReadServer('read_auth');
  readKey = await apiKeyWithScopes(s.pool, 'tenant-a', ['read']);
  adminKey = await apiKeyWithScopes(s.pool, 'tenant-a', ['admin']);
  ingestKey = await apiKeyWithScopes(s.pool, 'tenant-a', ['ingest']);
  otherTenantKey = await apiKeyWithScopes(s.pool, 'tenant-b', ['read', 'admin']);
  mine = await seedAgent(s.pool, 'tenant-a');
  theirs = await seedAgent(s.pool, 'tenant-b');
  unlinked = await seedAgent(s.pool, null);
});

afterAll(async () => {
  await s?.close();
});

const metricsOf = (agentId: string): string => `/v1/agent/metrics?agent_id=${agentId}&range=1h`;

/** Every GET that reads one agent, with each of its parameters set. */
const agentReads = (agentId: string): string[] => [
  metricsOf(agentId),
  `/v1/agent/metrics?agent_id=${agentId}&range=7d`,
  `/v1/agent/metrics?agent_id=${agentId}&range=30d`,
  `/v1/agent/vendors?agent_id=${agentId}&range=24h`,
  `/v1/agent/history?agent_id=${agentId}`,
  `/v1/agent/history?agent_id=${agentId}&range=24h&vendor_id=v&success=true&limit=5`,
  `/v1/agent/balance?agent_id=${agentId}&range=24h`,
  `/v1/agent/settings?agent_id=${agentId}`,
];

describe('API keys', () => {
  it('answers 401 invalid_api_key without a key, with an unknown key and with a revoked key', async () => {
    expect(errorCode(await withKey(s.baseUrl, 'GET', metricsOf(mine.agentId), null))).toBe('invalid_api_key');
    const unknown = `mpk_test_${'A'.repeat(43)}`;
    const r = await withKey(s.baseUrl, 'GET', metricsOf(mine.agentId), unknown);
    expect(r.status).toBe(401);
    expect(errorCode(r)).toBe('invalid_api_key');
    const revoked = await apiKeyWithScopes(s.pool, 'tenant-a', ['read']);
    await s.pool.query(`UPDATE api_keys SET revoked_at = now() WHERE tenant_id = 'tenant-a' AND revoked_at IS NULL AND id = (SELECT id FROM api_keys ORDER BY created_at DESC LIMIT 1)`);
    expect((await withKey(s.baseUrl, 'GET', metricsOf(mine.agentId), revoked)).status).toBe(401);
  });

  it('answers 403 forbidden to a key without the read scope, 200 to read and admin keys', async () => {
    const r = await withKey(s.baseUrl, 'GET', metricsOf(mine.agentId), ingestKey);
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ error: { code: 'forbidden', message: expect.stringContaining("'read'") } });
    expect((await withKey(s.baseUrl, 'GET', metricsOf(mine.agentId), readKey)).status).toBe(200);
    expect((await withKey(s.baseUrl, 'GET', metricsOf(mine.agentId), adminKey)).status).toBe(200);
  });

  it('needs admin for admin endpoints: a read key gets 403', async () => {
    const r = await withKey(s.baseUrl, 'PUT', `/v1/agent/settings?agent_id=${mine.agentId}`, readKey, { alerts_enabled: false });
    expect(r.status).toBe(403);
    expect((await withKey(s.baseUrl, 'POST', '/v1/link/confirm', readKey, { code: 'ABCD-EFGH' })).status).toBe(403);
  });

  it('gives one 404 for an agent of another tenant, an unlinked one and an unknown one', async () => {
    const answers = await Promise.all(
      [theirs.agentId, unlinked.agentId, newAgent().agentId].map((id) => withKey(s.baseUrl, 'GET', metricsOf(id), readKey)),
    );
    for (const a of answers) {
      expect(a.status).toBe(404);
      expect(a.json).toEqual(answers[0]?.json);
    }
    expect(errorCode(answers[0] as never)).toBe('not_found');
    // The other tenant reads its own agent, and not ours.
    expect((await withKey(s.baseUrl, 'GET', metricsOf(theirs.agentId), otherTenantKey)).status).toBe(200);
    expect((await withKey(s.baseUrl, 'GET', metricsOf(mine.agentId), otherTenantKey)).status).toBe(404);
  });

  it('gives that 404 on every agent read and every parameter, and 200 for a linked agent', async () => {
    for (const id of [theirs.agentId, unlinked.agentId, newAgent().agentId]) {
      for (const path of agentReads(id)) {
        const r = await withKey(s.baseUrl, 'GET', path, readKey);
        expect({ path, status: r.status, code: errorCode(r) }).toEqual({ path, status: 404, code: 'not_found' });
      }
    }
    for (const path of agentReads(mine.agentId)) expect({ path, status: (await withKey(s.baseUrl, 'GET', path, readKey)).status }).toEqual({ path, status: 200 });
  });

  it('requires agent_id with a key', async () => {
    const r = await withKey(s.baseUrl, 'GET', '/v1/agent/metrics?range=1h', readKey);
    expect(r.status).toBe(400);
    expect(errorCode(r)).toBe('invalid_query');
    expect(errorMessage(r)).toContain('agent_id');
  });
});

describe('agent self-reads', () => {
  it('reads its own data with a signature over the path and query string, agent_id optional', async () => {
    const own = await signed(s.baseUrl, 'GET', '/v1/agent/metrics?range=1h', unlinked);
    expect(own.status).toBe(200);
    expect((own.json as { agent_id: string }).agent_id).toBe(unlinked.agentId);
    expect((await signed(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${unlinked.agentId}&range=24h`, unlinked)).status).toBe(200);
    expect((await signed(s.baseUrl, 'GET', '/v1/agent/metrics', unlinked)).status).toBe(200);
  });

  it('answers 404 when an agent names another agent', async () => {
    const r = await signed(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${mine.agentId}`, unlinked);
    expect(r.status).toBe(404);
    expect(errorCode(r)).toBe('not_found');
  });

  it('answers 401 bad_signature when the query string differs from the one signed', async () => {
    const tampered = await signed(s.baseUrl, 'GET', '/v1/agent/metrics?range=24h', mine, { signedPath: '/v1/agent/metrics?range=1h' });
    expect(tampered.status).toBe(401);
    expect(errorCode(tampered)).toBe('bad_signature');
    // Signing the path alone does not cover a query that is sent.
    const pathOnly = await signed(s.baseUrl, 'GET', '/v1/agent/metrics?range=1h', mine, { signedPath: '/v1/agent/metrics' });
    expect(errorCode(pathOnly)).toBe('bad_signature');
  });

  it('answers 401 with the protocol codes for a stale timestamp and a missing header', async () => {
    const stale = await signed(s.baseUrl, 'GET', '/v1/agent/metrics', mine, { timestampMs: Date.now() - 301_000 });
    expect(errorCode(stale)).toBe('timestamp_out_of_window');
    const res = await fetch(`${s.baseUrl}/v1/agent/metrics`, { headers: { 'x-machpay-agent': mine.agentId } });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('missing_signature');
  });

  it('keeps agents away from tenant endpoints: 403', async () => {
    expect(errorCode(await signed(s.baseUrl, 'GET', '/v1/agents', mine))).toBe('forbidden');
    expect(errorCode(await signed(s.baseUrl, 'PUT', '/v1/agent/settings', mine, { body: {} }))).toBe('forbidden');
  });
});

describe('requests', () => {
  it('answers 400 invalid_query naming an unknown, repeated or malformed parameter', async () => {
    const unknown = await withKey(s.baseUrl, 'GET', `${metricsOf(mine.agentId)}&rnage=1h`, readKey);
    expect(errorCode(unknown)).toBe('invalid_query');
    expect(errorMessage(unknown)).toContain("'rnage'");
    const twice = await withKey(s.baseUrl, 'GET', `${metricsOf(mine.agentId)}&range=24h`, readKey);
    expect(errorMessage(twice)).toContain("'range'");
    const bad = await withKey(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${mine.agentId}&range=2h`, readKey);
    expect(errorMessage(bad)).toContain("'range'");
    const from = await withKey(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${mine.agentId}&from=yesterday`, readKey);
    expect(errorMessage(from)).toContain("'from'");
    const limit = await withKey(s.baseUrl, 'GET', '/v1/agents?limit=501', readKey);
    expect(errorMessage(limit)).toContain("'limit'");
    const cursor = await withKey(s.baseUrl, 'GET', '/v1/agents?cursor=bm90LWEtY3Vyc29y', readKey);
    expect(errorMessage(cursor)).toContain("'cursor'");
  });

  it('answers 405 to a wrong method on a read path', async () => {
    const r = await withKey(s.baseUrl, 'DELETE', '/v1/agent/metrics', readKey);
    expect(r.status).toBe(405);
    expect(errorCode(r)).toBe('method_not_allowed');
    expect(r.headers.get('allow')).toBe('GET');
    const settings = await withKey(s.baseUrl, 'POST', '/v1/agent/settings', readKey);
    expect([settings.status, settings.headers.get('allow')]).toEqual([405, 'GET, PUT']);
  });
});
