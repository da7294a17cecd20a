/** docs/read-api.md §2: link codes, confirm, unlink and the agents list, end to end. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAgent } from '../helpers/agent.js';
import { apiKeyWithScopes, errorCode, seedAgent, signed, startReadServer, withKey, type ReadServer } from './support.js';

let s: ReadServer;
let adminA: string;
let adminB: string;
let readA: string;

beforeAll(async () => {
  s = await startReadServer('read_linking', { confirmRate: { perMinute: 60, burst: 40 } });
  adminA = await apiKeyWithScopes(s.pool, 'tenant-a', ['admin']);
  adminB = await apiKeyWithScopes(s.pool, 'tenant-b', ['read', 'admin']);
  readA = await apiKeyWithScopes(s.pool, 'tenant-a', ['read']);
});

afterAll(async () => {
  await s?.close();
});

interface Code {
  code: string;
  expires_at: string;
}

async function init(agent = newAgent(), body: unknown = {}): Promise<{ agent: typeof agent; code: Code }> {
  const r = await signed(s.baseUrl, 'POST', '/v1/link/init', agent, { body });
  expect(r.status).toBe(201);
  return { agent, code: r.json as Code };
}

describe('link codes', () => {
  it('issues an 8-character Crockford code shown with a dash, valid 10 minutes, stored only as a hash', async () => {
    const before = Date.now();
    const { agent, code } = await init(newAgent(), { name: 'weather bot' });
    expect(code.code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    const expires = Date.parse(code.expires_at);
    expect(expires - before).toBeGreaterThan(590_000);
    expect(expires - before).toBeLessThan(610_000);
    const { rows } = await s.pool.query('SELECT code_hash, requested_name FROM agent_link_codes WHERE agent_id = $1', [agent.agentId]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows[0])).not.toContain(code.code.replace('-', ''));
    expect(rows[0].requested_name).toBe('weather bot');
  });

  it('needs an agent signature over the body: a key gets 403, a changed body 401', async () => {
    expect(errorCode(await withKey(s.baseUrl, 'POST', '/v1/link/init', adminA, {}))).toBe('forbidden');
    const agent = newAgent();
    const { signAgentRequest } = await import('../helpers/agent.js');
    const headers = signAgentRequest(agent, new TextEncoder().encode('{}'), { path: '/v1/link/init', signer: 'node' });
    const res = await fetch(`${s.baseUrl}/v1/link/init`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"name":"x"}' });
    expect(res.status).toBe(401);
  });

  it('links on confirm (code in any case, with or without the dash), with the name asked for', async () => {
    const { agent, code } = await init(newAgent(), { name: 'from init' });
    const typed = code.code.replace('-', '').toLowerCase();
    const r = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code: typed });
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ agent_id: agent.agentId, tenant_id: 'tenant-a', name: 'from init' });
    // The tenant now reads it.
    expect((await withKey(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${agent.agentId}`, readA)).status).toBe(200);
    // The same confirm again (an answer lost on the way): the same 200, nothing changed.
    const again = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code: code.code });
    expect(again.status).toBe(200);
    expect(again.json).toEqual(r.json);
    // The used code is worth nothing to another tenant.
    expect(errorCode(await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminB, { code: code.code }))).toBe('invalid_link_code');
  });

  it('refuses a replaced, expired, unknown or malformed code with 400 invalid_link_code', async () => {
    const agent = newAgent();
    const first = (await init(agent)).code;
    const second = (await init(agent)).code;
    expect(errorCode(await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code: first.code }))).toBe('invalid_link_code');

    await s.pool.query(`UPDATE agent_link_codes SET expires_at = now() - interval '1 second' WHERE agent_id = $1`, [agent.agentId]);
    const expired = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code: second.code });
    expect(expired.status).toBe(400);
    expect(errorCode(expired)).toBe('invalid_link_code');

    for (const code of ['ZZZZ-ZZZZ', 'ABCD-EFG', 'ABCD-EFGU', 12345678, null]) {
      expect(errorCode(await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code }))).toBe('invalid_link_code');
    }
    const stillUnlinked = await s.pool.query('SELECT tenant_id FROM agents WHERE pubkey = $1', [agent.agentId]);
    expect(stillUnlinked.rows[0].tenant_id).toBeNull();
  });

  it('answers 409 already_linked for an agent of another tenant, and a new code of the same tenant is a 200', async () => {
    const agent = newAgent();
    const linked = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code: (await init(agent)).code.code, name: 'mine' });
    expect(linked.status).toBe(200);
    const taken = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminB, { code: (await init(agent)).code.code });
    expect(taken.status).toBe(409);
    expect(errorCode(taken)).toBe('already_linked');
    const same = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code: (await init(agent)).code.code });
    expect(same.status).toBe(200);
    expect((same.json as { linked_at: string }).linked_at).toBe((linked.json as { linked_at: string }).linked_at);
  });

  it('unlinks with an admin key (204), after which the tenant gets 404 and another tenant may link it', async () => {
    const agent = newAgent();
    await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminA, { code: (await init(agent)).code.code });
    expect((await withKey(s.baseUrl, 'DELETE', `/v1/agents/${agent.agentId}/link`, adminB, undefined)).status).toBe(404);
    expect((await withKey(s.baseUrl, 'DELETE', `/v1/agents/${agent.agentId}/link`, readA, undefined)).status).toBe(403);
    const gone = await withKey(s.baseUrl, 'DELETE', `/v1/agents/${agent.agentId}/link`, adminA, undefined);
    expect(gone.status).toBe(204);
    expect((await withKey(s.baseUrl, 'GET', `/v1/agent/metrics?agent_id=${agent.agentId}`, readA)).status).toBe(404);
    expect((await withKey(s.baseUrl, 'DELETE', `/v1/agents/${agent.agentId}/link`, adminA, undefined)).status).toBe(404);
    expect((await withKey(s.baseUrl, 'POST', '/v1/link/confirm', adminB, { code: (await init(agent)).code.code })).status).toBe(200);
  });

  it('rate limits confirm attempts per key with 429 and Retry-After', async () => {
    const key = await apiKeyWithScopes(s.pool, 'tenant-c', ['admin']);
    let limited = null;
    for (let i = 0; i < 45 && limited === null; i++) {
      const r = await withKey(s.baseUrl, 'POST', '/v1/link/confirm', key, { code: 'ZZZZ-ZZZZ' });
      if (r.status === 429) limited = r;
    }
    expect(limited).not.toBeNull();
    expect(errorCode(limited as never)).toBe('rate_limited');
    expect(Number(limited?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('GET /v1/agents', () => {
  it('lists the tenant agents most recently seen first, page by page, with the latest balance', async () => {
    const t0 = Date.parse('2026-01-01T00:00:00Z');
    const agents = [];
    for (let i = 0; i < 7; i++) agents.push(await seedAgent(s.pool, 'tenant-list', { lastSeen: new Date(t0 + i * 1000), name: `a${i}` }));
    // Two share a last_seen_at: the agent id breaks the tie.
    const twin = await seedAgent(s.pool, 'tenant-list', { lastSeen: new Date(t0 + 3000) });
    await seedAgent(s.pool, 'tenant-elsewhere');
    const first = agents[6];
    await s.pool.query(
      `INSERT INTO agent_telemetry (time, agent_id, usdc_balance_atomic, sol_balance_lamports) VALUES
         ($2, $1, 1000, 5), ($3, $1, 9223372036854775807, 6)`,
      [first?.agentId, new Date(t0), new Date(t0 + 60_000)],
    );
    const key = await apiKeyWithScopes(s.pool, 'tenant-list', ['read']);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const r = await withKey(s.baseUrl, 'GET', `/v1/agents?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`, key);
      expect(r.status).toBe(200);
      const page = r.json as { data: { agent_id: string; balance: unknown; last_seen_at: string }[]; next_cursor: string | null };
      if (pages === 0) {
        expect(page.data[0]?.agent_id).toBe(first?.agentId);
        expect(page.data[0]?.balance).toEqual({
          usdc_balance_atomic: '9223372036854775807',
          sol_balance_lamports: '6',
          at: new Date(t0 + 60_000).toISOString(),
        });
        expect(page.data[1]?.balance).toBeNull();
      }
      seen.push(...page.data.map((a) => a.agent_id));
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    const expected = [...agents.slice(4).reverse().map((a) => a.agentId), ...[agents[3]?.agentId, twin.agentId].sort().reverse(), ...agents.slice(0, 3).reverse().map((a) => a.agentId)];
    expect(seen).toEqual(expected);
  });
});
