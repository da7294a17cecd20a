/**
 * The rollup module's public shapes: what the pipeline hands in (RollupGroup), how the
 * service is configured (RollupOptions) and what it reports (RollupStats).
 */

import type { RowGroup } from '../codec/index.js';

/**
 * Rows one committed COPY transaction actually inserted (duplicates excluded), grouped by
 * UTC minute, entity and vendor (the codec's RowGroup): tallied by the workers when every
 * row of the batch was inserted, else returned by PostgreSQL (INSERT … RETURNING), so a
 * retried or duplicated event is never counted twice. record() keeps `latencies` (no copy)
 * until the next flush: do not change it afterwards.
 */
export type RollupGroup = RowGroup;

export interface RollupOptions {
  /** How often recorded groups are written (PostgreSQL and ClickHouse). */
  flushIntervalMs: number;
  /**
   * How often the interval writes hour rows to PostgreSQL; the deltas of the flushes in
   * between coalesce in memory. Default flushIntervalMs (every flush). Every write rewrites
   * each hour row it touches (a few KiB of histograms and JSON: WAL and dead tuples), so with
   * many active keys a longer interval (e.g. 30 s) cuts PostgreSQL's write volume; CPU here
   * stays about the same (native-bench/rollup-cost.ts --postgres-every). flush() and stop()
   * always write both.
   */
  postgresFlushIntervalMs?: number;
  /** ClickHouse HTTP URL (`http://user:pass@host:8123/database`); null: PostgreSQL only. */
  clickhouseUrl: string | null;
  /** Database when the URL names none; default `default` (the @clickhouse/client convention). */
  clickhouseDatabase?: string;
  /** Most (minute, entity, vendor) keys held open between flushes; reaching it flushes early. Default 8192. */
  maxOpenKeys?: number;
  /** Most latencies held between flushes (8 bytes each); reaching it flushes early. Default 1,000,000. */
  maxPendingLatencies?: number;
  /**
   * Directory of a durable ClickHouse outbox (the receiver's spool format): each flush's rows
   * are appended, fdatasync'ed, before they are sent, and acknowledged once ClickHouse
   * confirmed them, so an outage survives a restart. Unset: the memory outbox only.
   */
  clickhouseSpoolDir?: string;
  /** Bound on that spool's bytes on disk; past it, batches wait in the memory outbox (maxPendingClickhouseRows). Default 256 MiB. */
  clickhouseSpoolMaxBytes?: number;
  /** Most rows waiting for ClickHouse in memory (≈1 KiB each); past it the oldest are dropped and counted. Default 100,000. */
  maxPendingClickhouseRows?: number;
  /** Most (hour, entity) rows waiting for PostgreSQL; past it the oldest are dropped and counted. Default 10,000. */
  maxPendingPostgresRows?: number;
  /** Most rows in one ClickHouse INSERT. Default 20,000. */
  clickhouseBatchRows?: number;
  /** Most (hour, entity) rows in one PostgreSQL transaction (row locks are held for its length). Default 500. */
  postgresBatchRows?: number;
  /** Timeout of one ClickHouse request. Default 10 s. */
  clickhouseRequestTimeoutMs?: number;
  /** How long start() waits for the ClickHouse DDL before going on and retrying in the background. Default 3 s. */
  clickhouseStartWaitMs?: number;
  /** How long stop() waits for the final flush. Default 5 s. */
  stopTimeoutMs?: number;
  /** Ceiling of the jittered exponential backoff between failed writes. Default 30 s. */
  maxBackoffMs?: number;
  /** Written with every ClickHouse row, to tell receivers apart; default a random id per process. */
  receiverId?: string;
}

export type RollupDestination = 'clickhouse' | 'postgres';

/** Plain numbers for /metrics (the lead maps them to prom-client); counters count since start. */
export interface RollupStats {
  /** False while ClickHouse is unconfigured, unreachable, or its DDL is not yet applied. */
  clickhouseUp: boolean;
  /** Rows recorded and not yet written anywhere: open and sealed keys, plus both outboxes. */
  pendingRows: number;
  rowsWritten: Record<RollupDestination, number>;
  /** Failed write attempts (each retried, unless dropped below). */
  flushFailures: Record<RollupDestination, number>;
  /** Age in seconds, at the moment it was written, of the oldest data of the last successful write (either destination). */
  lastFlushLagSeconds: number;
  /** Rows given up (outbox bound reached, or a permanent error), by destination. */
  rowsDropped: Record<RollupDestination, number>;
  /** Requests those dropped rows carried: what a reconciliation will find missing. */
  requestsDropped: Record<RollupDestination, number>;
  /** Keys open now. */
  openKeys: number;
  /** Flushes started because maxOpenKeys or maxPendingLatencies was reached. */
  earlyFlushes: number;
  /** Groups for a minute that had already been flushed (each becomes a correcting delta row). */
  lateGroups: number;
  /** Groups refused by record(): negative spend, or counts that do not add up. */
  invalidGroups: number;
  /** Latencies above the histogram's highest value, recorded as that value (the max column stays exact). */
  clampedLatencies: number;
  /** Stored hourly histograms that did not decode (their counts are kept, their latencies lost to the percentiles). */
  undecodableHistograms: number;
  /** ClickHouse server version once known, e.g. "18.16.1". */
  clickhouseVersion: string | null;
  /** The durable ClickHouse outbox (clickhouseSpoolDir): bytes on disk and batches not yet confirmed; null without one. */
  clickhouseSpool: { bytes: number; records: number } | null;
}
