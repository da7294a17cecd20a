/**
 * agent_stats_hourly and gateway_stats_hourly against the real PostgreSQL, fed as the
 * receiver feeds them: tallies written into rollup_pending by committed transactions, folded
 * by TallyFolder. Rows merged across folds and folders stay exact (counts, spend, max, avg)
 * and their percentiles stay within the histogram's precision of the exact percentiles of
 * every raw value; a batch stored again (a spooled batch whose COMMIT reply was lost) adds
 * nothing.
 */
import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COPY_FORMATS } from '../../src/codec/index.js';
import { decodeBatch, encodeBatch } from '../../src/pipeline/index.js';
import { decodeHistogram, mergeEncodedHistograms, TallyFolder, writePendingTallies, type RollupGroup, type VendorBreakdownEntry } from '../../src/rollups/index.js';
import { emptyBatch, PostgresCopySink, type CopyBatch } from '../../src/sinks/postgres/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { agentGroup, migratedPool, exactPercentile, gatewayGroup, HOUR, latencySample, MINUTE, silentLogger, withinPrecision } from './support.js';

const INT64_MAX = (1n << 63n) - 1n;
const H0 = Date.UTC(2025, 5, 1, 10, 0, 0);

let db: TestDatabase;
let pool: pg.Pool;
const folders: TallyFolder[] = [];

beforeAll(async () => {
  db = await createTestDatabase('rollups_pg');
  pool = await migratedPool(db.url, 6);
});

afterAll(async () => {
  await Promise.all(folders.map((f) => f.stop()));
  await pool?.end();
  await db?.drop();
});

/** A folder that folds only when asked (its interval never comes within a test). */
function folder(): TallyFolder {
  const f = new TallyFolder(pool, { intervalMs: 600_000, maxRowsPerRound: 7 }, silentLogger());
  folders.push(f);
  return f;
}

/** What a committed COPY transaction writes besides its rows. */
async function commitTallies(groups: readonly RollupGroup[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await writePendingTallies(client, groups);
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

/** Folds until nothing is pending (rounds are small here, so several are needed). */
async function foldAll(f: TallyFolder): Promise<void> {
  for (;;) {
    await f.foldNow();
    const left = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM rollup_pending');
    if (left.rows[0]?.n === '0') return;
  }
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
  it('merges fold after fold into one row per hour: exact counts, p99 within precision of the raw values', async () => {
    const f = folder();
    const groups: RollupGroup[] = [];
    for (let round = 0; round < 6; round++) {
      const batch: RollupGroup[] = [];
      for (let m = 0; m < 4; m++) {
        for (const vendor of ['v-a', 'v-b', 'v-c']) {
          batch.push(agentGroup('p1-agent', vendor, H0 + (round * 4 + m) * 2 * MINUTE, latencySample(40 + round, round * 100 + m * 10 + vendor.length), { failures: (round + m) % 3, spend: BigInt(round * 1000 + m) }));
        }
      }
      // And the next hour, for a second row.
      batch.push(agentGroup('p1-agent', 'v-a', H0 + HOUR + round * MINUTE, latencySample(10, 7 + round)));
      groups.push(...batch);
      await commitTallies(batch);
      await foldAll(f);
    }
    const rows = await hourRows('p1-');
    expect(rows.map((r) => Number(r.bucket_ms))).toEqual([H0, H0 + HOUR]);
    expectRowMatches(rows[0] as HourRow, groups.filter((g) => g.minute < H0 + HOUR));
    expectRowMatches(rows[1] as HourRow, groups.filter((g) => g.minute >= H0 + HOUR));
    expect(f.stats()).toMatchObject({ failures: 0, requestsFolded: groups.reduce((n, g) => n + g.requests, 0) });

    // A day's p99 from hourly rows: merge their histograms, never average their p99s.
    const day = mergeEncodedHistograms(rows.map((r) => r.latency_histogram));
    expect(withinPrecision(day.getValueAtPercentile(99), exactPercentile(groups.flatMap((g) => g.latencies), 99))).toBe(true);
  });

  it('adds up two receivers folding the same keys concurrently, without deadlocks or lost updates', async () => {
    const a = folder();
    const b = folder();
    const groups: RollupGroup[] = [];
    for (let round = 0; round < 8; round++) {
      const batches = [0, 1].map((i) =>
        Array.from({ length: 30 }, (_, k) =>
          agentGroup(`p2-agent-${(k * 7 + round + i) % 30}`, k % 2 === 0 ? 'v-x' : 'v-y', H0 + (k % 3) * HOUR, latencySample(6, round * 1000 + i * 100 + k + 1), { failures: k % 2 }),
        ),
      );
      await Promise.all(batches.map((batch) => commitTallies(batch)));
      for (const batch of batches) groups.push(...batch);
      await Promise.all([a.foldNow(), b.foldNow()]);
    }
    await foldAll(a);
    const rows = await hourRows('p2-');
    expect(rows.length).toBe(new Set(groups.map((g) => `${g.entity}|${Math.floor(g.minute / HOUR)}`)).size);
    for (const row of rows) {
      expectRowMatches(row, groups.filter((g) => g.entity === row.agent_id && Math.floor(g.minute / HOUR) * HOUR === Number(row.bucket_ms)));
    }
    // Deadlocks would show as failed rounds here; key-ordered locking should leave none.
    expect(a.stats().failures + b.stats().failures).toBe(0);
  });

  it('keeps spend near the int64 maximum exact (NUMERIC), past what BIGINT holds', async () => {
    const f = folder();
    await commitTallies([agentGroup('p3-agent', 'v', H0, [1], { spend: INT64_MAX })]);
    await foldAll(f);
    await commitTallies([agentGroup('p3-agent', 'v', H0 + MINUTE, [1], { spend: INT64_MAX })]);
    await foldAll(f);
    const [row] = await hourRows('p3-');
    expect(row?.total_spend_atomic).toBe((2n * INT64_MAX).toString());
    expect(row?.vendor_breakdown.v?.spend_atomic).toBe((2n * INT64_MAX).toString());
  });

  it('counts a batch once when it is stored again after its COMMIT went through (a spool replay after a lost reply)', async () => {
    const f = folder();
    const sink = new PostgresCopySink(pool);
    const batch = interactionBatch('p4-agent', [5, 6, 7]);
    expect(await sink.write(batch)).toMatchObject({ ok: true, deduplicated: false });
    // The same batch as the spool hands it back: no worker groups, so it goes through staging.
    const replayed = decodeBatch(encodeBatch(batch));
    expect(replayed.groups).toBeNull();
    expect(await sink.write(replayed)).toMatchObject({ ok: true });
    // A retry carrying one more event: only that one is counted.
    expect(await sink.write(decodeBatch(encodeBatch(interactionBatch('p4-agent', [7, 8]))))).toMatchObject({ ok: true });
    await foldAll(f);
    const [row] = await hourRows('p4-');
    expect(row).toMatchObject({ total_requests: '4', successful_requests: '4', total_spend_atomic: String(4 * 1500) });
    const raw = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM agent_interactions WHERE agent_id = 'p4-agent'`);
    expect(raw.rows[0]?.n).toBe('4');
  });

  it('writes gateways to gateway_stats_hourly, per tenant', async () => {
    const f = folder();
    await commitTallies([
      gatewayGroup('tenant-a', 'p5-gw', 'v', H0, [10, 20, 30], 1),
      gatewayGroup('tenant-a', 'p5-gw', 'v2', H0 + 5 * MINUTE, [40]),
      gatewayGroup('tenant-b', 'p5-gw', 'v', H0, [50], 1),
    ]);
    await foldAll(f);
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

/** Interactions of one agent at H0 (successes, 1500 atomic each, latency 9 ms) with their worker groups. */
function interactionBatch(agent: string, nonces: number[]): CopyBatch {
  const rows = nonces.map((n) => `2025-06-01 10:00:00.${String(n % 1000).padStart(3, '0')}+00\t${agent}\tvendor-s\t\\N\t\\N\t1500\t\\N\t${n}\tt\t9\t\\N\t\\N\t\\N\n`).join('');
  const b = emptyBatch();
  b.chunks.agent_interactions = [Buffer.from(rows)];
  b.rows.agent_interactions = nonces.length;
  b.formats = { ...COPY_FORMATS, agent_interactions: 'text' };
  b.groups = [{ ...agentGroup(agent, 'vendor-s', H0, nonces.map(() => 9), { spend: BigInt(nonces.length) * 1500n }) }];
  return b;
}
