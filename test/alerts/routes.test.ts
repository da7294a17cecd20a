/**
 * GET /v1/agent/alerts and POST /v1/agent/alerts/{id}/ack end to end over HTTP
 * (docs/read-api.md §5, with §1's principals and the conventions' paging and validation).
 */
import uWS from 'uWebSockets.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAlertRoutes, type Alert, type AlertPage } from '../../src/alerts/index.js';
import type { TestAgent } from '../helpers/agent.js';
import { apiKeyWithScopes, errorCode, errorMessage, signed, withKey } from '../read/support.js';
import { linkedAgent, openAlertDatabase, setSettings, silentLog, type AlertDatabase } from './support.js';

let adb: AlertDatabase;
let base: string;
let socket: uWS.us_listen_socket;
let readKey: string;
let otherKey: string;
let ingestKey: string;

beforeAll(async () => {
  adb = await openAlertDatabase('alerts_routes');
  const app = uWS.App();
  registerAlertRoutes(app, { pool: adb.pool, log: silentLog });
  socket = await new Promise<uWS.us_listen_socket>((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s === false ? reject(new Error('did not listen')) : resolve(s))),
  );
  base = `http://127.0.0.1:${uWS.us_socket_local_port(socket)}`;
  readKey = await apiKeyWithScopes(adb.pool, 'tenant-a', ['read']);
  otherKey = await apiKeyWithScopes(adb.pool, 'tenant-b', ['read', 'admin']);
  ingestKey = await apiKeyWithScopes(adb.pool, 'tenant-a', ['ingest']);
});
afterAll(async () => {
  uWS.us_listen_socket_close(socket);
  await adb?.close();
});

/** An alert row as the evaluator leaves it (fired at `firedAt`, resolved at `resolvedAt` when given). */
async function alertRow(agentId: string, tenant: string, type: string, firedAt: string, resolvedAt: string | null = null): Promise<string> {
  const { rows } = await adb.pool.query<{ id: string }>(
    `INSERT INTO agent_alerts (agent_id, tenant_id, type, severity, state, message, data, fired_at, resolved_at)
     VALUES ($1, $2, $3, 'warning', $4, 'm', '{"x": "1"}', $5, $6) RETURNING id::text`,
    [agentId, tenant, type, resolvedAt === null ? 'firing' : 'resolved', firedAt, resolvedAt],
  );
  return (rows[0] as { id: string }).id;
}

async function pageAll(agent: TestAgent, query: string, limit: number): Promise<Alert[]> {
  const out: Alert[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 100; i++) {
    const q = `/v1/agent/alerts?agent_id=${agent.agentId}&limit=${limit}${query}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const r = await withKey(base, 'GET', q, readKey);
    expect(r.status).toBe(200);
    const page = r.json as AlertPage;
    expect(page.data.length).toBeLessThanOrEqual(limit);
    out.push(...page.data);
    cursor = page.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('paging did not end');
}

describe('GET /v1/agent/alerts', () => {
  it('pages newest first through every alert once, rows of one instant included', async () => {
    const agent = await linkedAgent(adb.pool, 'tenant-a');
    const ids: string[] = [];
    // 17 alerts, three of them fired in the same microsecond.
    for (let i = 0; i < 14; i++) ids.push(await alertRow(agent.agentId, 'tenant-a', 'low_balance', `2026-12-0${1 + (i % 6)}T10:00:${String(10 + i)}.123456Z`, `2026-12-06T11:00:00Z`));
    for (let i = 0; i < 3; i++) ids.push(await alertRow(agent.agentId, 'tenant-a', 'runway', '2026-12-06T12:00:00.5Z', '2026-12-06T13:00:00Z'));
    const all = await pageAll(agent, '', 2); // the three of one instant straddle the first page's end
    expect(all.map((a) => a.id).sort()).toEqual([...ids].sort());
    const order = all.map((a) => [Date.parse(a.fired_at), a.id] as const);
    for (let i = 1; i < order.length; i++) {
      const [t0, id0] = order[i - 1] as readonly [number, string];
      const [t1, id1] = order[i] as readonly [number, string];
      expect(t0 > t1 || (t0 === t1 && id0 > id1)).toBe(true);
    }
    expect(all[0]).toMatchObject({ agent_id: agent.agentId, type: 'runway', severity: 'warning', state: 'resolved', fired_at: '2026-12-06T12:00:00.500Z', resolved_at: '2026-12-06T13:00:00.000Z', acknowledged_at: null, data: { x: '1' } });
    expect(all.find((a) => a.type === 'low_balance')?.fired_at).toMatch(/\.123456Z$/);
    // The default page is 50.
    const first = await withKey(base, 'GET', `/v1/agent/alerts?agent_id=${agent.agentId}`, readKey);
    expect((first.json as AlertPage).data).toHaveLength(17);
    expect((first.json as AlertPage).next_cursor).toBeNull();
  });

  it('filters by state', async () => {
    const agent = await linkedAgent(adb.pool, 'tenant-a');
    const open = await alertRow(agent.agentId, 'tenant-a', 'low_balance', '2026-12-07T10:00:00Z');
    const closed = await alertRow(agent.agentId, 'tenant-a', 'low_balance', '2026-12-07T09:00:00Z', '2026-12-07T09:30:00Z');
    const ids = async (q: string) => (await pageAll(agent, q, 1)).map((a) => a.id);
    expect(await ids('&state=firing')).toEqual([open]);
    expect(await ids('&state=resolved')).toEqual([closed]);
    expect(await ids('&state=all')).toEqual([open, closed]);
    expect(await ids('')).toEqual([open, closed]);
  });

  it('shows a tenant only its agents and the alerts raised for it; an agent its own', async () => {
    const agent = await linkedAgent(adb.pool, 'tenant-a');
    const mine = await alertRow(agent.agentId, 'tenant-a', 'low_balance', '2026-12-07T10:00:00Z', '2026-12-07T10:05:00Z');
    // Raised while the agent was linked to tenant-b, before it moved to tenant-a.
    const earlier = await alertRow(agent.agentId, 'tenant-b', 'runway', '2026-12-01T10:00:00Z', '2026-12-01T10:05:00Z');
    const byKey = await withKey(base, 'GET', `/v1/agent/alerts?agent_id=${agent.agentId}`, readKey);
    expect((byKey.json as AlertPage).data.map((a) => a.id)).toEqual([mine]);
    const other = await withKey(base, 'GET', `/v1/agent/alerts?agent_id=${agent.agentId}`, otherKey);
    expect([other.status, errorCode(other)]).toEqual([404, 'not_found']);
    const self = await signed(base, 'GET', '/v1/agent/alerts', agent);
    expect(self.status).toBe(200);
    expect((self.json as AlertPage).data.map((a) => a.id)).toEqual([mine, earlier]);
    const stranger = await linkedAgent(adb.pool, 'tenant-a');
    const peeking = await signed(base, 'GET', `/v1/agent/alerts?agent_id=${agent.agentId}`, stranger);
    expect([peeking.status, errorCode(peeking)]).toEqual([404, 'not_found']);
  });

  it('refuses bad queries with 400 invalid_query naming the parameter, and keys without read', async () => {
    const agent = await linkedAgent(adb.pool, 'tenant-a');
    const path = `/v1/agent/alerts?agent_id=${agent.agentId}`;
    for (const [query, param] of [
      ['&state=open', 'state'],
      ['&limit=0', 'limit'],
      ['&limit=501', 'limit'],
      ['&limit=ten', 'limit'],
      ['&cursor=bm90LWEtY3Vyc29y', 'cursor'],
      ['&cursor=%5B%5D', 'cursor'],
      ['&severity=critical', 'severity'],
      ['&state=firing&state=resolved', 'state'],
    ] as const) {
      const r = await withKey(base, 'GET', path + query, readKey);
      expect([query, r.status, errorCode(r)]).toEqual([query, 400, 'invalid_query']);
      expect(errorMessage(r)).toContain(`'${param}'`);
    }
    const noAgent = await withKey(base, 'GET', '/v1/agent/alerts', readKey);
    expect([noAgent.status, errorCode(noAgent)]).toEqual([400, 'invalid_query']);
    expect(errorMessage(noAgent)).toContain("'agent_id'");
    expect((await withKey(base, 'GET', path + '&limit=500', readKey)).status).toBe(200);
    const ingest = await withKey(base, 'GET', path, ingestKey);
    expect([ingest.status, errorCode(ingest)]).toEqual([403, 'forbidden']);
    expect((await withKey(base, 'GET', path, null)).status).toBe(401);
    expect((await withKey(base, 'DELETE', path, readKey)).status).toBe(405);
  });
});

describe('POST /v1/agent/alerts/{id}/ack', () => {
  it('sets acknowledged_at once and returns the alert', async () => {
    const agent = await linkedAgent(adb.pool, 'tenant-a');
    const id = await alertRow(agent.agentId, 'tenant-a', 'low_balance', '2026-12-07T10:00:00Z');
    const before = Date.now();
    const ack = await withKey(base, 'POST', `/v1/agent/alerts/${id}/ack`, readKey);
    expect(ack.status).toBe(200);
    const alert = ack.json as Alert;
    expect(alert).toMatchObject({ id, agent_id: agent.agentId, state: 'firing', type: 'low_balance' });
    expect(Date.parse(alert.acknowledged_at as string)).toBeGreaterThanOrEqual(before - 1000);
    // Again, by the agent itself this time: the first instant stays.
    const again = await signed(base, 'POST', `/v1/agent/alerts/${id}/ack`, agent, { body: {} });
    expect(again.status).toBe(200);
    expect((again.json as Alert).acknowledged_at).toBe(alert.acknowledged_at);
    const listed = await withKey(base, 'GET', `/v1/agent/alerts?agent_id=${agent.agentId}`, readKey);
    expect((listed.json as AlertPage).data[0]?.acknowledged_at).toBe(alert.acknowledged_at);
  });

  it("answers 404 for another tenant's alert, another agent's, an unknown id and one that is not a UUID", async () => {
    const agent = await linkedAgent(adb.pool, 'tenant-a');
    const id = await alertRow(agent.agentId, 'tenant-a', 'runway', '2026-12-07T10:00:00Z');
    const stranger = await linkedAgent(adb.pool, 'tenant-a');
    for (const r of [
      await withKey(base, 'POST', `/v1/agent/alerts/${id}/ack`, otherKey),
      await signed(base, 'POST', `/v1/agent/alerts/${id}/ack`, stranger, { body: {} }),
      await withKey(base, 'POST', `/v1/agent/alerts/${crypto.randomUUID()}/ack`, readKey),
      await withKey(base, 'POST', '/v1/agent/alerts/not-a-uuid/ack', readKey),
    ]) {
      expect([r.status, errorCode(r)]).toEqual([404, 'not_found']);
    }
    const { rows } = await adb.pool.query('SELECT acknowledged_at FROM agent_alerts WHERE id = $1', [id]);
    expect(rows[0]).toEqual({ acknowledged_at: null });
  });

  it('a tenant cannot acknowledge an alert of an agent that left it', async () => {
    const agent = await linkedAgent(adb.pool, 'tenant-a');
    const id = await alertRow(agent.agentId, 'tenant-a', 'runway', '2026-12-07T10:00:00Z');
    await setSettings(adb.pool, agent.agentId, { tenant_id: null });
    const r = await withKey(base, 'POST', `/v1/agent/alerts/${id}/ack`, readKey);
    expect([r.status, errorCode(r)]).toEqual([404, 'not_found']);
  });
});
