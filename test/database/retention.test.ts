import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureMonthlyPartitions, listMonthlyPartitions } from '../../src/database/index.js';
import { createLogger } from '../../src/logger.js';
import { DEFAULT_RETENTION, RetentionJob, type RetentionJobOptions } from '../../src/retention/index.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';

/*
 * Retention (docs/read-api.md §7) on a clock the test sets: the run's `now` is 2026-07-15
 * 00:00 UTC, so with the default windows the cutoffs are 2026-06-15 (telemetry, 30 days),
 * 2026-04-16 (interactions and gateway telemetry, 90 days), 2026-07-08 (minute rollups,
 * 7 days) and 2025-06-10 (hourly and daily rollups, 400 days).
 */
const NOW = Date.UTC(2026, 6, 15);
const log = createLogger('silent');

function job(overrides: Partial<RetentionJobOptions> = {}): RetentionJob {
  return new RetentionJob({ policy: DEFAULT_RETENTION, lockTimeoutMs: 5_000, statementTimeoutMs: 60_000, batchRows: 7, maxRunMs: 60_000, ...overrides }, log);
}

let m: MigratedDatabase;
let pool: pg.Pool;

async function count(sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(sql, params);
  return Number(rows[0]?.n ?? 0);
}

async function partitionNames(table: string): Promise<string[]> {
  const c = await pool.connect();
  try {
    return (await listMonthlyPartitions(c, table)).map((p) => `${p.name}${p.attached ? '' : ' (detached)'}`);
  } finally {
    c.release();
  }
}

/** Months January to August 2026, each partition created as upkeep does, with rows in each. */
async function seed(): Promise<void> {
  const c = await pool.connect();
  try {
    for (const month of [0, 2, 4, 6]) await ensureMonthlyPartitions(c, new Date(Date.UTC(2026, month, 15)));
  } finally {
    c.release();
  }
  // Interactions: 10 per month on the 10th, with their natural keys (008); telemetry: 3 per month.
  for (let month = 0; month < 8; month++) {
    const day = new Date(Date.UTC(2026, month, 10)).toISOString();
    await pool.query(
      `WITH rows AS (
         SELECT $1::timestamptz + g * interval '1 second' AS time, 'agent-' || (g % 3) AS agent_id, $2::bigint * 100 + g AS nonce
           FROM generate_series(1, 10) g),
       keys AS (INSERT INTO agent_interaction_keys (agent_id, nonce, time) SELECT agent_id, nonce, time FROM rows)
       INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, success, latency_ms)
       SELECT time, agent_id, 'vendor', nonce, true, 10 FROM rows`,
      [day, month],
    );
    await pool.query(
      `INSERT INTO agent_telemetry (time, agent_id) SELECT $1::timestamptz + g * interval '1 minute', 'agent-1' FROM generate_series(1, 3) g`,
      [day],
    );
  }
  // Gateway telemetry of two tenants on both sides of 2026-04-16 00:00.
  for (const [tenant, n] of [['tenant-a', 20], ['tenant-b', 9]] as const) {
    await pool.query(
      `INSERT INTO gateway_telemetry (time, tenant_id, event_source, event_id, gateway_id, vendor_id, route, method, status_code, latency_ms)
       SELECT TIMESTAMPTZ '2026-04-16 00:00:00+00' + (g - $2::int) * interval '1 hour', $1::text, 'src', $1::text || '-' || g, 'gw', 'v', '/', 'GET', 200, 5
         FROM generate_series(1, $2::int * 2) g`,
      [tenant, n],
    );
  }
  // Rollup buckets on both sides of each cutoff.
  for (const [bucket, agent] of [['2026-07-07 23:59:00+00', 'a'], ['2026-07-08 00:00:00+00', 'a'], ['2026-07-14 12:00:00+00', 'b']]) {
    await pool.query(`INSERT INTO agent_stats_minute (agent_id, bucket, vendor_id, total_requests) VALUES ($1, $2, 'v', 1)`, [agent, bucket]);
    await pool.query(`INSERT INTO gateway_stats_minute (tenant_id, gateway_id, bucket, vendor_id, total_requests) VALUES ('t', $1, $2, 'v', 1)`, [agent, bucket]);
  }
  for (const bucket of ['2025-06-09 23:00:00+00', '2025-06-10 00:00:00+00', '2026-07-14 00:00:00+00']) {
    await pool.query(`INSERT INTO agent_stats_hourly (bucket, agent_id, total_requests) VALUES ($1, 'a', 1)`, [bucket]);
    await pool.query(`INSERT INTO gateway_stats_hourly (bucket, tenant_id, gateway_id, total_requests) VALUES ($1, 't', 'g', 1)`, [bucket]);
  }
  for (const bucket of ['2025-06-09 00:00:00+00', '2025-06-10 00:00:00+00', '2026-07-14 00:00:00+00']) {
    await pool.query(`INSERT INTO agent_stats_daily (agent_id, bucket, vendor_id, total_requests) VALUES ('a', $1, 'v', 1)`, [bucket]);
    await pool.query(`INSERT INTO gateway_stats_daily (tenant_id, gateway_id, bucket, vendor_id, total_requests) VALUES ('t', 'g', $1, 'v', 1)`, [bucket]);
  }
}

beforeAll(async () => {
  m = await createMigratedDatabase('retention');
  pool = m.pool;
  await seed();
}, 60_000);

afterAll(async () => {
  await m?.close();
});

describe('retention (docs/read-api.md §7)', () => {
  it('gives up on a lock it cannot get within lock_timeout, and removes nothing', async () => {
    const holder = await pool.connect();
    const runner = await pool.connect();
    try {
      // A reader in a long transaction: the DETACH's lock request would queue every COPY behind it.
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM agent_telemetry');
      const j = job({ lockTimeoutMs: 300 });
      const started = Date.now();
      const err = await j.run(runner, NOW).catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('55P03');
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(j.stats().failures).toBe(1);
      expect(await partitionNames('agent_telemetry')).toContain('agent_telemetry_y2026m01');
      // The advisory lock was released: another run is not told to skip.
      const other = await pool.connect();
      try {
        const { rows } = await other.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(7264529301) AS ok');
        expect(rows[0]?.ok).toBe(true);
        await other.query('SELECT pg_advisory_unlock(7264529301)');
      } finally {
        other.release();
      }
    } finally {
      await holder.query('ROLLBACK');
      holder.release();
      runner.release();
    }
  });

  it('a run out of time removes nothing more and says it is incomplete', async () => {
    const c = await pool.connect();
    try {
      const r = await job({ maxRunMs: 0 }).run(c, NOW);
      expect(r).toMatchObject({ skipped: false, complete: false, partitions: [] });
      expect(await count('SELECT count(*) AS n FROM gateway_telemetry')).toBe(58);
    } finally {
      c.release();
    }
  });

  it('drops the partitions wholly older than each window, keeps the rest, and purges their keys and old buckets', async () => {
    // A run that stopped after a DETACH: the next one finds the detached table and finishes it.
    await pool.query('ALTER TABLE agent_interactions DETACH PARTITION agent_interactions_y2026m02');
    const c = await pool.connect();
    const j = job();
    try {
      const r = await j.run(c, NOW);
      expect(r.complete).toBe(true);
      expect(r.partitions.map((p) => p.name).sort()).toEqual([
        'agent_interactions_y2026m01',
        'agent_interactions_y2026m02',
        'agent_interactions_y2026m03',
        'agent_telemetry_y2026m01',
        'agent_telemetry_y2026m02',
        'agent_telemetry_y2026m03',
        'agent_telemetry_y2026m04',
        'agent_telemetry_y2026m05',
      ]);
      // April ends after the 90-day cutoff (2026-04-16): kept whole; June ends after 2026-06-15.
      expect(await partitionNames('agent_interactions')).toEqual([
        'agent_interactions_y2026m04',
        'agent_interactions_y2026m05',
        'agent_interactions_y2026m06',
        'agent_interactions_y2026m07',
        'agent_interactions_y2026m08',
      ]);
      expect(await partitionNames('agent_telemetry')).toEqual(['agent_telemetry_y2026m06', 'agent_telemetry_y2026m07', 'agent_telemetry_y2026m08']);
      expect(await count('SELECT count(*) AS n FROM agent_interactions')).toBe(50);
      expect(await count('SELECT count(*) AS n FROM agent_telemetry')).toBe(9);
      // Keys: exactly those of the remaining rows (batches of 7 over 10 rows per month).
      expect(r.rowsDeleted['agent_interaction_keys']).toBe(30);
      expect(await count('SELECT count(*) AS n FROM agent_interaction_keys')).toBe(50);
      expect(
        await count('SELECT count(*) AS n FROM agent_interaction_keys k JOIN agent_interactions a USING (agent_id, nonce, time)'),
      ).toBe(50);
      // Gateway telemetry: every row before 2026-04-16 00:00 of both tenants (19 + 8), none after.
      expect(r.rowsDeleted['gateway_telemetry']).toBe(27);
      expect(await count(`SELECT count(*) AS n FROM gateway_telemetry WHERE time < '2026-04-16 00:00:00+00'`)).toBe(0);
      expect(await count('SELECT count(*) AS n FROM gateway_telemetry')).toBe(31);
      // Buckets go only when all of their span is older than the cutoff.
      for (const t of ['agent_stats_minute', 'gateway_stats_minute']) {
        expect((await pool.query(`SELECT bucket FROM ${t} ORDER BY bucket`)).rows.map((x: { bucket: Date }) => x.bucket.toISOString())).toEqual([
          '2026-07-08T00:00:00.000Z',
          '2026-07-14T12:00:00.000Z',
        ]);
      }
      for (const t of ['agent_stats_hourly', 'gateway_stats_hourly', 'agent_stats_daily', 'gateway_stats_daily']) {
        expect((await pool.query(`SELECT bucket FROM ${t} ORDER BY bucket`)).rows.map((x: { bucket: Date }) => x.bucket.toISOString())).toEqual([
          '2025-06-10T00:00:00.000Z',
          '2026-07-14T00:00:00.000Z',
        ]);
      }
      const s = j.stats();
      expect(s.partitionsDropped.get('agent_interactions')).toBe(3);
      expect(s.partitionsDropped.get('agent_telemetry')).toBe(5);
      expect(s.rowsDeleted.get('agent_stats_minute')).toBe(1);
      expect(s.rowsDeleted.get('agent_stats_hourly')).toBe(1);
      // A second run at the same instant finds nothing more.
      const again = await j.run(c, NOW);
      expect(again).toMatchObject({ skipped: false, complete: true, partitions: [], rowsDeleted: {} });
      // Ingest into the partitions kept goes on: the parent still routes rows.
      await pool.query(`INSERT INTO agent_interactions (time, agent_id, vendor_id, nonce, success, latency_ms) VALUES ('2026-07-14 10:00:00+00', 'x', 'v', 1, true, 1)`);
    } finally {
      c.release();
    }
  });

  it('one receiver at a time: a run while another holds the retention lock is skipped', async () => {
    const a = await pool.connect();
    const b = await pool.connect();
    try {
      await a.query('SELECT pg_advisory_lock(7264529301)');
      const r = await job().run(b, Date.UTC(2027, 6, 15));
      expect(r.skipped).toBe(true);
      expect(await partitionNames('agent_interactions')).toContain('agent_interactions_y2026m04');
    } finally {
      await a.query('SELECT pg_advisory_unlock(7264529301)');
      a.release();
      b.release();
    }
  });
});
