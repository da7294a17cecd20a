import { ThrottledLog, type Logger } from '../logger.js';
import { RetrySchedule } from './retry-schedule.js';
import { SingleFlight } from './single-flight.js';

export interface OutboxOptions {
  maxPendingRows: number;
  batchRows: number;
  maxBackoffMs: number;
  onWrite?: (rows: number, seconds: number) => void;
}

/**
 * What the two rollup outboxes (ClickHouse rows, PostgreSQL hour deltas) share: one drain
 * pass at a time, a jittered backoff after a retryable failure during which passes return at
 * once (unless forced, for the final flush), and the counters /metrics reads.
 */
export abstract class RollupOutbox {
  private readonly flight: SingleFlight;
  /** Set by drain(true): the next pass tries even during a backoff. */
  private forceNext = false;
  private readonly schedule: RetrySchedule;
  /** Drops are logged once per interval; the counters tell the rest. */
  private readonly dropLog: ThrottledLog;
  protected stopped = false;
  /** A failure is logged once per outage; while down, `failures` counts the rest. */
  protected downLogged = false;

  rowsWritten = 0;
  failures = 0;
  rowsDropped = 0;
  requestsDropped = 0;
  /** Lag of the last successful write, seconds; null before the first. */
  lastLagSeconds: number | null = null;

  constructor(
    protected readonly options: OutboxOptions,
    protected readonly log: Logger,
    backoffBaseMs: number,
  ) {
    this.schedule = new RetrySchedule(backoffBaseMs, options.maxBackoffMs, () => void this.drain());
    this.flight = new SingleFlight(
      () => this.pass(),
      (err) => this.log.error({ err: (err as Error).message }, 'rollup writer failed unexpectedly'),
    );
    this.dropLog = new ThrottledLog(log, 10_000);
  }

  /** Rows not yet confirmed by the store. */
  abstract get pendingRows(): number;

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

  /** Runs before every pass, even one that then returns during a backoff. */
  protected beforePass(): Promise<void> {
    return Promise.resolve();
  }

  /** One pass over the outbox, outside any backoff. */
  protected abstract writePass(): Promise<void>;

  private async pass(): Promise<void> {
    await this.beforePass();
    const force = this.forceNext;
    this.forceNext = false;
    if (!force && (this.stopped || this.schedule.waiting)) return;
    this.schedule.cancel();
    await this.writePass();
  }

  /** A write of `rows` that started at `started` (performance.now()) succeeded. */
  protected wrote(rows: number, oldestOpenedAt: number, started: number): void {
    this.rowsWritten += rows;
    this.lastLagSeconds = Math.max(0, (Date.now() - oldestOpenedAt) / 1000);
    this.options.onWrite?.(rows, (performance.now() - started) / 1000);
    this.schedule.succeeded();
    this.downLogged = false;
  }

  /** Rows given up on: counted, and logged once per interval. */
  protected dropped(rows: number, requests: number, fields: Record<string, unknown>, message: string): void {
    if (rows === 0) return;
    this.rowsDropped += rows;
    this.requestsDropped += requests;
    this.dropLog.warn({ rows, requests, ...fields }, message);
  }

  /** Rows the store refused for what they are (kept, they would block everything behind them): counted and logged. */
  protected refused(rows: number, requests: number, err: Error, message: string): void {
    this.rowsDropped += rows;
    this.requestsDropped += requests;
    this.log.error({ rows, requests, err: err.message }, message);
  }

  /** Schedules the retry of a failed write and logs it (a bug always, an outage once). */
  protected failed(err: Error, message: string, isBug: boolean): void {
    const delayMs = Math.round(this.schedule.failed());
    const fields = { err: err.message, pendingRows: this.pendingRows, retryInMs: delayMs };
    if (isBug) this.log.error(fields, message);
    else if (!this.downLogged) this.log.warn(fields, message);
    this.downLogged = true;
  }
}
