import type { CloudEvent } from './cloudevents.js';
import type { DeliveryFailure } from './errors.js';
import type { ReceiverRejection } from './retry-policy.js';

/**
 * Where every event handed to an emitter is accounted for. Each one leaves through
 * exactly one counter, so at any moment
 * `recorded = queued + inFlight + sent + dropped + droppedTooLarge + failed + abandoned`.
 * Problems are counted by code and passed to `onError` here, and nowhere else.
 */

export interface DeliveryStats {
  /** Events handed to the emitter. */
  readonly recorded: number;
  /** Waiting in the queue now. */
  readonly queued: number;
  /** In batches being delivered now. */
  readonly inFlight: number;
  /** In batches the receiver acknowledged with a 2xx (including events it rejected individually). */
  readonly sent: number;
  /** Reported by the receiver as rejected one by one (`rejected[]` of a 202 or 400). */
  readonly rejected: number;
  /** Overwritten in the queue because it was full (oldest first). */
  readonly dropped: number;
  /** Single events too large to send (413 alone, or over maxBodyBytes). */
  readonly droppedTooLarge: number;
  /** In batches that failed for good: a 4xx other than 413/429, or out of deadline. */
  readonly failed: number;
  /** Still unsent when stop() reached its deadline, or recorded after stop(). */
  readonly abandoned: number;
  /** Requests that got a 2xx. */
  readonly batchesSent: number;
  /** Batches (or split halves) given up on. */
  readonly failedBatches: number;
  /** Attempts repeated after a retryable outcome. */
  readonly retried: number;
  /** Batches halved, after a 413 or because the body was over the limit. */
  readonly splits: number;
  /** Every error code seen, transient ones included, with its count. */
  readonly errors: Readonly<Record<string, number>>;
  /** The most recent problem reported to onError. */
  readonly lastError: DeliveryFailure | null;
}

/** The events of one batch taken from the queue, across any splits, not yet counted out. */
export interface InFlightBatch {
  unsettled: number;
}

export class DeliveryLedger {
  private readonly counts = {
    recorded: 0,
    sent: 0,
    rejected: 0,
    dropped: 0,
    droppedTooLarge: 0,
    failed: 0,
    abandoned: 0,
    batchesSent: 0,
    failedBatches: 0,
    retried: 0,
    splits: 0,
  };
  private inFlight = 0;
  private readonly errorCounts = new Map<string, number>();
  private lastError: DeliveryFailure | null = null;

  constructor(private readonly onError: ((failure: DeliveryFailure) => void) | null) {}

  recorded(overwroteOldest: boolean): void {
    this.counts.recorded++;
    if (overwroteOldest) this.counts.dropped++;
  }

  recordedAfterStop(): void {
    this.counts.recorded++;
    this.counts.abandoned++;
  }

  launched(events: readonly CloudEvent[]): InFlightBatch {
    this.inFlight += events.length;
    return { unsettled: events.length };
  }

  retried(code: string): void {
    this.counts.retried++;
    this.countError(code);
  }

  /** A transient code that led to a wait or a split rather than a retry count. */
  sawError(code: string): void {
    this.countError(code);
  }

  split(): void {
    this.counts.splits++;
  }

  delivered(batch: InFlightBatch, events: readonly CloudEvent[], status: number, rejected: readonly ReceiverRejection[]): void {
    this.counts.sent += events.length;
    this.counts.batchesSent++;
    this.settle(batch, events.length);
    this.rejections(events, status, rejected);
  }

  failed(batch: InFlightBatch, events: readonly CloudEvent[], failure: Omit<DeliveryFailure, 'eventIds'>, rejected: readonly ReceiverRejection[] = []): void {
    this.counts.failed += events.length;
    this.counts.failedBatches++;
    this.settle(batch, events.length);
    this.report({ ...failure, eventIds: events.map((e) => e.id) });
    this.rejections(events, failure.status, rejected);
  }

  /** A bug's safety net: whatever of the batch is still unsettled counts as failed. */
  failedUnsettled(batch: InFlightBatch, message: string): void {
    const n = batch.unsettled;
    this.counts.failed += n;
    this.counts.failedBatches++;
    this.settle(batch, n);
    this.report({ code: 'internal_error', message, status: null, eventIds: [] });
  }

  tooLarge(batch: InFlightBatch, event: CloudEvent, status: number | null, why: string): void {
    this.counts.droppedTooLarge++;
    this.settle(batch, 1);
    this.report({ code: 'event_too_large', message: `event ${event.id} is too large to send: ${why}`, status, eventIds: [event.id] });
  }

  /** In flight when stop()'s deadline aborted it (batch given), or still queued then (no batch). */
  abandoned(batch: InFlightBatch | null, events: readonly CloudEvent[]): void {
    this.counts.abandoned += events.length;
    if (batch !== null) this.settle(batch, events.length);
    const where = batch === null ? 'queued' : 'in flight';
    this.report({ code: 'stopped', message: `${events.length} ${where} event(s) unsent at stop() deadline`, status: null, eventIds: events.map((e) => e.id) });
  }

  /** A problem outside delivery (e.g. the wallet provider), counted and reported like the rest. */
  reportLocal(code: string, message: string): void {
    this.report({ code, message, status: null, eventIds: [] });
  }

  stats(queued: number): DeliveryStats {
    const errors: Record<string, number> = {};
    for (const [code, n] of this.errorCounts) errors[code] = n;
    return Object.freeze({ ...this.counts, queued, inFlight: this.inFlight, errors: Object.freeze(errors), lastError: this.lastError });
  }

  private settle(batch: InFlightBatch, n: number): void {
    batch.unsettled -= n;
    this.inFlight -= n;
  }

  private rejections(events: readonly CloudEvent[], status: number | null, rejected: readonly ReceiverRejection[]): void {
    for (const r of rejected) {
      this.counts.rejected++;
      const id = r.id ?? events[r.index]?.id ?? null;
      this.report({ code: r.code, message: r.message, status, eventIds: id === null ? [] : [id] });
    }
  }

  private countError(code: string): void {
    this.errorCounts.set(code, (this.errorCounts.get(code) ?? 0) + 1);
  }

  private report(failure: DeliveryFailure): void {
    this.countError(failure.code);
    this.lastError = failure;
    if (this.onError === null) return;
    try {
      this.onError(failure);
    } catch {
      // A throwing callback must not break delivery; the failure is in the stats anyway.
    }
  }
}
