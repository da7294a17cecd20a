/**
 * The folder against the real PostgreSQL: pending tallies folded into the minute, hour and
 * day tables equal the sums of the raw groups (counts, spend past 2^53, latency sums and
 * maxima exactly; percentiles within the histograms' precision); the three tables agree;
 * two folders at once count every row once; a folder killed mid-round (its backend
 * terminated) leaves its rows for the next round; stop() folds what is left.
 */
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import type { RowGroup } from '../../src/codec/index.js';
import { decodeHistogram, encodeHistogram, newMergeHistogram, type VendorBreakdownEntry } from '../../src/rollups/index.js';
import { ClickhouseOutboxSender } from '../../src/rollups/clickhouse-outbox-sender.js';
import type { ClickhouseRow } from '../../src/rollups/clickhouse-rows.js';
import { ClickhouseRollupSink } from '../../src/rollups/clickhouse-sink.js';
import { writePendingTallies } from '../../src/rollups/pending-tallies.js';
import { TallyFolder, type TallyFolderOptions } from '../../src/rollups/tally-folder.js';
import { agentGroup, eventually, exactPercentile, gatewayGroup, HOUR, latencySample, migratedPool, MINUTE, silentLogger, TcpProxy, withinPrecision } from './support.js';

const DAY = 86_400_000;
/** Midnight UTC: the groups straddle it, so two days and several hours are touched. */
const D1 = Date.UTC(2026, 2, 4);
const INT64_MAX = 2n ** 63n - 1n;

let db: TestDatabase;
let pool: pg.Pool;
const extraPools: pg.Pool[] = [];
const folders: TallyFolder[] = [];

beforeAll(async () => {
  db = await createTestDatabase('tally_folder');
  pool = await migratedPool(db.url, 6);
  pool.on('error', () => undefined);
});

// A test that failed or timed out must not leave its folders running: they would fold the
// next tests' rows under them.
afterEach(async () => {
  await Promise.all(folders.splice(0).map((f) => f.stop()));
});

afterAll(async () => {
  await Promise.all(extraPools.map((p) => p.end()));
  await pool?.end();
  await db?.drop();
});

function folder(options: TallyFolderOptions = {}, on: pg.Pool = pool): TallyFolder {
  const f = new TallyFolder(on, { intervalMs: 60_000, baseBackoffMs: 20, maxBackoffMs: 100, stopTimeoutMs: 10_000, ...options }, silentLogger());
  folders.push(f);
  return f;
}

function newPool(): pg.Pool {
  const p = new pg.Pool({ connectionString: db.url, max: 3 });
  p.on('error', () => undefined);
  extraPools.push(p);
  return p;
}

async function write(groups: readonly RowGroup[], batchSize = 40): Promise<void> {
  for (let i = 0; i < groups.length; i += batchSize) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await writePendingTallies(c, groups.slice(i, i + batchSize));
      await c.query('COMMIT');
    } finally {
      c.release();
    }
  }
}

/** Deterministic groups for `prefix`: agents and gateways over vendors and minutes around D1, some spends past 2^53. */
function randomGroups(prefix: string, count: number, seed: number, entities = 6): RowGroup[] {
  let x = seed >>> 0 || 1;
  const next = (n: number): number => {
    // xorshift32: deterministic and well spread.
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const out: RowGroup[] = [];
  for (let i = 0; i < count; i++) {
    const minute = D1 + (next(180) - 90) * MINUTE;
    const latencies = latencySample(1 + next(40), seed * 7919 + i);
    const failures = next(latencies.length + 1);
    const spend = next(5) === 0 ? INT64_MAX - BigInt(next(1000)) : BigInt(next(1_000_000));
    const entity = `${prefix}${next(entities)}`;
    const vendor = `v${next(3)}`;
    out.push(
      next(4) === 0
        ? { ...gatewayGroup(`t${next(2)}`, entity, vendor, minute, latencies, failures), spendAtomic: spend }
        : agentGroup(entity, vendor, minute, latencies, { failures, spend }),
    );
  }
  return out;
}

interface Expected {
  requests: number;
  successes: number;
  failures: number;
  spend: bigint;
  latencySum: number;
  max: number | null;
  latencies: number[];
}

function expectedBy(groups: readonly RowGroup[], kind: 'agent' | 'gateway', bucketMs: number): Map<string, Expected> {
  const out = new Map<string, Expected>();
  for (const g of groups) {
    if (g.kind !== kind) continue;
    const key = `${g.tenantId}|${g.entity}|${Math.floor(g.minute / bucketMs) * bucketMs}|${g.vendorId}`;
    let e = out.get(key);
    if (e === undefined) out.set(key, (e = { requests: 0, successes: 0, failures: 0, spend: 0n, latencySum: 0, max: null, latencies: [] }));
    e.requests += g.requests;
    e.successes += g.successes;
    e.failures += g.failures;
    e.spend += g.spendAtomic;
    for (const v of g.latencies) {
      e.latencySum += v;
      if (e.max === null || v > e.max) e.max = v;
      e.latencies.push(v);
    }
  }
  return out;
}

interface BucketRow {
  key: string;
  total_requests: string;
  successful_requests: string;
  failed_requests: string;
  total_spend_atomic: string;
  latency_sum_ms: string;
  max_latency_ms: number | null;
  latency_histogram: string | null;
}

async function bucketRows(table: string, prefix: string): Promise<Map<string, BucketRow>> {
  const tenant = table.startsWith('gateway') ? 'tenant_id' : `''`;
  const entity = table.startsWith('gateway') ? 'gateway_id' : 'agent_id';
  const r = await pool.query<BucketRow>(
    `SELECT ${tenant} || '|' || ${entity} || '|' || (extract(epoch FROM bucket) * 1000)::bigint || '|' || vendor_id AS key,
            total_requests::text, successful_requests::text, failed_requests::text, total_spend_atomic::text, latency_sum_ms::text,
            max_latency_ms, latency_histogram
     FROM ${table} WHERE ${entity} LIKE $1 || '%'`,
    [prefix],
  );
  return new Map(r.rows.map((row) => [row.key, row]));
}

/** Every bucket row equals its expected sums; percentiles within the HDR bound. */
function expectBuckets(rows: Map<string, BucketRow>, expected: Map<string, Expected>, checkPercentiles: boolean): void {
  expect([...rows.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, e] of expected) {
    const row = rows.get(key) as BucketRow;
    expect({ key, requests: row.total_requests, ok: row.successful_requests, failed: row.failed_requests, spend: row.total_spend_atomic, sum: row.latency_sum_ms, max: row.max_latency_ms }).toEqual({
      key,
      requests: String(e.requests),
      ok: String(e.successes),
      failed: String(e.failures),
      spend: e.spend.toString(),
      sum: String(e.latencySum),
      max: e.max,
    });
    const h = decodeHistogram(row.latency_histogram as string);
    expect(h.totalCount).toBe(e.requests);
    if (checkPercentiles) {
      for (const p of [50, 99]) expect(withinPrecision(h.getValueAtPercentile(p), exactPercentile(e.latencies, p)), `${key} p${p}`).toBe(true);
    }
  }
}

interface HourRow {
  key: string;
  total_requests: string;
  successful_requests: string;
  failed_requests: string;
  total_spend_atomic: string;
  latency_sum_ms: string;
  max_latency_ms: number;
  p99_latency_ms: number;
  latency_histogram: string;
  vendor_breakdown: Record<string, VendorBreakdownEntry>;
}

async function checkHours(prefix: string, groups: readonly RowGroup[]): Promise<void> {
  for (const kind of ['agent', 'gateway'] as const) {
    const table = kind === 'agent' ? 'agent_stats_hourly' : 'gateway_stats_hourly';
    const tenant = kind === 'gateway' ? 'tenant_id' : `''`;
    const entity = kind === 'gateway' ? 'gateway_id' : 'agent_id';
    const r = await pool.query<HourRow>(
      `SELECT ${tenant} || '|' || ${entity} || '|' || (extract(epoch FROM bucket) * 1000)::bigint AS key, total_requests::text, successful_requests::text,
              failed_requests::text, total_spend_atomic::text, latency_sum_ms::text, max_latency_ms, p99_latency_ms, latency_histogram, vendor_breakdown
       FROM ${table} WHERE ${entity} LIKE $1 || '%'`,
      [prefix],
    );
    const perVendor = expectedBy(groups, kind, HOUR);
    const perRow = new Map<string, Expected & { vendors: Map<string, Expected> }>();
    for (const [key, e] of perVendor) {
      const parts = key.split('|');
      const rowKey = parts.slice(0, 3).join('|');
      let t = perRow.get(rowKey);
      if (t === undefined) perRow.set(rowKey, (t = { requests: 0, successes: 0, failures: 0, spend: 0n, latencySum: 0, max: null, latencies: [], vendors: new Map() }));
      t.requests += e.requests;
      t.successes += e.successes;
      t.failures += e.failures;
      t.spend += e.spend;
      t.latencySum += e.latencySum;
      if (e.max !== null && (t.max === null || e.max > t.max)) t.max = e.max;
      t.latencies.push(...e.latencies);
      t.vendors.set(parts[3] as string, e);
    }
    expect(r.rows.map((row) => row.key).sort()).toEqual([...perRow.keys()].sort());
    for (const row of r.rows) {
      const e = perRow.get(row.key) as Expected & { vendors: Map<string, Expected> };
      expect([row.total_requests, row.successful_requests, row.failed_requests, row.total_spend_atomic, row.latency_sum_ms, row.max_latency_ms]).toEqual([
        String(e.requests),
        String(e.successes),
        String(e.failures),
        e.spend.toString(),
        String(e.latencySum),
        e.max,
      ]);
      expect(withinPrecision(row.p99_latency_ms, exactPercentile(e.latencies, 99))).toBe(true);
      expect(Object.keys(row.vendor_breakdown).sort()).toEqual([...e.vendors.keys()].sort());
      for (const [vendor, ve] of e.vendors) {
        const b = row.vendor_breakdown[vendor] as VendorBreakdownEntry;
        expect([b.requests, b.successes, b.failures, b.spend_atomic, b.latency_sum_ms, b.max_latency_ms]).toEqual([
          ve.requests,
          ve.successes,
          ve.failures,
          ve.spend.toString(),
          ve.latencySum,
          ve.max,
        ]);
        expect(withinPrecision(b.p99_latency_ms as number, exactPercentile(ve.latencies, 99))).toBe(true);
      }
    }
  }
}

async function expectAllFolded(prefix: string, groups: readonly RowGroup[], checkPercentiles = true): Promise<void> {
  expect((await pool.query('SELECT count(*)::int AS n FROM rollup_pending')).rows[0].n).toBe(0);
  for (const kind of ['agent', 'gateway'] as const) {
    expectBuckets(await bucketRows(`${kind}_stats_minute`, prefix), expectedBy(groups, kind, MINUTE), checkPercentiles);
    expectBuckets(await bucketRows(`${kind}_stats_daily`, prefix), expectedBy(groups, kind, DAY), checkPercentiles);
  }
  await checkHours(prefix, groups);
}

async function pendingCount(): Promise<number> {
  return (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_pending')).rows[0]?.n ?? -1;
}

describe('TallyFolder', () => {
  it('folds pending tallies into minute, hour and day rows equal to the raw groups, across rounds and late arrivals', async () => {
    const groups = randomGroups('fa-', 600, 11);
    // The sample spans what must be exact: many keys, two days, sums past 2^53, both kinds.
    expect(expectedBy(groups, 'agent', MINUTE).size).toBeGreaterThan(200);
    expect(new Set([...expectedBy(groups, 'agent', DAY).keys()].map((k) => k.split('|')[2])).size).toBe(2);
    expect([...expectedBy(groups, 'agent', DAY).values()].some((e) => e.spend > 2n ** 64n)).toBe(true);
    expect(expectedBy(groups, 'gateway', MINUTE).size).toBeGreaterThan(50);
    await write(groups.slice(0, 350));
    const f = folder({ maxRowsPerRound: 3 });
    await f.foldNow();
    // One pending row per group; rounds go on while they come back full (350 = 116 × 3 + 2).
    expect(f.stats()).toMatchObject({ rowsFolded: 350, rounds: 117, failures: 0, lagSeconds: 0 });
    expect(f.stats().requestsFolded).toBe(groups.slice(0, 350).reduce((n, g) => n + g.requests, 0));
    // Late arrivals for minutes, hours and days already folded merge into the stored rows.
    await write(groups.slice(350));
    await folder({ maxRowsPerRound: 97 }).foldNow();
    await expectAllFolded('fa-', groups);
  });

  it('minute, hour and day tables agree with each other', async () => {
    await write(randomGroups('fg-', 300, 5));
    await folder({ maxRowsPerRound: 120 }).foldNow();
    expect((await pool.query(`SELECT count(*)::int AS n FROM agent_stats_minute WHERE agent_id LIKE 'fg-%'`)).rows[0].n).toBeGreaterThan(100);
    expect((await pool.query(`SELECT count(*)::int AS n FROM gateway_stats_minute WHERE gateway_id LIKE 'fg-%'`)).rows[0].n).toBeGreaterThan(10);
    for (const [fine, coarse, entity, keys] of [
      ['agent_stats_minute', 'agent_stats_daily', 'agent_id', 'agent_id, vendor_id'],
      ['gateway_stats_minute', 'gateway_stats_daily', 'gateway_id', 'tenant_id, gateway_id, vendor_id'],
    ] as const) {
      const diff = await pool.query(
        `WITH f AS (SELECT ${keys}, date_trunc('day', bucket AT TIME ZONE 'UTC') AS day, sum(total_requests) AS r, sum(successful_requests) AS s,
                      sum(failed_requests) AS x, sum(total_spend_atomic) AS sp, sum(latency_sum_ms) AS l, max(max_latency_ms) AS m
                    FROM ${fine} WHERE ${entity} LIKE 'fg-%' GROUP BY ${keys}, day)
         SELECT * FROM f FULL JOIN (SELECT ${keys}, bucket AT TIME ZONE 'UTC' AS day, total_requests AS r, successful_requests AS s, failed_requests AS x,
                      total_spend_atomic AS sp, latency_sum_ms AS l, max_latency_ms AS m FROM ${coarse} WHERE ${entity} LIKE 'fg-%') c
           USING (${keys}, day, r, s, x, sp, l, m)
         WHERE f.r IS NULL OR c.r IS NULL`,
      );
      expect(diff.rows, `${fine} vs ${coarse}`).toEqual([]);
    }
    for (const [fine, hourly, keys] of [
      ['agent_stats_minute', 'agent_stats_hourly', 'agent_id'],
      ['gateway_stats_minute', 'gateway_stats_hourly', 'tenant_id, gateway_id'],
    ] as const) {
      const diff = await pool.query(
        `WITH f AS (SELECT ${keys}, date_trunc('hour', bucket AT TIME ZONE 'UTC') AS hour, sum(total_requests) AS r, sum(total_spend_atomic) AS sp,
                      sum(latency_sum_ms) AS l, max(max_latency_ms) AS m
                    FROM ${fine} WHERE ${keys.split(', ').at(-1)} LIKE 'fg-%' GROUP BY ${keys}, hour)
         SELECT * FROM f FULL JOIN (SELECT ${keys}, bucket AT TIME ZONE 'UTC' AS hour, total_requests AS r, total_spend_atomic AS sp, latency_sum_ms AS l,
                      max_latency_ms AS m FROM ${hourly} WHERE ${keys.split(', ').at(-1)} LIKE 'fg-%') c
           USING (${keys}, hour, r, sp, l, m)
         WHERE f.r IS NULL OR c.r IS NULL`,
      );
      expect(diff.rows, `${fine} vs ${hourly}`).toEqual([]);
    }
  });

  it('two folders on one database, while batches keep arriving, count every tally exactly once', async () => {
    const groups = randomGroups('fb-', 3000, 23, 4);
    const a = folder({ maxRowsPerRound: 150, intervalMs: 10 }, newPool());
    const b = folder({ maxRowsPerRound: 150, intervalMs: 10 }, newPool());
    a.start();
    b.start();
    await write(groups, 25);
    expect(await eventually(async () => (await pendingCount()) === 0, 60_000)).toBe(true);
    await Promise.all([a.stop(), b.stop()]);
    const sa = a.stats();
    const sb = b.stats();
    expect(sa.rowsFolded + sb.rowsFolded).toBe(groups.length);
    // Both did part of the work (each round claims at most 150 of 3,000 rows).
    expect(sa.rowsFolded).toBeGreaterThan(0);
    expect(sb.rowsFolded).toBeGreaterThan(0);
    await expectAllFolded('fb-', groups, false);
  }, 90_000);

  it('a folder whose backend is terminated mid-round leaves its rows pending; the next round folds them once', async () => {
    const first = [agentGroup('fk-0', 'v1', D1, [5])];
    await write(first);
    await folder().foldNow();
    const rest = randomGroups('fk-', 400, 37, 3).map((g, i) => (i === 0 ? { ...agentGroup('fk-0', 'v1', D1, [7, 8]) } : g));
    await write(rest);
    const before = await pendingCount();
    expect(before).toBe(rest.length);

    // Hold the lock of a minute row the round must merge, so the round waits there.
    const blocker = await pool.connect();
    const f = folder({ baseBackoffMs: 60_000, maxBackoffMs: 60_000 });
    try {
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM agent_stats_minute WHERE agent_id = 'fk-0' FOR UPDATE`);
      const run = f.foldNow();
      let pid: number | undefined;
      expect(
        await eventually(async () => {
          const r = await pool.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%agent_stats_minute%FOR UPDATE%'`,
          );
          pid = r.rows[0]?.pid;
          return pid !== undefined;
        }, 10_000, 20),
      ).toBe(true);
      await pool.query('SELECT pg_terminate_backend($1)', [pid]);
      await run;
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
    }
    expect(f.stats()).toMatchObject({ failures: 1, rowsFolded: 0 });
    expect(await pendingCount()).toBe(before);

    await f.foldNow();
    expect(f.stats().rowsFolded).toBe(before);
    await expectAllFolded('fk-', [...first, ...rest]);
  });

  it('skips rows another transaction holds, reports their age as lag, and stop() folds what is left', async () => {
    await write([agentGroup('fs-old', 'v1', D1, [3])]);
    await pool.query(`UPDATE rollup_pending SET created_at = now() - interval '1 hour' WHERE entity_id = 'fs-old'`);
    const newer = randomGroups('fs-', 50, 41, 2);
    await write(newer);
    const holder = await pool.connect();
    const f = folder();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM rollup_pending WHERE entity_id = 'fs-old' FOR UPDATE`);
      await f.foldNow();
      expect(f.stats().rowsFolded).toBe(newer.length);
      expect(f.stats().lagSeconds).toBeGreaterThan(3500);
      expect(await pendingCount()).toBe(1);
    } finally {
      await holder.query('COMMIT');
      holder.release();
    }
    await f.stop();
    expect(f.stats()).toMatchObject({ rowsFolded: newer.length + 1, lagSeconds: 0 });
    await expectAllFolded('fs-', [agentGroup('fs-old', 'v1', D1, [3]), ...newer]);
  });

  it('retries with backoff while PostgreSQL is unreachable, then folds everything once', async () => {
    const target = new URL(db.url);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.up();
    const viaProxy = new URL(db.url);
    viaProxy.port = String(proxy.port);
    const p = new pg.Pool({ connectionString: viaProxy.toString(), max: 2 });
    p.on('error', () => undefined);
    extraPools.push(p);
    await proxy.down();
    const groups = randomGroups('fr-', 120, 53, 3);
    await write(groups);
    const f = folder({ intervalMs: 20, baseBackoffMs: 20, maxBackoffMs: 40 }, p);
    f.start();
    expect(await eventually(async () => f.stats().failures >= 3, 10_000, 20)).toBe(true);
    expect(await pendingCount()).toBe(groups.length);
    await proxy.up();
    expect(await eventually(async () => (await pendingCount()) === 0, 10_000, 20)).toBe(true);
    await f.stop();
    await proxy.down();
    expect(f.stats().rowsFolded).toBe(groups.length);
    await expectAllFolded('fr-', groups);
  });

  it('folds pending rows that carry an encoded histogram instead of raw latencies', async () => {
    const latencies = latencySample(500, 77);
    const h = newMergeHistogram();
    for (const v of latencies) h.recordValue(v);
    const sum = latencies.reduce((a, b) => a + b, 0);
    const max = Math.max(...latencies);
    await pool.query(
      `INSERT INTO rollup_pending (kind, entity_id, vendor_id, minute, total_requests, successful_requests, failed_requests, total_spend_atomic,
                                   latency_sum_ms, max_latency_ms, latency_histogram)
       VALUES ('agent', 'fh-1', 'v1', to_timestamp($1 / 1000.0), 500, 500, 0, 7, $2, $3, $4)`,
      [D1, sum, max, encodeHistogram(h)],
    );
    await write([agentGroup('fh-1', 'v1', D1, [1, 2, 3], { spend: 3n })]);
    await folder().foldNow();
    const all = [...latencies, 1, 2, 3];
    const [row] = [...(await bucketRows('agent_stats_minute', 'fh-')).values()];
    expect(row).toMatchObject({ total_requests: '503', total_spend_atomic: '10', latency_sum_ms: String(sum + 6), max_latency_ms: max });
    const merged = decodeHistogram(row?.latency_histogram as string);
    expect(merged.totalCount).toBe(503);
    expect(withinPrecision(merged.getValueAtPercentile(99), exactPercentile(all, 99))).toBe(true);
    const hour = await pool.query<{ n: string; p99: number }>(`SELECT total_requests::text AS n, p99_latency_ms AS p99 FROM agent_stats_hourly WHERE agent_id = 'fh-1'`);
    expect(hour.rows[0]?.n).toBe('503');
    expect(withinPrecision(hour.rows[0]?.p99 as number, exactPercentile(all, 99))).toBe(true);
  });
});

describe('TallyFolder, rows written by other SQL', () => {
  it('folds a pending row with a negative latency (recorded as 0) instead of failing every round', async () => {
    await pool.query(
      `INSERT INTO rollup_pending (kind, entity_id, vendor_id, minute, total_requests, successful_requests, failed_requests, latency_sum_ms, max_latency_ms, latencies)
       VALUES ('agent', 'fn-1', 'v1', to_timestamp($1 / 1000.0), 2, 2, 0, 5, 10, '{-5,10}')`,
      [D1],
    );
    const f = folder();
    await f.foldNow();
    expect(f.stats()).toMatchObject({ failures: 0, rowsFolded: 1 });
    const [row] = [...(await bucketRows('agent_stats_minute', 'fn-')).values()];
    expect(row).toMatchObject({ total_requests: '2', latency_sum_ms: '5', max_latency_ms: 10 });
    const h = decodeHistogram(row?.latency_histogram as string);
    expect([h.totalCount, h.minNonZeroValue, h.maxValue]).toEqual([2, 10, 10]);
  });
});

describe('TallyFolder → ClickHouse', () => {
  let ch: TestClickhouseDatabase;
  const sinks: ClickhouseRollupSink[] = [];

  beforeAll(async () => {
    ch = await createTestClickhouseDatabase('tally_folder');
  });

  afterAll(async () => {
    await Promise.all(sinks.map((s) => s.close()));
    await ch?.drop();
  });

  function sender(): ClickhouseOutboxSender {
    const sink = new ClickhouseRollupSink(ch.url, 'default', 10_000);
    sinks.push(sink);
    return new ClickhouseOutboxSender(pool, sink, { baseBackoffMs: 20, maxBackoffMs: 100, maxFoldsPerInsert: 3 }, silentLogger());
  }

  async function chTotals(prefix: string): Promise<Map<string, { requests: string; successes: string; spend: string; sum: string; max: number }>> {
    const rs = await ch.client.query({
      query: `SELECT concat(tenant_id, '|', entity_id, '|', toString(toUInt64(minute) * 1000), '|', vendor_id) AS key, toString(sum(requests)) AS requests,
                     toString(sum(successes)) AS successes, toString(sum(spend_atomic)) AS spend, toString(sum(latency_sum_ms)) AS sum, max(latency_max_ms) AS max
              FROM rollup_minute FINAL WHERE startsWith(entity_id, '${prefix}') GROUP BY key`,
      format: 'JSONEachRow',
    });
    const rows = await rs.json<{ key: string; requests: string; successes: string; spend: string; sum: string; max: number }>();
    return new Map(rows.map((r) => [r.key, r]));
  }

  it('sends every fold once through the outbox; a resent fold collapses under FINAL', async () => {
    // Spend per minute cell stays below 2^64: 18.16 sums UInt64 without a wider type.
    const groups = randomGroups('fc-', 400, 61, 5).map((g) => ({ ...g, spendAtomic: g.spendAtomic % 1_000_000_000_000n }));
    await write(groups);
    const f = folder({ maxRowsPerRound: 50, clickhouseReceiverId: 'test-receiver' });
    await f.foldNow();
    expect(f.stats().clickhouseRowsQueued).toBeGreaterThan(0);
    const outbox = await pool.query<{ rows: string }>('SELECT rows FROM rollup_clickhouse_outbox ORDER BY id');
    expect(outbox.rows.length).toBe(8);
    // A send whose reply was lost, before the sender's own: the same rows reach ClickHouse twice.
    const first = JSON.parse(outbox.rows[0]?.rows as string) as ClickhouseRow[];
    const sink = new ClickhouseRollupSink(ch.url, 'default', 10_000);
    sinks.push(sink);
    expect((await sink.ensureSchema()).ok).toBe(true);
    expect((await sink.insert(first)).ok).toBe(true);

    const s = sender();
    await s.sendNow();
    expect(s.stats()).toMatchObject({ failures: 0, clickhouseUp: true, rowsSent: f.stats().clickhouseRowsQueued });
    expect((await pool.query('SELECT count(*)::int AS n FROM rollup_clickhouse_outbox')).rows[0].n).toBe(0);

    for (const kind of ['agent', 'gateway'] as const) {
      const expected = expectedBy(groups, kind, MINUTE);
      const got = await chTotals('fc-');
      for (const [key, e] of expected) {
        expect(got.get(key), key).toEqual({ key, requests: String(e.requests), successes: String(e.successes), spend: e.spend.toString(), sum: String(e.latencySum), max: e.max });
      }
    }
    const all = await chTotals('fc-');
    expect(all.size).toBe(expectedBy(groups, 'agent', MINUTE).size + expectedBy(groups, 'gateway', MINUTE).size);
  });
});
