import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate, withClient } from '../../src/database/index.js';

/** The superuser URL provided by test/setup/global-services.ts. */
export function postgresServerUrl(): string {
  const url = inject('pgUrl');
  if (typeof url !== 'string' || url === '') {
    throw new Error('pgUrl was not provided: run the integration tests with vitest.config.ts (its globalSetup starts PostgreSQL), not vitest.unit.config.ts');
  }
  return url;
}

/** `url` with its database replaced by `database`. */
export function urlForDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

/** One statement on a fresh connection; returns its rows. */
export async function query<R extends pg.QueryResultRow = Record<string, unknown>>(
  url: string,
  sql: string,
  params: readonly unknown[] = [],
): Promise<R[]> {
  return withClient(url, async (client) => (await client.query<R>(sql, [...params])).rows);
}

export interface TestDatabase {
  /** Superuser URL of the new database. */
  readonly url: string;
  readonly name: string;
  /** Drops it, ending any connections still open to it (leaked pools, a killed receiver's). */
  drop(): Promise<void>;
}

/** PostgreSQL identifiers: lower case, ≤ 63 bytes. The random tail keeps files and reruns apart. */
function databaseName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 40) || 'test';
  return `t_${clean}_${randomBytes(5).toString('hex')}`;
}

/** A fresh, empty database for one test file (or one test), on the run's PostgreSQL. */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const admin = postgresServerUrl();
  const name = databaseName(prefix);
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  let dropped = false;
  return {
    url: urlForDatabase(admin, name),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await withClient(admin, async (c) => {
        const ident = c.escapeIdentifier(name);
        try {
          // WITH (FORCE) (PostgreSQL 13+) terminates the remaining sessions first.
          await c.query(`DROP DATABASE IF EXISTS ${ident} WITH (FORCE)`);
        } catch (err) {
          // A TEST_PG_URL server older than 13 has no FORCE: end the sessions by hand.
          if ((err as { code?: string }).code !== '42601') throw err;
          await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
          await c.query(`DROP DATABASE IF EXISTS ${ident}`);
        }
      });
    },
  };
}

export interface MigratedDatabase {
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  /** Ends the pool, then drops the database. */
  close(): Promise<void>;
}

/**
 * A pool for a test database. The database is dropped at the end with its connections ended
 * by the server: an idle client of the pool that sees that is expected, not an error of the
 * test (without a listener, the pool would throw it as an uncaught exception).
 */
export function quietPool(url: string, max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}

/** A fresh database with every migration applied, and a pool of at most `poolMax` connections on it. */
export async function createMigratedDatabase(prefix: string, poolMax = 6): Promise<MigratedDatabase> {
  const db = await createTestDatabase(prefix);
  const pool = quietPool(db.url, poolMax);
  const client = await pool.connect();
  try {
    await migrate(client);
  } finally {
    client.release();
  }
  return {
    db,
    pool,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}
