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
 * statement's transaction alone. The three statements are queued at once: the driver sends
 * each as soon as the one before has answered, so the connection is not held across turns
 * of a busy event loop. A COMMIT of a transaction the statement failed in rolls it back.
 */
export async function queryWithGenericPlan<R extends pg.QueryResultRow>(pool: pg.Pool, config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
  const client = await pool.connect();
  const [begin, result, commit] = await Promise.allSettled([
    client.query('BEGIN READ ONLY; SET LOCAL plan_cache_mode = force_generic_plan'),
    client.query<R>(config),
    client.query('COMMIT'),
  ]);
  const failed = [begin, result, commit].find((r): r is PromiseRejectedResult => r.status === 'rejected');
  // A connection that failed is closed rather than handed to the next read.
  client.release(failed !== undefined && (commit.status === 'rejected' || isConnectionError(failed.reason)) ? (failed.reason as Error) : undefined);
  if (failed !== undefined) throw failed.reason;
  return (result as PromiseFulfilledResult<pg.QueryResult<R>>).value;
}

/** The connection itself failed (rather than the statement): it must not be reused. */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code !== 'string' || code.startsWith('08') || code === '57P01';
}
