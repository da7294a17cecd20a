/**
 * Retention (docs/read-api.md §7): how long each kind of data is kept, and the job that
 * removes what is older (and counts the refused rows waiting for an operator), run with the
 * partition check.
 */
export { RetentionJob, type RetentionJobOptions, type RetentionRun, type RetentionStats } from './retention-job.js';
export { DEFAULT_RETENTION, cutoffMs, oldestKeptBucketMs, type RetentionPolicy } from './policy.js';
export { ROLLUP_TABLES, type RollupTable } from './bucket-purge.js';
export type { DroppedPartition } from './partition-drop.js';
export type { RefusedRowsCount } from './refused-rows-purge.js';
export { deleteInBatches, type BatchedDeletion, type BatchLimits } from './batched-delete.js';
