import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type pg from 'pg';

/** Where the versioned migrations live: two levels up from src/database/, three from dist/src/database/. */
export const SCHEMA_DIR =
  [new URL('../../schema/postgres/', import.meta.url), new URL('../../../schema/postgres/', import.meta.url)].find((u) => existsSync(u)) ??
  new URL('../../schema/postgres/', import.meta.url);

/** Any constant will do, as long as every receiver uses the same one. */
const MIGRATION_LOCK = 0x6d61_6368;

export interface MigrationResult {
  applied: string[];
  current: string[];
}

/**
 * Applies every `NNN_name.sql` not yet recorded in schema_migrations, in order, each in its
 * own transaction, under an advisory lock so that receivers starting together take turns.
 */
export async function migrate(client: pg.ClientBase, dir: URL = SCHEMA_DIR): Promise<MigrationResult> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
  try {
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
    );
    const done = new Set((await client.query<{ version: string }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: string[] = [];
    for (const file of files) {
      const version = file.replace(/\.sql$/, '');
      if (done.has(version)) continue;
      const sql = await readFile(new URL(file, dir), 'utf8');
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(version);
    }
    return { applied, current: files.map((f) => f.replace(/\.sql$/, '')) };
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
  }
}
