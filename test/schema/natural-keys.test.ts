import { copyFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COPY_COLUMNS } from '../../src/codec/index.js';
import { migrate, SCHEMA_DIR } from '../../src/database/index.js';
import { bearer, gatewayEvent, postEvents, encodeJsonBatch } from '../helpers/agent.js';
import { createTestDatabase, query, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { createApiKey } from '../observability/traffic.js';

/**
 * docs/protocol.md §5: (agent_id, nonce) holds whatever the time, and a gateway event's
 * (source, id) is scoped to its tenant. Migration 008 moves stored data to those keys; the
 * statements the COPY sink runs with them (both paths) keep them on a real PostgreSQL.
 */

const COLS = COPY_COLUMNS.agent_interactions.join(', ');
const STAGE = 'stage_agent_interactions';
/** The sink's direct path with the key table: a repeated key raises unique_violation. */
const DIRECT = [
  `INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM ${STAGE}`,
  `INSERT INTO agent_interactions (${COLS}) SELECT ${COLS} FROM ${STAGE}`,
].join(';\n');
/** The careful path: keep only the staged rows whose key this transaction inserted, one per key
 *  (agent_interactions has no unique index of its own since 014). */
const CAREFUL = [
  `WITH k AS (INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM ${STAGE} ORDER BY agent_id, nonce, time ON CONFLICT DO NOTHING RETURNING agent_id, nonce, time)
   DELETE FROM ${STAGE} s WHERE NOT EXISTS (SELECT 1 FROM k WHERE k.agent_id = s.agent_id AND k.nonce = s.nonce AND k.time = s.time)`,
  `INSERT INTO agent_interactions (${COLS}) SELECT DISTINCT ON (agent_id, nonce) ${COLS} FROM ${STAGE} ORDER BY agent_id, nonce, time`,
].join(';\n');

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  db = await createTestDatabase('natural_keys');
  pool = new pg.Pool({ connectionString: db.url, max: 3 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

async function interactionRow(c: pg.ClientBase, table: string, agent: string, nonce: number, time: string): Promise<void> {
  await c.query(`INSERT INTO ${table} (time, agent_id, vendor_id, nonce, success, latency_ms) VALUES ($1, $2, 'v', $3, true, 1)`, [time, agent, nonce]);
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await pool.query<{ n: string }>(sql, params)).rows[0]?.n);
}

/** Stages `rows` and runs `sql` in one transaction on its own connection. */
async function write(sql: string, rows: [string, number, string][]): Promise<void> {
  const c = await pool.connect();
  try {
    await c.query(`CREATE TEMP TABLE IF NOT EXISTS ${STAGE} (LIKE agent_interactions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`);
    await c.query('BEGIN');
    try {
      for (const [agent, nonce, time] of rows) await interactionRow(c, STAGE, agent, nonce, time);
      await c.query(sql);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK');
      throw err;
    }
  } finally {
    c.release();
  }
}

describe('migration 008', () => {
  it('keeps the earliest of stored resends, fills the key table and scopes gateway keys by tenant', async () => {
    // Migrate to 007 first, store what v1 allowed, then apply 008.
    const before = await mkdtemp(join(tmpdir(), 'machpay-schema-'));
    for (const f of await readdir(SCHEMA_DIR)) if (/^00[1-7]_/.test(f)) await copyFile(new URL(f, SCHEMA_DIR), join(before, f));
    const c = await pool.connect();
    try {
      await migrate(c, pathToFileURL(`${before}/`));
      await interactionRow(c, 'agent_interactions', 'agent-a', 1, '2026-03-01T00:00:00Z');
      await interactionRow(c, 'agent_interactions', 'agent-a', 1, '2026-03-01T00:05:00Z');
      await interactionRow(c, 'agent_interactions', 'agent-a', 1, '2026-02-28T23:59:00Z');
      await interactionRow(c, 'agent_interactions', 'agent-a', 2, '2026-03-01T00:05:00Z');
      await interactionRow(c, 'agent_interactions', 'agent-b', 1, '2026-03-01T00:05:00Z');
      await c.query(
        `INSERT INTO gateway_telemetry (time, tenant_id, event_source, event_id, gateway_id, vendor_id, route, method, status_code, latency_ms)
         VALUES (now(), 'tenant-a', 'https://gw/1', 'e1', 'gw', 'v', '/r', 'GET', 200, 1)`,
      );
      const applied = await migrate(c);
      expect(applied.applied[0]).toBe('008_natural_keys');
    } finally {
      c.release();
      await rm(before, { recursive: true, force: true });
    }

    const rows = await pool.query<{ agent_id: string; nonce: string; time: Date }>('SELECT agent_id, nonce, time FROM agent_interactions ORDER BY agent_id, nonce');
    expect(rows.rows.map((r) => [r.agent_id, r.nonce, r.time.toISOString()])).toEqual([
      ['agent-a', '1', '2026-02-28T23:59:00.000Z'],
      ['agent-a', '2', '2026-03-01T00:05:00.000Z'],
      ['agent-b', '1', '2026-03-01T00:05:00.000Z'],
    ]);
    const keys = await pool.query<{ agent_id: string; nonce: string; time: Date }>('SELECT agent_id, nonce, time FROM agent_interaction_keys ORDER BY agent_id, nonce');
    expect(keys.rows.map((r) => [r.agent_id, r.nonce, r.time.toISOString()])).toEqual(rows.rows.map((r) => [r.agent_id, r.nonce, r.time.toISOString()]));
    const pk = await pool.query<{ def: string }>("SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'gateway_telemetry_pkey'");
    expect(pk.rows[0]?.def).toBe('PRIMARY KEY (tenant_id, event_source, event_id)');
    // 014: the key table is agent_interactions' only uniqueness, on the parent and every partition.
    const unique = await pool.query(
      `SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indisunique AND indrelid IN
         (SELECT 'agent_interactions'::regclass UNION ALL SELECT inhrelid FROM pg_inherits WHERE inhparent = 'agent_interactions'::regclass)`,
    );
    expect(unique.rows).toEqual([]);
  });
});

describe('the COPY statements with the key table', () => {
  it('direct path: a resend of a nonce at another time raises unique_violation (the sink redoes it carefully)', async () => {
    await write(DIRECT, [['agent-d', 1, '2026-03-02T00:00:00Z']]);
    await expect(write(DIRECT, [['agent-d', 1, '2026-03-02T00:00:01Z']])).rejects.toMatchObject({ code: '23505' });
    await expect(write(DIRECT, [['agent-d', 2, '2026-03-02T00:00:00Z'], ['agent-d', 2, '2026-03-02T00:00:09Z']])).rejects.toMatchObject({ code: '23505' });
    expect(await count("SELECT count(*) AS n FROM agent_interactions WHERE agent_id = 'agent-d'")).toBe(1);
  });

  it('careful path: stores each (agent_id, nonce) once, whatever the times in the batch or already stored', async () => {
    await write(CAREFUL, [
      ['agent-e', 1, '2026-03-03T00:00:00Z'],
      ['agent-e', 1, '2026-03-03T00:00:00Z'],
      ['agent-e', 1, '2026-03-03T00:00:07Z'],
      ['agent-e', 2, '2026-03-03T00:00:00Z'],
    ]);
    await write(CAREFUL, [
      ['agent-e', 1, '2026-03-01T00:00:00Z'],
      ['agent-e', 2, '2026-03-03T00:00:00Z'],
      ['agent-e', 3, '2026-03-03T00:00:00Z'],
    ]);
    const rows = await pool.query<{ nonce: string }>("SELECT nonce FROM agent_interactions WHERE agent_id = 'agent-e' ORDER BY nonce");
    expect(rows.rows.map((r) => r.nonce)).toEqual(['1', '2', '3']);
    expect(await count("SELECT count(*) AS n FROM agent_interaction_keys WHERE agent_id = 'agent-e'")).toBe(3);
  });

  it('careful path: two transactions storing one nonce at different times at once store it once', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 6 }, (_, i) => write(CAREFUL, [['agent-f', 1, `2026-03-04T00:00:0${i}Z`]])),
    );
    expect(results.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(await count("SELECT count(*) AS n FROM agent_interactions WHERE agent_id = 'agent-f'")).toBe(1);
  });
});

describe('gateway keys per tenant, through the receiver', () => {
  let rx: RunningReceiver;
  let gdb: TestDatabase;

  beforeAll(async () => {
    gdb = await createTestDatabase('natural_keys_rx');
    rx = await startReceiver({ DATABASE_URL: gdb.url, WORKERS: '1', LOG_LEVEL: 'warn' });
  });

  afterAll(async () => {
    await rx?.stop();
    await gdb?.drop();
  });

  it("stores two tenants' events with the same source and id, each once", async () => {
    const keyA = await createApiKey(gdb.url, 'tenant-a');
    const keyB = await createApiKey(gdb.url, 'tenant-b');
    const event = gatewayEvent({ id: 'shared-id-1', source: 'https://gw.example/shared' });
    for (const key of [keyB, keyA, keyB]) {
      const res = await postEvents(rx.url, '/v1/ingest', encodeJsonBatch([event]), bearer(key));
      expect(res.status).toBe(202);
    }
    const rows = await query<{ tenant_id: string }>(gdb.url, "SELECT tenant_id FROM gateway_telemetry WHERE event_id = 'shared-id-1' ORDER BY tenant_id");
    expect(rows.map((r) => r.tenant_id)).toEqual(['tenant-a', 'tenant-b']);
  });
});
