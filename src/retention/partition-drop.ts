import type pg from 'pg';
import { listMonthlyPartitions, type MonthlyPartition } from '../database/index.js';
import { purgeInteractionKeys } from './interaction-keys-purge.js';
import { inLockLimitedTransaction } from './lock-limited-transaction.js';
import type { RetentionLimits } from './retention-limits.js';

/** What one table's partition retention did. */
export interface PartitionDrops {
  readonly dropped: DroppedPartition[];
  /** agent_interaction_keys rows deleted, including those of a partition not dropped yet. */
  readonly keysDeleted: number;
  /** False when the run's deadline came first (the next check goes on). */
  readonly complete: boolean;
}

/** A partition this run removed. */
export interface DroppedPartition {
  readonly table: string;
  readonly name: string;
  readonly estimatedRows: number;
}

/**
 * Drops the monthly partitions of `table` that lie wholly before `cutoff`: a partition goes
 * when its end is at or before the cutoff, so nothing younger than the retention is removed and
 * nothing is kept longer than the retention plus one month.
 *
 * Each partition is detached first, in a short transaction whose lock request gives up after
 * `lock_timeout` (while it waits, every COPY into the table queues behind it): a refused lock
 * ends the run with 55P03 and the next check tries again. Once detached, nothing can write into
 * it, so the interaction keys of its rows are deleted in batches (by block ranges of the detached
 * table, without holding any lock ingest needs), then the table is dropped. A run that
 * stops in between leaves a detached table, which the next run finds by its name and finishes.
 */
export async function dropExpiredPartitions(
  client: pg.ClientBase,
  table: 'agent_interactions' | 'agent_telemetry',
  cutoff: number,
  limits: RetentionLimits,
): Promise<PartitionDrops> {
  const dropped: DroppedPartition[] = [];
  let keysDeleted = 0;
  const expired = (await listMonthlyPartitions(client, table)).filter((p) => p.toMs <= cutoff);
  for (const p of expired) {
    if (limits.expired()) return { dropped, keysDeleted, complete: false };
    if (p.attached) await detach(client, table, p, limits);
    if (table === 'agent_interactions') {
      const keys = await purgeInteractionKeys(client, p.name, limits);
      keysDeleted += keys.deleted;
      if (!keys.complete) return { dropped, keysDeleted, complete: false };
    }
    await inLockLimitedTransaction(client, limits, `DROP TABLE IF EXISTS ${p.name}`);
    dropped.push({ table, name: p.name, estimatedRows: p.estimatedRows });
  }
  return { dropped, keysDeleted, complete: true };
}

async function detach(client: pg.ClientBase, table: string, p: MonthlyPartition, limits: RetentionLimits): Promise<void> {
  try {
    await inLockLimitedTransaction(client, limits, `ALTER TABLE ${table} DETACH PARTITION ${p.name}`);
  } catch (err) {
    // Another receiver detached it between the listing and here (42P16/42P01): it drops it too.
    const code = (err as { code?: string }).code;
    if (code !== '42P16' && code !== '42P01') throw err;
  }
}
