import type pg from 'pg';
import type { RetentionLimits } from './retention-limits.js';

/** What a batched delete needs of a run's limits: the batch size, and when to start no more. */
export type BatchLimits = Pick<RetentionLimits, 'batchRows' | 'expired'>;

export interface BatchedDeletion {
  readonly deleted: number;
  /** False when the run's deadline came first: rows that should go are left for the next check. */
  readonly complete: boolean;
}

/**
 * Deletes the rows of `table` matching `where` (its parameters from $2 on), at most
 * `batchRows` per statement, each statement its own short transaction: a purge never holds
 * many row locks or one long snapshot, and the folder and ingest go on between batches. The
 * rows are picked by a LIMITed SELECT (served by an index on the condition's columns) and
 * deleted by ctid. Only for tables that are not partitioned (docs/read-api.md §7). On a pool,
 * each batch may run on another connection: nothing is held between them.
 */
export async function deleteInBatches(
  client: pg.ClientBase | pg.Pool,
  table: string,
  where: string,
  params: readonly unknown[],
  limits: BatchLimits,
): Promise<BatchedDeletion> {
  let deleted = 0;
  for (;;) {
    if (limits.expired()) return { deleted, complete: false };
    const r = await client.query(
      `DELETE FROM ${table} WHERE ctid = ANY (ARRAY (SELECT ctid FROM ${table} WHERE ${where} LIMIT $1))`,
      [limits.batchRows, ...params],
    );
    const n = r.rowCount ?? 0;
    deleted += n;
    // Fewer than a batch: nothing matched was left when the SELECT ran (a row a concurrent
    // fold rewrote meanwhile is found by the next check).
    if (n < limits.batchRows) return { deleted, complete: true };
  }
}
