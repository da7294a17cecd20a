/**
 * A live read returns only the rows of the agents and tenants subscribed on its receiver,
 * and each with the id it would have had in a read of every row: ordinals count all of a
 * transaction's rows, wanted or not. Its statements are prepared once per set of wanted ids,
 * and dropped when the stream gives its connection back to the pool.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readLive, releaseLiveReader, type Wanted } from '../../src/stream/log-reader.js';
import { INTERACTIONS, TELEMETRY } from '../../src/stream/stream-sources.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

let d: MigratedDatabase;
const [a1, a2, a3] = ['WantedAgentA111111111111111111111111111111', 'WantedAgentB111111111111111111111111111111', 'WantedAgentC111111111111111111111111111111'];

beforeAll(async () => {
  d = await createMigratedDatabase('stream_wanted');
  await d.pool.query(
    `INSERT INTO agents (pubkey, tenant_id, linked_at, first_seen_at, last_seen_at) VALUES ($1, NULL, NULL, now(), now()), ($2, 'tenant-w', now(), now(), now()), ($3, 'tenant-v', now(), now(), now())`,
    [a1, a2, a3],
  );
});
afterAll(async () => {
  await d?.close();
});

it('reads only wanted agents and tenants, with the ordinals of a read of every row', async () => {
  const c = await d.pool.connect();
  try {
    const from = BigInt((await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]?.x as string) + 1n;
    for (let t = 0; t < 3; t++) {
      // One transaction with the three agents' rows interleaved in key order.
      await c.query(
        `INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, success, latency_ms, stream_xid)
         SELECT '2026-12-01T00:00:00Z'::timestamptz + n * interval '1 ms', (ARRAY[$1, $2, $3])[1 + n % 3], 'v', n, true, 1, txid_current()
         FROM generate_series($4::int, $4::int + 8) AS n`,
        [a1, a2, a3, t * 100],
      );
    }
    await c.query(`INSERT INTO agent_telemetry (time, agent_id, low_balance_warnings, stream_xid) VALUES (now(), $1, 0, txid_current())`, [a3]);
    // Rows are read once every older transaction of the server has ended (other tests' too).
    const read = async (w: Wanted, count: number) => {
      for (let i = 0; ; i++) {
        const rows = (await readLive(c, [INTERACTIONS, TELEMETRY], from, 1_000_000, w)).rows;
        if (rows.length >= count || i > 100) return rows;
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const all = await read({ agents: [a1, a2, a3], tenants: [] }, 28);
    expect(all).toHaveLength(28);
    const ids = (rows: typeof all) => rows.map((r) => `${r.agentId} ${r.position.xid}.${r.position.source}.${r.position.ordinal}`);

    const onlyA2 = await read({ agents: [a2], tenants: [] }, 9);
    expect(onlyA2.map((r) => r.agentId)).toEqual(Array(9).fill(a2));
    expect(ids(onlyA2)).toEqual(ids(all.filter((r) => r.agentId === a2)));

    const tenantV = await read({ agents: [], tenants: ['tenant-v'] }, 10);
    expect(ids(tenantV)).toEqual(ids(all.filter((r) => r.agentId === a3)));
    expect(tenantV.map((r) => r.source.event)).toContain('telemetry');

    const nobody = await readLive(c, [INTERACTIONS, TELEMETRY], from, 1_000_000, { agents: [], tenants: [] });
    expect(nobody.rows).toEqual([]);
    expect(nobody.next).toBeGreaterThan(all.at(-1)?.position.xid as bigint);
  } finally {
    c.release();
  }
});

it('prepares its statements once per wanted set on a connection, and drops those of the set before', async () => {
  const c = await d.pool.connect();
  try {
    const statements = async (): Promise<string[]> =>
      (await c.query<{ name: string }>("SELECT name FROM pg_prepared_statements WHERE name LIKE 'stream\\_live\\_%' ORDER BY name")).rows.map((r) => r.name);
    const from = BigInt((await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]?.x as string);
    const first: Wanted = { agents: [a1], tenants: [] };
    await readLive(c, [INTERACTIONS, TELEMETRY], from, 10, first);
    const prepared = await statements();
    expect(prepared).toHaveLength(2);
    await readLive(c, [INTERACTIONS, TELEMETRY], from, 10, first);
    expect(await statements()).toEqual(prepared);

    // Another set (a new object): new statements in place of the old.
    await c.query(`INSERT INTO agent_telemetry (time, agent_id, low_balance_warnings, stream_xid) VALUES (now(), $1, 0, txid_current())`, [a2]);
    let rows: Awaited<ReturnType<typeof readLive>>['rows'] = [];
    for (let i = 0; rows.length === 0 && i < 100; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 50));
      rows = (await readLive(c, [INTERACTIONS, TELEMETRY], from, 1_000_000, { agents: [], tenants: ['tenant-w'] })).rows;
    }
    expect(rows.map((r) => r.agentId)).toEqual([a2]);
    const now = await statements();
    expect(now).toHaveLength(2);
    expect(now.filter((n) => prepared.includes(n))).toEqual([]);
  } finally {
    c.release();
  }
});

it('gives its connection back to the pool without the statements prepared on it', async () => {
  // One connection, so the client taken again is the same session.
  const pool = new pg.Pool({ connectionString: d.db.url, max: 1 });
  try {
    const session = async (c: pg.PoolClient) =>
      (await c.query<{ pid: number; n: number }>("SELECT pg_backend_pid() AS pid, count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE 'stream\\_live\\_%'")).rows[0];
    const wanted: Wanted = { agents: [a1], tenants: [] };
    const c = await pool.connect();
    const from = BigInt((await c.query<{ x: string }>('SELECT txid_current()::text AS x')).rows[0]?.x as string);
    await readLive(c, [INTERACTIONS, TELEMETRY], from, 10, wanted);
    const before = await session(c);
    expect(before?.n).toBe(2);
    await releaseLiveReader(c);

    const again = await pool.connect();
    try {
      expect(await session(again)).toEqual({ pid: before?.pid, n: 0 });
      // The same wanted set on that connection prepares anew: nothing remembers the dropped ones.
      await readLive(again, [INTERACTIONS, TELEMETRY], from, 10, wanted);
      expect((await session(again))?.n).toBe(2);
    } finally {
      again.release();
    }
  } finally {
    await pool.end();
  }
});
