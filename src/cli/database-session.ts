import type pg from 'pg';
import type { Config } from '../config.js';
import { createPool, openDatabase } from '../database/index.js';
import type { Logger } from '../logger.js';

/**
 * Runs a command against the configured database (the embedded one under DATA_DIR when
 * DATABASE_URL is unset, migrated first as serve does) with a small pool, closed afterwards.
 */
export async function withDatabase<T>(config: Config, log: Logger, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const { url, embedded } = await openDatabase(config, log, 'command');
  const pool = createPool(url, 2, log);
  try {
    return await fn(pool);
  } finally {
    await pool.end();
    await embedded?.stop();
  }
}

/** One line of tab-separated cells; `-` for nothing. */
export function row(cells: readonly (string | number | null | undefined)[]): string {
  return cells.map((c) => (c === null || c === undefined || c === '' ? '-' : String(c))).join('\t') + '\n';
}

/** Runs `fn` on one connection of `pool` (the key store takes a client). */
export async function onClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    return await fn(client);
  } finally {
    client.release();
  }
}
