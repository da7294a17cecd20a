import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { ClickHouseClient } from '@clickhouse/client';
import { GRAFANA_DIR, REPO_ROOT } from './dashboard-files.js';
import { schemaStatements, serverFeatures } from '../../src/rollups/clickhouse-ddl.js';
import { applySchemaStatements } from '../../src/rollups/clickhouse-schema-apply.js';

/** The SQL a deployment runs before the dashboards can query: ClickHouse DDL and the Grafana reader role. */

/** The statements of schema/clickhouse/*.sql, in file order, comments removed. */
export async function clickhouseSchemaStatements(): Promise<string[]> {
  const dir = join(REPO_ROOT, 'schema', 'clickhouse');
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const statements: string[] = [];
  for (const file of files) {
    const text = (await readFile(join(dir, file), 'utf8'))
      .split('\n')
      .filter((line) => !/^\s*--/.test(line))
      .join('\n');
    statements.push(...text.split(/;\s*(?:\n|$)/).map((s) => s.trim()).filter((s) => s !== ''));
  }
  return statements;
}

/**
 * schema/clickhouse applied to the client's database as the receiver applies it: the files'
 * statements in the form the server's version takes (18.16 does not parse 003's
 * ADD COLUMN IF NOT EXISTS), columns added only where missing.
 */
export async function applyClickhouseSchema(client: ClickHouseClient): Promise<number> {
  const rs = await client.query({ query: 'SELECT currentDatabase() AS db, version() AS v', format: 'JSONEachRow' });
  const [server] = await rs.json<{ db: string; v: string }>();
  if (server === undefined) throw new Error('ClickHouse answered no row for currentDatabase()');
  const layout = { database: server.db, cluster: null, replicated: false, retentionDays: 0 };
  const statements = schemaStatements(await clickhouseSchemaStatements(), layout, serverFeatures(server.v));
  await applySchemaStatements(client, server.db, statements);
  return statements.length;
}

export const POSTGRES_READER_SCRIPT = join(GRAFANA_DIR, 'init', 'postgres', '10-grafana-reader.sh');

/**
 * The SQL of grafana/init/postgres/10-grafana-reader.sh (its `<<'SQL'` here-document) with
 * psql's :"identifier" and :'literal' variables filled in as psql would.
 */
export async function postgresReaderSql(vars: Readonly<Record<string, string>>, client: pg.Client): Promise<string> {
  const script = await readFile(POSTGRES_READER_SCRIPT, 'utf8');
  const heredoc = /<<'SQL'\n([\s\S]*?)\nSQL\n/.exec(script);
  if (heredoc === null) throw new Error(`${POSTGRES_READER_SCRIPT}: no <<'SQL' here-document`);
  return (heredoc[1] as string).replace(/:(["'])(\w+)\1/g, (_w, quote: string, name: string) => {
    const value = vars[name];
    if (value === undefined) throw new Error(`${POSTGRES_READER_SCRIPT} uses psql variable ${name}, which the test does not set`);
    return quote === '"' ? client.escapeIdentifier(value) : client.escapeLiteral(value);
  });
}
