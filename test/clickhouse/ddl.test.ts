/**
 * The DDL the receiver derives from schema/clickhouse for each layout, and the one function
 * that decides what a ClickHouse failure means. The statements themselves run on 18.16
 * (cluster.test.ts, the rollup tests) and on a current release (current-release.test.ts).
 */
import { ClickHouseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config-error.js';
import { addColumnsSql, checkClusterName, createDatabaseStatement, schemaStatements, serverFeatures, type ClickhouseLayout } from '../../src/rollups/clickhouse-ddl.js';
import { classifyClickhouseError, loadClickhouseDdl } from '../../src/rollups/clickhouse-sink.js';

const files = await loadClickhouseDdl();
const OLD = serverFeatures('18.16.1');
const CURRENT = serverFeatures('26.7.2.1');
const layout = (over: Partial<ClickhouseLayout> = {}): ClickhouseLayout => ({ database: 'machpay', cluster: null, replicated: false, retentionDays: 0, ...over });
const sql = (l: ClickhouseLayout, features = OLD): string[] => schemaStatements(files, l, features).map((s) => s.sql);
const STATUS_COLUMNS = ['status_2xx', 'status_3xx', 'status_4xx', 'status_5xx', 'payments_verified'];

describe('ClickHouse DDL for each layout', () => {
  it('finds LowCardinality, TTL and ADD COLUMN IF NOT EXISTS from 20.3 on, UInt128 from 21.8 on', () => {
    expect(serverFeatures('18.16.1')).toEqual({ lowCardinality: false, ttl: false, wideIntegers: false, alterIfNotExists: false });
    expect(serverFeatures('20.2.1')).toEqual({ lowCardinality: false, ttl: false, wideIntegers: false, alterIfNotExists: false });
    expect(serverFeatures('20.3.5.21')).toEqual({ lowCardinality: true, ttl: true, wideIntegers: false, alterIfNotExists: true });
    expect(serverFeatures('21.8.1')).toEqual({ lowCardinality: true, ttl: true, wideIntegers: true, alterIfNotExists: true });
    expect(serverFeatures('26.7.2.1')).toEqual({ lowCardinality: true, ttl: true, wideIntegers: true, alterIfNotExists: true });
    expect(serverFeatures('garbage')).toEqual({ lowCardinality: false, ttl: false, wideIntegers: false, alterIfNotExists: false });
  });

  it('keeps the files\' form on one 18.16 server, in the named database', () => {
    const s = sql(layout({ retentionDays: 30 }));
    expect(s).toHaveLength(3);
    expect(s[0]).toMatch(/^CREATE TABLE IF NOT EXISTS `machpay`\.rollup_minute \(/);
    expect(s[0]).toMatch(/ENGINE = ReplacingMergeTree\(\)\nPARTITION BY toYYYYMM\(minute\)\nORDER BY \(kind, tenant_id, entity_id, vendor_id, minute, row_id\)$/);
    expect(s.join('\n')).not.toMatch(/LowCardinality|TTL|ON CLUSTER|UInt128|IF NOT EXISTS status/);
    expect(s[1]).toMatch(/^CREATE TABLE IF NOT EXISTS `machpay`\.rollup_minute_rejected \(/);
    expect(s[2]).toMatch(/^ALTER TABLE `machpay`\.rollup_minute ADD COLUMN status_2xx UInt64 DEFAULT 0, /);
    expect(createDatabaseStatement(layout())).toBe('CREATE DATABASE IF NOT EXISTS `machpay`');
  });

  it('adds LowCardinality to the low-cardinality strings, UInt128 amounts and a TTL on current releases', () => {
    const [minute, rejected] = sql(layout({ retentionDays: 400 }), CURRENT) as [string, string];
    for (const c of ['tenant_id', 'vendor_id', 'receiver_id']) expect(minute).toMatch(new RegExp(`\\n\\s*${c}\\s+LowCardinality\\(String\\),?\\n`));
    for (const c of ['entity_id', 'row_id', 'latency_hdr']) expect(minute).toMatch(new RegExp(`\\n\\s*${c}\\s+String,?\\n`));
    expect(minute).toMatch(/\n\s*spend_atomic\s+UInt128,\n/);
    expect(minute).toMatch(/\n\s*requests\s+UInt64,\n/);
    expect(minute).toMatch(/\nTTL minute \+ INTERVAL 400 DAY$/);
    expect(rejected).toMatch(/\nTTL rejected_at \+ INTERVAL 400 DAY$/);
    expect(sql(layout(), CURRENT).join('\n')).not.toMatch(/TTL/);
  });

  it('makes local tables on the cluster and Distributed tables under the usual names, sharded by entity', () => {
    const s = sql(layout({ cluster: 'machpay_shards' }));
    expect(s).toHaveLength(7);
    expect(s[0]).toMatch(/^CREATE TABLE IF NOT EXISTS `machpay`\.rollup_minute_local ON CLUSTER `machpay_shards` \(/);
    expect(s[1]).toBe(
      'CREATE TABLE IF NOT EXISTS `machpay`.rollup_minute ON CLUSTER `machpay_shards` AS `machpay`.rollup_minute_local\n' +
        'ENGINE = Distributed(`machpay_shards`, `machpay`, rollup_minute_local, sipHash64(entity_id))',
    );
    expect(s[3]).toMatch(/Distributed\(`machpay_shards`, `machpay`, rollup_minute_rejected_local, sipHash64\(row_id\)\)$/);
    expect(createDatabaseStatement(layout({ cluster: 'machpay_shards' }))).toBe('CREATE DATABASE IF NOT EXISTS `machpay` ON CLUSTER `machpay_shards`');
  });

  it('uses Replicated engines with the servers\' {shard} and {replica} macros', () => {
    const [local] = sql(layout({ cluster: 'c', replicated: true })) as [string];
    expect(local).toMatch(/ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/machpay\/rollup_minute_local', '\{replica\}'\)/);
    const [single] = sql(layout({ replicated: true })) as [string];
    expect(single).toMatch(/ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/machpay\/rollup_minute', '\{replica\}'\)/);
  });

  it('adds 003\'s status columns to rollup_minute while it lacks them: without IF NOT EXISTS on 18.16', () => {
    const [one] = schemaStatements(files, layout(), OLD).slice(2);
    expect(one?.lacking).toMatchObject({ table: 'rollup_minute', alter: { head: 'ALTER TABLE `machpay`.rollup_minute', ifNotExists: false } });
    expect(one?.lacking?.columns.map((c) => c.name)).toEqual(STATUS_COLUMNS);
    expect(one?.sql).toBe(`ALTER TABLE \`machpay\`.rollup_minute ${STATUS_COLUMNS.map((c) => `ADD COLUMN ${c} UInt64 DEFAULT 0`).join(', ')}`);
    expect(sql(layout(), CURRENT)[2]).toBe(`ALTER TABLE \`machpay\`.rollup_minute ${STATUS_COLUMNS.map((c) => `ADD COLUMN IF NOT EXISTS ${c} UInt64 DEFAULT 0`).join(', ')}`);
    // The CREATE statements run always; only the columns a table lacks are written.
    expect(schemaStatements(files, layout(), OLD).slice(0, 2).map((s) => s.lacking)).toEqual([null, null]);
    if (one === undefined) throw new Error('no ALTER');
    expect(addColumnsSql(one, new Set(['payments_verified', 'status_5xx']))).toBe(
      'ALTER TABLE `machpay`.rollup_minute ADD COLUMN status_5xx UInt64 DEFAULT 0, ADD COLUMN payments_verified UInt64 DEFAULT 0',
    );
    expect(() => addColumnsSql(one, new Set(['other']))).toThrow(/none of other/);
  });

  it('on a cluster, alters the local tables ON CLUSTER, then makes the Distributed table again over them', () => {
    const cluster = schemaStatements(files, layout({ cluster: 'machpay_shards', replicated: true }), OLD).slice(4);
    expect(cluster.map((s) => s.lacking?.table)).toEqual(['rollup_minute_local', 'rollup_minute', 'rollup_minute']);
    expect(cluster[0]?.sql).toMatch(/^ALTER TABLE `machpay`\.rollup_minute_local ON CLUSTER `machpay_shards` ADD COLUMN status_2xx UInt64 DEFAULT 0, /);
    // 18.16 refuses ALTER ON CLUSTER of the Distributed table where shards are replicated.
    expect(cluster[1]?.sql).toBe('DROP TABLE IF EXISTS `machpay`.rollup_minute ON CLUSTER `machpay_shards`');
    expect(cluster[2]?.sql).toBe(sql(layout({ cluster: 'machpay_shards' }))[1]);
    expect(cluster.map((s) => s.lacking?.alter === null)).toEqual([false, true, true]);
    // Those two run as they are, whichever columns are missing.
    const drop = cluster[1];
    if (drop === undefined) throw new Error('no DROP');
    expect(addColumnsSql(drop, new Set(['status_4xx']))).toBe(drop.sql);
  });

  it('gives a later file\'s added columns the same types as the CREATE\'s on current releases', () => {
    const [s] = schemaStatements(['ALTER TABLE rollup_minute ADD COLUMN IF NOT EXISTS vendor_id String DEFAULT \'\', ADD COLUMN IF NOT EXISTS spend_atomic UInt64 DEFAULT 0'], layout(), CURRENT);
    expect(s?.sql).toBe("ALTER TABLE `machpay`.rollup_minute ADD COLUMN IF NOT EXISTS vendor_id LowCardinality(String) DEFAULT '', ADD COLUMN IF NOT EXISTS spend_atomic UInt128 DEFAULT 0");
  });

  it('refuses a statement it cannot derive from, and a table without a shard key', () => {
    expect(() => schemaStatements(['DROP TABLE rollup_minute'], layout(), OLD)).toThrow(/CREATE TABLE IF NOT EXISTS/);
    // Without IF NOT EXISTS a file's ALTER would fail at every start after the first.
    expect(() => schemaStatements(['ALTER TABLE rollup_minute ADD COLUMN x UInt8'], layout(), OLD)).toThrow(/ADD COLUMN IF NOT EXISTS/);
    expect(() => schemaStatements(['ALTER TABLE rollup_minute ADD COLUMN IF NOT EXISTS x UInt8, DROP COLUMN y'], layout(), OLD)).toThrow(/may only hold/);
    expect(() => schemaStatements(['ALTER TABLE other ADD COLUMN IF NOT EXISTS x UInt8'], layout(), OLD)).toThrow(/no shard key/);
    expect(() => schemaStatements(['CREATE TABLE IF NOT EXISTS other (a String) ENGINE = MergeTree() ORDER BY a'], layout(), OLD)).toThrow(/no shard key/);
  });

  it('takes only plain identifiers as the cluster name (it is written into DDL)', () => {
    expect(checkClusterName('machpay_1')).toBe('machpay_1');
    expect(checkClusterName(null)).toBeNull();
    expect(() => checkClusterName('x` ON CLUSTER y')).toThrow(ConfigError);
    expect(() => checkClusterName('x` ON CLUSTER y')).toThrow(/^CLICKHOUSE_CLUSTER: /);
  });
});

describe('classifyClickhouseError', () => {
  const server = (code: string): ClickHouseError => new ClickHouseError({ message: `Code: ${code}. DB::Exception: …`, code });

  it('blames the rows for parse and type errors, and the table for a missing one', () => {
    for (const code of ['6', '27', '41', '53', '691']) expect(classifyClickhouseError(server(code)), code).toBe('permanent');
    for (const code of ['16', '60', '81']) expect(classifyClickhouseError(server(code)), code).toBe('schema');
    // INCORRECT_DATA is the rows' fault, except for a field the table has no column for.
    expect(classifyClickhouseError(new ClickHouseError({ message: 'Code: 117. DB::Exception: Cannot parse JSON object here', code: '117' }))).toBe('permanent');
    expect(classifyClickhouseError(new ClickHouseError({ message: 'Code: 117. DB::Exception: Unknown field found while parsing JSONEachRow format: status_2xx: (at row 1)', code: '117' }))).toBe('schema');
    expect(classifyClickhouseError(new Error('Code: 117, e.displayText() = DB::Exception: Unknown field found while parsing JSONEachRow format: status_2xx, e.what() = DB::Exception'))).toBe('schema');
  });

  it('retries the network, overload, a shard down and credentials, which no row causes', () => {
    for (const code of ['159', '202', '209', '210', '241', '252', '279', '516', '999']) expect(classifyClickhouseError(server(code)), code).toBe('retry');
    expect(classifyClickhouseError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }))).toBe('retry');
    expect(classifyClickhouseError('not even an error')).toBe('retry');
  });

  it('calls other server errors suspect, in both message formats', () => {
    expect(classifyClickhouseError(server('49'))).toBe('suspect');
    expect(classifyClickhouseError(new Error("Code: 49, e.displayText() = DB::Exception: Unknown element 'robot' for type Enum8, e.what() = DB::Exception"))).toBe('suspect');
    expect(classifyClickhouseError(new Error('Code: 27, e.displayText() = DB::Exception: Cannot parse input'))).toBe('permanent');
  });
});
