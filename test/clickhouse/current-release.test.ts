/**
 * Every ClickHouse DDL and query of the project on a current ClickHouse as well as on 18.16.
 * The current release is chdb's (ClickHouse 26.x in-process; the `chdb` devDependency, about
 * 540 MB, linux and macOS only); 18.16 is the server of the test setup. The same rows, made by
 * the receiver's own fold path, go into both; the DDL on 26.x is the form the receiver makes
 * for a current server (LowCardinality, a TTL), and every dashboard query and documented
 * example must give the same answer on both. The cluster and replicated forms, which need
 * servers (tested on 18.16 in cluster.test.ts), are parsed by 26.x.
 */
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { ClickHouseError } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createTestClickhouseDatabase, type TestClickhouseDatabase } from '../helpers/clickhouse.js';
import { createMigratedDatabase, type MigratedDatabase } from '../helpers/postgres.js';
import { agentGroup, gatewayGroup, latencySample, minuteAgo, silentLogger } from '../rollups/support.js';
import { statusSums, withStatusClasses } from '../rollups/gateway-status-load.js';
import { schemaStatements, serverFeatures, type ClickhouseLayout } from '../../src/rollups/clickhouse-ddl.js';
import { rejectedRow } from '../../src/rollups/clickhouse-row-isolation.js';
import { classifyClickhouseError, ClickhouseRollupSink, INSERT_SETTINGS, loadClickhouseDdl } from '../../src/rollups/clickhouse-sink.js';
import { inTransaction } from '../../src/database/index.js';
import { TallyFolder, writePendingTallies, type RollupGroup } from '../../src/rollups/index.js';
import { comparable, dashboardQueries, documentedQueries } from './project-queries.js';

type Row = Record<string, unknown>;

interface ChdbSession {
  query(sql: string, format?: string): string;
  cleanup(): void;
}

/** chdb, or why it cannot load here (not installed, no build for this platform). */
async function loadChdb(): Promise<{ Session: new (path?: string) => ChdbSession } | string> {
  try {
    const mod = (await import('chdb')) as unknown as { Session: new (path?: string) => ChdbSession };
    new mod.Session().cleanup();
    return mod;
  } catch (err) {
    return `the chdb package does not load here (${(err as Error).message.split('\n')[0]}); \`npm install\` installs it on linux x64/arm64 and macOS`;
  }
}

const chdb = await loadChdb();
if (typeof chdb === 'string') console.warn(`[current ClickHouse tests] skipped: ${chdb}`);

const DB = 'machpay';
const layout = (over: Partial<ClickhouseLayout> = {}): ClickhouseLayout => ({ database: DB, cluster: null, replicated: false, retentionDays: 0, ...over });

describe.skipIf(typeof chdb === 'string')(`current ClickHouse (chdb)${typeof chdb === 'string' ? ` (skipped: ${chdb})` : ''}`, () => {
  let session: ChdbSession;
  let version: string;
  let pg: MigratedDatabase;
  let old: TestClickhouseDatabase;
  let oldSink: ClickhouseRollupSink;
  let rows: Row[];

  const q = <T = Row>(sql: string): T[] =>
    session
      .query(sql, 'JSONEachRow')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l) as T);

  beforeAll(async () => {
    if (typeof chdb === 'string') return;
    session = new chdb.Session(await mkdtemp(join(inject('testRunDir'), 'chdb-')));
    version = q<{ v: string }>('SELECT version() AS v')[0]?.v ?? '';
    [pg, old] = await Promise.all([createMigratedDatabase('ch_current'), createTestClickhouseDatabase('current_vs_old')]);
    oldSink = new ClickhouseRollupSink(old.url, 'default', 10_000);

    // Rows as the receiver makes them: tallies committed, folded into the outbox.
    const groups: RollupGroup[] = [];
    for (let i = 0; i < 12; i++) {
      for (let m = 1; m <= 3; m++) groups.push(agentGroup(`cur-agent-${i}`, `vendor-${i % 3}`, minuteAgo(m), latencySample(2 + ((i * m) % 6), i * 13 + m), { failures: (i + m) % 3 === 0 ? 1 : 0, spend: BigInt(5000 * (i + 1) + m) }));
    }
    for (let g = 0; g < 4; g++) groups.push(withStatusClasses(gatewayGroup(`tenant-${g % 2}`, `cur-gw-${g}`, `vendor-${g % 3}`, minuteAgo(2), latencySample(5, 50 + g), g % 2), g));
    await inTransaction(pg.pool, (client) => writePendingTallies(client, groups));
    const folder = new TallyFolder(pg.pool, { intervalMs: 600_000, clickhouseReceiverId: 'rx-current' }, silentLogger());
    await folder.foldNow();
    await folder.stop();
    const outbox = await pg.pool.query<{ rows: string }>('SELECT rows FROM rollup_clickhouse_outbox ORDER BY id');
    rows = outbox.rows.flatMap((r) => JSON.parse(r.rows) as Row[]);
  }, 120_000);

  afterAll(async () => {
    session?.cleanup();
    await oldSink?.close();
    await Promise.all([pg?.close(), old?.drop()]);
  });

  it('is a current release, which the receiver gives LowCardinality, UInt128 amounts and a TTL', () => {
    expect(Number(version.split('.')[0])).toBeGreaterThanOrEqual(24);
    expect(serverFeatures(version)).toEqual({ lowCardinality: true, ttl: true, wideIntegers: true, alterIfNotExists: true });
    expect(serverFeatures('18.16.1')).toEqual({ lowCardinality: false, ttl: false, wideIntegers: false, alterIfNotExists: false });
  });

  it('runs the DDL in the form the receiver makes for it, and in the 18.16 form', async () => {
    const files = await loadClickhouseDdl();
    session.query(`CREATE DATABASE IF NOT EXISTS ${DB}`);
    for (const s of schemaStatements(files, layout({ retentionDays: 400 }), serverFeatures(version))) session.query(s.sql);
    // Idempotent as written, ADD COLUMN IF NOT EXISTS included (the sink also skips columns that exist).
    for (const s of schemaStatements(files, layout({ retentionDays: 400 }), serverFeatures(version))) session.query(s.sql);
    const create = q<{ statement: string }>(`SHOW CREATE TABLE ${DB}.rollup_minute`)[0]?.statement ?? '';
    expect(create).toMatch(/`?tenant_id`?\s+LowCardinality\(String\)/);
    expect(create).toMatch(/`?vendor_id`?\s+LowCardinality\(String\)/);
    expect(create).toMatch(/`?entity_id`?\s+String/);
    expect(create).toMatch(/`?spend_atomic`?\s+UInt128/);
    expect(create).toMatch(/TTL minute \+ toIntervalDay\(400\)/);
    for (const c of ['status_2xx', 'status_3xx', 'status_4xx', 'status_5xx', 'payments_verified']) expect(create).toMatch(new RegExp(`\`?${c}\`?\\s+UInt64 DEFAULT 0`));

    session.query('CREATE DATABASE IF NOT EXISTS plain');
    for (const s of schemaStatements(files, { ...layout(), database: 'plain' }, serverFeatures('18.16.1'))) session.query(s.sql);
    const plain = q<{ statement: string }>('SHOW CREATE TABLE plain.rollup_minute')[0]?.statement ?? '';
    expect(plain).not.toMatch(/LowCardinality|TTL|UInt128/);
  });

  it('parses the cluster and replicated forms', async () => {
    const files = await loadClickhouseDdl();
    const forms = [layout({ cluster: 'machpay' }), layout({ cluster: 'machpay', replicated: true, retentionDays: 30 }), layout({ replicated: true })];
    for (const l of forms) {
      const statements = schemaStatements(files, l, serverFeatures(version));
      expect(statements.length).toBe(l.cluster === null ? 3 : 7);
      for (const { sql } of statements) expect(() => session.query(`EXPLAIN AST ${sql}`), sql).not.toThrow();
    }
    expect(() => session.query('EXPLAIN AST CREATE TABLE broken (')).toThrow(/SYNTAX_ERROR|Syntax error/);
  });

  it('takes the receiver\'s rows and parked rows, and a TTL removes rows past the retention', async () => {
    expect(rows.length).toBeGreaterThan(30);
    session.query(`INSERT INTO ${DB}.rollup_minute FORMAT JSONEachRow\n${rows.map((r) => JSON.stringify(r)).join('\n')}`);
    session.query(`INSERT INTO plain.rollup_minute FORMAT JSONEachRow\n${rows.map((r) => JSON.stringify(r)).join('\n')}`);
    expect(await oldSink.ensureSchema()).toEqual({ ok: true });
    expect(await oldSink.insert(rows)).toEqual({ ok: true });
    const parked = rejectedRow({ row: rows[0], outboxId: '7', index: 0 }, new Error('Code: 27. DB::Exception: test'));
    session.query(`INSERT INTO ${DB}.rollup_minute_rejected FORMAT JSONEachRow\n${JSON.stringify(parked)}`);
    expect(q(`SELECT row_id, error_code FROM ${DB}.rollup_minute_rejected FINAL`)).toEqual([{ row_id: rows[0]?.row_id, error_code: '27' }]);

    // Three rows of the largest amount one row holds: their sum, past 2^64, stays exact.
    const big = [1, 2, 3].map((i) => ({ ...rows[0], entity_id: 'cur-big', row_id: `big-${i}`, spend_atomic: ((1n << 64n) - 1n).toString() }));
    session.query(`INSERT INTO ${DB}.rollup_minute FORMAT JSONEachRow\n${big.map((r) => JSON.stringify(r)).join('\n')}`);
    expect(q(`SELECT toString(sum(spend_atomic)) AS s FROM ${DB}.rollup_minute FINAL WHERE entity_id = 'cur-big'`)).toEqual([{ s: (3n * ((1n << 64n) - 1n)).toString() }]);
    session.query(`ALTER TABLE ${DB}.rollup_minute DELETE WHERE entity_id = 'cur-big' SETTINGS mutations_sync = 1`);

    const ancient = { ...rows[0], entity_id: 'cur-ancient', row_id: 'ancient-1', minute: '2001-01-01 00:00:00' };
    session.query(`INSERT INTO ${DB}.rollup_minute FORMAT JSONEachRow\n${JSON.stringify(ancient)}`);
    session.query(`OPTIMIZE TABLE ${DB}.rollup_minute FINAL`);
    expect(q(`SELECT toString(count()) AS n FROM ${DB}.rollup_minute WHERE entity_id = 'cur-ancient'`)).toEqual([{ n: '0' }]);
  });

  it('holds the gateways\' status classes and verified payments as PostgreSQL\'s gateway tables count them, on both releases', async () => {
    const pgSums = await pg.pool.query<Row>(
      `SELECT tenant_id || '|' || gateway_id AS key, ${statusSums('postgres')} FROM gateway_stats_hourly GROUP BY 1 ORDER BY 1`,
    );
    expect(pgSums.rows).toHaveLength(4);
    expect(pgSums.rows.some((r) => r.status_5xx !== '0') && pgSums.rows.some((r) => r.status_3xx !== '0')).toBe(true);
    const chSql = (db: string): string =>
      `SELECT concat(tenant_id, '|', entity_id) AS key, ${statusSums('clickhouse')} FROM ${db}.rollup_minute FINAL
       WHERE kind = 'gateway' AND startsWith(entity_id, 'cur-gw-') GROUP BY key ORDER BY key`;
    const onOld = await (await old.client.query({ query: chSql(old.database), format: 'JSONEachRow' })).json<Row>();
    expect(onOld).toEqual(pgSums.rows);
    for (const db of [DB, 'plain']) expect(q(chSql(db)), db).toEqual(pgSums.rows);
    const agents = `SELECT ${statusSums('clickhouse')} FROM ${DB}.rollup_minute FINAL WHERE kind = 'agent'`;
    expect(q(agents)).toEqual([{ status_2xx: '0', status_3xx: '0', status_4xx: '0', status_5xx: '0', payments_verified: '0' }]);
  });

  it('classifies what a current release answers for refused rows as the rows\' fault, and for a column the table lacks as the table\'s', () => {
    // The settings of the sink's every insert, as an INSERT's SETTINGS clause.
    const settings = Object.entries(INSERT_SETTINGS).map(([k, v]) => `${k} = ${v}`).join(', ');
    const refusal = (row: Row): ClickHouseError => {
      try {
        session.query(`INSERT INTO ${DB}.rollup_minute SETTINGS ${settings} FORMAT JSONEachRow\n${JSON.stringify(row)}`);
      } catch (err) {
        // chdb prefixes "Query failed: "; over HTTP the client parses the same "Code: N." into ClickHouseError.
        const message = (err as Error).message.replace(/^Query failed: /, '');
        return new ClickHouseError({ message, code: /^Code: (\d+)\./.exec(message)?.[1] ?? '' });
      }
      throw new Error(`${JSON.stringify(row)} was taken`);
    };
    expect(classifyClickhouseError(refusal({ ...rows[0], minute: 'not a minute' }))).toBe('permanent');
    expect(classifyClickhouseError(refusal({ ...rows[0], kind: 'robot' }))).toBe('permanent');
    expect(classifyClickhouseError(refusal({ ...rows[0], requests: 'many' }))).toBe('permanent');
    // A table recreated from an older schema: the sink's settings make the release refuse the
    // row (its default would take it and drop the field), and the refusal sends the sink to add the column.
    const unknownColumn = { ...rows[0], row_id: 'cur-unknown-column', status_6xx: 1 };
    expect(classifyClickhouseError(refusal(unknownColumn))).toBe('schema');
    expect(() => session.query(`INSERT INTO ${DB}.rollup_minute FORMAT JSONEachRow\n${JSON.stringify(unknownColumn)}`)).not.toThrow();
    session.query(`ALTER TABLE ${DB}.rollup_minute DELETE WHERE row_id = 'cur-unknown-column' SETTINGS mutations_sync = 1`);
  });

  it('answers every dashboard query and documented example as 18.16 does, in both DDL forms', async () => {
    const to = new Date(Date.now() + 5 * 60_000);
    const from = new Date(Date.now() - 3 * 3_600_000);
    const queries = [...(await dashboardQueries(from, to, ['vendor-0', 'vendor-1', 'vendor-2'])), ...(await documentedQueries({ agent: 'cur-agent-4' }))];
    expect(queries.length).toBeGreaterThan(20);
    let nonEmpty = 0;
    for (const query of queries) {
      let onOld: Row[];
      try {
        onOld = await (await old.client.query({ query: query.sql, format: 'JSONEachRow' })).json<Row>();
      } catch (err) {
        throw new Error(`${query.where} on 18.16: ${(err as Error).message}\n${query.sql}`);
      }
      for (const database of [DB, 'plain']) {
        let onCurrent: Row[];
        try {
          session.query(`USE ${database}`);
          onCurrent = q(query.sql);
        } catch (err) {
          throw new Error(`${query.where} on ${version} (${database}): ${(err as Error).message}\n${query.sql}`);
        }
        expect(comparable(onCurrent), `${query.where} (${database})`).toEqual(comparable(onOld));
      }
      if (onOld.length > 0) nonEmpty++;
    }
    expect(nonEmpty).toBeGreaterThan(queries.length / 2);
  });
});
