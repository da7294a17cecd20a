import type pg from 'pg';
import { classifyPgError } from '../database/index.js';
import type { Logger } from '../logger.js';
import { clickhouseDateTime } from './clickhouse-rows.js';
import { IsolationAborted, isolateRefusedRows, type FailedOutcome, type OutboxRowRef } from './clickhouse-row-isolation.js';
import type { ClickhouseRollupSink, RejectedRow } from './clickhouse-sink.js';
import { RetrySchedule } from './retry-schedule.js';

export interface OutboxSenderOptions {
  /** Pause between sends while the outbox is empty. Default 1000 ms. */
  intervalMs?: number;
  /** Most outbox rows (folds) per ClickHouse INSERT. Default 20. */
  maxFoldsPerInsert?: number;
  /** Default 250 ms and 30 s: jittered exponential backoff after a failed send. */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * Sends in a row refused by ClickHouse with an error not known either way ("suspect"), the
   * last of which inserts the rows apart to find one at fault. Rows refused with an error known
   * to be theirs are isolated at once. Default 5.
   */
  isolateAfterFailures?: number;
}

export interface OutboxSenderStats {
  /** rollup_minute rows ClickHouse confirmed (a resend counts again; FINAL collapses it). */
  rowsSent: number;
  /** Failed sends (ClickHouse or PostgreSQL); their rows stay in the outbox. */
  failures: number;
  /** Rows ClickHouse refused, parked in rollup_minute_rejected instead of holding the outbox back. */
  rowsParked: number;
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
 *
 * A row ClickHouse refuses would hold every fold behind it back for ever: the sender finds it
 * (clickhouse-row-isolation.ts), parks it in rollup_minute_rejected with ClickHouse's error,
 * sends the others, and deletes the claimed folds, in the one transaction. An outbox entry
 * that is not a JSON array of rows is parked whole.
 */
export class ClickhouseOutboxSender {
  private readonly intervalMs: number;
  private readonly maxFolds: number;
  private readonly retry: RetrySchedule;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private schemaReady = false;
  private readonly isolateAfter: number;
  /** Sends in a row that failed with a suspect error (reset by any other outcome). */
  private suspectInARow = 0;
  private readonly counters: OutboxSenderStats = { rowsSent: 0, failures: 0, rowsParked: 0, clickhouseUp: false };

  constructor(
    private readonly pool: pg.Pool,
    private readonly sink: ClickhouseRollupSink,
    options: OutboxSenderOptions,
    private readonly log: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxFolds = options.maxFoldsPerInsert ?? 20;
    this.isolateAfter = Math.max(1, options.isolateAfterFailures ?? 5);
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

  /** Rows refused with an error known to be theirs are isolated at once; suspect ones after repeated failures. */
  private shouldIsolate(failure: FailedOutcome): boolean {
    return failure.kind === 'permanent' || (failure.kind === 'suspect' && this.suspectInARow + 1 >= this.isolateAfter);
  }

  /**
   * ClickHouse failed, not the PostgreSQL connection: give the claim back, keep the connection,
   * and fail the send. A table gone missing (dropped, a new server) gets the DDL again before
   * the retry.
   */
  private async giveBack(client: pg.PoolClient, failure: FailedOutcome): Promise<never> {
    if (failure.kind === 'schema') this.schemaReady = false;
    this.suspectInARow = failure.kind === 'suspect' ? this.suspectInARow + 1 : 0;
    await client.query('ROLLBACK');
    throw new ClickhouseSendError(failure.error);
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
      const { rows, unreadable } = outboxRows(claimed.rows);
      let sentRows = rows.length;
      const rejected = unreadable;
      const sent = rows.length === 0 ? ({ ok: true } as const) : await this.sink.insert(rows.map((r) => r.row));
      if (!sent.ok) {
        if (!this.shouldIsolate(sent)) await this.giveBack(client, sent);
        try {
          const isolated = await isolateRefusedRows(this.sink, rows, sent);
          sentRows = isolated.sent;
          rejected.push(...isolated.rejected);
        } catch (err) {
          if (!(err instanceof IsolationAborted)) throw err;
          await this.giveBack(client, err.outcome);
        }
      }
      if (rejected.length > 0) {
        const parked = await this.sink.park(rejected);
        if (!parked.ok) await this.giveBack(client, parked);
      }
      await client.query(DELETE_SQL, [claimed.rows.map((r) => r.id)]);
      await client.query('COMMIT');
      this.suspectInARow = 0;
      this.counters.rowsSent += sentRows;
      if (rejected.length > 0) {
        this.counters.rowsParked += rejected.length;
        const first = rejected[0] as RejectedRow;
        this.log.error(
          { parked: rejected.length, sent: sentRows, errorCode: first.error_code, error: first.error },
          'rollup ClickHouse outbox: ClickHouse refused rows; they are parked in rollup_minute_rejected and the rest are sent',
        );
      }
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

/** The rows of claimed outbox entries; entries that are not a JSON array of rows, ready to park whole. */
function outboxRows(entries: readonly { id: string; rows: string }[]): { rows: OutboxRowRef[]; unreadable: RejectedRow[] } {
  const rows: OutboxRowRef[] = [];
  const unreadable: RejectedRow[] = [];
  for (const e of entries) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(e.rows);
    } catch {
      parsed = null;
    }
    if (!Array.isArray(parsed)) {
      unreadable.push({
        row_id: `outbox-${e.id}`,
        row_json: e.rows,
        error_code: 'outbox_entry_not_rows',
        error: 'the outbox entry is not a JSON array of rows',
        outbox_id: e.id,
        rejected_at: clickhouseDateTime(Date.now()),
      });
      continue;
    }
    parsed.forEach((row: unknown, index) => rows.push({ row, outboxId: e.id, index }));
  }
  return { rows, unreadable };
}

/** Marks a failure of the ClickHouse INSERT inside sendOnce (the PostgreSQL connection is fine). */
class ClickhouseSendError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}
