/**
 * The rollups on a ClickHouse cluster (CLICKHOUSE_CLUSTER): two 18.16 servers of the test
 * setup as two shards (test/setup/clickhouse-cluster.ts), and as two replicas of one shard
 * (CLICKHOUSE_REPLICATED), with the setup's ZooKeeper. Rows go in through the receiver's own
 * ClickHouse path (tallies committed to PostgreSQL, folded by TallyFolder into the outbox, sent
 * by ClickhouseOutboxSender through the Distributed table); totals read back through the
 * Distributed table match PostgreSQL's hourly tables, each entity lives on one shard, and every
 * dashboard query and documented example answers on the cluster exactly as on one server.
 */
import { randomBytes } from 'node:crypto';
import { createClient, type ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { interactionEvent, newAgent, postAgentBatch, rfc3339 } from '../helpers/agent.js';
import { createMigratedDatabase, createTestDatabase, query, type MigratedDatabase, type TestDatabase } from '../helpers/postgres.js';
import { startReceiver, type RunningReceiver } from '../helpers/receiver.js';
import { agentGroup, eventually, expectReconciled, gatewayGroup, latencySample, minuteAgo, silentLogger } from '../rollups/support.js';
import { ClickhouseOutboxSender } from '../../src/rollups/clickhouse-outbox-sender.js';
import { ClickhouseRollupSink, loadClickhouseDdl } from '../../src/rollups/clickhouse-sink.js';
import { createDatabaseStatement, schemaStatements, serverFeatures } from '../../src/rollups/clickhouse-ddl.js';
import { STATUS_COLUMNS, statusSums, withStatusClasses } from '../rollups/gateway-status-load.js';
import { inTransaction } from '../../src/database/index.js';
import { TallyFolder, writePendingTallies, type RollupGroup } from '../../src/rollups/index.js';
import type { ClickhouseClusterInfo } from '../setup/clickhouse-cluster.js';
import { comparable, dashboardQueries, documentedQueries } from './project-queries.js';

type Row = Record<string, unknown>;

// Undefined without the global setup (vitest.unit.config.ts).
const cluster = (inject('clickhouseCluster') as ClickhouseClusterInfo | { unavailable: string } | undefined) ?? { unavailable: 'no test setup: run with vitest.config.ts' };
const unavailable = 'unavailable' in cluster ? cluster.unavailable : null;
if (unavailable !== null) console.warn(`[clickhouse cluster tests] skipped: ${unavailable}`);

/** One receiver's ClickHouse path onto a database of the cluster. */
class ClusterRollups {
  readonly database = `t_cluster_${randomBytes(5).toString('hex')}`;
  readonly sink: ClickhouseRollupSink;
  readonly sender: ClickhouseOutboxSender;
  readonly folder: TallyFolder;
  /** A client per server, bound to the database. */
  readonly servers: ClickHouseClient[];
  private readonly admin: ClickHouseClient;

  constructor(
    readonly pg: MigratedDatabase,
    serverUrls: readonly string[],
    clusterName: string,
    replicated: boolean,
  ) {
    this.sink = new ClickhouseRollupSink(`${serverUrls[0]}/${this.database}`, 'default', 30_000, { cluster: clusterName, replicated });
    this.sender = new ClickhouseOutboxSender(pg.pool, this.sink, { intervalMs: 600_000, baseBackoffMs: 50, maxBackoffMs: 200 }, silentLogger());
    this.folder = new TallyFolder(pg.pool, { intervalMs: 600_000, clickhouseReceiverId: 'rx-cluster' }, silentLogger());
    this.servers = serverUrls.map((url) => createClient({ url, database: this.database, request_timeout: 30_000 }));
    this.admin = createClient({ url: serverUrls[0] as string, request_timeout: 30_000 });
  }

  async commitAndSend(groups: readonly RollupGroup[]): Promise<void> {
    await inTransaction(this.pg.pool, (client) => writePendingTallies(client, groups));
    await this.folder.foldNow();
    await this.sender.sendNow();
    const st = this.sender.stats();
    if (!st.clickhouseUp) throw new Error(`the outbox send failed (${st.failures} failures)`);
  }

  async rows<T = Row>(server: number, query: string): Promise<T[]> {
    const client = this.servers[server] as ClickHouseClient;
    return (await client.query({ query, format: 'JSONEachRow' })).json<T>();
  }

  async close(): Promise<void> {
    await this.folder.stop();
    await this.sender.stop();
    await this.sink.close();
    await Promise.all(this.servers.map((c) => c.close()));
    await this.admin.command({ query: `DROP DATABASE IF EXISTS \`${this.database}\` ON CLUSTER \`${this.sink.layout.cluster}\`` }).catch(() => undefined);
    await this.admin.close();
  }
}

/** Agents and gateways over three minutes, with failures, latencies and spend; gateways with status classes. */
function load(prefix: string): RollupGroup[] {
  const out: RollupGroup[] = [];
  for (let i = 0; i < 24; i++) {
    for (let m = 1; m <= 3; m++) {
      out.push(agentGroup(`${prefix}-agent-${i}`, `vendor-${i % 3}`, minuteAgo(m), latencySample(3 + ((i + m) % 5), i * 7 + m), { failures: i % 2, spend: BigInt(1000 * (i + 1) + m) }));
    }
  }
  for (let g = 0; g < 6; g++) out.push(withStatusClasses(gatewayGroup(`tenant-${g % 2}`, `${prefix}-gw-${g}`, `vendor-${g % 3}`, minuteAgo(2), latencySample(4, 100 + g), g % 3), g));
  return out;
}

interface Totals {
  requests: string;
  successes: string;
  failures: string;
  spend: string;
}

/** PostgreSQL's figures, from the hourly tables the same folds wrote. */
async function postgresTotals(pg: MigratedDatabase, kind: 'agent' | 'gateway'): Promise<Map<string, Totals>> {
  const sql =
    kind === 'agent'
      ? 'SELECT agent_id AS entity, sum(total_requests)::text AS requests, sum(successful_requests)::text AS successes, sum(failed_requests)::text AS failures, sum(total_spend_atomic)::text AS spend FROM agent_stats_hourly GROUP BY 1'
      : 'SELECT gateway_id AS entity, sum(total_requests)::text AS requests, sum(successful_requests)::text AS successes, sum(failed_requests)::text AS failures, sum(total_spend_atomic)::text AS spend FROM gateway_stats_hourly GROUP BY 1';
  const r = await pg.pool.query<Totals & { entity: string }>(sql);
  return new Map(r.rows.map(({ entity, ...t }) => [entity, t]));
}

async function clickhouseTotals(c: ClusterRollups, server: number, kind: 'agent' | 'gateway'): Promise<Map<string, Totals>> {
  const rows = await c.rows<Totals & { entity: string }>(
    server,
    `SELECT entity_id AS entity, toString(sum(requests)) AS requests, toString(sum(successes)) AS successes, toString(sum(failures)) AS failures,
            toString(sum(spend_atomic)) AS spend
     FROM rollup_minute FINAL WHERE kind = '${kind}' GROUP BY entity_id`,
  );
  return new Map(rows.map(({ entity, ...t }) => [entity, t]));
}

/** A gateway's status classes and verified payments: PostgreSQL's gateway_stats_hourly, or rollup_minute through one server. */
async function statusTotals(from: MigratedDatabase | { c: ClusterRollups; server: number }): Promise<Row[]> {
  if ('pool' in from) {
    return (await from.pool.query<Row>(`SELECT tenant_id || '|' || gateway_id AS key, ${statusSums('postgres')} FROM gateway_stats_hourly GROUP BY 1 ORDER BY 1`)).rows;
  }
  return from.c.rows(from.server, `SELECT concat(tenant_id, '|', entity_id) AS key, ${statusSums('clickhouse')} FROM rollup_minute FINAL WHERE kind = 'gateway' GROUP BY key ORDER BY key`);
}

/** The status columns each table of `database` has, on one server. */
async function statusColumnsOn(client: ClickHouseClient, database: string): Promise<Record<string, string[]>> {
  const rows = await (
    await client.query({
      query: `SELECT table, groupArray(name) AS names FROM (SELECT table, name FROM system.columns WHERE database = '${database}' AND name IN (${STATUS_COLUMNS.map((c) => `'${c}'`).join(', ')}) ORDER BY name) GROUP BY table ORDER BY table`,
      format: 'JSONEachRow',
    })
  ).json<{ table: string; names: string[] }>();
  return Object.fromEntries(rows.map((r) => [r.table, r.names]));
}

const ALL_STATUS_TABLES = (names: readonly string[]): Record<string, string[]> => Object.fromEntries(names.map((t) => [t, [...STATUS_COLUMNS].sort()]));

function sorted(m: Map<string, Totals>): [string, Totals][] {
  return [...m.entries()].sort(([a], [b]) => a.localeCompare(b));
}

describe.skipIf(unavailable !== null)(`ClickHouse cluster${unavailable === null ? '' : ` (skipped: ${unavailable})`}`, () => {
  const info = unavailable === null ? (cluster as Exclude<typeof cluster, { unavailable: string }>) : null;

  describe('two shards (CLICKHOUSE_CLUSTER, Distributed tables sharded by entity)', () => {
    let pg: MigratedDatabase;
    let c: ClusterRollups;
    let single: ClickHouseClient;
    let singleDbClient: ClickHouseClient;
    const singleDb = `t_single_${randomBytes(5).toString('hex')}`;

    beforeAll(async () => {
      if (info === null) return;
      pg = await createMigratedDatabase('ch_cluster');
      c = new ClusterRollups(pg, info.serverUrls, info.sharded, false);
      single = createClient({ url: info.serverUrls[0] as string, request_timeout: 30_000 });
      singleDbClient = createClient({ url: info.serverUrls[0] as string, database: singleDb, request_timeout: 30_000 });
    }, 60_000);

    afterAll(async () => {
      await c?.close();
      await singleDbClient?.close();
      await single?.command({ query: `DROP DATABASE IF EXISTS \`${singleDb}\`` }).catch(() => undefined);
      await single?.close();
      await pg?.close();
    });

    it('creates <table>_local on every shard and a Distributed table under the usual name', async () => {
      const ddl = await c.sink.ensureSchema();
      expect(ddl).toEqual({ ok: true });
      for (const server of [0, 1]) {
        const tables = await c.rows<{ name: string; engine: string }>(server, `SELECT name, engine FROM system.tables WHERE database = '${c.database}' ORDER BY name`);
        expect(tables).toEqual([
          { name: 'rollup_minute', engine: 'Distributed' },
          { name: 'rollup_minute_local', engine: 'ReplacingMergeTree' },
          { name: 'rollup_minute_rejected', engine: 'Distributed' },
          { name: 'rollup_minute_rejected_local', engine: 'ReplacingMergeTree' },
        ]);
      }
      // 003's columns on the local tables of both shards and on the Distributed tables.
      for (const server of [0, 1]) expect(await statusColumnsOn(c.servers[server] as ClickHouseClient, c.database)).toEqual(ALL_STATUS_TABLES(['rollup_minute', 'rollup_minute_local']));
      // Idempotent, as every receiver start runs it.
      expect(await c.sink.ensureSchema()).toEqual({ ok: true });
    });

    it('adds the status columns to a cluster\'s tables made before them: local tables on every shard, then the Distributed table', async () => {
      const database = `t_cluster_old_${randomBytes(5).toString('hex')}`;
      const layout = { database, cluster: info?.sharded ?? '', replicated: false, retentionDays: 0 };
      const sink = new ClickhouseRollupSink(`${info?.serverUrls[0]}/${database}`, 'default', 30_000, { cluster: layout.cluster });
      try {
        // What a receiver without schema/clickhouse/003 made.
        await single.command({ query: createDatabaseStatement(layout) });
        for (const st of schemaStatements(await loadClickhouseDdl(), layout, serverFeatures('18.16.1'))) if (st.lacking === null) await single.command({ query: st.sql });
        const clients = (info?.serverUrls ?? []).map((url) => createClient({ url, request_timeout: 30_000 }));
        try {
          for (const client of clients) expect(await statusColumnsOn(client, database)).toEqual({});
          await single.command({
            query: `INSERT INTO \`${database}\`.rollup_minute (minute, kind, tenant_id, entity_id, row_id, requests) VALUES (now(), 'gateway', 't', 'old-gw', 'old-1', 3)`,
            clickhouse_settings: { insert_distributed_sync: 1 },
          });
          expect(await sink.ensureSchema()).toEqual({ ok: true });
          for (const [i, client] of clients.entries()) {
            expect(await statusColumnsOn(client, database), `server ${i + 1}`).toEqual(ALL_STATUS_TABLES(['rollup_minute', 'rollup_minute_local']));
            // The row from before stays, its classes read 0, through the Distributed table made again.
            const rs = await client.query({ query: `SELECT toString(sum(requests)) AS requests, ${statusSums('clickhouse')} FROM \`${database}\`.rollup_minute`, format: 'JSONEachRow' });
            expect(await rs.json(), `server ${i + 1}`).toEqual([{ requests: '3', status_2xx: '0', status_3xx: '0', status_4xx: '0', status_5xx: '0', payments_verified: '0' }]);
          }
          expect(await sink.ensureSchema()).toEqual({ ok: true });
        } finally {
          await Promise.all(clients.map((cl) => cl.close()));
        }
      } finally {
        await sink.close();
        await single.command({ query: `DROP DATABASE IF EXISTS \`${database}\` ON CLUSTER \`${layout.cluster}\`` }).catch(() => undefined);
      }
    });

    it('sends the outbox through the Distributed table: each entity on one shard, totals equal PostgreSQL on either server', async () => {
      await c.commitAndSend(load('c1'));
      const perShard = await Promise.all(
        [0, 1].map(async (s) => new Set((await c.rows<{ e: string }>(s, 'SELECT DISTINCT entity_id AS e FROM rollup_minute_local')).map((r) => r.e))),
      );
      const [a, b] = perShard as [Set<string>, Set<string>];
      expect(a.size).toBeGreaterThan(3);
      expect(b.size).toBeGreaterThan(3);
      expect([...a].filter((e) => b.has(e))).toEqual([]);
      expect(a.size + b.size).toBe(24 + 6);

      for (const kind of ['agent', 'gateway'] as const) {
        const expected = sorted(await postgresTotals(pg, kind));
        expect(expected.length).toBe(kind === 'agent' ? 24 : 6);
        for (const server of [0, 1]) expect(sorted(await clickhouseTotals(c, server, kind)), `${kind} via server ${server + 1}`).toEqual(expected);
      }
      const classes = await statusTotals(pg);
      expect(classes).toHaveLength(6);
      expect(classes.some((r) => r.status_5xx !== '0') && classes.some((r) => r.payments_verified !== '0')).toBe(true);
      for (const server of [0, 1]) expect(await statusTotals({ c, server }), `status classes via server ${server + 1}`).toEqual(classes);
    });

    it('collapses a resent row under FINAL: its copy lands on the same shard', async () => {
      const before = await clickhouseTotals(c, 0, 'agent');
      const again = await c.rows(0, "SELECT * FROM rollup_minute WHERE kind = 'agent' LIMIT 5");
      expect(again).toHaveLength(5);
      expect(await c.sink.insert(again)).toEqual({ ok: true });
      const [{ n } = { n: '0' }] = await c.rows<{ n: string }>(0, 'SELECT toString(count()) AS n FROM rollup_minute');
      const [{ f } = { f: '0' }] = await c.rows<{ f: string }>(0, 'SELECT toString(count()) AS f FROM rollup_minute FINAL');
      expect(Number(n) - Number(f)).toBe(5);
      expect(sorted(await clickhouseTotals(c, 1, 'agent'))).toEqual(sorted(before));
    });

    it('parks a row the shards refuse, through the Distributed rejected table, and sends the rest', async () => {
      const r = await pg.pool.query<{ id: string }>('INSERT INTO rollup_clickhouse_outbox (rows, row_count) VALUES ($1, 1) RETURNING id', [
        JSON.stringify([{ minute: 'not a minute', kind: 'agent', entity_id: 'c-poison', row_id: 'c-poison-1', requests: 1 }]),
      ]);
      await c.commitAndSend([agentGroup('c2-agent', 'vendor-0', minuteAgo(1), [5, 6])]);
      expect(c.sender.stats().rowsParked).toBe(1);
      const parked = await c.rows(1, `SELECT row_id, outbox_id FROM rollup_minute_rejected FINAL`);
      expect(parked).toEqual([{ row_id: 'c-poison-1', outbox_id: r.rows[0]?.id }]);
      expect((await clickhouseTotals(c, 1, 'agent')).get('c2-agent')?.requests).toBe('2');
    });

    it('answers every dashboard query and documented example on the cluster as one server does', async () => {
      // The same rows on one server, in the single-server form of the DDL.
      const one = new ClickhouseRollupSink(`${info?.serverUrls[0]}/${singleDb}`, 'default', 30_000);
      try {
        expect(await one.ensureSchema()).toEqual({ ok: true });
      } finally {
        await one.close();
      }
      await single.command({ query: `INSERT INTO \`${singleDb}\`.rollup_minute SELECT * FROM \`${c.database}\`.rollup_minute` });

      const to = new Date(Date.now() + 5 * 60_000);
      const from = new Date(Date.now() - 3 * 3_600_000);
      const queries = [...(await dashboardQueries(from, to, ['vendor-0', 'vendor-1', 'vendor-2'])), ...(await documentedQueries({ agent: 'c1-agent-3' }))];
      expect(queries.length).toBeGreaterThan(20);
      let nonEmpty = 0;
      for (const q of queries) {
        const run = async (client: ClickHouseClient, what: string): Promise<Row[]> => {
          try {
            return await (await client.query({ query: q.sql, format: 'JSONEachRow' })).json<Row>();
          } catch (err) {
            throw new Error(`${q.where} on ${what}: ${(err as Error).message}\n${q.sql}`);
          }
        };
        const [onCluster, onOne] = [await run(c.servers[0] as ClickHouseClient, 'the cluster'), await run(singleDbClient, 'one server')];
        expect(comparable(onCluster), q.where).toEqual(comparable(onOne));
        if (onCluster.length > 0) nonEmpty++;
      }
      // Most queries return something for this load (a few are about other kinds or vendors).
      expect(nonEmpty).toBeGreaterThan(queries.length / 2);
    });
  });

  describe('two replicas of one shard (CLICKHOUSE_REPLICATED, with ZooKeeper)', () => {
    let pg: MigratedDatabase;
    let c: ClusterRollups;

    beforeAll(async () => {
      if (info === null) return;
      pg = await createMigratedDatabase('ch_replicas');
      c = new ClusterRollups(pg, info.serverUrls, info.replicated, true);
    }, 60_000);

    afterAll(async () => {
      await c?.close();
      await pg?.close();
    });

    it('creates Replicated tables, and a row sent through one server is on both replicas', async () => {
      expect(await c.sink.ensureSchema()).toEqual({ ok: true });
      const engines = await c.rows<{ name: string; engine: string }>(1, `SELECT name, engine FROM system.tables WHERE database = '${c.database}' AND name LIKE '%_local' ORDER BY name`);
      expect(engines).toEqual([
        { name: 'rollup_minute_local', engine: 'ReplicatedReplacingMergeTree' },
        { name: 'rollup_minute_rejected_local', engine: 'ReplicatedReplacingMergeTree' },
      ]);
      // 003's columns on both replicas (the ALTER of a Replicated table runs once per shard and replicates).
      for (const server of [0, 1]) {
        const has = async (): Promise<boolean> =>
          JSON.stringify(await statusColumnsOn(c.servers[server] as ClickHouseClient, c.database)) === JSON.stringify(ALL_STATUS_TABLES(['rollup_minute', 'rollup_minute_local']));
        expect(await eventually(has, 15_000, 100), `replica ${server + 1} has the status columns`).toBe(true);
      }
      await c.commitAndSend(load('r1'));
      const expected = sorted(await postgresTotals(pg, 'agent'));
      for (const server of [0, 1]) {
        const local = async (): Promise<string> => (await c.rows<{ n: string }>(server, 'SELECT toString(sum(requests)) AS n FROM rollup_minute_local FINAL'))[0]?.n ?? '';
        const want = String(expected.reduce((s, [, t]) => s + Number(t.requests), 0) + 4 * 6);
        expect(await eventually(async () => (await local()) === want, 15_000, 100), `replica ${server + 1} holds every row`).toBe(true);
        expect(sorted(await clickhouseTotals(c, server, 'agent'))).toEqual(expected);
      }
    });
  });

  describe('a receiver with CLICKHOUSE_CLUSTER, end to end', () => {
    let db: TestDatabase;
    let rx: RunningReceiver;
    let reader: ClickHouseClient;
    const database = `t_rx_cluster_${randomBytes(5).toString('hex')}`;

    beforeAll(async () => {
      if (info === null) return;
      db = await createTestDatabase('ch_cluster_rx');
      rx = await startReceiver({
        DATABASE_URL: db.url,
        CLICKHOUSE_URL: `${info.serverUrls[0]}/${database}`,
        CLICKHOUSE_CLUSTER: info.sharded,
        ROLLUP_FOLD_INTERVAL_MS: '200',
        LOG_LEVEL: 'warn',
      });
      // Read through the other server: the Distributed table answers the same there.
      reader = createClient({ url: info.serverUrls[1] as string, database, request_timeout: 30_000 });
    }, 60_000);

    afterAll(async () => {
      await rx?.stop().catch(() => undefined);
      await reader?.close();
      const admin = info === null ? null : createClient({ url: info.serverUrls[0] as string });
      await admin?.command({ query: `DROP DATABASE IF EXISTS \`${database}\` ON CLUSTER \`${info?.sharded}\`` }).catch(() => undefined);
      await admin?.close();
      await db?.drop();
    });

    it('stores signed events whose rollups, read through the Distributed table, equal the raw rows per agent', async () => {
      const agents = Array.from({ length: 6 }, () => newAgent());
      for (const [i, agent] of agents.entries()) {
        const batch = latencySample(10 + i, i + 1).map((latency, k) =>
          interactionEvent(agent.agentId, { time: rfc3339(), data: { vendor_id: `vendor-${k % 2}`, success: k % 4 !== 0, latency_ms: latency, amount_atomic: 1000 + k } }),
        );
        const res = await postAgentBatch(rx.url, agent, batch, { signer: 'node' });
        expect(res.status, res.text).toBe(202);
      }
      interface T {
        key: string;
        requests: string;
        successes: string;
        spend: string;
      }
      const text = (rows: T[]): string => JSON.stringify([...rows].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0)));
      await expectReconciled(
        async () => {
          const truth = await query<T>(
            db.url,
            `SELECT agent_id AS key, count(*)::text AS requests, count(*) FILTER (WHERE success)::text AS successes, sum(amount_atomic)::text AS spend
             FROM agent_interactions GROUP BY 1`,
          );
          const rs = await reader.query({
            query: `SELECT entity_id AS key, toString(sum(requests)) AS requests, toString(sum(successes)) AS successes, toString(sum(spend_atomic)) AS spend
                    FROM rollup_minute FINAL WHERE kind = 'agent' GROUP BY key`,
            format: 'JSONEachRow',
          });
          const rollups = await rs.json<T>();
          return truth.length === agents.length && text(truth) === text(rollups) ? null : `ClickHouse ${text(rollups)}\nPostgreSQL ${text(truth)}`;
        },
        () => rx.stderrText(),
        30_000,
      );
      const engines = await (await reader.query({ query: `SELECT name, engine FROM system.tables WHERE database = '${database}' AND name = 'rollup_minute'`, format: 'JSONEachRow' })).json();
      expect(engines).toEqual([{ name: 'rollup_minute', engine: 'Distributed' }]);
    }, 90_000);
  });
});
