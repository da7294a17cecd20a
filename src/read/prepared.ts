import type pg from 'pg';
import type { BucketUnit } from './window.js';

/**
 * A read statement per bucket unit, named: PostgreSQL parses it once per connection and,
 * after a few runs, reuses a generic plan (partitions are then pruned at run time) instead
 * of planning every read. Planning was a third to a half of a read's PostgreSQL time.
 */
export function statementPerUnit(name: string, sql: (unit: BucketUnit) => string): (unit: BucketUnit, values: unknown[]) => pg.QueryConfig {
  const text: Record<BucketUnit, string> = { minute: sql('minute'), hour: sql('hour'), day: sql('day') };
  return (unit, values) => ({ name: `${name}-${unit}`, text: text[unit], values });
}

/**
 * Runs a named statement with its generic plan, made once per connection. PostgreSQL's own
 * choice kept making a custom plan for every run of the metrics' statements (its estimate of
 * the generic plan counts every partition, which run-time pruning skips), and planning one
 * cost about 1 ms of its CPU, more than half of a 24-hour read. The setting holds for this
 * statement's transaction alone; the two round trips around it cost far less.
 */
export async function queryWithGenericPlan<R extends pg.QueryResultRow>(pool: pg.Pool, config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan');
    try {
      const result = await client.query<R>(config);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
      throw err;
    }
  } catch (err) {
    broken ??= isConnectionError(err) ? (err as Error) : undefined;
    throw err;
  } finally {
    // A connection that failed is closed rather than handed to the next read.
    client.release(broken);
  }
}

/** The connection itself failed (rather than the statement): it must not be reused. */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || code.startsWith('08') || code === '57P01';
}
