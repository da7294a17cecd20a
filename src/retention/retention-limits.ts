/** How hard one retention run may lean on the database. */
export interface RetentionLimits {
  /** lock_timeout of each DETACH and DROP: a lock that waits holds every COPY behind it. */
  readonly lockTimeoutMs: number;
  /** statement_timeout of each DDL statement and each batch. */
  readonly statementTimeoutMs: number;
  /** Rows one DELETE removes at most (one short transaction each). */
  readonly batchRows: number;
  /** True once the run must start no new batch (its time is up, or the receiver stops); the next check goes on. */
  expired(): boolean;
}
