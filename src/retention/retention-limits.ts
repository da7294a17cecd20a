/** How hard one retention run may lean on the database. */
export interface RetentionLimits {
  /** lock_timeout of each DETACH and DROP: a lock that waits holds every COPY behind it. */
  readonly lockTimeoutMs: number;
  /** statement_timeout of each DDL statement and each batch. */
  readonly statementTimeoutMs: number;
  /** Rows one DELETE removes at most (one short transaction each). */
  readonly batchRows: number;
  /** When the run stops starting new batches (ms since the epoch); the next check goes on. */
  readonly deadlineMs: number;
}
