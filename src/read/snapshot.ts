import type pg from 'pg';
import { inTransaction } from '../database/index.js';
import { utcMicros } from './times.js';

/**
 * Runs `fn` in one REPEATABLE READ READ ONLY transaction: every statement sees the same
 * snapshot, so folded rollups and pending tallies are read as of one instant and no event
 * is counted twice or missed while a folder moves it. For work of several statements (the
 * alert evaluator); the read endpoints are one statement each.
 */
export function inSnapshot<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(pool, fn, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

/**
 * SQL expression for `complete_through`: the start of the statement's transaction, printed.
 * A read endpoint's figures come from one statement, and one statement sees one snapshot
 * (folded rollups and pending tallies as of one instant). Its transaction starts when
 * PostgreSQL receives the statement, before that snapshot is taken, so everything committed
 * before this instant is in the figures.
 */
export const COMPLETE_THROUGH_SQL = utcMicros('transaction_timestamp()');
