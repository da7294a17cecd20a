import type pg from 'pg';
import type { Logger } from '../logger.js';
import type { WebhookDispatcherConfig } from './dispatcher-config.js';
import { claimDueDeliveries, countPendingDeliveries, recordAttempt, type ClaimedDelivery } from './delivery-queue.js';
import { postWebhook, type AttemptResult } from './http-sender.js';
import type { WebhookMetrics } from './metrics.js';
import { decideAttempt } from './retry-policy.js';
import { secretKey, signWebhook } from './signing.js';

/** The queue gauge is a count over the database: sampled at most this often. */
const PENDING_SAMPLE_MS = 5_000;
/** After a database error, the loop waits this long before claiming again. */
const DB_ERROR_PAUSE_MS = 2_000;
/** A failing database or endpoint is logged at most this often. */
const LOG_INTERVAL_MS = 30_000;

export interface WebhookDispatcherDeps {
  /** Its own small pool (2 connections do): the dispatcher must never take ingest's connections. */
  readonly pool: pg.Pool;
  readonly config: WebhookDispatcherConfig;
  readonly log: Logger;
  readonly metrics: WebhookMetrics;
}

/**
 * Sends the queued deliveries of every tenant. Each loop claims as many due deliveries as it
 * has free slots (config.concurrency), starts their attempts without waiting for them, and
 * sleeps until the next poll, a wake() (an event was queued, or a slot freed), or stop().
 * Everything it does is asynchronous I/O on its own pool: ingest never waits for it.
 */
export class WebhookDispatcher {
  private running = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly inFlight = new Set<Promise<void>>();
  private woken = false;
  private wakeSleeper: (() => void) | null = null;
  private readonly stopping = new AbortController();
  private lastPendingSample = 0;
  private lastDbErrorLog = 0;

  constructor(private readonly deps: WebhookDispatcherDeps) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loopDone = this.loop();
  }

  /** Claims due work now instead of at the next poll (after a commit that queued deliveries). */
  wake(): void {
    this.woken = true;
    this.wakeSleeper?.();
  }

  /**
   * Stops claiming, gives attempts in flight up to `graceMs` to end, then cuts the rest short:
   * those are handed back as due at once (or, if the database is gone too, their claims
   * expire), so another receiver sends them. Nothing is lost either way.
   */
  async stop(graceMs = this.deps.config.timeoutMs): Promise<void> {
    this.running = false;
    this.wake();
    await this.loopDone;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
      await Promise.race([Promise.all(this.inFlight), grace]);
      clearTimeout(timer);
      this.stopping.abort();
      await Promise.all(this.inFlight);
    }
  }

  /** Attempts in flight now. */
  get activeAttempts(): number {
    return this.inFlight.size;
  }

  private async loop(): Promise<void> {
    const { config } = this.deps;
    while (this.running) {
      this.woken = false;
      const free = config.concurrency - this.inFlight.size;
      let claimed: ClaimedDelivery[] = [];
      if (free > 0) {
        try {
          claimed = await claimDueDeliveries(this.deps.pool, free, config.claimLeaseMs, config.concurrencyPerWebhook);
          await this.samplePending();
        } catch (err) {
          this.logDbError(err, 'could not claim webhook deliveries');
          await this.sleep(DB_ERROR_PAUSE_MS);
          continue;
        }
      }
      for (const delivery of claimed) this.track(this.attempt(delivery));
      // A full batch means more may be due: claim again at once while slots are free.
      if (claimed.length > 0 && claimed.length === free) continue;
      if (!this.woken) await this.sleep(config.pollIntervalMs);
    }
  }

  private track(attempt: Promise<void>): void {
    this.inFlight.add(attempt);
    void attempt.finally(() => {
      this.inFlight.delete(attempt);
      this.wake();
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wakeSleeper = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleeper = done;
    });
  }

  private async samplePending(): Promise<void> {
    const now = Date.now();
    if (now - this.lastPendingSample < PENDING_SAMPLE_MS) return;
    this.lastPendingSample = now;
    this.deps.metrics.pending.set(await countPendingDeliveries(this.deps.pool));
  }

  /** One attempt: sign, POST, decide, record. Never throws. */
  private async attempt(d: ClaimedDelivery): Promise<void> {
    const { config, metrics } = this.deps;
    const attemptedAt = new Date();
    const started = performance.now();
    let result: AttemptResult;
    try {
      const body = JSON.stringify({ type: d.payload.type, timestamp: d.payload.timestamp, data: d.payload.data });
      const headers = signWebhook(secretKey(d.secret), d.messageId, Math.floor(Date.now() / 1000), body);
      result = await postWebhook(new URL(d.url), { ...headers }, body, {
        timeoutMs: config.timeoutMs,
        allowPrivateUrls: config.allowPrivateUrls,
        signal: this.stopping.signal,
      });
    } catch (err) {
      result = { kind: 'connection_failed', message: (err as Error).message };
    }
    const durationMs = performance.now() - started;
    const decision = decideAttempt(result, d.attempt, d.ageMs + durationMs, config);
    metrics.attempts.inc({ result: decision.status === 'delivered' ? 'success' : (decision.error ?? 'unknown') });
    metrics.attemptDuration.observe(durationMs / 1000);
    try {
      const held = await recordAttempt(this.deps.pool, d, {
        status: decision.status,
        retryInMs: decision.retryInMs,
        responseCode: result.kind === 'response' ? result.status : null,
        error: decision.error,
        attemptedAt,
        durationMs,
      });
      if (held && decision.status !== 'retrying') metrics.deliveries.inc({ outcome: decision.status });
      if (held && decision.status === 'delivered') metrics.deliveryLatency.observe((d.ageMs + durationMs) / 1000);
      if (held && decision.status === 'disabled') {
        this.deps.log.warn({ webhook_id: d.webhookId }, 'webhook endpoint answered 410 Gone: disabled, its pending deliveries ended');
      }
    } catch (err) {
      // The claim expires and the delivery is attempted again: at least once, never lost.
      this.logDbError(err, 'could not record a webhook attempt');
    }
  }

  private logDbError(err: unknown, message: string): void {
    const now = Date.now();
    if (now - this.lastDbErrorLog < LOG_INTERVAL_MS) return;
    this.lastDbErrorLog = now;
    this.deps.log.warn({ err: (err as Error).message }, message);
  }
}
