import type pg from 'pg';
import { classifyPgError } from '../database/index.js';
import type { Logger } from '../logger.js';
import type { ClickhouseRow } from './clickhouse-rows.js';
import type { ClickhouseRollupSink } from './clickhouse-sink.js';
import { RetrySchedule } from './retry-schedule.js';

export interface OutboxSenderOptions {
  /** Pause between sends while the outbox is empty. Default 1000 ms. */
  intervalMs?: number;
  /** Most outbox rows (folds) per ClickHouse INSERT. Default 20. */
  maxFoldsPerInsert?: number;
  /** Default 250 ms and 30 s: jittered exponential backoff after a failed send. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface OutboxSenderStats {
  /** rollup_minute rows ClickHouse confirmed (a resend counts again; FINAL collapses it). */
  rowsSent: number;
  /** Failed sends (ClickHouse or PostgreSQL); their rows stay in the outbox. */
  failures: number;
  /** False after a failed send, until one succeeds. */
  clickhouseUp: boolean;
}

const CLAIM_SQL = 'SELECT id, rows FROM rollup_clickhouse_outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED';
const DELETE_SQL = 'DELETE FROM rollup_clickhouse_outbox WHERE id = ANY($1::bigint[])';

/**
 * Sends rollup_clickhouse_outbox to ClickHouse: claim the oldest folds (SKIP LOCKED, so any
 * number of receivers can send), INSERT their rows, delete them, commit. The rows keep the
 * row_ids their fold gave them, so a send repeated after a lost reply, a failed COMMIT or a
 * crash collapses under FINAL instead of counting twice.
 */
export class ClickhouseOutboxSender {
  private readonly intervalMs: number;
  private readonly maxFolds: number;
  private readonly retry: RetrySchedule;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private schemaReady = false;
  private readonly counters: OutboxSenderStats = { rowsSent: 0, failures: 0, clickhouseUp: false };

  constructor(
    private readonly pool: pg.Pool,
    private readonly sink: ClickhouseRollupSink,
    options: OutboxSenderOptions,
    private readonly log: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxFolds = options.maxFoldsPerInsert ?? 20;
    this.retry = new RetrySchedule(options.baseBackoffMs ?? 250, options.maxBackoffMs ?? 30_000, () => this.kick());
  }

  start(): void {
    this.kick();
  }

  stats(): OutboxSenderStats {
    return { ...this.counters };
  }

  /** Sends until the outbox is empty or a send fails; concurrent callers share one run. */
  sendNow(): Promise<void> {
    if (this.running !== null) return this.running;
    const run = this.drain().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  /** Stops the loop after the send under way; what is left stays in the outbox for any receiver. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.retry.cancel();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private kick(): void {
    if (!this.stopping) void this.sendNow();
  }

  private async drain(): Promise<void> {
    try {
      if (!this.schemaReady) {
        const ddl = await this.sink.ensureSchema();
        if (!ddl.ok) throw ddl.error;
        this.schemaReady = true;
      }
      while (!this.stopping && (await this.sendOnce()) === this.maxFolds);
      this.retry.succeeded();
      this.counters.clickhouseUp = true;
      if (!this.stopping) this.timer = setTimeout(() => this.kick(), this.intervalMs).unref();
    } catch (err) {
      this.counters.failures++;
      this.counters.clickhouseUp = false;
      if (!this.stopping) {
        const delay = this.retry.failed();
        this.log.warn({ err, retryInMs: Math.round(delay) }, 'rollup ClickHouse outbox: send failed; its rows stay in the outbox');
      }
    }
  }

  /** One claim-insert-delete transaction; returns the folds sent. */
  private async sendOnce(): Promise<number> {
    const client = await this.pool.connect();
    const onError = (): void => undefined;
    client.on('error', onError);
    let broken = false;
    try {
      await client.query('BEGIN');
      const claimed = await client.query<{ id: string; rows: string }>(CLAIM_SQL, [this.maxFolds]);
      if (claimed.rows.length === 0) {
        await client.query('COMMIT');
        return 0;
      }
      const rows: ClickhouseRow[] = [];
      for (const r of claimed.rows) for (const row of JSON.parse(r.rows) as ClickhouseRow[]) rows.push(row);
      const sent = await this.sink.insert(rows);
      if (!sent.ok) {
        // ClickHouse failed, not this connection: give the claim back and keep the connection.
        // A table gone missing (dropped, a new server) gets the DDL again before the retry.
        if (sent.kind === 'schema') this.schemaReady = false;
        await client.query('ROLLBACK');
        throw new ClickhouseSendError(sent.error);
      }
      await client.query(DELETE_SQL, [claimed.rows.map((r) => r.id)]);
      await client.query('COMMIT');
      this.counters.rowsSent += rows.length;
      return claimed.rows.length;
    } catch (err) {
      if (!(err instanceof ClickhouseSendError)) {
        broken = classifyPgError(err) === 'unavailable';
        if (!broken) await client.query('ROLLBACK').catch(() => undefined);
      }
      throw err instanceof ClickhouseSendError ? err.cause : err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }
}

/** Marks a failure of the ClickHouse INSERT inside sendOnce (the PostgreSQL connection is fine). */
class ClickhouseSendError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}
