import { ThrottledLog, type Logger } from '../logger.js';
import type { ClickhouseRow } from './clickhouse-rows.js';
import type { ClickhouseRollupSink } from './clickhouse-sink.js';
import { RetrySchedule } from './retry-schedule.js';
import { SingleFlight } from './single-flight.js';

interface QueuedBatch {
  rows: ClickhouseRow[];
  requests: number;
  /** Date.now() when the oldest key of the batch opened. */
  oldestOpenedAt: number;
}

export interface ClickhouseWriterOptions {
  maxPendingRows: number;
  batchRows: number;
  maxBackoffMs: number;
  onWrite?: (rows: number, seconds: number) => void;
}

const BACKOFF_BASE_MS = 250;

/**
 * The ClickHouse outbox: flushes enqueue rows, one drain at a time inserts them in order, in
 * INSERTs of up to `batchRows`. On a retryable failure the rows go back to the front and a
 * jittered exponential backoff timer takes over; meanwhile flushes only enqueue, so nothing
 * upstream (record(), the PostgreSQL path, HTTP acks) ever waits on ClickHouse.
 *
 * Bounded: past `maxPendingRows` the oldest queued rows are dropped, counted (rows and the
 * requests they carried) and logged once per interval. Rows of an INSERT in flight are not
 * dropped under it. A retried INSERT sends the same row_ids, so copies of rows that did land
 * before a timeout collapse in the ReplacingMergeTree.
 */
export class ClickhouseWriter {
  private queue: QueuedBatch[] = [];
  private queuedRows = 0;
  private inFlightRows = 0;
  private schemaReady = false;
  private readonly flight: SingleFlight;
  /** Set by drain(true): the next pass tries even during a backoff. */
  private forceNext = false;
  private readonly schedule: RetrySchedule;
  private readonly dropLog: ThrottledLog;
  private stopped = false;
  private downLogged = false;

  up = false;
  rowsWritten = 0;
  failures = 0;
  rowsDropped = 0;
  requestsDropped = 0;
  /** Lag of the last successful INSERT, seconds; null before the first. */
  lastLagSeconds: number | null = null;

  constructor(
    private readonly sink: ClickhouseRollupSink,
    private readonly options: ClickhouseWriterOptions,
    private readonly log: Logger,
  ) {
    this.schedule = new RetrySchedule(BACKOFF_BASE_MS, options.maxBackoffMs, () => void this.drain());
    this.flight = new SingleFlight(
      () => this.drainPass(),
      (err) => this.log.error({ err: (err as Error).message }, 'rollup writer failed unexpectedly'),
    );
    this.dropLog = new ThrottledLog(log, 10_000);
  }

  get pendingRows(): number {
    return this.queuedRows + this.inFlightRows;
  }

  enqueue(rows: ClickhouseRow[], requests: number, oldestOpenedAt: number): void {
    if (rows.length === 0) return;
    this.queue.push({ rows, requests, oldestOpenedAt });
    this.queuedRows += rows.length;
    this.enforceBound();
  }

  /** Rows that can never be written (e.g. a minute ClickHouse's DateTime cannot hold): counted as dropped. */
  discard(rows: number, requests: number, why: string): void {
    if (rows === 0) return;
    this.rowsDropped += rows;
    this.requestsDropped += requests;
    this.dropLog.warn({ rows, requests, why }, 'rollup rows not written to ClickHouse');
  }

  /**
   * Writes what is queued, unless a backoff is running (then the timer will; `force` tries
   * once now anyway, for the final flush). Resolves when this attempt ends, never rejects.
   */
  drain(force = false): Promise<void> {
    if (force) this.forceNext = true;
    return this.flight.run();
  }

  stop(): void {
    this.stopped = true;
    this.schedule.cancel();
  }

  /** One pass over the outbox; returns at once during a backoff (the timer will call again) unless forced. */
  private async drainPass(): Promise<void> {
    const force = this.forceNext;
    this.forceNext = false;
    if (!force && (this.stopped || this.schedule.waiting)) return;
    this.schedule.cancel();
    if (!this.schemaReady) {
      const r = await this.sink.ensureSchema();
      if (!r.ok) {
        this.failures++;
        this.fail(r.error, 'could not apply the ClickHouse rollup DDL', r.kind === 'permanent');
        return;
      }
      this.schemaReady = true;
      this.markUp();
    }
    while (this.queue.length > 0) {
      const taken = this.take();
      const rows = taken.length === 1 ? (taken[0] as QueuedBatch).rows : taken.flatMap((b) => b.rows);
      this.inFlightRows = rows.length;
      const started = performance.now();
      const r = await this.sink.insert(rows);
      this.inFlightRows = 0;
      if (r.ok) {
        this.rowsWritten += rows.length;
        let oldest = Infinity;
        for (const b of taken) if (b.oldestOpenedAt < oldest) oldest = b.oldestOpenedAt;
        this.lastLagSeconds = Math.max(0, (Date.now() - oldest) / 1000);
        this.options.onWrite?.(rows.length, (performance.now() - started) / 1000);
        this.schedule.succeeded();
        this.markUp();
        continue;
      }
      this.failures++;
      if (r.kind === 'permanent') {
        // The rows themselves are refused: keeping them would block everything behind them.
        const requests = taken.reduce((n, b) => n + b.requests, 0);
        this.rowsDropped += rows.length;
        this.requestsDropped += requests;
        this.log.error({ rows: rows.length, requests, err: r.error.message }, 'ClickHouse refused rollup rows; dropped');
        continue;
      }
      // Back to the front, in order; the bound may now drop the oldest of them.
      this.queue.unshift(...taken);
      this.queuedRows += rows.length;
      this.enforceBound();
      if (r.kind === 'schema') this.schemaReady = false;
      this.fail(r.error, 'ClickHouse rollup insert failed', false);
      return;
    }
  }

  /** Whole queued batches from the front, up to batchRows rows (at least one batch). */
  private take(): QueuedBatch[] {
    const taken: QueuedBatch[] = [];
    let rows = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0] as QueuedBatch;
      if (taken.length > 0 && rows + next.rows.length > this.options.batchRows) break;
      this.queue.shift();
      taken.push(next);
      rows += next.rows.length;
    }
    this.queuedRows -= rows;
    return taken;
  }

  private enforceBound(): void {
    let rows = 0;
    let requests = 0;
    while (this.queuedRows + this.inFlightRows > this.options.maxPendingRows && this.queue.length > 0) {
      const oldest = this.queue.shift() as QueuedBatch;
      this.queuedRows -= oldest.rows.length;
      rows += oldest.rows.length;
      requests += oldest.requests;
    }
    if (rows > 0) this.discard(rows, requests, `more than ${this.options.maxPendingRows} rows waiting for ClickHouse`);
  }

  private fail(err: Error, message: string, isBug: boolean): void {
    const delayMs = Math.round(this.schedule.failed());
    const fields = { err: err.message, pendingRows: this.pendingRows, retryInMs: delayMs };
    if (isBug) this.log.error(fields, message);
    // Logged once per outage; while down, the failure counter tells the rest.
    else if (!this.downLogged) this.log.warn(fields, message);
    this.downLogged = true;
    this.up = false;
  }

  private markUp(): void {
    if (!this.up) this.log.info({ version: this.sink.version, database: this.sink.target.database, host: this.sink.target.display }, 'ClickHouse rollups up');
    this.up = true;
    this.downLogged = false;
  }
}
