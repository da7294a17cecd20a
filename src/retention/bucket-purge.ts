import type pg from 'pg';
import { deleteInBatches, type BatchedDeletion } from './batched-delete.js';
import { oldestKeptBucketMs, type RetentionPolicy } from './policy.js';
import type { RetentionLimits } from './retention-limits.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * The rollup tables and their retention. None is partitioned: their rows are one per
 * (entity, bucket[, vendor]), so they lose whole buckets by an index on `bucket` (005, 002's
 * primary keys, 010).
 */
export const ROLLUP_TABLES = [
  { table: 'agent_stats_minute', bucketMs: MINUTE, days: (p: RetentionPolicy) => p.minuteRollupDays },
  { table: 'gateway_stats_minute', bucketMs: MINUTE, days: (p: RetentionPolicy) => p.minuteRollupDays },
  { table: 'agent_stats_hourly', bucketMs: HOUR, days: (p: RetentionPolicy) => p.rollupDays },
  { table: 'gateway_stats_hourly', bucketMs: HOUR, days: (p: RetentionPolicy) => p.rollupDays },
  { table: 'agent_stats_daily', bucketMs: DAY, days: (p: RetentionPolicy) => p.rollupDays },
  { table: 'gateway_stats_daily', bucketMs: DAY, days: (p: RetentionPolicy) => p.rollupDays },
] as const;

export type RollupTable = (typeof ROLLUP_TABLES)[number]['table'];

/**
 * Deletes the buckets of one rollup table that lie wholly before its retention's cutoff: a
 * bucket that reaches past the cutoff stays, so every bucket from oldestKeptBucketMs on is whole.
 */
export function purgeRollupBuckets(
  client: pg.ClientBase,
  spec: (typeof ROLLUP_TABLES)[number],
  policy: RetentionPolicy,
  nowMs: number,
  limits: RetentionLimits,
): Promise<BatchedDeletion> {
  const keepFrom = new Date(oldestKeptBucketMs(nowMs, spec.days(policy), spec.bucketMs)).toISOString();
  return deleteInBatches(client, spec.table, 'bucket < $2::timestamptz', [keepFrom], limits);
}
