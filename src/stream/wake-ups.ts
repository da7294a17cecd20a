import pg from 'pg';
import { ThrottledLog, type Logger } from '../logger.js';

/** The PostgreSQL channel a receiver notifies after it commits rows that may be stream events. */
export const STREAM_CHANNEL = 'machpay_stream';

/**
 * LISTENs on STREAM_CHANNEL on a connection of its own and calls `wake` for each
 * notification, reconnecting after a failure while it runs. A notification is only a hint
 * that the log has grown (it may be lost, and is never replayed): the hub's poll interval
 * covers a lost one.
 */
export class NotifyListener {
  private client: pg.Client | null = null;
  private running = false;
  private retry: NodeJS.Timeout | null = null;
  private readonly failures: ThrottledLog;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly wake: () => void,
    log: Logger,
  ) {
    this.failures = new ThrottledLog(log, 10_000);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    const c = this.client;
    this.client = null;
    if (c !== null) await c.end().catch(() => undefined);
  }

  private connect(): void {
    const c = new pg.Client(this.config);
    this.client = c;
    const fail = (err: Error): void => {
      this.failures.warn({ err: err.message }, 'stream wake-up listener failed; the stream polls meanwhile');
      if (this.client === c) this.client = null;
      c.end().catch(() => undefined);
      if (this.running && this.retry === null) {
        this.retry = setTimeout(() => {
          this.retry = null;
          if (this.running) this.connect();
        }, 1000);
        this.retry.unref();
      }
    };
    c.on('error', fail);
    c.on('notification', () => this.wake());
    c.connect()
      .then(() => c.query(`LISTEN ${STREAM_CHANNEL}`))
      .then(() => {
        // Whatever was committed while it was not listening is found by this one read.
        if (this.client === c) this.wake();
        else void c.end().catch(() => undefined);
      })
      .catch(fail);
  }
}

/**
 * What the ingest pipeline calls after each commit of rows (and the alerts, after each
 * change they store): wakes this receiver's stream at once, and, while another receiver has
 * subscribers (`othersListening`), tells the other receivers through one NOTIFY, coalesced so
 * a burst of commits costs one statement per `coalesceMs` at most. With nobody listening
 * elsewhere a commit costs no statement at all. The NOTIFY runs on its own after the commit,
 * never inside the ingest transaction: PostgreSQL serialises the commits of notifying
 * transactions.
 */
export class CommitNotifier {
  private sending = false;
  private pending = false;
  private lastSentMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly failures: ThrottledLog;

  constructor(
    private readonly pool: pg.Pool,
    private readonly localWake: () => void,
    private readonly othersListening: () => boolean,
    log: Logger,
    private readonly coalesceMs = 5,
  ) {
    this.failures = new ThrottledLog(log, 10_000);
  }

  committed(): void {
    this.localWake();
    if (this.othersListening()) this.schedule();
  }

  /** NOTIFYs sent so far. */
  sent = 0;

  close(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.pending = false;
  }

  private schedule(): void {
    if (this.sending || this.timer !== null) {
      this.pending = true;
      return;
    }
    const wait = this.lastSentMs + this.coalesceMs - performance.now();
    if (wait <= 0) return this.send();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.send();
    }, wait);
  }

  private send(): void {
    this.sending = true;
    this.pending = false;
    this.lastSentMs = performance.now();
    this.sent++;
    this.pool
      .query(`SELECT pg_notify('${STREAM_CHANNEL}', '')`)
      .catch((err: unknown) => this.failures.warn({ err: (err as Error).message }, 'stream NOTIFY failed; other receivers poll meanwhile'))
      .finally(() => {
        this.sending = false;
        if (this.pending) {
          this.pending = false;
          this.schedule();
        }
      });
  }
}
