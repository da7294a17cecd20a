import { batchEncoder, type BatchEncoder } from './batch-encoding.js';
import { clockOffsetFromDate } from './clock-offset.js';
import type { CloudEvent, WireInt64 } from './cloudevents.js';
import { DeliveryLedger, type DeliveryStats, type InFlightBatch } from './delivery-ledger.js';
import type { DeliveryConfig } from './delivery-options.js';
import { gzip } from './gzip.js';
import { DropOldestRing } from './ring.js';
import { backoffDelayMs } from '../retry/index.js';
import { classifyFailure, classifyResponse, retryAfterDelayMs, type SendOutcome } from './retry-policy.js';

/**
 * Batching and delivery shared by both emitters: a bounded queue, flush by size or time,
 * encoding, gzip, per-request authorisation (agent signature or API key), and retries
 * decided by retry-policy.ts. What happens to each event is counted in delivery-ledger.ts.
 */

/**
 * Headers that authorise one request; called again for every attempt (a fresh signature).
 * `nowMs` is the receiver's clock as the transport knows it: the local clock corrected by
 * the offset learnt from a `timestamp_out_of_window` answer.
 */
export type Authorize = (path: string, body: Uint8Array, nowMs: number) => Promise<Record<string, string>>;

interface EncodedBody {
  readonly bytes: Uint8Array;
  readonly gzipped: boolean;
}

type Timer = ReturnType<typeof setTimeout>;

export class BatchTransport {
  private readonly ring: DropOldestRing<CloudEvent>;
  private readonly encoder: BatchEncoder;
  private readonly url: string;
  private readonly path: string;
  private readonly abort = new AbortController();

  private started = false;
  private closed = false;
  private closing: Promise<DeliveryStats> | null = null;
  private flushRequested = false;
  private pumpScheduled = false;
  private flushTimer: Timer | null = null;
  private pauseTimer: Timer | null = null;
  private pausedUntil = 0;
  private gzipUsable = true;
  private inFlightBatches = 0;
  /** Added to Date.now() to read the receiver's clock; learnt from the `Date` of a 401 timestamp_out_of_window. */
  private clockOffsetMs = 0;
  /** The offset the last timestamp_out_of_window answer implied, until deliver() adopts it. */
  private offeredOffsetMs: number | null = null;
  private idleWaiters: (() => void)[] = [];
  private readonly ledger: DeliveryLedger;

  constructor(
    private readonly config: DeliveryConfig,
    endpointPath: string,
    private readonly authorize: Authorize,
  ) {
    this.ring = new DropOldestRing(config.maxQueueEvents);
    this.ledger = new DeliveryLedger(config.onError);
    this.encoder = batchEncoder(config.encoding);
    this.url = config.receiverUrl + endpointPath;
    // The signature covers the path the receiver sees, including any prefix in receiverUrl.
    this.path = new URL(this.url).pathname;
  }

  /** How this transport's encoding wants int64 values inside `data`. */
  int64(value: bigint): WireInt64 {
    return this.encoder.int64(value);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues one event; returns false (and counts it abandoned) once stop() has begun. */
  enqueue(event: CloudEvent): boolean {
    if (this.closed) {
      this.ledger.recordedAfterStop();
      return false;
    }
    this.ledger.recorded(this.ring.push(event));
    if (!this.started) return true;
    if (this.ring.size >= this.config.maxBatchEvents) this.schedulePump();
    else if (this.flushTimer === null && !this.flushRequested) this.armFlushTimer();
    return true;
  }

  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    if (this.ring.size >= this.config.maxBatchEvents) this.schedulePump();
    else if (this.ring.size > 0) this.armFlushTimer();
  }

  /** Sends everything queued now and resolves when nothing is queued or in flight. */
  flush(): Promise<void> {
    if (!this.started) return Promise.reject(new Error('call start() before flush()'));
    this.flushRequested = true;
    this.pump();
    return this.whenIdle();
  }

  /**
   * Stops accepting events, delivers what is queued, and resolves with the final stats
   * within `deadlineMs`: at the deadline, requests in flight are aborted and whatever is
   * left is counted as abandoned.
   */
  close(deadlineMs: number): Promise<DeliveryStats> {
    this.closing ??= this.closeOnce(deadlineMs);
    return this.closing;
  }

  private async closeOnce(deadlineMs: number): Promise<DeliveryStats> {
    this.closed = true;
    this.started = true;
    this.clearFlushTimer();
    this.flushRequested = true;
    this.pump();
    let deadlineTimer: Timer | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      deadlineTimer = setTimeout(() => resolve('deadline'), Math.max(0, deadlineMs));
    });
    const result = await Promise.race([this.whenIdle(), deadline]);
    clearTimeout(deadlineTimer);
    if (result === 'deadline') {
      this.abort.abort();
      await this.whenIdle();
    }
    const left = this.ring.take(this.ring.size);
    if (left.length > 0) this.ledger.abandoned(null, left);
    if (this.pauseTimer !== null) clearTimeout(this.pauseTimer);
    this.pauseTimer = null;
    return this.stats();
  }

  stats(): DeliveryStats {
    return this.ledger.stats(this.ring.size);
  }

  /** A problem found outside delivery (e.g. the wallet provider), counted and reported like the rest. */
  reportLocal(code: string, message: string): void {
    this.ledger.reportLocal(code, message);
  }

  // ── scheduling ─────────────────────────────────────────────────────────────

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // Deferred so that events recorded in the same tick travel in one batch, and so the
    // caller's record*() never pays for encoding or signing.
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private armFlushTimer(): void {
    this.flushTimer = setTimeout(() => {
      this.flushTimer = null;
      this.flushRequested = true;
      this.pump();
    }, this.config.flushIntervalMs);
    unref(this.flushTimer);
  }

  private clearFlushTimer(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
  }

  private pump(): void {
    if (!this.started) return;
    const aborted = this.abort.signal.aborted;
    const now = Date.now();
    if (!aborted && now < this.pausedUntil && this.ring.size > 0) {
      // The receiver asked for quiet (Retry-After): start nothing new until then.
      if (this.pauseTimer === null) {
        this.pauseTimer = setTimeout(() => {
          this.pauseTimer = null;
          this.pump();
        }, this.pausedUntil - now);
        unref(this.pauseTimer);
      }
    } else {
      const max = this.config.maxBatchEvents;
      while (
        !aborted &&
        this.inFlightBatches < this.config.maxConcurrentBatches &&
        this.ring.size > 0 &&
        (this.ring.size >= max || this.flushRequested)
      ) {
        this.launch(this.ring.take(max));
      }
    }
    if (this.ring.size === 0) this.flushRequested = false;
    else if (!this.flushRequested && this.flushTimer === null) this.armFlushTimer();
    this.notifyIfIdle();
  }

  private launch(events: CloudEvent[]): void {
    this.inFlightBatches++;
    const batch = this.ledger.launched(events);
    const deadlineAt = Date.now() + this.config.batchDeadlineMs;
    this.deliver(events, deadlineAt, batch)
      // deliver() handles every expected outcome itself; this is the net for a bug, so no
      // event is ever left uncounted.
      .catch((err: unknown) => this.ledger.failedUnsettled(batch, String(err)))
      .finally(() => {
        this.inFlightBatches--;
        this.pump();
      });
  }

  private whenIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.inFlightBatches === 0 && (this.ring.size === 0 || this.abort.signal.aborted || !this.started);
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  // ── delivery ───────────────────────────────────────────────────────────────

  private async deliver(events: CloudEvent[], deadlineAt: number, batch: InFlightBatch): Promise<void> {
    const raw = this.encoder.encode(events);
    if (raw.length > this.config.maxDecodedBodyBytes) return this.splitOrDrop(events, deadlineAt, batch, null, `${raw.length} bytes before compression`);
    const body = await this.compress(raw);
    if (body.bytes.length > this.config.maxBodyBytes) return this.splitOrDrop(events, deadlineAt, batch, null, `${body.bytes.length} bytes as transmitted`);

    let clockCorrected = false;
    for (let attempt = 0; ; attempt++) {
      if (this.abort.signal.aborted) return this.ledger.abandoned(batch, events);
      const outcome = await this.sendOnce(body, deadlineAt);
      if (outcome === null) return this.ledger.abandoned(batch, events);
      switch (outcome.kind) {
        case 'delivered':
          return this.ledger.delivered(batch, events, outcome.status, outcome.rejected);
        case 'split':
          this.ledger.sawError(outcome.code);
          return this.splitOrDrop(events, deadlineAt, batch, 413, outcome.message);
        case 'permanent':
          // Our clock is off by more than the receiver's window: sign with its clock, once.
          if (outcome.code === 'timestamp_out_of_window' && !clockCorrected && this.offeredOffsetMs !== null) {
            clockCorrected = true;
            this.clockOffsetMs = this.offeredOffsetMs;
            this.offeredOffsetMs = null;
            this.ledger.retried(outcome.code);
            continue;
          }
          return this.ledger.failed(batch, events, { code: outcome.code, status: outcome.status, message: outcome.message }, outcome.rejected);
        case 'retry': {
          let delay = backoffDelayMs(attempt, { initialDelayMs: this.config.retryInitialDelayMs, maxDelayMs: this.config.retryMaxDelayMs });
          if (outcome.retryAfterMs !== null) {
            // Retry-After is a floor, for this batch and for every batch not yet started; the
            // backoff still applies, so "Retry-After: 0" on every attempt cannot become a busy loop.
            delay = Math.max(delay, retryAfterDelayMs(outcome.retryAfterMs));
            this.pausedUntil = Math.max(this.pausedUntil, Date.now() + outcome.retryAfterMs);
          }
          if (Date.now() + delay >= deadlineAt) {
            this.ledger.sawError(outcome.code);
            const why = `gave up after ${attempt + 1} attempt(s); last: ${outcome.code}${outcome.message === '' ? '' : ` (${outcome.message})`}`;
            return this.ledger.failed(batch, events, { code: 'deadline_exceeded', status: outcome.status, message: why });
          }
          this.ledger.retried(outcome.code);
          await sleep(delay, this.abort.signal);
        }
      }
    }
  }

  private async splitOrDrop(events: CloudEvent[], deadlineAt: number, batch: InFlightBatch, status: number | null, why: string): Promise<void> {
    if (events.length === 1) return this.ledger.tooLarge(batch, events[0] as CloudEvent, status, why);
    this.ledger.split();
    const mid = events.length >>> 1;
    await this.deliver(events.slice(0, mid), deadlineAt, batch);
    await this.deliver(events.slice(mid), deadlineAt, batch);
  }

  private async compress(raw: Uint8Array): Promise<EncodedBody> {
    if (!this.config.gzip || !this.gzipUsable || raw.length < this.config.gzipMinBytes) return { bytes: raw, gzipped: false };
    try {
      return { bytes: await gzip(raw), gzipped: true };
    } catch {
      // No CompressionStream (an old browser): send uncompressed from now on.
      this.gzipUsable = false;
      return { bytes: raw, gzipped: false };
    }
  }

  /** One HTTP attempt. Null when stop()'s deadline aborted it. */
  private async sendOnce(body: EncodedBody, deadlineAt: number): Promise<SendOutcome | null> {
    let headers: Record<string, string>;
    try {
      headers = await this.authorize(this.path, body.bytes, Date.now() + this.clockOffsetMs);
    } catch (err) {
      return { kind: 'permanent', status: null, code: 'signing_failed', message: err instanceof Error ? err.message : String(err), rejected: [] };
    }
    headers['Content-Type'] = this.encoder.contentType;
    if (body.gzipped) headers['Content-Encoding'] = 'gzip';

    const stop = this.abort.signal;
    if (stop.aborted) return null;
    const attempt = new AbortController();
    let timedOut = false;
    const timeoutMs = Math.max(1, Math.min(this.config.requestTimeoutMs, deadlineAt - Date.now()));
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort();
    }, timeoutMs);
    const onStop = (): void => attempt.abort();
    stop.addEventListener('abort', onStop, { once: true });
    const sentAt = Date.now();
    try {
      const res = await this.config.fetch(this.url, {
        method: 'POST',
        headers,
        body: body.bytes,
        signal: attempt.signal,
        // A redirect would re-send to another path than the one signed: treat it as an answer.
        redirect: 'manual',
      });
      const text = await res.text();
      const outcome = classifyResponse(res.status, text, res.headers.get('retry-after'), Date.now());
      if (outcome.kind === 'permanent' && outcome.code === 'timestamp_out_of_window') {
        this.offeredOffsetMs = clockOffsetFromDate(res.headers.get('date'), sentAt, Date.now());
      }
      return outcome;
    } catch (err) {
      if (stop.aborted) return null;
      return classifyFailure(timedOut ? 'request_timeout' : 'network_error', err);
    } finally {
      clearTimeout(timer);
      stop.removeEventListener('abort', onStop);
    }
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Background timers must not keep a Node process alive; browsers have no unref. */
export function unref(timer: unknown): void {
  if (typeof timer === 'object' && timer !== null && 'unref' in timer && typeof timer.unref === 'function') timer.unref();
}
