import type pg from 'pg';
import type { RetentionLimits } from './retention-limits.js';

/**
 * Runs `sql` in a transaction of its own whose lock requests give up after `lock_timeout`:
 * while a lock request waits, every COPY that needs a conflicting lock queues behind it, so a
 * request that cannot be granted in time fails with 55P03 and the next check tries again.
 */
export async function inLockLimitedTransaction<R extends pg.QueryResultRow = pg.QueryResultRow>(
  client: pg.ClientBase,
  limits: RetentionLimits,
  sql: string,
  params: readonly unknown[] = [],
): Promise<pg.QueryResult<R>> {
  await client.query('BEGIN');
  try {
    // SET LOCAL: the limits end with this transaction, whatever connection it runs on.
    await client.query(
      `SET LOCAL lock_timeout = ${Math.trunc(limits.lockTimeoutMs)}; SET LOCAL statement_timeout = ${Math.trunc(limits.statementTimeoutMs)}`,
    );
    const result = await client.query<R>(sql, params as unknown[]);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
