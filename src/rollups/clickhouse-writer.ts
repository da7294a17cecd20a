import { ThrottledLog, type Logger } from '../logger.js';
import type { Spool, SpoolRecord } from '../sinks/spool/index.js';
import type { ClickhouseRow } from './clickhouse-rows.js';
import type { ClickhouseRollupSink } from './clickhouse-sink.js';
import { decodeSpooledBatch, encodeSpooledBatch, type SpooledBatch } from './clickhouse-spool-record.js';
import { RollupOutbox, type OutboxOptions } from './rollup-outbox.js';
import { SingleFlight } from './single-flight.js';

type QueuedBatch = SpooledBatch;

export type ClickhouseWriterOptions = OutboxOptions;

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
 *
 * Durable (with attachSpool): each enqueued batch is appended to the spool (one record,
 * fdatasync'ed) before it is sent, and sent from there, oldest first, one INSERT per record;
 * a record is acknowledged only once ClickHouse confirmed its INSERT. Records left by an
 * earlier process go first. A batch the spool cannot take (full, or failing) waits in the
 * bounded memory queue instead, as without a spool, and is sent after the spool is empty.
 */
export class ClickhouseWriter extends RollupOutbox {
  private queue: QueuedBatch[] = [];
  private queuedRows = 0;
  private inFlightRows = 0;
  private schemaReady = false;
  private spool: Spool | null = null;
  /** Batches waiting for their spool append, in enqueue order. */
  private toSpool: QueuedBatch[] = [];
  private toSpoolRows = 0;
  /** Rows this process appended to the spool and ClickHouse has not confirmed. */
  private spooledRows = 0;
  /** Records an earlier process left, not yet acknowledged; they are the oldest, so acknowledged first. */
  private recoveredRecords = 0;
  private readonly persist: SingleFlight;
  private readonly spoolLog: ThrottledLog;

  up = false;

  constructor(
    private readonly sink: ClickhouseRollupSink,
    options: ClickhouseWriterOptions,
    log: Logger,
  ) {
    super(options, log, BACKOFF_BASE_MS);
    this.persist = new SingleFlight(
      () => this.persistPass(),
      (err) => this.log.error({ err: (err as Error).message }, 'rollup spool append failed unexpectedly'),
    );
    this.spoolLog = new ThrottledLog(log, 10_000);
  }

  /** Rows not yet confirmed by ClickHouse. A record left by an earlier process counts as one row (its rows are only known once read). */
  get pendingRows(): number {
    return this.queuedRows + this.inFlightRows + this.toSpoolRows + this.spooledRows + this.recoveredRecords;
  }

  /** Makes the outbox durable; call before the first enqueue() and drain(). */
  attachSpool(spool: Spool): void {
    this.spool = spool;
    this.recoveredRecords = spool.stats().records;
  }

  /** Memory only: with a spool, the append runs in the background (persistPass). */
  enqueue(rows: ClickhouseRow[], requests: number, oldestOpenedAt: number): void {
    if (rows.length === 0) return;
    const batch = { rows, requests, oldestOpenedAt };
    if (this.spool === null) {
      this.queueInMemory(batch);
      return;
    }
    this.toSpool.push(batch);
    this.toSpoolRows += rows.length;
    void this.persist.run();
  }

  /** Rows that can never be written (e.g. a minute ClickHouse's DateTime cannot hold): counted as dropped. */
  discard(rows: number, requests: number, why: string): void {
    this.dropped(rows, requests, { why }, 'rollup rows not written to ClickHouse');
  }

  /** After stop(): finishes the appends under way and closes the spool (what it holds is sent by the next process). */
  async close(): Promise<void> {
    const spool = this.spool;
    if (spool === null) return;
    await this.persist.run();
    await spool.close().catch((err: unknown) => this.log.warn({ err: (err as Error).message }, 'closing the rollup spool failed'));
  }

  /**
   * Appends every batch waiting for the spool, in order (the spool group-commits them: one
   * fdatasync for all). 'full' or a failure: the batch waits in memory instead.
   */
  private async persistPass(): Promise<void> {
    const spool = this.spool;
    if (spool === null || this.toSpool.length === 0) return;
    const batches = this.toSpool;
    this.toSpool = [];
    const payloads: Buffer[] = [];
    for (const b of batches) payloads.push(await encodeSpooledBatch(b));
    // Called in order, synchronously: record ids, and so the send order, follow the batches.
    const appended = payloads.map((p) => spool.append(p).catch((err: unknown) => err as Error));
    let durable = 0;
    for (const [i, b] of batches.entries()) {
      const result = await appended[i];
      this.toSpoolRows -= b.rows.length;
      if (result === 'ok') {
        this.spooledRows += b.rows.length;
        durable++;
        continue;
      }
      const why = result === 'full' ? 'rollup spool full' : `rollup spool append failed: ${result?.message ?? 'unknown'}`;
      this.spoolLog.warn({ rows: b.rows.length, bytes: spool.stats().bytes }, `${why}; rows wait in memory (bounded) instead`);
      this.queueInMemory(b);
    }
    // The drain pass awaits this one; only a pass that made something durable asks for another.
    if (durable > 0) void this.drain();
  }

  private queueInMemory(batch: QueuedBatch): void {
    this.queue.push(batch);
    this.queuedRows += batch.rows.length;
    this.enforceBound();
  }

  /** Durable before sent; this also makes flush() resolve only once the rows are on disk. */
  protected override beforePass(): Promise<void> {
    return this.persist.run();
  }

  protected async writePass(): Promise<void> {
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
    if (this.spool !== null && !(await this.sendSpooled(this.spool))) return;
    while (this.queue.length > 0) {
      const taken = this.take();
      const rows = taken.length === 1 ? (taken[0] as QueuedBatch).rows : taken.flatMap((b) => b.rows);
      this.inFlightRows = rows.length;
      const started = performance.now();
      const r = await this.sink.insert(rows);
      this.inFlightRows = 0;
      if (r.ok) {
        let oldest = Infinity;
        for (const b of taken) if (b.oldestOpenedAt < oldest) oldest = b.oldestOpenedAt;
        this.wrote(rows.length, oldest, started);
        continue;
      }
      this.failures++;
      if (r.kind === 'permanent') {
        this.refused(rows.length, taken.reduce((n, b) => n + b.requests, 0), r.error, 'ClickHouse refused rollup rows; dropped');
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

  /**
   * Sends the spool's records oldest first, one INSERT each, acknowledging each once
   * ClickHouse confirmed it. True when the spool is empty; false when a retryable failure
   * set the backoff (the same record is sent again: its row_ids collapse under FINAL).
   */
  private async sendSpooled(spool: Spool): Promise<boolean> {
    for (;;) {
      let record: SpoolRecord | null;
      try {
        record = await spool.next();
      } catch (err) {
        if (!this.stopped) this.fail(err as Error, 'reading the rollup spool failed', true);
        return false;
      }
      if (record === null) return true;
      let batch: QueuedBatch | null = null;
      try {
        batch = await decodeSpooledBatch(record.payload);
      } catch (err) {
        // Its CRC matched, so this is not damage: a record of another format or a bug. Keeping it would block the spool.
        this.log.error({ err: (err as Error).message, id: record.id, bytes: record.payload.byteLength }, 'unreadable rollup spool record; dropped');
      }
      if (batch !== null) {
        const started = performance.now();
        const r = await this.sink.insert(batch.rows);
        if (r.ok) {
          this.wrote(batch.rows.length, batch.oldestOpenedAt, started);
        } else {
          this.failures++;
          if (r.kind !== 'permanent') {
            if (r.kind === 'schema') this.schemaReady = false;
            this.fail(r.error, 'ClickHouse rollup insert failed', false);
            return false;
          }
          this.refused(batch.rows.length, batch.requests, r.error, 'ClickHouse refused rollup rows; dropped');
        }
      }
      try {
        await spool.acknowledge(record.id);
      } catch (err) {
        // Sent again at the next pass (or start); its copies collapse under FINAL.
        if (!this.stopped) this.fail(err as Error, 'acknowledging a rollup spool record failed', true);
        return false;
      }
      if (this.recoveredRecords > 0) this.recoveredRecords--;
      else if (batch !== null) this.spooledRows -= batch.rows.length;
    }
  }

  protected override wrote(rows: number, oldestOpenedAt: number, started: number): void {
    super.wrote(rows, oldestOpenedAt, started);
    this.markUp();
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
    this.failed(err, message, isBug);
    this.up = false;
  }

  private markUp(): void {
    if (!this.up) this.log.info({ version: this.sink.version, database: this.sink.target.database, host: this.sink.target.display }, 'ClickHouse rollups up');
    this.up = true;
    this.downLogged = false;
  }
}
