/**
 * RollupService against the real ClickHouse 18.16 and PostgreSQL of the test setup: DDL,
 * inserts read back with exact totals, late events as correcting delta rows, spend near the
 * int64 maximum, retried inserts, and ClickHouse going down (at start, during a flush) and
 * coming back with every count reconciled and memory bounded.
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { RollupService, mergeEncodedHistograms, type RollupGroup, type RollupOptions } from '../../src/rollups/index.js';
import { ClickHouseError } from '@clickhouse/client';
import { classifyClickhouseError, ClickhouseRollupSink } from '../../src/rollups/clickhouse-sink.js';
import { clickhouseRows, clickhouseDateTime } from '../../src/rollups/clickhouse-rows.js';
import { newLatencyHistogram } from '../../src/rollups/latency-histogram.js';
import { MinuteCells, recordLatencies } from '../../src/rollups/minute-cells.js';
import { encodeSpooledBatch } from '../../src/rollups/clickhouse-spool-record.js';
import { Spool } from '../../src/sinks/spool/index.js';
import { agentGroup, eventually, migratedPool, exactPercentile, gatewayGroup, latencySample, minuteAgo, MINUTE, silentLogger, TcpProxy, withinPrecision } from './support.js';

const INT64_MAX = (1n << 63n) - 1n;

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let pool: pg.Pool;
const services: RollupService[] = [];

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('rollups_ch'), createTestClickhouseDatabase('rollups')]);
  pool = await migratedPool(db.url, 4);
});

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop()));
  await pool?.end();
  await Promise.all([db?.drop(), ch?.drop()]);
});

/** A service whose keys are unique to one test (entities carry `tag`), so tests can share the databases. */
function service(overrides: Partial<RollupOptions> = {}): RollupService {
  const s = new RollupService(pool, { flushIntervalMs: 60_000, clickhouseUrl: ch.url, maxBackoffMs: 300, stopTimeoutMs: 5_000, ...overrides }, silentLogger());
  services.push(s);
  return s;
}

async function chRows<T>(query: string): Promise<T[]> {
  const rs = await ch.client.query({ query, format: 'JSONEachRow' });
  return rs.json<T>();
}

interface Totals {
  requests: string;
  successes: string;
  failures: string;
  spend: string;
  rows: string;
}

async function chTotals(entityPrefix: string): Promise<Totals> {
  const [t] = await chRows<Totals>(
    `SELECT toString(sum(requests)) AS requests, toString(sum(successes)) AS successes, toString(sum(failures)) AS failures,
            toString(sum(spend_atomic)) AS spend, toString(count()) AS rows
     FROM rollup_minute FINAL WHERE startsWith(entity_id, '${entityPrefix}')`,
  );
  return t as Totals;
}

function expectedTotals(groups: readonly RollupGroup[]): Omit<Totals, 'rows'> {
  let requests = 0;
  let successes = 0;
  let failures = 0;
  let spend = 0n;
  for (const g of groups) {
    requests += g.requests;
    successes += g.successes;
    failures += g.failures;
    spend += g.spendAtomic;
  }
  return { requests: String(requests), successes: String(successes), failures: String(failures), spend: spend.toString() };
}

/** A mixed load: several agents and vendors over a few minutes, with failures; plus gateway groups. */
function mixedLoad(tag: string, seed: number): RollupGroup[] {
  const groups: RollupGroup[] = [];
  let s = seed;
  for (let m = 0; m < 3; m++) {
    for (let a = 0; a < 4; a++) {
      for (const vendor of ['v-weather', 'v-search']) {
        const latencies = latencySample(20 + ((s * 7) % 30), s++);
        groups.push(agentGroup(`${tag}-agent-${a}`, vendor, minuteAgo(5 - m), latencies, { failures: s % 5, spend: BigInt(latencies.length) * 1234n + BigInt(s) }));
      }
    }
    groups.push(gatewayGroup('tenant-1', `${tag}-gw-1`, 'v-weather', minuteAgo(5 - m), latencySample(15, s++), 3));
  }
  return groups;
}

describe('ClickHouse rollups', () => {
  it('applies the DDL (again, idempotently) and writes rows whose totals read back exactly', async () => {
    const s = service();
    await s.start();
    await service().start(); // a second receiver applying the same DDL
    expect(s.stats().clickhouseUp).toBe(true);
    expect(s.stats().clickhouseVersion).toMatch(/^\d+\.\d+/);

    const groups = mixedLoad('t1', 1);
    // Split over two record() calls and two flushes: every row is a delta, sums must not care.
    s.record(groups.slice(0, 10));
    await s.flush();
    s.record(groups.slice(10));
    await s.flush();

    const t = await chTotals('t1-');
    expect({ requests: t.requests, successes: t.successes, failures: t.failures, spend: t.spend }).toEqual(expectedTotals(groups));
    expect(s.stats().rowsWritten.clickhouse).toBe(Number(t.rows));
    expect(s.stats().pendingRows).toBe(0);

    // Per agent and vendor over the whole window: merged histograms (app code) and the SQL form.
    const perKey = await chRows<{ entity_id: string; vendor_id: string; hdrs: string[] }>(
      `SELECT entity_id, vendor_id, groupArray(latency_hdr) AS hdrs
       FROM rollup_minute FINAL WHERE startsWith(entity_id, 't1-agent-') GROUP BY entity_id, vendor_id`,
    );
    expect(perKey.length).toBe(8);
    for (const k of perKey) {
      const raw = groups.filter((g) => g.entity === k.entity_id && g.vendorId === k.vendor_id).flatMap((g) => g.latencies);
      const merged = mergeEncodedHistograms(k.hdrs);
      expect(merged.totalCount).toBe(raw.length);
      for (const p of [50, 90, 99]) {
        const exact = exactPercentile(raw, p);
        expect(withinPrecision(merged.getValueAtPercentile(p), exact), `${k.entity_id}/${k.vendor_id} p${p}`).toBe(true);
      }
      const [sql] = await chRows<{ p50: number; p99: number }>(
        `SELECT quantileExactWeighted(0.5)(v, c) AS p50, quantileExactWeighted(0.99)(v, c) AS p99
         FROM (SELECT sumMap(latency_values, latency_counts) AS m FROM rollup_minute FINAL
               WHERE entity_id = '${k.entity_id}' AND vendor_id = '${k.vendor_id}')
         ARRAY JOIN tupleElement(m, 1) AS v, tupleElement(m, 2) AS c`,
      );
      // The SQL form ranks the same buckets; its rank rule may land one bucket over.
      for (const [p, got] of [[50, Number(sql?.p50)], [99, Number(sql?.p99)]] as const) {
        const hdr = merged.getValueAtPercentile(p);
        expect(Math.abs(got - hdr), `${k.entity_id} SQL p${p} ${got} vs HDR ${hdr}`).toBeLessThanOrEqual(Math.max(1, hdr / 512));
      }
    }

    // Gateways carry their tenant.
    const gw = await chRows<{ tenant_id: string; kind: string; requests: string }>(
      `SELECT tenant_id, kind, toString(sum(requests)) AS requests FROM rollup_minute FINAL WHERE entity_id = 't1-gw-1' GROUP BY tenant_id, kind`,
    );
    expect(gw).toEqual([{ tenant_id: 'tenant-1', kind: 'gateway', requests: String(3 * 15) }]);
  });

  it('turns a late event into a correcting delta row for its minute', async () => {
    const s = service();
    await s.start();
    const m = minuteAgo(10);
    const first = agentGroup('t2-agent', 'v', m, [10, 20, 30], { failures: 1, spend: 300n });
    s.record([first]);
    await s.flush();
    const late = agentGroup('t2-agent', 'v', m, [4000], { spend: 1n });
    s.record([late]);
    expect(s.stats().lateGroups).toBe(1);
    await s.flush();

    const rows = await chRows<{ requests: string; minute: string }>(`SELECT toString(requests) AS requests, toString(minute) AS minute FROM rollup_minute FINAL WHERE entity_id = 't2-agent' ORDER BY requests`);
    expect(rows).toEqual([
      { requests: '1', minute: clickhouseDateTime(m) },
      { requests: '3', minute: clickhouseDateTime(m) },
    ]);
    const t = await chTotals('t2-');
    expect(t).toMatchObject({ requests: '4', successes: '3', failures: '1', spend: '301' });
    const [h] = await chRows<{ hdrs: string[] }>(`SELECT groupArray(latency_hdr) AS hdrs FROM rollup_minute FINAL WHERE entity_id = 't2-agent'`);
    const merged = mergeEncodedHistograms(h?.hdrs ?? []);
    expect(merged.totalCount).toBe(4);
    expect(merged.getValueAtPercentile(100)).toBeGreaterThanOrEqual(4000);
  });

  it('keeps spend near the int64 maximum exact, even where a minute sums past 2^64', async () => {
    const s = service();
    await s.start();
    const m = minuteAgo(3);
    const groups = [
      agentGroup('t3-agent-a', 'v', m, [1], { spend: INT64_MAX }),
      agentGroup('t3-agent-a', 'v', m, [2], { spend: INT64_MAX - 7n }),
      agentGroup('t3-agent-b', 'v', m, [1], { spend: INT64_MAX }),
      agentGroup('t3-agent-b', 'v', m, [1], { spend: INT64_MAX }),
      agentGroup('t3-agent-b', 'v', m, [1], { spend: INT64_MAX }),
    ];
    s.record(groups);
    await s.flush();
    // Each row is an exact UInt64; sum them outside ClickHouse (its sum() wraps past 2^64).
    const rows = await chRows<{ entity_id: string; spend: string; requests: string }>(
      `SELECT entity_id, toString(spend_atomic) AS spend, toString(requests) AS requests FROM rollup_minute FINAL WHERE startsWith(entity_id, 't3-')`,
    );
    const sum = (e: string): bigint => rows.filter((r) => r.entity_id === e).reduce((n, r) => n + BigInt(r.spend), 0n);
    expect(sum('t3-agent-a')).toBe(2n * INT64_MAX - 7n);
    expect(sum('t3-agent-b')).toBe(3n * INT64_MAX);
    expect(rows.filter((r) => r.entity_id === 't3-agent-b').reduce((n, r) => n + Number(r.requests), 0)).toBe(3);
    // And the hour row in PostgreSQL holds the same numbers (NUMERIC).
    const pgRows = await pool.query<{ agent_id: string; spend: string }>(
      `SELECT agent_id, total_spend_atomic::text AS spend FROM agent_stats_hourly WHERE agent_id LIKE 't3-%' ORDER BY agent_id`,
    );
    expect(pgRows.rows).toEqual([
      { agent_id: 't3-agent-a', spend: (2n * INT64_MAX - 7n).toString() },
      { agent_id: 't3-agent-b', spend: (3n * INT64_MAX).toString() },
    ]);
  });

  it('collapses the copies of a retried insert (same row_id) under FINAL', async () => {
    const sink = new ClickhouseRollupSink(ch.url, 'default', 10_000);
    try {
      expect((await sink.ensureSchema()).ok).toBe(true);
      const cells = new MinuteCells();
      cells.add(agentGroup('t4-agent', 'v', minuteAgo(2), [5, 6, 7], { spend: 99n }), Date.now());
      let n = 0;
      const rows = cells.seal().flatMap((c) => {
        const h = newLatencyHistogram();
        recordLatencies(h, c.latencies);
        return clickhouseRows(c, h, () => `t4-${n++}`, 'rx', clickhouseDateTime(Date.now()));
      });
      expect((await sink.insert(rows)).ok).toBe(true);
      expect((await sink.insert(rows)).ok).toBe(true); // the retry after a lost response
      expect(await chTotals('t4-')).toMatchObject({ requests: '3', spend: '99', rows: '1' });
    } finally {
      await sink.close();
    }
  });

  it('survives ClickHouse down at start and during a flush: PostgreSQL goes on, rows arrive later, counts reconcile', async () => {
    const target = new URL(ch.serverUrl);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.up();
    await proxy.down(); // keeps its port: down at start
    const s = service({ clickhouseUrl: `${proxy.url}/${ch.database}`, clickhouseStartWaitMs: 500, clickhouseRequestTimeoutMs: 2_000 });
    const t0 = performance.now();
    await s.start();
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(s.stats().clickhouseUp).toBe(false);

    const groups = mixedLoad('t5', 100);
    const half = Math.floor(groups.length / 2);
    s.record(groups.slice(0, half));
    const f0 = performance.now();
    await s.flush();
    expect(performance.now() - f0).toBeLessThan(1_000); // a down ClickHouse does not hold the flush
    expect(s.stats().rowsWritten.postgres).toBeGreaterThan(0);
    expect(s.stats().rowsWritten.clickhouse).toBe(0);
    const pendingWhileDown = s.stats().pendingRows;
    expect(pendingWhileDown).toBeGreaterThan(0);

    await proxy.up();
    expect(await eventually(async () => s.stats().pendingRows === 0, 10_000)).toBe(true);
    expect(s.stats().clickhouseUp).toBe(true);

    // Down again during a flush, then up.
    s.record(groups.slice(half));
    await proxy.down();
    await s.flush();
    expect(s.stats().flushFailures.clickhouse).toBeGreaterThanOrEqual(2);
    await proxy.up();
    expect(await eventually(async () => s.stats().pendingRows === 0, 10_000)).toBe(true);

    const t = await chTotals('t5-');
    expect({ requests: t.requests, successes: t.successes, failures: t.failures, spend: t.spend }).toEqual(expectedTotals(groups));
    expect(s.stats().rowsDropped.clickhouse).toBe(0);
    const pgTotal = await pool.query<{ n: string }>(
      `SELECT (SELECT COALESCE(sum(total_requests), 0) FROM agent_stats_hourly WHERE agent_id LIKE 't5-%')
            + (SELECT COALESCE(sum(total_requests), 0) FROM gateway_stats_hourly WHERE gateway_id LIKE 't5-%') AS n`,
    );
    expect(pgTotal.rows[0]?.n).toBe(expectedTotals(groups).requests);
    await proxy.down();
  });

  it('bounds what waits for ClickHouse, counting what it drops so that written + dropped = recorded', async () => {
    const target = new URL(ch.serverUrl);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.up();
    await proxy.down();
    const s = service({ clickhouseUrl: `${proxy.url}/${ch.database}`, clickhouseStartWaitMs: 200, maxPendingClickhouseRows: 10, clickhouseRequestTimeoutMs: 2_000 });
    await s.start();
    const groups: RollupGroup[] = [];
    for (let f = 0; f < 3; f++) {
      const batch = Array.from({ length: 8 }, (_, i) => agentGroup(`t6-agent-${f}-${i}`, 'v', minuteAgo(1), latencySample(5, f * 10 + i + 1)));
      groups.push(...batch);
      s.record(batch);
      await s.flush();
      expect(s.stats().pendingRows).toBeLessThanOrEqual(10);
    }
    // Each flush queues one batch of 8 rows; a second batch would pass the bound of 10, so the
    // oldest whole batch goes: two of the three.
    const dropped = s.stats().requestsDropped.clickhouse;
    expect(s.stats().rowsDropped.clickhouse).toBe(16);
    expect(dropped).toBe(16 * 5);
    await proxy.up();
    expect(await eventually(async () => s.stats().pendingRows === 0, 10_000)).toBe(true);
    const t = await chTotals('t6-');
    expect(Number(t.requests) + dropped).toBe(groups.reduce((n, g) => n + g.requests, 0));
    expect(s.stats().rowsWritten.clickhouse + s.stats().rowsDropped.clickhouse).toBe(24);
    await proxy.down();
  });

  it('keeps rows built while ClickHouse is down in its spool across a restart, and sends them exactly once when it returns', async () => {
    const target = new URL(ch.serverUrl);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.up();
    await proxy.down();
    const dir = await mkdtemp(join(inject('testRunDir'), 'rollup-spool-')) // removed with the run directory;
    const opts: Partial<RollupOptions> = { clickhouseUrl: `${proxy.url}/${ch.database}`, clickhouseStartWaitMs: 300, clickhouseRequestTimeoutMs: 2_000, clickhouseSpoolDir: dir };
    const first = service(opts);
    await first.start();
    const groups = mixedLoad('t15', 300);
    const half = Math.floor(groups.length / 2);
    first.record(groups.slice(0, half));
    await first.flush();
    expect(first.stats().clickhouseSpool).toMatchObject({ records: 1 });
    first.record(groups.slice(half));
    await first.stop(); // the final flush spools the rest
    expect(first.stats().clickhouseSpool).toMatchObject({ records: 2 });
    expect(first.stats().rowsDropped.clickhouse).toBe(0);

    // A new process on the same spool, ClickHouse still down, then back.
    const second = service(opts);
    await second.start();
    expect(second.stats().clickhouseSpool).toMatchObject({ records: 2 });
    expect(second.stats().pendingRows).toBeGreaterThan(0);
    await proxy.up();
    expect(await eventually(async () => second.stats().pendingRows === 0, 15_000)).toBe(true);
    expect(second.stats().clickhouseSpool).toMatchObject({ records: 0 });
    const t = await chTotals('t15-');
    expect({ requests: t.requests, successes: t.successes, failures: t.failures, spend: t.spend }).toEqual(expectedTotals(groups));
    expect(Number(t.rows)).toBe(second.stats().rowsWritten.clickhouse);
    const [ids] = await chRows<{ n: string; distinct: string }>(`SELECT toString(count()) AS n, toString(uniqExact(row_id)) AS distinct FROM rollup_minute FINAL WHERE startsWith(entity_id, 't15-')`);
    expect(ids?.n).toBe(ids?.distinct);
    await proxy.down();
  });

  it('replays a spooled batch whose INSERT landed but was never acknowledged, and it collapses under FINAL', async () => {
    const dir = await mkdtemp(join(inject('testRunDir'), 'rollup-spool-')) // removed with the run directory;
    const cells = new MinuteCells();
    for (const g of mixedLoad('t16', 400)) cells.add(g, Date.now());
    let n = 0;
    const rows = cells.seal().flatMap((c) => {
      const h = newLatencyHistogram();
      recordLatencies(h, c.latencies);
      return clickhouseRows(c, h, () => `t16-${n++}`, 'rx', clickhouseDateTime(Date.now()));
    });
    const requests = rows.reduce((sum, r) => sum + r.requests, 0);
    // A crash between ClickHouse's reply and the acknowledgement: in the spool and in the table.
    const spool = await Spool.open({ dir, maxBytes: 1 << 20, segmentBytes: 1 << 18 }, silentLogger());
    expect(await spool.append(await encodeSpooledBatch({ rows, requests, oldestOpenedAt: Date.now() }))).toBe('ok');
    await spool.close();
    const sink = new ClickhouseRollupSink(ch.url, 'default', 10_000);
    try {
      expect((await sink.ensureSchema()).ok).toBe(true);
      expect((await sink.insert(rows)).ok).toBe(true);
    } finally {
      await sink.close();
    }
    const s = service({ clickhouseSpoolDir: dir });
    await s.start();
    expect(await eventually(async () => s.stats().clickhouseSpool?.records === 0, 10_000)).toBe(true);
    expect(s.stats().rowsWritten.clickhouse).toBe(rows.length); // sent again
    expect(await chTotals('t16-')).toMatchObject({ requests: String(requests), rows: String(rows.length) });
  });

  it('falls back to the bounded memory outbox when the spool is full, losing nothing it has room for', async () => {
    const target = new URL(ch.serverUrl);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.up();
    await proxy.down();
    const dir = await mkdtemp(join(inject('testRunDir'), 'rollup-spool-')) // removed with the run directory;
    const maxBytes = 16 * 1024;
    const s = service({ clickhouseUrl: `${proxy.url}/${ch.database}`, clickhouseStartWaitMs: 200, clickhouseRequestTimeoutMs: 2_000, clickhouseSpoolDir: dir, clickhouseSpoolMaxBytes: maxBytes });
    await s.start();
    const groups: RollupGroup[] = [];
    for (let f = 0; f < 6; f++) {
      const batch = Array.from({ length: 8 }, (_, i) => agentGroup(`t17-agent-${f}-${i}`, 'v', minuteAgo(1), latencySample(5, f * 10 + i + 1)));
      groups.push(...batch);
      s.record(batch);
      await s.flush();
      expect(s.stats().clickhouseSpool?.bytes).toBeLessThanOrEqual(maxBytes);
    }
    const spooled = s.stats().clickhouseSpool?.records ?? 0;
    expect(spooled).toBeGreaterThan(0);
    expect(spooled).toBeLessThan(6); // the rest wait in memory
    expect(s.stats().pendingRows).toBe(6 * 8);
    await proxy.up();
    expect(await eventually(async () => s.stats().pendingRows === 0, 10_000)).toBe(true);
    expect(await chTotals('t17-')).toMatchObject({ requests: String(6 * 8 * 5), rows: String(6 * 8) });
    expect(s.stats().rowsDropped.clickhouse).toBe(0);
    await proxy.down();
  });

  it('flushes early when the open keys reach their cap, losing nothing', async () => {
    const s = service({ maxOpenKeys: 50 });
    await s.start();
    const groups = Array.from({ length: 180 }, (_, i) => agentGroup(`t7-agent-${i}`, 'v', minuteAgo(1), [i + 1]));
    for (let i = 0; i < groups.length; i += 30) s.record(groups.slice(i, i + 30));
    expect(s.stats().earlyFlushes).toBeGreaterThanOrEqual(3);
    expect(s.stats().openKeys).toBeLessThan(50);
    await s.flush();
    expect(await chTotals('t7-')).toMatchObject({ requests: '180', rows: '180' });
  });

  it('flushes early when the latencies held reach their cap', async () => {
    const s = service({ maxPendingLatencies: 100 });
    await s.start();
    const groups = Array.from({ length: 12 }, (_, i) => agentGroup(`t12-agent-${i % 3}`, 'v', minuteAgo(1), latencySample(30, i + 1)));
    for (const g of groups) s.record([g]);
    expect(s.stats().earlyFlushes).toBeGreaterThanOrEqual(3);
    await s.flush();
    expect(await chTotals('t12-')).toMatchObject({ requests: String(12 * 30) });
  });

  it('puts the table back when it disappears under a running receiver, and loses nothing', async () => {
    const s = service();
    await s.start();
    s.record([agentGroup('t13-agent', 'v', minuteAgo(1), [1, 2])]);
    await s.flush();
    // (Rows other tests of this file wrote go too; each test only reads its own keys.)
    await ch.client.command({ query: 'DROP TABLE rollup_minute' });
    s.record([agentGroup('t13-agent', 'v', minuteAgo(1), [3])]);
    await s.flush(); // fails with UNKNOWN_TABLE: the DDL is applied again, then the rows retried
    expect(await eventually(async () => s.stats().pendingRows === 0, 10_000)).toBe(true);
    expect(await chTotals('t13-')).toMatchObject({ requests: '1' });
    expect(s.stats().flushFailures.clickhouse).toBeGreaterThanOrEqual(1);
  });

  it('drops and counts rows ClickHouse refuses outright, instead of blocking the rows behind them', async () => {
    const other = await createTestClickhouseDatabase('rollups_refused');
    const s = service({ clickhouseUrl: other.url });
    try {
      await s.start();
      // A column the rows cannot fill: every insert now fails with a parse error.
      await other.client.command({ query: 'ALTER TABLE rollup_minute MODIFY COLUMN receiver_id UInt8' });
      s.record([agentGroup('t14-agent', 'v', minuteAgo(1), [1, 2, 3])]);
      await s.flush();
      expect(s.stats()).toMatchObject({ pendingRows: 0, rowsDropped: { clickhouse: 1 }, requestsDropped: { clickhouse: 3 } });
      await other.client.command({ query: 'ALTER TABLE rollup_minute MODIFY COLUMN receiver_id String' });
      s.record([agentGroup('t14-agent', 'v', minuteAgo(1), [4])]);
      await s.flush();
      const rs = await other.client.query({ query: `SELECT toString(sum(requests)) AS n FROM rollup_minute FINAL`, format: 'JSONEachRow' });
      expect(await rs.json()).toEqual([{ n: '1' }]);
      // PostgreSQL got both.
      const r = await pool.query<{ n: string }>(`SELECT total_requests::text AS n FROM agent_stats_hourly WHERE agent_id = 't14-agent'`);
      expect(r.rows[0]?.n).toBe('4');
    } finally {
      // Stopped first: its final flush would otherwise create the database again.
      await s.stop();
      await other.drop();
    }
  });

  it('classifies ClickHouse failures: rows at fault are permanent, a missing table is schema, the rest retry', () => {
    expect(classifyClickhouseError(new ClickHouseError({ message: 'Cannot parse input', code: '27' }))).toBe('permanent');
    expect(classifyClickhouseError(new ClickHouseError({ message: 'Table doesn\'t exist', code: '60' }))).toBe('schema');
    expect(classifyClickhouseError(new ClickHouseError({ message: 'Too many parts', code: '252' }))).toBe('retry');
    expect(classifyClickhouseError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('retry');
    expect(classifyClickhouseError(new Error('Timeout error.'))).toBe('retry');
    // 18.16's message format, which the client leaves as a plain Error.
    expect(classifyClickhouseError(new Error("Code: 60, e.displayText() = DB::Exception: Table t.rollup_minute doesn't exist., e.what() = DB::Exception"))).toBe('schema');
    expect(classifyClickhouseError(new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input, e.what() = DB::Exception'))).toBe('permanent');
  });

  it('writes what is pending when stopped', async () => {
    const s = new RollupService(pool, { flushIntervalMs: 60_000, clickhouseUrl: ch.url }, silentLogger());
    await s.start();
    s.record([agentGroup('t8-agent', 'v', minuteAgo(1), [1, 2, 3], { spend: 42n })]);
    await s.stop();
    expect(await chTotals('t8-')).toMatchObject({ requests: '3', spend: '42' });
    const r = await pool.query<{ n: string }>(`SELECT total_requests::text AS n FROM agent_stats_hourly WHERE agent_id = 't8-agent'`);
    expect(r.rows[0]?.n).toBe('3');
  });

  it('runs without ClickHouse (clickhouseUrl null): PostgreSQL only', async () => {
    const s = service({ clickhouseUrl: null });
    await s.start();
    s.record([agentGroup('t9-agent', 'v', minuteAgo(1), [7])]);
    await s.flush();
    expect(s.stats()).toMatchObject({ clickhouseUp: false, rowsWritten: { clickhouse: 0, postgres: 1 }, pendingRows: 0 });
  });

  it('writes PostgreSQL on its own, slower interval when asked to, coalescing the flushes between', async () => {
    const s = service({ flushIntervalMs: 100, postgresFlushIntervalMs: 4_000 });
    await s.start();
    s.record([agentGroup('t11-agent', 'v', minuteAgo(0), [7, 8])]);
    expect(await eventually(async () => (await chTotals('t11-')).requests === '2', 5_000)).toBe(true);
    s.record([agentGroup('t11-agent', 'v', minuteAgo(0), [9])]);
    expect(await eventually(async () => (await chTotals('t11-')).requests === '3', 5_000)).toBe(true);
    const early = await pool.query(`SELECT total_requests::text AS n FROM agent_stats_hourly WHERE agent_id = 't11-agent'`);
    expect(early.rows).toEqual([]);
    const hourly = async (): Promise<string | undefined> =>
      (await pool.query<{ n: string }>(`SELECT total_requests::text AS n FROM agent_stats_hourly WHERE agent_id = 't11-agent'`)).rows[0]?.n;
    expect(await eventually(async () => (await hourly()) === '3', 8_000)).toBe(true);
  });

  it('flushes on its interval without being asked', async () => {
    const s = service({ flushIntervalMs: 100 });
    await s.start();
    s.record([agentGroup('t10-agent', 'v', minuteAgo(0), [7, 8])]);
    expect(await eventually(async () => (await chTotals('t10-')).requests === '2', 5_000)).toBe(true);
    expect(s.stats().lastFlushLagSeconds).toBeGreaterThanOrEqual(0);
    expect(s.stats().lastFlushLagSeconds).toBeLessThan(5);
  });
});

// A sanity check of the test's own arithmetic: the load has what the assertions assume.
describe('mixedLoad', () => {
  it('has failures, two vendors and gateway groups', () => {
    const g = mixedLoad('x', 1);
    expect(g.some((x) => x.failures > 0)).toBe(true);
    expect(new Set(g.map((x) => x.vendorId)).size).toBe(2);
    expect(g.some((x) => x.kind === 'gateway')).toBe(true);
    expect(MINUTE).toBe(60_000);
  });
});
