import type pg from 'pg';
import { inTransaction } from '../database/index.js';

/**
 * Runs `fn` in one REPEATABLE READ READ ONLY transaction: every statement sees the same
 * snapshot, so folded rollups and pending tallies are read as of one instant and no event
 * is counted twice or missed while a folder moves it. `transaction_timestamp()` of this
 * transaction precedes its snapshot, so everything committed before it is visible.
 */
export function inSnapshot<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

/** SQL: the snapshot's instant, printed for `complete_through`. */
export const SNAPSHOT_TIME_SQL = `SELECT to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`;
