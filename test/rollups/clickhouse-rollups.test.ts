/**
 * The rollups' ClickHouse side against the real ClickHouse 18.16 and PostgreSQL of the test
 * setup, fed as the receiver feeds it (tallies committed into rollup_pending, folded by
 * TallyFolder into the outbox, sent by ClickhouseOutboxSender): DDL, inserts read back with
 * exact totals, late events as correcting delta rows, spend near the int64 maximum, retried
 * inserts, and ClickHouse going down (at start, during a send) and coming back with every
 * count reconciled.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { ClickhouseOutboxSender, ClickhouseRollupSink, mergeEncodedHistograms, TallyFolder, writePendingTallies, type RollupGroup } from '../../src/rollups/index.js';
import { ClickHouseError } from '@clickhouse/client';
import { clickhouseRows, clickhouseDateTime } from '../../src/rollups/clickhouse-rows.js';
import { newLatencyHistogram } from '../../src/rollups/latency-histogram.js';
import { MinuteCells, recordLatencies } from '../../src/rollups/minute-cells.js';
import { agentGroup, eventually, migratedPool, exactPercentile, gatewayGroup, latencySample, minuteAgo, MINUTE, silentLogger, TcpProxy, withinPrecision } from './support.js';
import { STATUS_COLUMNS, statusSums, withStatusClasses, type StatusTotals } from './gateway-status-load.js';
import { classifyClickhouseError, loadClickhouseDdl } from '../../src/rollups/clickhouse-sink.js';
import { schemaStatements, serverFeatures } from '../../src/rollups/clickhouse-ddl.js';

const INT64_MAX = (1n << 63n) - 1n;

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let pool: pg.Pool;
const running: Rollups[] = [];

beforeAll(async () => {
  [db, ch] = await Promise.all([createTestDatabase('rollups_ch'), createTestClickhouseDatabase('rollups')]);
  pool = await migratedPool(db.url, 6);
});

afterAll(async () => {
  await Promise.all(running.map((s) => s.stop()));
  await pool?.end();
  await Promise.all([db?.drop(), ch?.drop()]);
});

/** One receiver's rollup side: its folder and, with a ClickHouse URL, its outbox sender. */
class Rollups {
  readonly folder: TallyFolder;
  readonly sender: ClickhouseOutboxSender | null;
  private readonly sink: ClickhouseRollupSink | null;

  constructor(clickhouseUrl: string | null, intervalMs = 600_000) {
    this.folder = new TallyFolder(pool, { intervalMs, clickhouseReceiverId: clickhouseUrl === null ? null : 'rx-test' }, silentLogger());
    this.sink = clickhouseUrl === null ? null : new ClickhouseRollupSink(clickhouseUrl, 'default', 2_000);
    this.sender = this.sink === null ? null : new ClickhouseOutboxSender(pool, this.sink, { intervalMs, baseBackoffMs: 50, maxBackoffMs: 300 }, silentLogger());
  }

  start(): void {
    this.folder.start();
    this.sender?.start();
  }

  /** What one COPY transaction commits besides its rows. */
  async commit(groups: readonly RollupGroup[]): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      await writePendingTallies(client, groups);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
  }

  /** Folds what is pending, then sends the outbox once. */
  async flush(): Promise<void> {
    await this.folder.foldNow();
    await this.sender?.sendNow();
  }

  async stop(): Promise<void> {
    await this.folder.stop();
    await this.sender?.stop();
    await this.sink?.close();
  }
}

function rollups(clickhouseUrl: string | null = ch.url, intervalMs?: number): Rollups {
  const r = new Rollups(clickhouseUrl, intervalMs);
  running.push(r);
  return r;
}

async function outboxRows(): Promise<number> {
  return (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM rollup_clickhouse_outbox')).rows[0]?.n ?? -1;
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
  it('applies the DDL (again, idempotently) and sends folded rows whose totals read back exactly', async () => {
    const s = rollups();
    const second = rollups(); // a second receiver applying the same DDL
    await second.flush();
    expect(second.sender?.stats().clickhouseUp).toBe(true);

    const groups = mixedLoad('t1', 1);
    // Split over two commits and two folds: every row is a delta, sums must not care.
    await s.commit(groups.slice(0, 10));
    await s.flush();
    await s.commit(groups.slice(10));
    await s.flush();

    const t = await chTotals('t1-');
    expect({ requests: t.requests, successes: t.successes, failures: t.failures, spend: t.spend }).toEqual(expectedTotals(groups));
    expect(s.sender?.stats().rowsSent).toBe(Number(t.rows));
    expect(await outboxRows()).toBe(0);

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
    const s = rollups();
    const m = minuteAgo(10);
    await s.commit([agentGroup('t2-agent', 'v', m, [10, 20, 30], { failures: 1, spend: 300n })]);
    await s.flush();
    await s.commit([agentGroup('t2-agent', 'v', m, [4000], { spend: 1n })]);
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
    const s = rollups();
    const m = minuteAgo(3);
    const groups = [
      agentGroup('t3-agent-a', 'v', m, [1], { spend: INT64_MAX }),
      agentGroup('t3-agent-a', 'v', m, [2], { spend: INT64_MAX - 7n }),
      agentGroup('t3-agent-b', 'v', m, [1], { spend: INT64_MAX }),
      agentGroup('t3-agent-b', 'v', m, [1], { spend: INT64_MAX }),
      agentGroup('t3-agent-b', 'v', m, [1], { spend: INT64_MAX }),
    ];
    await s.commit(groups);
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

  it('survives ClickHouse down at start and during a send: PostgreSQL goes on, rows arrive later, counts reconcile', async () => {
    const target = new URL(ch.serverUrl);
    const proxy = new TcpProxy(target.hostname, Number(target.port));
    await proxy.up();
    await proxy.down(); // keeps its port: down at start
    const s = rollups(`${proxy.url}/${ch.database}`);
    const sender = s.sender as ClickhouseOutboxSender;

    const groups = mixedLoad('t5', 100);
    const half = Math.floor(groups.length / 2);
    await s.commit(groups.slice(0, half));
    const f0 = performance.now();
    await s.folder.foldNow();
    expect(performance.now() - f0).toBeLessThan(1_000); // a down ClickHouse does not hold the fold
    await sender.sendNow();
    expect(sender.stats()).toMatchObject({ clickhouseUp: false, rowsSent: 0 });
    expect(await outboxRows()).toBeGreaterThan(0);

    await proxy.up();
    expect(await eventually(async () => (await outboxRows()) === 0, 10_000)).toBe(true);
    expect(sender.stats().clickhouseUp).toBe(true);

    // Down again during a send, then up.
    await s.commit(groups.slice(half));
    await proxy.down();
    await s.flush();
    expect(sender.stats().failures).toBeGreaterThanOrEqual(2);
    await proxy.up();
    expect(await eventually(async () => (await outboxRows()) === 0, 10_000)).toBe(true);

    const t = await chTotals('t5-');
    expect({ requests: t.requests, successes: t.successes, failures: t.failures, spend: t.spend }).toEqual(expectedTotals(groups));
    const pgTotal = await pool.query<{ n: string }>(
      `SELECT (SELECT COALESCE(sum(total_requests), 0) FROM agent_stats_hourly WHERE agent_id LIKE 't5-%')
            + (SELECT COALESCE(sum(total_requests), 0) FROM gateway_stats_hourly WHERE gateway_id LIKE 't5-%') AS n`,
    );
    expect(pgTotal.rows[0]?.n).toBe(expectedTotals(groups).requests);
    await proxy.down();
  });

  it('puts the table back when it disappears under a running receiver, and loses nothing', async () => {
    const s = rollups();
    await s.commit([agentGroup('t13-agent', 'v', minuteAgo(1), [1, 2])]);
    await s.flush();
    // (Rows other tests of this file wrote go too; each test only reads its own keys.)
    await ch.client.command({ query: 'DROP TABLE rollup_minute' });
    await s.commit([agentGroup('t13-agent', 'v', minuteAgo(1), [3])]);
    await s.flush(); // fails with UNKNOWN_TABLE: the DDL is applied again, then the rows sent
    expect(await eventually(async () => (await outboxRows()) === 0, 10_000)).toBe(true);
    expect(await chTotals('t13-')).toMatchObject({ requests: '1' });
    expect(s.sender?.stats().failures).toBeGreaterThanOrEqual(1);
  });

  it('adds back columns a table recreated without them lacks, under a running receiver, and parks no row', async () => {
    const s = rollups();
    await s.commit([agentGroup('t16-agent', 'v', minuteAgo(1), [1])]);
    await s.flush();
    // An operator recreates the table from an older schema: without schema/clickhouse/003's columns.
    await ch.client.command({ query: 'DROP TABLE rollup_minute' });
    const layout = { database: ch.database, cluster: null, replicated: false, retentionDays: 0 };
    for (const st of schemaStatements(await loadClickhouseDdl(), layout, serverFeatures('18.16.1'))) {
      if (st.lacking === null && st.sql.includes('rollup_minute ')) await ch.client.command({ query: st.sql });
    }
    const gateway = withStatusClasses(gatewayGroup('tenant-1', 't16-gw', 'v', minuteAgo(1), [4, 5], 0), 3);
    await s.commit([gateway]);
    await s.flush(); // refused for its unknown columns: the columns are added again, then the rows sent
    expect(await eventually(async () => (await outboxRows()) === 0, 10_000)).toBe(true);
    const [row] = await chRows<StatusTotals>(`SELECT ${statusSums('clickhouse')} FROM rollup_minute FINAL WHERE entity_id = 't16-gw'`);
    expect(row).toEqual({ status_2xx: String(gateway.status2xx), status_3xx: String(gateway.status3xx), status_4xx: String(gateway.status4xx), status_5xx: String(gateway.status5xx), payments_verified: String(gateway.paymentsVerified) });
    expect(await chRows(`SELECT error FROM rollup_minute_rejected WHERE position(row_json, 't16-') > 0`)).toEqual([]);
  });

  it('writes each gateway\'s status classes and verified payments, equal to gateway_stats_minute / _hourly / _daily; agents 0', async () => {
    const s = rollups();
    const groups: RollupGroup[] = [];
    for (let m = 0; m < 3; m++) {
      for (let g = 0; g < 3; g++) {
        for (const [v, vendor] of ['v-weather', 'v-search'].entries()) {
          const base = gatewayGroup(`tenant-${g % 2}`, `t14-gw-${g}`, vendor, minuteAgo(4 - m), latencySample(6 + g, 40 + m * 7 + g), (m + g) % 4);
          groups.push(withStatusClasses(base, (m + 1) * (g + 2) + v));
        }
      }
      groups.push(agentGroup(`t14-agent-${m}`, 'v-weather', minuteAgo(4 - m), [5, 6, 7], { failures: 1 }));
    }
    // Two commits and two folds: a minute's classes arrive as several delta rows.
    await s.commit(groups.slice(0, 8));
    await s.flush();
    await s.commit(groups.slice(8));
    await s.flush();
    expect(await outboxRows()).toBe(0);

    const expected = new Map<string, StatusTotals>();
    for (const g of groups.filter((x) => x.kind === 'gateway')) {
      const key = `${g.tenantId}|${g.entity}`;
      const t = expected.get(key) ?? { status_2xx: '0', status_3xx: '0', status_4xx: '0', status_5xx: '0', payments_verified: '0' };
      const add = [g.status2xx, g.status3xx, g.status4xx, g.status5xx, g.paymentsVerified];
      STATUS_COLUMNS.forEach((c, i) => (t[c] = String(Number(t[c]) + (add[i] ?? 0))));
      expected.set(key, t);
    }
    const want = [...expected.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, t]) => ({ key, ...t }));
    // The load exercises every column: a sum written into the wrong column would show.
    for (const c of STATUS_COLUMNS) expect(new Set(want.map((w) => w[c])).size, c).toBeGreaterThan(1);

    const onClickhouse = await chRows<StatusTotals & { key: string }>(
      `SELECT concat(tenant_id, '|', entity_id) AS key, ${statusSums('clickhouse')} FROM rollup_minute FINAL
       WHERE kind = 'gateway' AND startsWith(entity_id, 't14-') GROUP BY key ORDER BY key`,
    );
    expect(onClickhouse).toEqual(want);
    for (const table of ['gateway_stats_minute', 'gateway_stats_hourly', 'gateway_stats_daily']) {
      const r = await pool.query<StatusTotals & { key: string }>(
        `SELECT tenant_id || '|' || gateway_id AS key, ${statusSums('postgres')} FROM ${table} WHERE gateway_id LIKE 't14-%' GROUP BY 1 ORDER BY 1`,
      );
      expect(r.rows, table).toEqual(onClickhouse);
    }
    // Per minute and vendor too, the grain both stores keep.
    const perMinute = await chRows<Record<string, string>>(
      `SELECT concat(toString(toUnixTimestamp(minute)), '|', entity_id, '|', vendor_id) AS key, ${statusSums('clickhouse')} FROM rollup_minute FINAL
       WHERE kind = 'gateway' AND startsWith(entity_id, 't14-') GROUP BY key ORDER BY key`,
    );
    const pgPerMinute = await pool.query<Record<string, string>>(
      `SELECT extract(epoch FROM bucket)::bigint::text || '|' || gateway_id || '|' || vendor_id AS key, ${statusSums('postgres')}
       FROM gateway_stats_minute WHERE gateway_id LIKE 't14-%' GROUP BY 1 ORDER BY 1`,
    );
    expect(perMinute).toHaveLength(18);
    expect(perMinute).toEqual(pgPerMinute.rows);
    const agents = await chRows<StatusTotals>(`SELECT ${statusSums('clickhouse')} FROM rollup_minute FINAL WHERE startsWith(entity_id, 't14-agent-')`);
    expect(agents).toEqual([{ status_2xx: '0', status_3xx: '0', status_4xx: '0', status_5xx: '0', payments_verified: '0' }]);
  });

  it('adds the status columns to a rollup_minute made before them, keeps its rows (reading 0), and adds only what is missing', async () => {
    const older = await createTestClickhouseDatabase('rollups_upgrade');
    const sink = new ClickhouseRollupSink(older.url, 'default', 10_000);
    try {
      // The table as a receiver without schema/clickhouse/003 left it, with one of its rows.
      for (const st of schemaStatements(await loadClickhouseDdl(), { database: older.database, cluster: null, replicated: false, retentionDays: 0 }, serverFeatures('18.16.1'))) {
        if (st.lacking === null) await older.client.command({ query: st.sql });
      }
      const columns = async (): Promise<string[]> =>
        (await (await older.client.query({ query: `SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'rollup_minute' ORDER BY name`, format: 'JSONEachRow' })).json<{ name: string }>()).map((r) => r.name);
      expect(await columns()).not.toContain('status_5xx');
      const cells = new MinuteCells();
      cells.add(gatewayGroup('tenant-1', 't15-gw', 'v', minuteAgo(2), [5, 6, 7], 1), Date.now());
      const [oldRow] = cells.seal().flatMap((c) => {
        const h = newLatencyHistogram();
        recordLatencies(h, c.latencies);
        return clickhouseRows(c, h, () => 't15-old', 'rx-old', clickhouseDateTime(Date.now()));
      });
      const withoutClasses = Object.fromEntries(Object.entries(oldRow ?? {}).filter(([k]) => !(STATUS_COLUMNS as readonly string[]).includes(k)));
      await older.client.insert({ table: 'rollup_minute', values: [withoutClasses], format: 'JSONEachRow' });

      expect(await sink.ensureSchema()).toEqual({ ok: true });
      expect(await columns()).toEqual(expect.arrayContaining([...STATUS_COLUMNS]));
      const types = await (await older.client.query({
        query: `SELECT name, type, default_kind FROM system.columns WHERE database = currentDatabase() AND table = 'rollup_minute' AND name IN (${STATUS_COLUMNS.map((c) => `'${c}'`).join(', ')}) ORDER BY name`,
        format: 'JSONEachRow',
      })).json<{ name: string; type: string; default_kind: string }>();
      expect(types).toEqual([...STATUS_COLUMNS].sort().map((name) => ({ name, type: 'UInt64', default_kind: 'DEFAULT' })));
      const read = async (): Promise<unknown[]> =>
        (await older.client.query({ query: `SELECT toString(sum(requests)) AS requests, ${statusSums('clickhouse')} FROM rollup_minute FINAL WHERE entity_id = 't15-gw'`, format: 'JSONEachRow' })).json();
      expect(await read()).toEqual([{ requests: '3', status_2xx: '0', status_3xx: '0', status_4xx: '0', status_5xx: '0', payments_verified: '0' }]);

      // Every start runs it again; with one column gone (an operator's slip), only that one is added (18.16 refuses the others twice).
      expect(await sink.ensureSchema()).toEqual({ ok: true });
      await older.client.command({ query: 'ALTER TABLE rollup_minute DROP COLUMN status_3xx' });
      expect(await sink.ensureSchema()).toEqual({ ok: true });
      expect(await columns()).toEqual(expect.arrayContaining([...STATUS_COLUMNS]));
      // A new row carries its classes beside the old one.
      expect(await sink.insert([{ ...oldRow, row_id: 't15-new', status_2xx: 1, status_3xx: 1, status_5xx: 1, payments_verified: 2 }])).toEqual({ ok: true });
      expect(await read()).toEqual([{ requests: '6', status_2xx: '1', status_3xx: '1', status_4xx: '0', status_5xx: '1', payments_verified: '2' }]);
    } finally {
      await sink.close();
      await older.drop();
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

  it('runs without ClickHouse (clickhouseUrl null): PostgreSQL only', async () => {
    const s = rollups(null);
    await s.commit([agentGroup('t9-agent', 'v', minuteAgo(1), [7])]);
    await s.flush();
    expect(s.folder.stats()).toMatchObject({ rowsFolded: 1, clickhouseRowsQueued: 0 });
    expect(await outboxRows()).toBe(0);
    const r = await pool.query<{ n: string }>(`SELECT total_requests::text AS n FROM agent_stats_hourly WHERE agent_id = 't9-agent'`);
    expect(r.rows[0]?.n).toBe('1');
  });

  it('folds and sends on its interval without being asked', async () => {
    const s = rollups(ch.url, 100);
    s.start();
    await s.commit([agentGroup('t10-agent', 'v', minuteAgo(0), [7, 8])]);
    expect(await eventually(async () => (await chTotals('t10-')).requests === '2', 5_000)).toBe(true);
    expect(s.folder.stats().lagSeconds).toBeGreaterThanOrEqual(0);
    expect(s.folder.stats().lagSeconds).toBeLessThan(5);
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
