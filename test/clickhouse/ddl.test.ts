/**
 * The DDL the receiver derives from schema/clickhouse for each layout, and the one function
 * that decides what a ClickHouse failure means. The statements themselves run on 18.16
 * (cluster.test.ts, the rollup tests) and on a current release (current-release.test.ts).
 */
import { ClickHouseError } from '@clickhouse/client';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config-error.js';
import { checkClusterName, createDatabaseStatement, schemaStatements, serverFeatures, type ClickhouseLayout } from '../../src/rollups/clickhouse-ddl.js';
import { classifyClickhouseError, loadClickhouseDdl } from '../../src/rollups/clickhouse-sink.js';

const files = await loadClickhouseDdl();
const OLD = serverFeatures('18.16.1');
const CURRENT = serverFeatures('26.7.2.1');
const layout = (over: Partial<ClickhouseLayout> = {}): ClickhouseLayout => ({ database: 'machpay', cluster: null, replicated: false, retentionDays: 0, ...over });

describe('ClickHouse DDL for each layout', () => {
  it('finds LowCardinality and TTL from 20.3 on, UInt128 from 21.8 on', () => {
    expect(serverFeatures('20.2.1')).toEqual({ lowCardinality: false, ttl: false, wideIntegers: false });
    expect(serverFeatures('20.3.5.21')).toEqual({ lowCardinality: true, ttl: true, wideIntegers: false });
    expect(serverFeatures('21.8.1')).toEqual({ lowCardinality: true, ttl: true, wideIntegers: true });
    expect(serverFeatures('26.7.2.1')).toEqual({ lowCardinality: true, ttl: true, wideIntegers: true });
    expect(serverFeatures('garbage')).toEqual({ lowCardinality: false, ttl: false, wideIntegers: false });
  });

  it('keeps the files\' form on one 18.16 server, in the named database', () => {
    const s = schemaStatements(files, layout({ retentionDays: 30 }), OLD);
    expect(s).toHaveLength(2);
    expect(s[0]).toMatch(/^CREATE TABLE IF NOT EXISTS `machpay`\.rollup_minute \(/);
    expect(s[0]).toMatch(/ENGINE = ReplacingMergeTree\(\)\nPARTITION BY toYYYYMM\(minute\)\nORDER BY \(kind, tenant_id, entity_id, vendor_id, minute, row_id\)$/);
    expect(s.join('\n')).not.toMatch(/LowCardinality|TTL|ON CLUSTER|UInt128/);
    expect(s[1]).toMatch(/^CREATE TABLE IF NOT EXISTS `machpay`\.rollup_minute_rejected \(/);
    expect(createDatabaseStatement(layout())).toBe('CREATE DATABASE IF NOT EXISTS `machpay`');
  });

  it('adds LowCardinality to the low-cardinality strings, UInt128 amounts and a TTL on current releases', () => {
    const [minute, rejected] = schemaStatements(files, layout({ retentionDays: 400 }), CURRENT) as [string, string];
    for (const c of ['tenant_id', 'vendor_id', 'receiver_id']) expect(minute).toMatch(new RegExp(`\\n\\s*${c}\\s+LowCardinality\\(String\\),?\\n`));
    for (const c of ['entity_id', 'row_id', 'latency_hdr']) expect(minute).toMatch(new RegExp(`\\n\\s*${c}\\s+String,?\\n`));
    expect(minute).toMatch(/\n\s*spend_atomic\s+UInt128,\n/);
    expect(minute).toMatch(/\n\s*requests\s+UInt64,\n/);
    expect(minute).toMatch(/\nTTL minute \+ INTERVAL 400 DAY$/);
    expect(rejected).toMatch(/\nTTL rejected_at \+ INTERVAL 400 DAY$/);
    expect(schemaStatements(files, layout(), CURRENT).join('\n')).not.toMatch(/TTL/);
  });

  it('makes local tables on the cluster and Distributed tables under the usual names, sharded by entity', () => {
    const s = schemaStatements(files, layout({ cluster: 'machpay_shards' }), OLD);
    expect(s).toHaveLength(4);
    expect(s[0]).toMatch(/^CREATE TABLE IF NOT EXISTS `machpay`\.rollup_minute_local ON CLUSTER `machpay_shards` \(/);
    expect(s[1]).toBe(
      'CREATE TABLE IF NOT EXISTS `machpay`.rollup_minute ON CLUSTER `machpay_shards` AS `machpay`.rollup_minute_local\n' +
        'ENGINE = Distributed(`machpay_shards`, `machpay`, rollup_minute_local, sipHash64(entity_id))',
    );
    expect(s[3]).toMatch(/Distributed\(`machpay_shards`, `machpay`, rollup_minute_rejected_local, sipHash64\(row_id\)\)$/);
    expect(createDatabaseStatement(layout({ cluster: 'machpay_shards' }))).toBe('CREATE DATABASE IF NOT EXISTS `machpay` ON CLUSTER `machpay_shards`');
  });

  it('uses Replicated engines with the servers\' {shard} and {replica} macros', () => {
    const [local] = schemaStatements(files, layout({ cluster: 'c', replicated: true }), OLD) as [string];
    expect(local).toMatch(/ENGINE = ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/machpay\/rollup_minute_local', '\{replica\}'\)/);
    const [single] = schemaStatements(files, layout({ replicated: true }), OLD) as [string];
    expect(single).toMatch(/ReplicatedReplacingMergeTree\('\/clickhouse\/tables\/\{shard\}\/machpay\/rollup_minute', '\{replica\}'\)/);
  });

  it('refuses a statement it cannot derive from, and a table without a shard key', () => {
    expect(() => schemaStatements(['ALTER TABLE rollup_minute ADD COLUMN x UInt8'], layout(), OLD)).toThrow(/CREATE TABLE IF NOT EXISTS/);
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
    for (const code of ['60', '81']) expect(classifyClickhouseError(server(code)), code).toBe('schema');
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
