import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAgent } from '../helpers/agent.js';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { withClient } from '../../src/database/index.js';
import { createTestDatabase, postgresServerUrl, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { loadDashboards, queriesOf, type Dashboard, type DashboardQuery } from './dashboard-files.js';
import { renderQuery, type QueryContext } from './grafana-interpolation.js';
import { applyClickhouseSchema, postgresReaderSql } from './service-schemas.js';
import { sendTraffic, type Traffic } from './traffic.js';

/**
 * (e) Every SQL query of the dashboards, rendered as Grafana would render it, runs against the
 * real schemas: PostgreSQL migrated by the receiver (as the SELECT-only role that
 * grafana/init/postgres creates), and the ClickHouse 18.16 of the test setup with
 * schema/clickhouse applied. Known data checks that the panels say what they claim: real
 * traffic through the receiver (raw rows, and the rollups the receiver itself writes to both
 * databases), plus rollup rows written here with deltas, a retried copy and hourly histograms.
 */

type Row = Record<string, unknown>;

const HOUR = 3_600_000;
const now = new Date();
const hourStart = new Date(Math.floor(now.getTime() / HOUR) * HOUR);
const from = new Date(hourStart.getTime() - 2 * HOUR);
const to = new Date(now.getTime() + 5 * 60_000);
const ctxBase = { from, to, intervalSeconds: 60 } as const;

let db: TestDatabase;
let ch: TestClickhouseDatabase;
let rx: RunningReceiver;
let traffic: Traffic;
let dashboards: Dashboard[];
let readerRole: string;
let readerUrl: string;

// Agents that only have rollup rows (written below, never sent), so the rows the receiver's
// own rollups write for the traffic never share a key with them.
const rollupAgentA = newAgent().agentId;
const rollupAgentB = newAgent().agentId;

function dashboard(uid: string): Dashboard {
  const d = dashboards.find((x) => x.json.uid === uid);
  if (d === undefined) throw new Error(`no dashboard ${uid}`);
  return d;
}

beforeAll(async () => {
  dashboards = await loadDashboards();
  db = await createTestDatabase('observability_sql');

  // The Grafana reader role, exactly as the init script makes it, before the receiver creates
  // its tables (as in docker-compose: initdb first, receiver later).
  readerRole = `grafana_reader_${randomBytes(4).toString('hex')}`;
  const readerPassword = randomBytes(12).toString('hex');
  const owner = new URL(postgresServerUrl()).username;
  await withClient(db.url, async (c) => {
    await c.query(await postgresReaderSql({ reader: readerRole, reader_password: readerPassword, owner, db: db.name }, c));
  });
  const u = new URL(db.url);
  u.username = readerRole;
  u.password = readerPassword;
  readerUrl = u.toString();

  ch = await createTestClickhouseDatabase('observability_sql');
  await applyClickhouseSchema(ch.client);

  rx = await startReceiver({ DATABASE_URL: db.url, CLICKHOUSE_URL: ch.url, ROLLUP_FLUSH_MS: '100', LOG_LEVEL: 'warn' });
  traffic = await sendTraffic(rx.url, db.url);
  await writeRollupFixtures();
  await waitForReceiverRollups();
});

/** The receiver's own rollups of the traffic: 3 interactions of `healthy`, 2 gateway requests. */
async function waitForReceiverRollups(): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const pgRows = await withClient(db.url, (c) =>
      c.query('SELECT coalesce(sum(total_requests), 0)::int AS n FROM agent_stats_hourly WHERE agent_id = $1', [traffic.healthy.agentId]),
    );
    const chRows = await (
      await ch.client.query({ query: `SELECT kind, sum(requests) AS n FROM rollup_minute FINAL WHERE receiver_id != 'fixture' GROUP BY kind ORDER BY kind`, format: 'JSONEachRow' })
    ).json<Row>();
    const counts = Object.fromEntries(chRows.map((r) => [String(r.kind), num(r.n)]));
    if (num(pgRows.rows[0]?.n) === 3 && counts.agent === 3 && counts.gateway === 2) return;
    if (Date.now() > deadline) throw new Error(`the receiver's rollups did not arrive within 20 s (agent_stats_hourly: ${String(pgRows.rows[0]?.n)}, rollup_minute: ${JSON.stringify(counts)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

afterAll(async () => {
  await rx?.stop();
  await ch?.drop();
  await db?.drop();
  if (readerRole !== undefined) {
    await withClient(postgresServerUrl(), (c) => c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(readerRole)}`));
  }
});

/** agent_stats_hourly rows as the rollup writer leaves them, and rollup_minute deltas in ClickHouse. */
async function writeRollupFixtures(): Promise<void> {
  const breakdown = (entries: Record<string, [number, number, string]>) =>
    JSON.stringify(
      Object.fromEntries(
        Object.entries(entries).map(([vendor, [requests, successes, spend]]) => [vendor, { requests, successes, failures: requests - successes, spend_atomic: spend, latency_sum_ms: 0 }]),
      ),
    );
  const prevHour = new Date(hourStart.getTime() - HOUR);
  await withClient(db.url, (c) =>
    c.query(
      `INSERT INTO agent_stats_hourly (bucket, agent_id, total_requests, successful_requests, failed_requests, total_spend_atomic,
         latency_sum_ms, avg_latency_ms, p50_latency_ms, p90_latency_ms, p99_latency_ms, max_latency_ms, vendor_breakdown)
       VALUES ($1, $3, 10, 9, 1, 7000000, 1000, 100, 80, 150, 400, 420, $5),
              ($2, $3, 4, 4, 0, 3000000, 200, 50, 40, 60, 90, 95, $6),
              ($2, $4, 2, 1, 1, 500000, 100, 50, 45, 55, 55, 55, $7)`,
      [prevHour, hourStart, rollupAgentA, rollupAgentB,
        breakdown({ 'fx-vendor-a': [10, 9, '7000000'] }),
        breakdown({ 'fx-vendor-a': [3, 3, '2000000'], 'fx-vendor-b': [1, 1, '1000000'] }),
        breakdown({ 'fx-vendor-b': [2, 1, '500000'] })],
    ),
  );

  const minute = (msAgo: number) => {
    const t = new Date(Math.floor((now.getTime() - msAgo) / 60_000) * 60_000);
    return `toDateTime('${t.toISOString().slice(0, 19).replace('T', ' ')}', 'UTC')`;
  };
  const row = (m: string, kind: string, tenant: string, entity: string, vendor: string, rowId: string, req: number, ok: number, spend: number, values: number[], counts: number[]) =>
    `(${m}, '${kind}', '${tenant}', '${entity}', '${vendor}', '${rowId}', ${req}, ${ok}, ${req - ok}, ${spend}, ` +
    `${values.reduce((s, v, i) => s + v * (counts[i] ?? 0), 0)}, 0, 0, 0, ${Math.max(...values)}, '', [${values.join(',')}], [${counts.join(',')}], 'fixture', now())`;
  await ch.client.command({
    query:
      'INSERT INTO rollup_minute (minute, kind, tenant_id, entity_id, vendor_id, row_id, requests, successes, failures, spend_atomic, ' +
      'latency_sum_ms, latency_p50_ms, latency_p90_ms, latency_p99_ms, latency_max_ms, latency_hdr, latency_values, latency_counts, receiver_id, flushed_at) VALUES ' +
      [
        row(minute(10 * 60_000), 'agent', '', rollupAgentA, 'fx-vendor-a', 'r1', 4, 3, 4_000_000, [10, 20, 30, 1000], [1, 1, 1, 1]),
        // The same row again, as a retried insert leaves it: FINAL collapses it.
        row(minute(10 * 60_000), 'agent', '', rollupAgentA, 'fx-vendor-a', 'r1', 4, 3, 4_000_000, [10, 20, 30, 1000], [1, 1, 1, 1]),
        // A late event of the same minute: one more delta row, to be added.
        row(minute(10 * 60_000), 'agent', '', rollupAgentA, 'fx-vendor-a', 'r2', 1, 1, 1_000_000, [20], [1]),
        row(minute(5 * 60_000), 'agent', '', rollupAgentB, 'fx-vendor-b', 'r3', 2, 2, 500_000, [5, 7], [1, 1]),
        // A gateway of the same vendor: only in the gateway view.
        row(minute(5 * 60_000), 'gateway', 'tenant-1', 'gw-1', 'fx-vendor-a', 'r4', 100, 50, 9_000_000, [3], [100]),
      ].join(', '),
  });
}

function byTitle(results: Map<string, Row[]>, d: Dashboard, title: string): Row[] {
  const hits = [...results.entries()].filter(([where]) => where.startsWith(`${d.file} › ${title} ›`));
  if (hits.length !== 1) throw new Error(`expected one query of panel "${title}", found ${hits.length}`);
  return (hits[0] as [string, Row[]])[1];
}

const num = (v: unknown): number => Number(v);

describe('PostgreSQL panels (agent wallets dashboard)', () => {
  let d: Dashboard;
  let queries: DashboardQuery[];
  let ctx: QueryContext;
  const results = new Map<string, Row[]>();
  const rendered = new Map<string, string>();

  beforeAll(async () => {
    d = dashboard('machpay-agent-wallets');
    queries = queriesOf(d).filter((q) => q.datasource.type === 'grafana-postgresql-datasource');
    ctx = { ...ctxBase, values: { agent: [traffic.healthy.agentId, traffic.low.agentId, rollupAgentA], low_usdc: '5', low_sol: '0.01' } };
    for (const q of queries) rendered.set(q.where, renderQuery(q.text, d.variables, ctx, 'postgres', q.where));
  });

  it('gives the reader role SELECT and nothing else', async () => {
    const rows = await withClient(readerUrl, async (c) => (await c.query('SELECT count(*)::int AS n FROM agents')).rows as Row[]);
    expect(num(rows[0]?.n)).toBeGreaterThanOrEqual(2);
    const write = await withClient(readerUrl, (c) => c.query("INSERT INTO agents (pubkey, first_seen_at, last_seen_at) VALUES ('x', now(), now())")).catch((e: unknown) => e);
    expect(write).toMatchObject({ code: expect.stringMatching(/^(25006|42501)$/) }); // read-only transaction / insufficient privilege
  });

  it('runs every query and variable query as the reader role', async () => {
    expect(queries.length).toBeGreaterThan(15);
    await withClient(readerUrl, async (c) => {
      for (const q of queries) {
        const sql = rendered.get(q.where) as string;
        try {
          results.set(q.where, (await c.query(sql)).rows as Row[]);
        } catch (err) {
          throw new Error(`${q.where} failed: ${(err as Error).message}\n${sql}`);
        }
      }
    });
  });

  it('is cheap: raw tables only per agent through (agent_id, time) indexes, rollups through an index', async () => {
    const seqScan = /Seq Scan on (agent_telemetry|agent_interactions|agent_stats_hourly|gateway_telemetry|gateway_stats_hourly)\w*/;
    // Index scans of the raw, per-event tables: "Index Scan [Backward] using <index> on <partition>"
    // or "Bitmap Index Scan on <index>". Their only indexes besides the per-agent ones are the
    // primary keys, which lead with time: a time-range scan over every agent.
    const rawIndex = /(?:using|Bitmap Index Scan on) ((?:agent_telemetry|agent_interactions)\w*)/g;
    await withClient(readerUrl, async (c) => {
      // Plans as for big tables: the test's tables are tiny, where a sequential scan is cheapest.
      await c.query('SET enable_seqscan = off');
      for (const q of queries) {
        const plan = (await c.query(`EXPLAIN ${rendered.get(q.where) as string}`)).rows.map((r: Row) => String(r['QUERY PLAN'])).join('\n');
        expect(plan, `${q.where}\n${plan}`).not.toMatch(seqScan);
        for (const m of plan.matchAll(rawIndex)) expect(m[1], `${q.where} scans a raw table by time for every agent\n${plan}`).not.toMatch(/_pkey$/);
      }
    });
  });

  it('returns time series with a time column first, in order', () => {
    for (const q of queries.filter((x) => x.format === 'time_series')) {
      const rows = results.get(q.where) ?? [];
      for (const r of rows) expect(Object.keys(r)[0], q.where).toBe('time');
      const times = rows.map((r) => (r.time instanceof Date ? r.time.getTime() : num(r.time)));
      expect(times, q.where).toEqual([...times].sort((a, b) => a - b));
    }
  });

  it('shows the agents, their latest wallets and who is low on funds', () => {
    const agentVar = results.get(`${d.file} › variable agent`)?.map((r) => r.pubkey);
    expect(agentVar).toEqual(expect.arrayContaining([traffic.healthy.agentId, traffic.low.agentId]));

    expect(num(byTitle(results, d, 'Agents seen')[0]?.agents)).toBe(2);
    expect(num(byTitle(results, d, 'New agents')[0]?.new_agents)).toBe(2);
    expect(num(byTitle(results, d, 'Low on funds')[0]?.low_on_funds)).toBe(1);
    expect(num(byTitle(results, d, 'USDC held by agents seen')[0]?.usdc)).toBeCloseTo(25.5, 6);

    const wallets = byTitle(results, d, 'Agent wallets (latest report)');
    const healthy = wallets.find((r) => r.agent === traffic.healthy.agentId);
    expect(num(healthy?.usdc)).toBe(25);
    expect(num(healthy?.sol)).toBe(1.5);
    const lowRows = byTitle(results, d, 'Agents low on funds');
    expect(lowRows.map((r) => r.agent)).toEqual([traffic.low.agentId]);
    expect(num(lowRows[0]?.usdc)).toBe(0.5);
    expect(num(lowRows[0]?.low_balance_warnings)).toBe(2);
  });

  it('sums spend per hour and vendor from the raw interactions of the selected agents', () => {
    const spend: Record<string, number> = {};
    for (const r of byTitle(results, d, 'Spend per hour by vendor')) spend[String(r.metric)] = (spend[String(r.metric)] ?? 0) + num(r.spend_usdc);
    expect(spend).toEqual(Object.fromEntries(Object.entries(traffic.healthySpend).map(([v, atomic]) => [v, atomic / 1e6])));
    const failed = byTitle(results, d, 'Recent failed interactions');
    expect(failed.map((r) => [r.agent_id, r.vendor_id, r.error_type])).toEqual([[traffic.healthy.agentId, 'vendor-maps', 'timeout']]);
  });

  it('reads the hourly rollups: spend, success rate, top agents and vendors', () => {
    // Rows written here for two agents, plus the receiver's own row for `healthy` (3 interactions, 3500 atomic).
    expect(num(byTitle(results, d, 'Agent spend')[0]?.spend_usdc)).toBeCloseTo(10.5035, 9);
    expect(num(byTitle(results, d, 'Agent success rate')[0]?.success_rate)).toBeCloseTo(16 / 19, 9);
    const top = byTitle(results, d, 'Top agents by spend');
    expect(top.map((r) => [r.agent_id, num(r.requests), num(r.spend_usdc), num(r.worst_hour_p99_ms)])).toEqual([
      [rollupAgentA, 14, 10, 400],
      [rollupAgentB, 2, 0.5, 55],
      [traffic.healthy.agentId, 3, 0.0035, 900],
    ]);
    const vendors = byTitle(results, d, 'Spend by vendor');
    expect(vendors.map((r) => [r.vendor_id, num(r.requests), num(r.spend_usdc)])).toEqual([
      ['fx-vendor-a', 13, 9],
      ['fx-vendor-b', 3, 1.5],
      ['vendor-weather', 2, 0.003],
      ['vendor-maps', 1, 0.0005],
    ]);
    const hourly = byTitle(results, d, 'Latency per hour p50 / p99').filter((r) => r.metric === rollupAgentA);
    expect(hourly.map((r) => [num(r.p50), num(r.p99)])).toEqual([
      [80, 400],
      [40, 90],
    ]);
    const healthy = byTitle(results, d, 'Success rate per hour').filter((r) => r.metric === traffic.healthy.agentId);
    expect(healthy.map((r) => num(r.success_rate))).toEqual([2 / 3]);
  });
});

describe('ClickHouse panels (payments dashboard) on ClickHouse 18.16', () => {
  let d: Dashboard;
  let queries: DashboardQuery[];

  const FIXTURE_VENDORS = ['fx-vendor-a', 'fx-vendor-b'];
  const TRAFFIC_VENDORS = ['vendor-maps', 'vendor-weather'];
  /** Results of one run, by query, as Grafana would show them for `kind` and `vendors`. */
  const results = new Map<string, Map<string, Row[]>>();
  const view = (kind: string, vendors: readonly string[]): Map<string, Row[]> => {
    const r = results.get(`${kind} ${vendors.join(',')}`);
    if (r === undefined) throw new Error(`no run for ${kind} ${vendors.join(',')}`);
    return r;
  };

  const run = async (kind: string, vendors: readonly string[]): Promise<void> => {
    const ctx: QueryContext = { ...ctxBase, values: { kind, vendor: vendors } };
    const out = new Map<string, Row[]>();
    for (const q of queries) {
      const sql = renderQuery(q.text, d.variables, ctx, 'clickhouse', q.where);
      try {
        const rs = await ch.client.query({ query: sql, format: 'JSONEachRow' });
        out.set(q.where, await rs.json<Row>());
      } catch (err) {
        throw new Error(`${q.where} (kind ${kind}) failed: ${(err as Error).message}\n${sql}`);
      }
    }
    results.set(`${kind} ${vendors.join(',')}`, out);
  };

  beforeAll(() => {
    d = dashboard('machpay-payments');
    queries = queriesOf(d);
  });

  it('runs every query and variable query, for agents and for gateways', async () => {
    expect(queries.length).toBeGreaterThan(12);
    for (const kind of ['agent', 'gateway']) for (const vendors of [FIXTURE_VENDORS, TRAFFIC_VENDORS]) await run(kind, vendors);
  });

  it('returns time series with a time column first, in order', () => {
    for (const q of queries.filter((x) => x.format === 0)) {
      const rows = view('agent', FIXTURE_VENDORS).get(q.where) ?? [];
      expect(rows.length, q.where).toBeGreaterThan(0);
      for (const r of rows) expect(Object.keys(r)[0], q.where).toBe('time');
      const times = rows.map((r) => String(r.time));
      expect(times, q.where).toEqual([...times].sort());
    }
  });

  it('adds delta rows, collapses retried ones, and merges histograms for percentiles', () => {
    const agent = view('agent', FIXTURE_VENDORS);
    const vendorVar = agent.get(`${d.file} › variable vendor`)?.map((r) => r.vendor_id);
    expect(vendorVar).toEqual([...FIXTURE_VENDORS, ...TRAFFIC_VENDORS]);

    expect(num(byTitle(agent, d, 'Spend')[0]?.spend_usdc)).toBeCloseTo(5.5, 9);
    expect(num(byTitle(agent, d, 'Requests')[0]?.requests)).toBe(7);
    expect(num(byTitle(agent, d, 'Success rate')[0]?.success_rate)).toBeCloseTo(6 / 7, 9);
    expect(num(byTitle(agent, d, 'Latency p99')[0]?.p99_ms)).toBe(1000);
    expect(num(byTitle(agent, d, 'Active ${kind}s')[0]?.active)).toBe(2);

    const vendors = byTitle(agent, d, 'Vendors');
    expect(vendors.map((r) => [r.vendor_id, num(r.requests), num(r.failures), num(r.spend_usdc), num(r.p50_ms), num(r.p99_ms), num(r.max_ms)])).toEqual([
      ['fx-vendor-a', 5, 1, 5, 20, 1000, 1000],
      ['fx-vendor-b', 2, 0, 0.5, 5, 7, 7],
    ]);
    const top = byTitle(agent, d, 'Top ${kind}s by spend');
    expect(top.map((r) => [r.agent, num(r.spend_usdc), num(r.vendors)])).toEqual([
      [rollupAgentA, 5, 1],
      [rollupAgentB, 0.5, 1],
    ]);
    const perVendor = byTitle(agent, d, 'Spend per vendor');
    expect(perVendor.reduce((s, r) => s + num(r.spend_usdc), 0)).toBeCloseTo(5.5, 9);
  });

  it('keeps gateways apart from agents', () => {
    const gateway = view('gateway', FIXTURE_VENDORS);
    expect(num(byTitle(gateway, d, 'Requests')[0]?.requests)).toBe(100);
    expect(byTitle(gateway, d, 'Top ${kind}s by failures').map((r) => [r.tenant_id, r.gateway, num(r.failures)])).toEqual([['tenant-1', 'gw-1', 50]]);
  });

  it("shows the receiver's own rollups of the traffic that was sent", () => {
    const agent = view('agent', TRAFFIC_VENDORS);
    expect(byTitle(agent, d, 'Vendors').map((r) => [r.vendor_id, num(r.requests), num(r.failures), num(r.spend_usdc), num(r.p50_ms), num(r.p99_ms), num(r.max_ms)])).toEqual([
      ['vendor-weather', 2, 0, 0.003, 40, 60, 60],
      ['vendor-maps', 1, 1, 0.0005, 900, 900, 900],
    ]);
    expect(byTitle(agent, d, 'Top ${kind}s by spend').map((r) => [r.tenant_id, r.agent, num(r.requests), num(r.vendors)])).toEqual([['', traffic.healthy.agentId, 3, 2]]);
    const gateway = view('gateway', TRAFFIC_VENDORS);
    expect(num(byTitle(gateway, d, 'Requests')[0]?.requests)).toBe(2);
    expect(num(byTitle(gateway, d, 'Success rate')[0]?.success_rate)).toBe(0.5);
    expect(byTitle(gateway, d, 'Top ${kind}s by failures').map((r) => [r.tenant_id, r.gateway, num(r.failures)])).toEqual([[traffic.tenant, 'gw-test-1', 1]]);
  });
});
