import pg from 'pg';
import type { Logger } from '../../logger.js';
import { PostgresCopySink } from './copy-sink.js';

// BIGINT and TIMESTAMPTZ come back as text: int64 values must never pass through a float.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => v);

/** The connections that carry COPY batches; each gets its own TEMP staging tables. */
export function createCopyPool(url: string, size: number, log: Logger): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max: size, connectionTimeoutMillis: 3000, idleTimeoutMillis: 0 });
  const staging = PostgresCopySink.stagingSql();
  pool.on('connect', (client) => {
    // pg runs a client's queries in order, so this completes before the first batch on it.
    client.query(staging).catch((err: Error) => log.error({ err: err.message }, 'could not create staging tables'));
  });
  // An idle connection that drops must not crash the process; the next batch reconnects.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle PostgreSQL connection failed'));
  return pool;
}

/** One short-lived client for start-up work, CLI commands and tests. */
export async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
