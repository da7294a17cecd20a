/**
 * rollup_pending against the real PostgreSQL: a batch's tallies live and die with its
 * transaction, carry exact figures (spend past 2^53, every latency), and the staged path's
 * statement tallies exactly the rows its INSERT inserted, not those it skipped.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { copyQuery } from '../../src/sinks/postgres/copy-query.js';
import { PENDING_TALLY_COPY, PendingTallyError, pendingTallyCopyRows, stagedPendingSql, writePendingTallies } from '../../src/rollups/pending-tallies.js';
import { agentGroup, gatewayGroup, migratedPool, MINUTE } from './support.js';

const M0 = Date.UTC(2026, 2, 3, 10, 7, 0);
const BIG = 2n ** 60n + 12345n;

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('pending_tallies');
  pool = await migratedPool(db.url, 4);
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

interface PendingRow {
  kind: string;
  tenant_id: string;
  entity_id: string;
  vendor_id: string;
  minute_ms: string;
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  spend: string;
  latency_sum_ms: string;
  max_latency_ms: number | null;
  latencies: number[] | null;
}

async function pending(entityPrefix: string): Promise<PendingRow[]> {
  const r = await pool.query<PendingRow>(
    `SELECT kind, tenant_id, entity_id, vendor_id, (extract(epoch FROM minute) * 1000)::bigint::text AS minute_ms, total_requests,
            successful_requests, failed_requests, total_spend_atomic::text AS spend, latency_sum_ms::text, max_latency_ms, latencies
     FROM rollup_pending WHERE entity_id LIKE $1 || '%' ORDER BY kind, tenant_id, entity_id, vendor_id, minute, id`,
    [entityPrefix],
  );
  return r.rows;
}

async function inTransaction(work: (c: pg.PoolClient) => Promise<void>, commit: boolean): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    await work(c);
    await c.query(commit ? 'COMMIT' : 'ROLLBACK');
  } finally {
    c.release();
  }
}

describe('writePendingTallies', () => {
  it('writes every group with exact figures, and nothing when its transaction rolls back', async () => {
    const groups = [
      agentGroup('wa-1', 'v1', M0, [5, 9, 3000], { failures: 1, spend: BIG }),
      agentGroup('wa-1', 'v2', M0 + MINUTE, [1], { spend: 0n }),
      gatewayGroup('tenant-x', 'wa-gw', 'v1', M0, [0, 7, 70000], 2),
      // A spend-only tally (no latency) is legal: its max stays NULL.
      { ...agentGroup('wa-2', "v'3", M0, []), spendAtomic: 0n },
    ];
    await inTransaction((c) => writePendingTallies(c, groups), false);
    expect(await pending('wa-')).toEqual([]);

    await inTransaction((c) => writePendingTallies(c, groups), true);
    const rows = await pending('wa-');
    expect(rows).toEqual([
      { kind: 'agent', tenant_id: '', entity_id: 'wa-1', vendor_id: 'v1', minute_ms: String(M0), total_requests: 3, successful_requests: 2,
        failed_requests: 1, spend: BIG.toString(), latency_sum_ms: '3014', max_latency_ms: 3000, latencies: [5, 9, 3000] },
      { kind: 'agent', tenant_id: '', entity_id: 'wa-1', vendor_id: 'v2', minute_ms: String(M0 + MINUTE), total_requests: 1,
        successful_requests: 1, failed_requests: 0, spend: '0', latency_sum_ms: '1', max_latency_ms: 1, latencies: [1] },
      { kind: 'agent', tenant_id: '', entity_id: 'wa-2', vendor_id: "v'3", minute_ms: String(M0), total_requests: 0,
        successful_requests: 0, failed_requests: 0, spend: '0', latency_sum_ms: '0', max_latency_ms: null, latencies: null },
      { kind: 'gateway', tenant_id: 'tenant-x', entity_id: 'wa-gw', vendor_id: 'v1', minute_ms: String(M0), total_requests: 3,
        successful_requests: 1, failed_requests: 2, spend: '3000', latency_sum_ms: '70007', max_latency_ms: 70000, latencies: [0, 7, 70000] },
    ]);
  });

  it('refuses a group whose numbers do not add up, so the batch fails as a whole', async () => {
    const bad = { ...agentGroup('wb-1', 'v1', M0, [1, 2]), requests: 3 };
    await expect(inTransaction((c) => writePendingTallies(c, [bad]), true)).rejects.toBeInstanceOf(PendingTallyError);
    const negative = agentGroup('wb-2', 'v1', M0, [1, -2]);
    await expect(inTransaction((c) => writePendingTallies(c, [negative]), true)).rejects.toMatchObject({ code: 'ROLLUP_INVALID_GROUP' });
    expect(await pending('wb-')).toEqual([]);
  });

  it('keeps 300 groups of 5,000 rows apart (each group its own slice of latencies)', async () => {
    const groups = Array.from({ length: 300 }, (_, i) =>
      agentGroup(`wc-${String(i).padStart(3, '0')}`, `v${i % 3}`, M0, Array.from({ length: i % 33 + 1 }, (_, k) => i * 100 + k)),
    );
    await inTransaction((c) => writePendingTallies(c, groups), true);
    const rows = await pending('wc-');
    expect(rows).toHaveLength(300);
    for (const [i, r] of rows.entries()) {
      expect(r.latencies).toEqual(groups[i]?.latencies);
      expect(r.total_requests).toBe(groups[i]?.requests);
    }
  });
});

describe('pendingTallyCopyRows', () => {
  it('COPYs the very rows writePendingTallies inserts, every column, and refuses what it refuses', async () => {
    const groups = (prefix: string) => [
      agentGroup(`${prefix}1`, 'v1', M0, [5, 9, 3000], { failures: 1, spend: BIG }),
      agentGroup(`${prefix}1`, 'v\\2\ttab\nline\r', M0 + MINUTE, [1], { spend: 0n }),
      { ...gatewayGroup('tenant-x', `${prefix}gw`, 'v1', M0, [0, 7, 70000, 12], 2), status2xx: 1, status3xx: 1, status4xx: 1, status5xx: 1, paymentsVerified: 3 },
      { ...agentGroup(`${prefix}2`, "v'3", M0, []), spendAtomic: 0n },
    ];
    await inTransaction((c) => writePendingTallies(c, groups('wd-i')), true);
    await inTransaction((c) => copyQuery(c, [{ sql: PENDING_TALLY_COPY, chunks: [pendingTallyCopyRows(groups('wd-c'))], format: 'text' }]), true);
    const all = async (prefix: string) =>
      (
        await pool.query<Record<string, unknown>>(
          `SELECT to_jsonb(p) - 'id' - 'created_at' - 'entity_id' AS r, entity_id FROM rollup_pending p WHERE entity_id LIKE $1 || '%' ORDER BY kind, entity_id, vendor_id, minute`,
          [prefix],
        )
      ).rows.map((row) => ({ ...(row.r as object), entity: String(row.entity_id).slice(prefix.length) }));
    const inserted = await all('wd-i');
    expect(inserted).toHaveLength(4);
    expect(await all('wd-c')).toEqual(inserted);

    expect(() => pendingTallyCopyRows([{ ...agentGroup('wd-x', 'v1', M0, [1, 2]), requests: 3 }])).toThrow(PendingTallyError);
    expect(() => pendingTallyCopyRows([agentGroup('wd-x', 'v1', M0, [1, NaN])])).toThrow(PendingTallyError);
  });
});

describe('stagedPendingSql', () => {
  it('tallies exactly the rows the staged INSERT inserted, in the same statement', async () => {
    const c = await pool.connect();
    try {
      await c.query("SET TIME ZONE 'Asia/Kolkata'"); // a +05:30 session: minutes are still cut in UTC
      await c.query('CREATE TEMP TABLE stage_ai (LIKE agent_interactions INCLUDING DEFAULTS)');
      await c.query('CREATE TEMP TABLE stage_gw (LIKE gateway_telemetry INCLUDING DEFAULTS)');
      const t0 = new Date(M0 + 1_500).toISOString();
      const t1 = new Date(M0 + 61_000).toISOString();
      // One row already stored with its key: its duplicate in the stage is not inserted and not counted.
      await c.query(
        `INSERT INTO agent_interactions (time, agent_id, vendor_id, amount_atomic, nonce, success, latency_ms) VALUES ($1, 'ws-1', 'v1', 5, 1, true, 10)`,
        [t0],
      );
      await c.query(`INSERT INTO agent_interaction_keys (agent_id, nonce, time) VALUES ('ws-1', 1, $1)`, [t0]);
      await c.query(
        `INSERT INTO stage_ai (time, agent_id, vendor_id, amount_atomic, nonce, success, latency_ms) VALUES
           ($1, 'ws-1', 'v1', 5, 1, true, 10), ($1, 'ws-1', 'v1', 9223372036854775807, 2, false, 20),
           ($1, 'ws-1', 'v1', 9223372036854775807, 3, true, 30), ($1, 'ws-1', 'v1', NULL, 4, true, 40), ($2, 'ws-1', 'v1', 1, 5, true, 50)`,
        [t0, t1],
      );
      await c.query(
        `INSERT INTO stage_gw (time, tenant_id, event_source, event_id, gateway_id, vendor_id, route, method, status_code, latency_ms, amount_atomic)
         VALUES ($1, 'tt', 's', 'e1', 'ws-gw', 'v1', '/', 'GET', 200, 11, 2), ($1, 'tt', 's', 'e2', 'ws-gw', 'v1', '/', 'GET', 502, 13, NULL)`,
        [t0],
      );
      const cols = 'time, agent_id, vendor_id, amount_atomic, nonce, success, latency_ms';
      const gcols = 'time, tenant_id, event_source, event_id, gateway_id, vendor_id, route, method, status_code, latency_ms, amount_atomic';
      // agent_interactions has no unique index of its own (schema 014): a stored key is what skips a row.
      const ai = stagedPendingSql(
        'agent_interactions',
        `INSERT INTO agent_interactions (${cols}) SELECT ${cols} FROM stage_ai s
          WHERE NOT EXISTS (SELECT 1 FROM agent_interaction_keys k WHERE k.agent_id = s.agent_id AND k.nonce = s.nonce)`,
      );
      const gw = stagedPendingSql('gateway_telemetry', `INSERT INTO gateway_telemetry (${gcols}) SELECT ${gcols} FROM stage_gw ON CONFLICT DO NOTHING`);

      await c.query('BEGIN');
      await c.query(ai);
      await c.query('ROLLBACK');
      expect(await pending('ws-')).toEqual([]);

      await c.query('BEGIN');
      await c.query(`${ai};\n${gw};\nCOMMIT`);
    } finally {
      c.release();
    }
    const rows = await pending('ws-');
    const sorted = rows.map((r) => ({ ...r, latencies: [...(r.latencies ?? [])].sort((a, b) => a - b) }));
    expect(sorted).toEqual([
      { kind: 'agent', tenant_id: '', entity_id: 'ws-1', vendor_id: 'v1', minute_ms: String(M0), total_requests: 3, successful_requests: 2,
        failed_requests: 1, spend: (2n * (2n ** 63n - 1n)).toString(), latency_sum_ms: '90', max_latency_ms: 40, latencies: [20, 30, 40] },
      { kind: 'agent', tenant_id: '', entity_id: 'ws-1', vendor_id: 'v1', minute_ms: String(M0 + MINUTE), total_requests: 1,
        successful_requests: 1, failed_requests: 0, spend: '1', latency_sum_ms: '50', max_latency_ms: 50, latencies: [50] },
      { kind: 'gateway', tenant_id: 'tt', entity_id: 'ws-gw', vendor_id: 'v1', minute_ms: String(M0), total_requests: 2,
        successful_requests: 1, failed_requests: 1, spend: '2', latency_sum_ms: '24', max_latency_ms: 13, latencies: [11, 13] },
    ]);
  });
});
