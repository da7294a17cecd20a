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
 * - Columns added later (`ALTER TABLE name ADD COLUMN IF NOT EXISTS …`): 18.16 does not know
 *   IF NOT EXISTS there, so such a statement carries its columns apart (LackingColumns) and
 *   clickhouse-schema-apply.ts runs it only while the table lacks one, narrowed to the missing
 *   ones (addColumnsSql).
 *   On a cluster the local tables are altered ON CLUSTER; the Distributed table, which takes
 *   its columns from them, is dropped and made again ON CLUSTER, because 18.16 refuses an ALTER
 *   ON CLUSTER of a non-replicated table where the cluster's shards are replicated
 *   (internal_replication). It holds no rows: the receiver's inserts through it are synchronous.
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
  /** `ADD COLUMN IF NOT EXISTS` (18.16 refuses it as a syntax error). */
  alterIfNotExists: boolean;
}

/** One statement of the schema, in the form one server or cluster takes. */
export interface SchemaStatement {
  /** The statement as it runs when `lacking` says the table has none of its columns. */
  readonly sql: string;
  /** Null: run always (CREATE … IF NOT EXISTS). Else run only while the table lacks one of the columns. */
  readonly lacking: LackingColumns | null;
}

export interface ColumnDefinition {
  readonly name: string;
  /** `UInt64 DEFAULT 0`. */
  readonly definition: string;
}

export interface LackingColumns {
  /** The table as system.columns names it (`rollup_minute_local` for the local tables of a cluster). */
  readonly table: string;
  /** In file order. */
  readonly columns: readonly ColumnDefinition[];
  /** For an ALTER … ADD COLUMN, narrowed to the missing columns before it runs: `ALTER TABLE db.t [ON CLUSTER c]`. Null: the statement runs as it is. */
  readonly alter: { readonly head: string; readonly ifNotExists: boolean } | null;
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
const ALTER_TABLE = /^ALTER TABLE (\w+)\s+(ADD COLUMN IF NOT EXISTS [\s\S]*)$/;
/** A definition holds no comma (the clauses are split at commas): `UInt64 DEFAULT 0`, not `Decimal(9, 2)`. */
const ADD_COLUMN = /^ADD COLUMN IF NOT EXISTS (\w+)\s+([^,\s][^,]*?)\s*$/;

/**
 * LowCardinality and TTL both arrived in the 19.x series; 20.3, the first LTS release after
 * both were stable, is where the receiver starts using them, and `ADD COLUMN IF NOT EXISTS`
 * (not in 18.16) with them. UInt128 is used from 21.8, the first LTS release where the wide
 * integers are no longer experimental.
 */
export function serverFeatures(version: string): ServerFeatures {
  const [major = 0, minor = 0] = version.split('.').map((p) => Number.parseInt(p, 10));
  const atLeast = (ma: number, mi: number): boolean => major > ma || (major === ma && minor >= mi);
  return { lowCardinality: atLeast(20, 3), ttl: atLeast(20, 3), wideIntegers: atLeast(21, 8), alterIfNotExists: atLeast(20, 3) };
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
export function schemaStatements(fileStatements: readonly string[], layout: ClickhouseLayout, features: ServerFeatures): SchemaStatement[] {
  const out: SchemaStatement[] = [];
  for (const statement of fileStatements) {
    const alter = ALTER_TABLE.exec(statement);
    if (alter !== null) {
      const [, table, clauses] = alter as unknown as [string, string, string];
      out.push(...alterStatements(table, knownTable(table), addedColumns(clauses, features), layout, features));
      continue;
    }
    const m = CREATE_TABLE.exec(statement);
    if (m === null) {
      throw new Error(
        `schema/clickhouse: every statement must be "CREATE TABLE IF NOT EXISTS name (…) ENGINE = Engine() …" or "ALTER TABLE name ADD COLUMN IF NOT EXISTS …": ${statement.slice(0, 80)}`,
      );
    }
    const [, table, columns, engine, tail] = m as unknown as [string, string, string, string, string];
    out.push(...tableStatements(table, knownTable(table), tableColumns(columns, features), engine, tail.trim(), layout, features).map((sql) => ({ sql, lacking: null })));
  }
  return out;
}

/** The statement to run where `missing` (a non-empty subset of its columns) are lacking: an ALTER adds just those. */
export function addColumnsSql(statement: SchemaStatement, missing: ReadonlySet<string>): string {
  const lacking = statement.lacking;
  if (lacking === null) return statement.sql;
  const columns = lacking.columns.filter((c) => missing.has(c.name));
  if (columns.length === 0) throw new Error(`addColumnsSql: none of ${[...missing].join(', ')} is a column of this statement on ${lacking.table}`);
  if (lacking.alter === null) return statement.sql;
  return alterSql(lacking.alter.head, lacking.alter.ifNotExists, columns);
}

function alterSql(head: string, ifNotExists: boolean, columns: readonly ColumnDefinition[]): string {
  const clause = ifNotExists ? 'ADD COLUMN IF NOT EXISTS' : 'ADD COLUMN';
  return `${head} ${columns.map((c) => `${clause} ${c.name} ${c.definition}`).join(', ')}`;
}

function knownTable(table: string): { shardKey: string; timeColumn: string } {
  const spec = TABLES[table];
  if (spec === undefined) throw new Error(`schema/clickhouse: table ${table} has no shard key and time column in clickhouse-ddl.ts`);
  return spec;
}

function tableColumns(columns: string, features: ServerFeatures): string {
  return columns.replace(/^(\s*)(\w+)(\s+)(String|UInt64)(\s*,?)$/gm, (_line, indent: string, name: string, space: string, type: string, rest: string) => {
    return `${indent}${name}${space}${columnType(name, type, features)}${rest}`;
  });
}

/** The type a column of the files' `type` gets on a server with `features`. */
function columnType(name: string, type: string, features: ServerFeatures): string {
  if (type === 'String' && features.lowCardinality && LOW_CARDINALITY.has(name)) return 'LowCardinality(String)';
  if (type === 'UInt64' && features.wideIntegers && AMOUNTS.has(name)) return 'UInt128';
  return type;
}

/** `ADD COLUMN IF NOT EXISTS a T DEFAULT x, ADD COLUMN IF NOT EXISTS b …` → each column's name and definition. */
function addedColumns(clauses: string, features: ServerFeatures): ColumnDefinition[] {
  return clauses.split(',').map((clause) => {
    const m = ADD_COLUMN.exec(clause.trim());
    if (m === null) throw new Error(`schema/clickhouse: an ALTER may only hold "ADD COLUMN IF NOT EXISTS name Type …" clauses, without commas: ${clause.trim().slice(0, 80)}`);
    const [, name, definition] = m as unknown as [string, string, string];
    const [type = '', ...rest] = definition.split(/\s+/);
    return { name, definition: [columnType(name, type, features), ...rest].join(' ') };
  });
}

/**
 * One server: the ALTER. A cluster: the ALTER of the local tables ON CLUSTER, then the
 * Distributed table dropped and made again from them (see the module's comment), each only
 * while its table lacks a column.
 */
function alterStatements(
  table: string,
  spec: { shardKey: string },
  columns: readonly ColumnDefinition[],
  layout: ClickhouseLayout,
  features: ServerFeatures,
): SchemaStatement[] {
  const db = `\`${layout.database}\``;
  const alter = (t: string, onCluster: string): SchemaStatement => {
    const head = `ALTER TABLE ${db}.${t}${onCluster}`;
    return { sql: alterSql(head, features.alterIfNotExists, columns), lacking: { table: t, columns, alter: { head, ifNotExists: features.alterIfNotExists } } };
  };
  if (layout.cluster === null) return [alter(table, '')];
  const cluster = `\`${layout.cluster}\``;
  const lacking = { table, columns, alter: null };
  return [
    alter(localTableName(table), ` ON CLUSTER ${cluster}`),
    { sql: `DROP TABLE IF EXISTS ${db}.${table} ON CLUSTER ${cluster}`, lacking },
    { sql: distributedStatement(table, spec, layout.database, layout.cluster), lacking },
  ];
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
    distributedStatement(table, spec, layout.database, layout.cluster),
  ];
}

/** The Distributed table over a cluster's local tables, with the columns they have when it is made. */
function distributedStatement(table: string, spec: { shardKey: string }, database: string, clusterName: string): string {
  const db = `\`${database}\``;
  const cluster = `\`${clusterName}\``;
  const local = localTableName(table);
  return `CREATE TABLE IF NOT EXISTS ${db}.${table} ON CLUSTER ${cluster} AS ${db}.${local}\n` + `ENGINE = Distributed(${cluster}, ${db}, ${local}, ${spec.shardKey})`;
}

/** One ZooKeeper path per shard and table; each replica names itself with its {replica} macro. */
function replicatedEngine(engine: string, database: string, table: string): string {
  return `Replicated${engine}('/clickhouse/tables/{shard}/${database}/${table}', '{replica}')`;
}

/** CREATE DATABASE, on every node of the cluster when there is one. */
export function createDatabaseStatement(layout: ClickhouseLayout): string {
  return `CREATE DATABASE IF NOT EXISTS \`${layout.database}\`${layout.cluster === null ? '' : ` ON CLUSTER \`${layout.cluster}\``}`;
}
