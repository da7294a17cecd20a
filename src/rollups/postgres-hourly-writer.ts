import { randomUUID } from 'node:crypto';
import { ThrottledLog, type Logger } from '../logger.js';
import { classifyPgError } from '../sinks/postgres/index.js';
import { HourDeltas, type HourDelta } from './hour-deltas.js';
import type { PostgresHourlySink } from './postgres-hourly-sink.js';
import { RetrySchedule } from './retry-schedule.js';
import { SingleFlight } from './single-flight.js';

interface Batch {
  /** Fixed at the first attempt and kept on every retry: rollup_applied_batches recognises it. */
  id: string;
  deltas: HourDelta[];
}

export interface PostgresWriterOptions {
  maxPendingRows: number;
  batchRows: number;
  maxBackoffMs: number;
  onWrite?: (rows: number, seconds: number) => void;
}

const BACKOFF_BASE_MS = 100;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/**
 * The PostgreSQL outbox of hour deltas.
 *
 * Deltas that were never sent coalesce: a new flush merges into them per (hour, entity), so
 * while PostgreSQL is slow or failing, memory follows the number of distinct hour rows, not
 * the number of flushes. A batch that has been attempted is frozen (its id may already be
 * committed) and retried as it is, ahead of newer data.
 *
 * Bounded by `maxPendingRows` hour rows: past it the oldest are dropped, counted and logged.
 * In practice this path fails only with PostgreSQL itself, when ingest stops too (503), so
 * little new data arrives meanwhile.
 */
export class PostgresHourlyWriter {
  private open = new HourDeltas();
  private frozen: Batch[] = [];
  private inFlight: Batch | null = null;
  private readonly flight: SingleFlight;
  /** Set by drain(true): the next pass tries even during a backoff. */
  private forceNext = false;
  private readonly schedule: RetrySchedule;
  private readonly dropLog: ThrottledLog;
  private lastPrune = Date.now();
  private stopped = false;
  private downLogged = false;

  rowsWritten = 0;
  failures = 0;
  rowsDropped = 0;
  requestsDropped = 0;
  lastLagSeconds: number | null = null;

  constructor(
    private readonly sink: PostgresHourlySink,
    private readonly options: PostgresWriterOptions,
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
    let n = this.open.size + (this.inFlight?.deltas.length ?? 0);
    for (const b of this.frozen) n += b.deltas.length;
    return n;
  }

  /** Takes the deltas over (their histograms are merged into, not copied). */
  enqueue(deltas: HourDeltas): void {
    if (deltas.size === 0) return;
    if (this.open.size === 0) this.open = deltas;
    else for (const d of deltas.byKey.values()) this.open.addDelta(d);
    this.enforceBound();
  }

  /** Like ClickhouseWriter.drain: one attempt at a time, none during a backoff unless forced; never rejects. */
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
    for (;;) {
      if (this.frozen.length === 0) this.freezeOpen();
      const batch = this.frozen.shift();
      if (batch === undefined) break;
      this.inFlight = batch;
      const started = performance.now();
      let failure: unknown = null;
      try {
        await this.sink.apply(batch.id, batch.deltas);
      } catch (err) {
        failure = err;
      }
      this.inFlight = null;
      if (failure === null) {
        this.rowsWritten += batch.deltas.length;
        let oldest = Infinity;
        for (const d of batch.deltas) if (d.oldestOpenedAt < oldest) oldest = d.oldestOpenedAt;
        this.lastLagSeconds = Math.max(0, (Date.now() - oldest) / 1000);
        this.options.onWrite?.(batch.deltas.length, (performance.now() - started) / 1000);
        this.schedule.succeeded();
        this.downLogged = false;
        continue;
      }
      this.failures++;
      const err = failure instanceof Error ? failure : new Error(String(failure));
      if (classifyPgError(failure) === 'permanent') {
        const requests = countRequests(batch.deltas);
        this.rowsDropped += batch.deltas.length;
        this.requestsDropped += requests;
        this.log.error({ rows: batch.deltas.length, requests, err: err.message }, 'PostgreSQL refused hourly rollup rows; dropped');
        continue;
      }
      this.frozen.unshift(batch);
      this.enforceBound();
      const delayMs = Math.round(this.schedule.failed());
      if (!this.downLogged) this.log.warn({ err: err.message, pendingRows: this.pendingRows, retryInMs: delayMs }, 'hourly rollup write failed; will retry');
      this.downLogged = true;
      return;
    }
    if (Date.now() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = Date.now();
      await this.sink.prune().catch((err: Error) => this.log.warn({ err: err.message }, 'could not prune rollup_applied_batches'));
    }
  }

  /** Cuts the open deltas into batches of batchRows (sorted, so each transaction locks in one order) and freezes them. */
  private freezeOpen(): void {
    if (this.open.size === 0) return;
    const sorted = this.open.sorted();
    this.open = new HourDeltas();
    for (let i = 0; i < sorted.length; i += this.options.batchRows) {
      this.frozen.push({ id: randomUUID(), deltas: sorted.slice(i, i + this.options.batchRows) });
    }
  }

  private enforceBound(): void {
    let rows = 0;
    let requests = 0;
    // Oldest first: frozen batches, then open deltas in insertion order. Never the batch in flight.
    while (this.pendingRows > this.options.maxPendingRows) {
      const batch = this.frozen.shift();
      if (batch !== undefined) {
        rows += batch.deltas.length;
        requests += countRequests(batch.deltas);
        continue;
      }
      const first = this.open.byKey.entries().next();
      if (first.done === true) break;
      const [key, delta] = first.value;
      this.open.byKey.delete(key);
      rows++;
      requests += countRequests([delta]);
    }
    if (rows > 0) {
      this.rowsDropped += rows;
      this.requestsDropped += requests;
      this.dropLog.warn({ rows, requests, max: this.options.maxPendingRows }, 'hourly rollup rows dropped: too many waiting for PostgreSQL');
    }
  }
}

function countRequests(deltas: Iterable<HourDelta>): number {
  let n = 0;
  for (const d of deltas) for (const t of d.vendors.values()) n += t.requests;
  return n;
}
