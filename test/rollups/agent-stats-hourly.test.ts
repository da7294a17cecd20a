/**
 * agent_stats_hourly and gateway_stats_hourly against the real PostgreSQL: rows merged across
 * flushes and receivers stay exact (counts, spend, max, avg) and their percentiles stay within
 * the histogram's precision of the exact percentiles of every raw value; a batch retried after
 * an ambiguous failure is not added twice; PostgreSQL going away and back loses nothing.
 */
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { decodeHistogram, mergeEncodedHistograms, RollupService, type RollupGroup, type RollupOptions, type VendorBreakdownEntry } from '../../src/rollups/index.js';
import { HourDeltas } from '../../src/rollups/hour-deltas.js';
import { MinuteCells } from '../../src/rollups/minute-cells.js';
import { PostgresHourlySink } from '../../src/rollups/postgres-hourly-sink.js';
import { agentGroup, eventually, migratedPool, exactPercentile, gatewayGroup, HOUR, latencySample, MINUTE, silentLogger, TcpProxy, withinPrecision } from './support.js';

const INT64_MAX = (1n << 63n) - 1n;
const H0 = Date.UTC(2025, 5, 1, 10, 0, 0);

let db: TestDatabase;
let pool: pg.Pool;
const services: RollupService[] = [];

beforeAll(async () => {
  db = await createTestDatabase('rollups_pg');
  pool = await migratedPool(db.url, 6);
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await pool?.end();
  await db?.drop();
});

function service(overrides: Partial<RollupOptions> = {}, onPool: pg.Pool = pool): RollupService {
  const s = new RollupService(onPool, { flushIntervalMs: 60_000, clickhouseUrl: null, maxBackoffMs: 200, ...overrides }, silentLogger());
  services.push(s);
  return s;
}

interface HourRow {
  bucket_ms: string;
  agent_id: string;
  total_requests: string;
  successful_requests: string;
  failed_requests: string;
  total_spend_atomic: string;
  latency_sum_ms: string;
  avg_latency_ms: number;
  p50_latency_ms: number;
  p90_latency_ms: number;
  p99_latency_ms: number;
  max_latency_ms: number;
  latency_histogram: string;
  vendor_breakdown: Record<string, VendorBreakdownEntry>;
}

async function hourRows(agentPrefix: string): Promise<HourRow[]> {
  const r = await pool.query<HourRow>(
    `SELECT (extract(epoch FROM bucket) * 1000)::bigint::text AS bucket_ms, agent_id, total_requests::text, successful_requests::text,
            failed_requests::text, total_spend_atomic::text, latency_sum_ms::text, avg_latency_ms, p50_latency_ms, p90_latency_ms,
            p99_latency_ms, max_latency_ms, latency_histogram, vendor_breakdown
     FROM agent_stats_hourly WHERE agent_id LIKE $1 ORDER BY bucket, agent_id`,
    [`${agentPrefix}%`],
  );
  return r.rows;
}

/** Checks one hour row against the raw groups that went into it. */
function expectRowMatches(row: HourRow, groups: readonly RollupGroup[]): void {
  const all = groups.flatMap((g) => g.latencies);
  const sum = (f: (g: RollupGroup) => number): number => groups.reduce((n, g) => n + f(g), 0);
  expect(row.total_requests).toBe(String(sum((g) => g.requests)));
  expect(row.successful_requests).toBe(String(sum((g) => g.successes)));
  expect(row.failed_requests).toBe(String(sum((g) => g.failures)));
  expect(row.total_spend_atomic).toBe(groups.reduce((n, g) => n + g.spendAtomic, 0n).toString());
  expect(row.latency_sum_ms).toBe(String(all.reduce((a, b) => a + b, 0)));
  expect(row.avg_latency_ms).toBeCloseTo(all.reduce((a, b) => a + b, 0) / all.length, 9);
  expect(row.max_latency_ms).toBe(Math.max(...all));
  for (const [p, got] of [[50, row.p50_latency_ms], [90, row.p90_latency_ms], [99, row.p99_latency_ms]] as const) {
    const exact = exactPercentile(all, p);
    expect(withinPrecision(got, exact), `p${p}: row ${got}, exact ${exact}`).toBe(true);
  }
  expect(decodeHistogram(row.latency_histogram).totalCount).toBe(all.length);
  const vendors = [...new Set(groups.map((g) => g.vendorId))].sort();
  expect(Object.keys(row.vendor_breakdown).sort()).toEqual(vendors);
  for (const v of vendors) {
    const mine = groups.filter((g) => g.vendorId === v);
    const raw = mine.flatMap((g) => g.latencies);
    const e = row.vendor_breakdown[v] as VendorBreakdownEntry;
    expect(e.requests).toBe(raw.length);
    expect(e.failures).toBe(mine.reduce((n, g) => n + g.failures, 0));
    expect(e.spend_atomic).toBe(mine.reduce((n, g) => n + g.spendAtomic, 0n).toString());
    expect(e.max_latency_ms).toBe(Math.max(...raw));
    expect(withinPrecision(e.p99_latency_ms as number, exactPercentile(raw, 99)), `${v}: ${e.p99_latency_ms} vs ${exactPercentile(raw, 99)} of ${raw.length}`).toBe(true);
    expect(decodeHistogram(e.latency_histogram as string).totalCount).toBe(raw.length);
  }
}

describe('agent_stats_hourly', () => {
  it('merges flush after flush into one row per hour: exact counts, p99 within precision of the raw values', async () => {
    const s = service();
    await s.start();
    const groups: RollupGroup[] = [];
    for (let flush = 0; flush < 6; flush++) {
      const batch: RollupGroup[] = [];
      for (let m = 0; m < 4; m++) {
        for (const vendor of ['v-a', 'v-b', 'v-c']) {
          batch.push(agentGroup('p1-agent', vendor, H0 + (flush * 4 + m) * 2 * MINUTE, latencySample(40 + flush, flush * 100 + m * 10 + vendor.length), { failures: (flush + m) % 3, spend: BigInt(flush * 1000 + m) }));
        }
      }
      // And the next hour, for a second row.
      batch.push(agentGroup('p1-agent', 'v-a', H0 + HOUR + flush * MINUTE, latencySample(10, 7 + flush)));
      groups.push(...batch);
      s.record(batch);
      await s.flush();
    }
    const rows = await hourRows('p1-');
    expect(rows.map((r) => Number(r.bucket_ms))).toEqual([H0, H0 + HOUR]);
    expectRowMatches(rows[0] as HourRow, groups.filter((g) => g.minute < H0 + HOUR));
    expectRowMatches(rows[1] as HourRow, groups.filter((g) => g.minute >= H0 + HOUR));
    expect(s.stats()).toMatchObject({ pendingRows: 0, rowsDropped: { postgres: 0 }, flushFailures: { postgres: 0 } });

    // A day's p99 from hourly rows: merge their histograms, never average their p99s.
    const day = mergeEncodedHistograms(rows.map((r) => r.latency_histogram));
    expect(withinPrecision(day.getValueAtPercentile(99), exactPercentile(groups.flatMap((g) => g.latencies), 99))).toBe(true);
  });

  it('adds up two receivers flushing the same rows concurrently, without deadlocks or lost updates', async () => {
    const a = service({ postgresBatchRows: 7 });
    const b = service({ postgresBatchRows: 5 });
    await Promise.all([a.start(), b.start()]);
    const groups: RollupGroup[] = [];
    for (let round = 0; round < 8; round++) {
      const batches = [a, b].map((svc, i) => {
        const batch = Array.from({ length: 30 }, (_, k) =>
          agentGroup(`p2-agent-${(k * 7 + round + i) % 30}`, k % 2 === 0 ? 'v-x' : 'v-y', H0 + (k % 3) * HOUR, latencySample(6, round * 1000 + i * 100 + k + 1), { failures: k % 2 }),
        );
        svc.record(batch);
        groups.push(...batch);
        return batch;
      });
      expect(batches).toHaveLength(2);
      await Promise.all([a.flush(), b.flush()]);
    }
    await eventually(async () => a.stats().pendingRows + b.stats().pendingRows === 0, 10_000);
    const rows = await hourRows('p2-');
    expect(rows.length).toBe(new Set(groups.map((g) => `${g.entity}|${Math.floor(g.minute / HOUR)}`)).size);
    for (const row of rows) {
      expectRowMatches(row, groups.filter((g) => g.entity === row.agent_id && Math.floor(g.minute / HOUR) * HOUR === Number(row.bucket_ms)));
    }
    // Deadlocks would show as failures (retried) here; key-ordered locking should leave none.
    expect(a.stats().flushFailures.postgres + b.stats().flushFailures.postgres).toBe(0);
  });

  it('keeps spend near the int64 maximum exact (NUMERIC), past what BIGINT holds', async () => {
    const s = service();
    await s.start();
    const groups = [
      agentGroup('p3-agent', 'v', H0, [1], { spend: INT64_MAX }),
      agentGroup('p3-agent', 'v', H0 + MINUTE, [1], { spend: INT64_MAX }),
    ];
    s.record(groups.slice(0, 1));
    await s.flush();
    s.record(groups.slice(1));
    await s.flush();
    const [row] = await hourRows('p3-');
    expect(row?.total_spend_atomic).toBe((2n * INT64_MAX).toString());
    expect(row?.vendor_breakdown.v?.spend_atomic).toBe((2n * INT64_MAX).toString());
  });

  it('does not apply a batch twice when it is retried after its COMMIT went through', async () => {
    const sink = new PostgresHourlySink(pool);
    const cells = new MinuteCells();
    cells.add(agentGroup('p4-agent', 'v', H0, [5, 6], { spend: 10n }), Date.now());
    const hours = new HourDeltas();
    for (const c of cells.seal()) hours.addCell(c);
    const id = '6f1c1f3e-0000-4000-8000-000000000001';
    expect(await sink.apply(id, hours.sorted())).toBe('applied');
    expect(await sink.apply(id, hours.sorted())).toBe('duplicate');
    const [row] = await hourRows('p4-');
    expect(row).toMatchObject({ total_requests: '2', total_spend_atomic: '10' });
  });

  it('writes gateways to gateway_stats_hourly, per tenant', async () => {
    const s = service();
    await s.start();
    const groups = [
      gatewayGroup('tenant-a', 'p5-gw', 'v', H0, [10, 20, 30], 1),
      gatewayGroup('tenant-a', 'p5-gw', 'v2', H0 + 5 * MINUTE, [40]),
      gatewayGroup('tenant-b', 'p5-gw', 'v', H0, [50], 1),
    ];
    s.record(groups);
    await s.flush();
    const r = await pool.query<{ tenant_id: string; total_requests: string; failed_requests: string; p99_latency_ms: number; vendors: string[] }>(
      `SELECT tenant_id, total_requests::text, failed_requests::text, p99_latency_ms, ARRAY(SELECT jsonb_object_keys(vendor_breakdown) ORDER BY 1) AS vendors
       FROM gateway_stats_hourly WHERE gateway_id = 'p5-gw' ORDER BY tenant_id`,
    );
    expect(r.rows).toEqual([
      { tenant_id: 'tenant-a', total_requests: '4', failed_requests: '1', p99_latency_ms: 40, vendors: ['v', 'v2'] },
      { tenant_id: 'tenant-b', total_requests: '1', failed_requests: '1', p99_latency_ms: 50, vendors: ['v'] },
    ]);
    expect(await hourRows('p5-')).toEqual([]);
  });

  it('loses nothing while PostgreSQL is unreachable, and catches up when it is back', async () => {
    const target = new URL(db.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.up();
    const proxied = new URL(db.url);
    proxied.port = String(proxy.port);
    const proxiedPool = new pg.Pool({ connectionString: proxied.toString(), max: 2, connectionTimeoutMillis: 1_000 });
    proxiedPool.on('error', () => undefined);
    try {
      const s = service({}, proxiedPool);
      await s.start();
      const groups = [agentGroup('p6-agent', 'v', H0, latencySample(30, 3), { failures: 4 })];
      s.record(groups);
      await s.flush();
      await proxy.down();
      const more = [agentGroup('p6-agent', 'v', H0 + MINUTE, latencySample(30, 4)), agentGroup('p6-agent', 'v2', H0 + 2 * MINUTE, latencySample(5, 5))];
      groups.push(...more);
      s.record(more);
      await s.flush();
      expect(s.stats().flushFailures.postgres).toBeGreaterThan(0);
      expect(s.stats().pendingRows).toBe(1);
      // Later flushes while down coalesce into the same pending row rather than piling up.
      const evenMore = [agentGroup('p6-agent', 'v', H0 + 3 * MINUTE, latencySample(8, 6))];
      groups.push(...evenMore);
      s.record(evenMore);
      await s.flush();
      expect(s.stats().pendingRows).toBeLessThanOrEqual(2);
      await proxy.up();
      expect(await eventually(async () => s.stats().pendingRows === 0, 10_000)).toBe(true);
      const [row] = await hourRows('p6-');
      expectRowMatches(row as HourRow, groups);
      expect(s.stats().rowsDropped.postgres).toBe(0);
    } finally {
      await proxy.down();
      await proxiedPool.end().catch(() => undefined);
    }
  });

  it('migration 002 can run again over itself', async () => {
    const sql = await readFile(new URL('../../schema/postgres/002_agent_stats_hourly.sql', import.meta.url), 'utf8');
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(sql);
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
  });
});
