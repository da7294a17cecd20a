import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { classifyPgError } from '../database/index.js';
import { HourDeltas, type HourDelta } from './hour-deltas.js';
import type { PostgresHourlySink } from './postgres-hourly-sink.js';
import { RollupOutbox, type OutboxOptions } from './rollup-outbox.js';

interface Batch {
  /** Fixed at the first attempt and kept on every retry: rollup_applied_batches recognises it. */
  id: string;
  deltas: HourDelta[];
}

export type PostgresWriterOptions = OutboxOptions;

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
export class PostgresHourlyWriter extends RollupOutbox {
  private open = new HourDeltas();
  private frozen: Batch[] = [];
  private inFlight: Batch | null = null;
  private lastPrune = Date.now();

  constructor(
    private readonly sink: PostgresHourlySink,
    options: PostgresWriterOptions,
    log: Logger,
  ) {
    super(options, log, BACKOFF_BASE_MS);
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

  protected async writePass(): Promise<void> {
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
        let oldest = Infinity;
        for (const d of batch.deltas) if (d.oldestOpenedAt < oldest) oldest = d.oldestOpenedAt;
        this.wrote(batch.deltas.length, oldest, started);
        continue;
      }
      this.failures++;
      const err = failure instanceof Error ? failure : new Error(String(failure));
      if (classifyPgError(failure) === 'permanent') {
        this.refused(batch.deltas.length, countRequests(batch.deltas), err, 'PostgreSQL refused hourly rollup rows; dropped');
        continue;
      }
      this.frozen.unshift(batch);
      this.enforceBound();
      this.failed(err, 'hourly rollup write failed; will retry', false);
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
    this.dropped(rows, requests, { max: this.options.maxPendingRows }, 'hourly rollup rows dropped: too many waiting for PostgreSQL');
  }
}

function countRequests(deltas: Iterable<HourDelta>): number {
  let n = 0;
  for (const d of deltas) for (const t of d.vendors.values()) n += t.requests;
  return n;
}
