/** docs/read-api.md §3 history (keyset pages while rows arrive) and balance (≤ 1000 points). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyWithScopes, errorCode, seedAgent, signed, startReadServer, withKey, type ReadServer } from './support.js';

let s: ReadServer;
let key: string;

beforeAll(async () => {
  s = await startReadServer('read_history');
  key = await apiKeyWithScopes(s.pool, 'tenant-h', ['read']);
});

afterAll(async () => {
  await s?.close();
});

interface Row {
  time: string;
  vendor_id: string;
  nonce: string;
  amount_atomic: string | null;
  success: boolean;
}

/** Inserts interactions; `time` as text keeps microseconds. */
async function insertInteractions(agentId: string, rows: { time: string; nonce: bigint; vendor?: string; success?: boolean; amount?: bigint }[]): Promise<void> {
  for (const r of rows) {
    await s.pool.query(
      `INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, success, latency_ms, amount_atomic, request_method)
       VALUES ($1::timestamptz, $2, $3, $4, $5, 10, $6, 'GET')`,
      [r.time, agentId, r.vendor ?? 'v1', r.nonce.toString(), r.success ?? true, (r.amount ?? 1000n).toString()],
    );
  }
}

async function page(agentId: string, query: string): Promise<{ data: Row[]; next_cursor: string | null }> {
  const r = await withKey(s.baseUrl, 'GET', `/v1/agent/history?agent_id=${agentId}${query}`, key);
  expect(r.status).toBe(200);
  return r.json as { data: Row[]; next_cursor: string | null };
}

describe('GET /v1/agent/history', () => {
  it('pages newest first by (time, nonce); rows arriving between pages never repeat or hide an existing row', async () => {
    const agent = await seedAgent(s.pool, 'tenant-h');
    const base = Date.parse('2026-02-01T00:00:00Z');
    const initial = [];
    for (let i = 0; i < 130; i++) {
      // Groups of three share a millisecond, two of them differ only in microseconds, and nonces are not in time order.
      const ms = new Date(base + Math.floor(i / 3) * 1000).toISOString().slice(0, 23);
      initial.push({ time: `${ms}${i % 3 === 2 ? '001' : '000'}Z`, nonce: BigInt(1_000_000 - i * 7) + (i % 2 === 0 ? 2n ** 62n : 0n) });
    }
    await insertInteractions(agent.agentId, initial);
    const seen: Row[] = [];
    let cursor: string | null = null;
    let n = 0;
    do {
      const p = await page(agent.agentId, `&limit=50${cursor === null ? '' : `&cursor=${cursor}`}`);
      seen.push(...p.data);
      cursor = p.next_cursor;
      // New rows arrive: newer than everything, and late ones older than the cursor.
      await insertInteractions(agent.agentId, [
        { time: new Date(base + 500_000 + n).toISOString(), nonce: BigInt(5_000_000 + n) },
        { time: new Date(base - 1000 - n).toISOString(), nonce: BigInt(6_000_000 + n) },
      ]);
      n++;
    } while (cursor !== null);
    const keys = seen.map((r) => `${r.time}/${r.nonce}`);
    expect(keys.filter((k, i) => keys.indexOf(k) !== i)).toEqual([]);
    for (const r of initial) {
      const t = r.time.endsWith('000Z') ? `${r.time.slice(0, -4)}Z` : r.time;
      expect(keys.filter((k) => k === `${t}/${r.nonce}`)).toHaveLength(1);
    }
    // Newest first: time descending, then nonce descending.
    for (let i = 1; i < seen.length; i++) {
      const a = seen[i - 1] as Row;
      const b = seen[i] as Row;
      const at = a.time.replace('Z', '').padEnd(26, '0');
      const bt = b.time.replace('Z', '').padEnd(26, '0');
      expect(at > bt || (at === bt && BigInt(a.nonce) > BigInt(b.nonce))).toBe(true);
    }
    // Times keep their microseconds when they have them.
    expect(seen.some((r) => r.time === '2026-02-01T00:00:00.000001Z')).toBe(true);
    expect(seen[seen.length - 1]?.amount_atomic).toBe('1000');
  });

  it('filters by vendor, success and window, and rejects a forged cursor', async () => {
    const agent = await seedAgent(s.pool, 'tenant-h');
    await insertInteractions(agent.agentId, [
      { time: '2026-02-02T10:00:00Z', nonce: 1n, vendor: 'a', success: true, amount: 9_223_372_036_854_775_807n },
      { time: '2026-02-02T11:00:00Z', nonce: 2n, vendor: 'b', success: false },
      { time: '2026-02-02T12:00:00Z', nonce: 3n, vendor: 'a', success: false },
    ]);
    expect((await page(agent.agentId, '&vendor_id=a')).data.map((r) => r.nonce)).toEqual(['3', '1']);
    expect((await page(agent.agentId, '&success=false')).data.map((r) => r.nonce)).toEqual(['3', '2']);
    const w = await page(agent.agentId, '&from=2026-02-02T10:30:00Z&to=2026-02-02T12:00:00Z');
    expect(w.data.map((r) => r.nonce)).toEqual(['2']);
    expect((await page(agent.agentId, '&vendor_id=a&success=true')).data[0]?.amount_atomic).toBe('9223372036854775807');
    const forged = Buffer.from(JSON.stringify(['2026-02-02T10:00:00.000000Z', '99999999999999999999'])).toString('base64url');
    const r = await withKey(s.baseUrl, 'GET', `/v1/agent/history?agent_id=${agent.agentId}&cursor=${forged}`, key);
    expect(r.status).toBe(400);
    expect(errorCode(r)).toBe('invalid_query');
    expect(errorCode(await withKey(s.baseUrl, 'GET', `/v1/agent/history?agent_id=${agent.agentId}&success=yes`, key))).toBe('invalid_query');
  });

  it('serves the agent its own history, signed', async () => {
    const agent = await seedAgent(s.pool, null);
    await insertInteractions(agent.agentId, [{ time: '2026-02-03T00:00:00Z', nonce: 42n }]);
    const r = await signed(s.baseUrl, 'GET', '/v1/agent/history?limit=1', agent);
    expect(r.status).toBe(200);
    expect((r.json as { data: Row[] }).data[0]?.nonce).toBe('42');
  });
});

describe('GET /v1/agent/balance', () => {
  const from = Date.parse('2026-01-10T00:00:00Z');
  const to = Date.parse('2026-01-11T00:00:00Z');
  const window = `&from=${new Date(from).toISOString()}&to=${new Date(to).toISOString()}`;

  async function snapshots(agentId: string, times: number[]): Promise<void> {
    await s.pool.query(
      `INSERT INTO agent_telemetry (time, agent_id, usdc_balance_atomic, sol_balance_lamports)
       SELECT to_timestamp(t / 1000.0), $1, (t / 1000)::bigint, 7 FROM unnest($2::bigint[]) AS t`,
      [agentId, times],
    );
  }

  it('returns every snapshot oldest first when there are at most 1000', async () => {
    const agent = await seedAgent(s.pool, 'tenant-h');
    await snapshots(agent.agentId, [from - 1, from, from + 5000, to - 1, to]);
    const r = await withKey(s.baseUrl, 'GET', `/v1/agent/balance?agent_id=${agent.agentId}${window}`, key);
    expect(r.status).toBe(200);
    const points = (r.json as { points: { time: string; usdc_balance_atomic: string }[] }).points;
    expect(points.map((p) => Date.parse(p.time))).toEqual([from, from + 5000, to - 1]);
    expect(points[0]?.usdc_balance_atomic).toBe(String(from / 1000));
  });

  it('past 1000 snapshots, the last one of each of 1000 equal slices', async () => {
    const agent = await seedAgent(s.pool, 'tenant-h');
    const times: number[] = [];
    // Every 30 s for a day: 2880 snapshots, some slices holding two and some three.
    for (let t = from; t < to; t += 30_000) times.push(t);
    await snapshots(agent.agentId, times);
    const r = await withKey(s.baseUrl, 'GET', `/v1/agent/balance?agent_id=${agent.agentId}${window}`, key);
    const points = (r.json as { points: { time: string }[] }).points.map((p) => Date.parse(p.time));
    const span = to - from;
    const expected = new Map<number, number>();
    for (const t of times) expected.set(Math.floor(((t - from) * 1000) / span), t);
    expect(points).toEqual([...expected.values()]);
    expect(points.length).toBeLessThanOrEqual(1000);
    expect(points.length).toBeGreaterThan(900);
  });
});
