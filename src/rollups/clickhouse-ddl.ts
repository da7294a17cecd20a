import { ConfigError } from '../config-error.js';

/**
 * The DDL the receiver runs, made from the statements of schema/clickhouse for one server or
 * cluster. The files hold the single-server form, which runs unchanged on 18.16 and current
 * releases; this module derives the rest from it, so there is one column list to maintain:
 *
 * - Cluster (CLICKHOUSE_CLUSTER): every table becomes `<name>_local` created ON CLUSTER, plus a
 *   `Distributed` table under the original name, so every query written for one server (the
 *   Grafana dashboards, the examples in the DDL files and docs) runs unchanged on the cluster.
 *   Rows are sharded by entity: all delta rows of one agent or gateway, and every copy of one
 *   row_id, live on one shard, so FINAL on each shard collapses retried rows exactly.
 * - Replicated (CLICKHOUSE_REPLICATED): the Replicated form of the engine, with the server's
 *   {shard} and {replica} macros in the ZooKeeper path.
 * - Current releases: LowCardinality for the low-cardinality strings, a TTL when a retention is
 *   set, and UInt128 amounts, whose sums stay exact past 2^64. 18.16 has none of them; an
 *   existing table keeps the types it was created with.
 */

export interface ClickhouseLayout {
  database: string;
  /** Cluster name from the servers' remote_servers; null for one server. */
  cluster: string | null;
  replicated: boolean;
  /** Days a row is kept (TTL on the time column); 0 keeps rows for ever. */
  retentionDays: number;
}

export interface ServerFeatures {
  lowCardinality: boolean;
  ttl: boolean;
  /** UInt128 columns (sum() of UInt64 wraps past 2^64; of UInt128 it does not). */
  wideIntegers: boolean;
}

/** How each table is sharded, and which column its retention counts from. */
const TABLES: Readonly<Record<string, { shardKey: string; timeColumn: string }>> = {
  rollup_minute: { shardKey: 'sipHash64(entity_id)', timeColumn: 'minute' },
  rollup_minute_rejected: { shardKey: 'sipHash64(row_id)', timeColumn: 'rejected_at' },
};

/** Columns whose few distinct values (tenants, vendors, receivers) suit a dictionary encoding. */
const LOW_CARDINALITY = new Set(['tenant_id', 'vendor_id', 'receiver_id']);
/** Amounts: each row's fits a UInt64 (clickhouse-rows.ts splits larger ones), their sums may not. */
const AMOUNTS = new Set(['spend_atomic']);

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const CREATE_TABLE = /^CREATE TABLE IF NOT EXISTS (\w+) \(([\s\S]*)\)\s*ENGINE = (\w+)\(\)\s*([\s\S]*)$/;

/**
 * LowCardinality and TTL both arrived in the 19.x series; 20.3, the first LTS release after
 * both were stable, is where the receiver starts using them. UInt128 is used from 21.8, the
 * first LTS release where the wide integers are no longer experimental.
 */
export function serverFeatures(version: string): ServerFeatures {
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  const atLeast = (ma: number, mi: number): boolean => major > ma || (major === ma && minor >= mi);
  return { lowCardinality: atLeast(20, 3), ttl: atLeast(20, 3), wideIntegers: atLeast(21, 8) };
}

/** A cluster name is written into DDL between backquotes: keep it to plain identifiers. */
export function checkClusterName(cluster: string | null): string | null {
  if (cluster !== null && !IDENTIFIER.test(cluster)) throw new ConfigError('CLICKHOUSE_CLUSTER', `${JSON.stringify(cluster)} must match ${IDENTIFIER.source}`);
  return cluster;
}

/** The local (sharded) table behind a Distributed one. */
export function localTableName(table: string): string {
  return `${table}_local`;
}

/** The statements to run, in order, for `layout` on a server with `features`. */
export function schemaStatements(fileStatements: readonly string[], layout: ClickhouseLayout, features: ServerFeatures): string[] {
  const out: string[] = [];
  for (const statement of fileStatements) {
    const m = CREATE_TABLE.exec(statement);
    if (m === null) throw new Error(`schema/clickhouse: every statement must be "CREATE TABLE IF NOT EXISTS name (…) ENGINE = Engine() …": ${statement.slice(0, 80)}`);
    const [, table, columns, engine, tail] = m as unknown as [string, string, string, string, string];
    const spec = TABLES[table];
    if (spec === undefined) throw new Error(`schema/clickhouse: table ${table} has no shard key and time column in clickhouse-ddl.ts`);
    out.push(...tableStatements(table, spec, tableColumns(columns, features), engine, tail.trim(), layout, features));
  }
  return out;
}

function tableColumns(columns: string, features: ServerFeatures): string {
  return columns.replace(/^(\s*)(\w+)(\s+)(String|UInt64)(\s*,?)$/gm, (line, indent: string, name: string, space: string, type: string, rest: string) => {
    if (type === 'String' && features.lowCardinality && LOW_CARDINALITY.has(name)) return `${indent}${name}${space}LowCardinality(String)${rest}`;
    if (type === 'UInt64' && features.wideIntegers && AMOUNTS.has(name)) return `${indent}${name}${space}UInt128${rest}`;
    return line;
  });
}

function tableStatements(
  table: string,
  spec: { shardKey: string; timeColumn: string },
  columns: string,
  engine: string,
  tail: string,
  layout: ClickhouseLayout,
  features: ServerFeatures,
): string[] {
  const ttl = layout.retentionDays > 0 && features.ttl ? `\nTTL ${spec.timeColumn} + INTERVAL ${layout.retentionDays} DAY` : '';
  const db = `\`${layout.database}\``;
  if (layout.cluster === null) {
    const engineSql = layout.replicated ? replicatedEngine(engine, layout.database, table) : `${engine}()`;
    return [`CREATE TABLE IF NOT EXISTS ${db}.${table} (${columns}) ENGINE = ${engineSql}\n${tail}${ttl}`];
  }
  const cluster = `\`${layout.cluster}\``;
  const local = localTableName(table);
  const engineSql = layout.replicated ? replicatedEngine(engine, layout.database, local) : `${engine}()`;
  return [
    `CREATE TABLE IF NOT EXISTS ${db}.${local} ON CLUSTER ${cluster} (${columns}) ENGINE = ${engineSql}\n${tail}${ttl}`,
    `CREATE TABLE IF NOT EXISTS ${db}.${table} ON CLUSTER ${cluster} AS ${db}.${local}\n` +
      `ENGINE = Distributed(${cluster}, ${db}, ${local}, ${spec.shardKey})`,
  ];
}

/** One ZooKeeper path per shard and table; each replica names itself with its {replica} macro. */
function replicatedEngine(engine: string, database: string, table: string): string {
  return `Replicated${engine}('/clickhouse/tables/{shard}/${database}/${table}', '{replica}')`;
}

/** CREATE DATABASE, on every node of the cluster when there is one. */
export function createDatabaseStatement(layout: ClickhouseLayout): string {
  return `CREATE DATABASE IF NOT EXISTS \`${layout.database}\`${layout.cluster === null ? '' : ` ON CLUSTER \`${layout.cluster}\``}`;
}
