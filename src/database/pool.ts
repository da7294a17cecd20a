import pg from 'pg';
import type { Logger } from '../logger.js';
import { connectionConfig, DEFAULT_PG_SESSION_SETTINGS, type PgSessionSettings } from './session-settings.js';

// BIGINT and TIMESTAMPTZ come back as text: int64 values must never pass through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/**
 * The receiver's connections: COPY batches (the sink adds TEMP staging tables to each), replay,
 * rollups and upkeep. Every connection carries the session limits of `settings`
 * (session-settings.ts): statement, idle-in-transaction and client-side query timeouts,
 * keepalive, a connect timeout, and `synchronous_commit = on`.
 */
export function createPool(url: string, size: number, log: Logger, settings: PgSessionSettings = DEFAULT_PG_SESSION_SETTINGS): pg.Pool {
  const pool = new pg.Pool({ ...connectionConfig(url, settings), max: size, idleTimeoutMillis: 0 });
  pool.on('connect', (client) => {
    // The pool guards only idle clients. A checked-out one that PostgreSQL drops between two
    // queries emits 'error' with nobody listening, which would end the process; the failure
    // reaches the sink through its next query instead.
    client.on('error', (err) => log.debug({ err: err.message }, 'PostgreSQL connection failed while in use'));
  });
  // An idle connection that drops must not crash the process; the next batch reconnects.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle PostgreSQL connection failed'));
  return pool;
}

/**
 * One short-lived client for start-up work, CLI commands, tests and benchmarks; always closed.
 * It has the connect timeout, keepalive and `synchronous_commit` of every connection, but no
 * statement or query timeout: migrations and operator commands may run for minutes.
 */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>, connectTimeoutMs = DEFAULT_PG_SESSION_SETTINGS.connectTimeoutMs): Promise<T> {
  const client = new pg.Client(connectionConfig(url, { ...DEFAULT_PG_SESSION_SETTINGS, connectTimeoutMs }, false));
  // An error after connect (the server went away between queries) reaches `fn` through its
  // next query; without a listener it would end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
