import type pg from 'pg';
import { deleteInBatches, type BatchedDeletion } from './batched-delete.js';
import type { RetentionLimits } from './retention-limits.js';

/** What refused_rows holds, as the last retention check counted it. */
export interface RefusedRowsCount {
  readonly rows: number;
  /** When the oldest row was refused (ms since the epoch); null when there is none. */
  readonly oldestMs: number | null;
}

/**
 * Deletes the refused_rows (schema/postgres/009) set aside before `cutoff`. The table has no
 * index on refused_at and needs none: it holds only the rows PostgreSQL refused while a spool
 * replayed, few and bounded by the spool's size, so a batch's scan stops early and costs
 * little next to the other purges of the run.
 */
export function purgeRefusedRows(client: pg.ClientBase, cutoffMs: number, limits: RetentionLimits): Promise<BatchedDeletion> {
  return deleteInBatches(client, 'refused_rows', 'refused_at < $2::timestamptz', [new Date(cutoffMs).toISOString()], limits);
}

/** How many refused rows wait for an operator, and since when: what machpay_refused_rows shows. */
export async function countRefusedRows(client: pg.ClientBase): Promise<RefusedRowsCount> {
  const { rows } = await client.query<{ n: number; oldest: Date | null }>('SELECT count(*)::int AS n, min(refused_at) AS oldest FROM refused_rows');
  const oldest = rows[0]?.oldest ?? null;
  return { rows: rows[0]?.n ?? 0, oldestMs: oldest === null ? null : oldest.getTime() };
}
