import type pg from 'pg';

/**
 * Runs `fn` in one REPEATABLE READ READ ONLY transaction: every statement sees the same
 * snapshot, so folded rollups and pending tallies are read as of one instant and no event
 * is counted twice or missed while a folder moves it. `transaction_timestamp()` of this
 * transaction precedes its snapshot, so everything committed before it is visible.
 */
export async function inSnapshot<T>(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    // A connection that cannot even roll back is not given back to the pool.
    client.release(broken);
  }
}

/** SQL: the snapshot's instant, printed for `complete_through`. */
export const SNAPSHOT_TIME_SQL = `SELECT to_char(transaction_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`;
