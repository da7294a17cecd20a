import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import type { ClickHouseClient } from '@clickhouse/client';
import { GRAFANA_DIR, REPO_ROOT } from './dashboard-files.js';

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

export async function applyClickhouseSchema(client: ClickHouseClient): Promise<number> {
  const statements = await clickhouseSchemaStatements();
  for (const query of statements) await client.command({ query });
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
