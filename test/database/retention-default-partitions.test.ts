import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMonthlyPartitions } from '../../src/database/index.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_RETENTION, RetentionJob, type RetentionJobOptions } from '../../src/retention/index.js';
import { createWebhook } from '../../src/webhooks/webhook-store.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

/*
 * What retention removes besides whole monthly partitions (docs/read-api.md §7), on a clock the
 * test sets: `now` is 2026-07-15 00:00 UTC, so the cutoffs are 2026-06-15 (agent telemetry,
 * refused rows and webhook history, 30 days) and 2026-04-16 (interactions, 90 days). Only
 * June to August 2026 have partitions: every other row sits in a DEFAULT partition.
 */
const NOW = Date.UTC(2026, 6, 15);
const log = createLogger('silent');

function job(overrides: Partial<RetentionJobOptions> = {}): RetentionJob {
  return new RetentionJob({ policy: DEFAULT_RETENTION, lockTimeoutMs: 5_000, statementTimeoutMs: 60_000, batchRows: 5, maxRunMs: 60_000, ...overrides }, log);
}

let m: MigratedDatabase;
let pool: pg.Pool;

async function times(sql: string): Promise<string[]> {
  const { rows } = await pool.query<{ t: Date }>(sql);
  return rows.map((r) => r.t.toISOString());
}

async function count(sql: string): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql);
  return Number(rows[0]?.n ?? 0);
}

/** Interactions of three agents, with their natural keys, at `at` plus g seconds (g = 1..n). */
async function interactions(at: string, n: number, firstNonce: number): Promise<void> {
  await pool.query(
    `WITH rows AS (
       SELECT $1::timestamptz + g * interval '1 second' AS time, 'agent-' || (g % 3) AS agent_id, $3::bigint + g AS nonce
         FROM generate_series(1, $2::int) g),
     keys AS (INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM rows)
     INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, success, latency_ms)
     SELECT time, agent_id, 'vendor', nonce, true, 10 FROM rows`,
    [at, n, firstNonce],
  );
}

beforeAll(async () => {
  m = await createMigratedDatabase('retention_default_partitions');
  pool = m.pool;
  const c = await pool.connect();
  try {
    for (const month of [5, 6]) await ensureMonthlyPartitions(c, new Date(Date.UTC(2026, month, 15)));
  } finally {
    c.release();
  }
  // Default partition: 17 rows of 2020 and 4 of 2026-04-01 (older than the cutoff), 3 of
  // 2026-05-01 (younger: May has no partition) and 2 of 2099; then 6 in the July partition.
  await interactions('2020-01-01 00:00:00+00', 17, 0);
  await interactions('2026-04-01 00:00:00+00', 4, 1_000);
  await interactions('2026-05-01 00:00:00+00', 3, 2_000);
  await interactions('2099-01-01 00:00:00+00', 2, 3_000);
  await interactions('2026-07-10 00:00:00+00', 6, 4_000);
  for (const [at, n] of [['2020-01-01 00:00:00+00', 8], ['2026-05-20 00:00:00+00', 2], ['2099-01-01 00:00:00+00', 1], ['2026-07-10 00:00:00+00', 2]] as const) {
    await pool.query(
      `INSERT INTO agent_telemetry (time, agent_id) SELECT $1::timestamptz + g * interval '1 minute', 'agent-' || (g % 2) FROM generate_series(1, $2::int) g`,
      [at, n],
    );
  }
  // Refused rows on both sides of 2026-06-15.
  for (const at of ['2026-05-01 00:00:00+00', '2026-06-14 23:59:59+00', '2026-06-15 00:00:00+00', '2026-07-14 00:00:00+00']) {
    await pool.query(
      `INSERT INTO refused_rows (refused_at, table_name, copy_format, row_data, sql_state, message) VALUES ($1, 'agent_interactions', 'text', '\\x00', '22003', 'out of range')`,
      [at],
    );
  }
  // Webhook deliveries: delivered before and after 2026-06-15, and one pending since January.
  const hook = await createWebhook(pool, { tenantId: 't', url: 'http://127.0.0.1:9/hook', eventTypes: ['alert.firing'], description: null });
  for (const [i, state, completed] of [[1, 'delivered', '2026-06-01'], [2, 'failed', '2026-06-10'], [3, 'delivered', '2026-07-01'], [4, 'pending', null]] as const) {
    await pool.query(
      `INSERT INTO webhook_deliveries (message_id, webhook_id, event_type, payload, state, created_at, completed_at)
       VALUES ($1, $2, 'alert.firing', '{}', $3, '2026-01-01', $4)`,
      [`msg-${i}`, hook.id, state, completed],
    );
  }
}, 60_000);

afterAll(async () => {
  await m?.close();
});

describe('retention of default partitions, refused rows and webhook history (docs/read-api.md §7)', () => {
  it('a batch gives up on a lock it cannot get within lock_timeout, and the run fails with 55P03', async () => {
    const holder = await pool.connect();
    const runner = await pool.connect();
    try {
      // A long transaction holding a lock a DELETE waits for: the batch does not queue behind it.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE agent_telemetry_default IN SHARE MODE');
      const j = job({ lockTimeoutMs: 300 });
      const started = Date.now();
      const err = await j.run(runner, NOW).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('55P03');
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(j.stats().failures).toBe(1);
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      runner.release();
    }
    expect(await count('SELECT count(*) AS n FROM agent_telemetry_default')).toBe(11);
  });

  it('a run out of time deletes nothing from the default partitions and says it is incomplete', async () => {
    const c = await pool.connect();
    try {
      const r = await job({ maxRunMs: 0 }).run(c, NOW);
      expect(r.complete).toBe(false);
      expect(r.rowsDeleted).toEqual({});
      expect(await count('SELECT count(*) AS n FROM agent_interactions_default')).toBe(26);
      expect(await count('SELECT count(*) AS n FROM agent_telemetry_default')).toBe(11);
    } finally {
      c.release();
    }
  });

  it('deletes the expired rows of the default partitions with their keys, refused rows and ended deliveries past their windows, and counts the refused rows left', async () => {
    const c = await pool.connect();
    const j = job();
    try {
      const r = await j.run(c, NOW);
      expect(r.complete).toBe(true);
      expect(r.partitions).toEqual([]);
      expect(r.rowsDeleted).toEqual({
        agent_interactions_default: 21,
        agent_interaction_keys: 21,
        agent_telemetry_default: 10,
        refused_rows: 2,
        webhook_deliveries: 2,
      });
      // Younger than the cutoff, or dated in the future: kept, with their keys.
      expect(await times('SELECT time AS t FROM agent_interactions_default ORDER BY time')).toEqual([
        '2026-05-01T00:00:01.000Z',
        '2026-05-01T00:00:02.000Z',
        '2026-05-01T00:00:03.000Z',
        '2099-01-01T00:00:01.000Z',
        '2099-01-01T00:00:02.000Z',
      ]);
      expect(await count('SELECT count(*) AS n FROM agent_interactions')).toBe(11);
      expect(await count('SELECT count(*) AS n FROM agent_interaction_keys')).toBe(11);
      expect(await count('SELECT count(*) AS n FROM agent_interaction_keys k JOIN agent_interactions a USING (agent_id, nonce, time)')).toBe(11);
      expect(await times('SELECT time AS t FROM agent_telemetry_default ORDER BY time')).toEqual(['2099-01-01T00:01:00.000Z']);
      expect(await count('SELECT count(*) AS n FROM agent_telemetry')).toBe(3);
      expect(await times('SELECT refused_at AS t FROM refused_rows ORDER BY refused_at')).toEqual(['2026-06-15T00:00:00.000Z', '2026-07-14T00:00:00.000Z']);
      expect((await pool.query<{ message_id: string }>('SELECT message_id FROM webhook_deliveries ORDER BY id')).rows.map((x) => x.message_id)).toEqual(['msg-3', 'msg-4']);
      const s = j.stats();
      expect(s.rowsDeleted.get('agent_interactions_default')).toBe(21);
      expect(s.rowsDeleted.get('refused_rows')).toBe(2);
      expect(s.refusedRows).toEqual({ rows: 2, oldestMs: Date.UTC(2026, 5, 15) });
      // A second run at the same instant finds nothing more.
      const again = await j.run(c, NOW);
      expect(again).toMatchObject({ skipped: false, complete: true, partitions: [], rowsDeleted: {} });
    } finally {
      c.release();
    }
  });

  it('a run skipped for another receiver still counts the refused rows', async () => {
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('SELECT pg_advisory_lock(7264529301)');
      await pool.query(`INSERT INTO refused_rows (table_name, copy_format, row_data, message) VALUES ('agent_telemetry', 'binary', '\\x01', 'refused')`);
      const j = job();
      const r = await j.run(b, NOW);
      expect(r.skipped).toBe(true);
      expect(j.stats().refusedRows).toEqual({ rows: 3, oldestMs: Date.UTC(2026, 5, 15) });
      expect(await count('SELECT count(*) AS n FROM refused_rows')).toBe(3);
    } finally {
      await a.query('SELECT pg_advisory_unlock(7264529301)');
      a.release();
      b.release();
    }
  });
});
