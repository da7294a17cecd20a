import pg from 'pg';
import type { Logger } from '../logger.js';

// BIGINT and TIMESTAMPTZ come back as text: int64 values must never pass through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/** The receiver's connections: COPY batches (the sink adds TEMP staging tables to each), replay, rollups and upkeep. */
export function createPool(url: string, size: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: size, connectionTimeoutMillis: 3000, idleTimeoutMillis: 0 });
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

/** One short-lived client for start-up work, CLI commands, tests and benchmarks; always closed. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>, connectTimeoutMs = 5000): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
