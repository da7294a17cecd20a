import type pg from 'pg';
import { classifyPgError } from '../database/index.js';
import type { Logger } from '../logger.js';
import { ClickhouseFoldRows } from './clickhouse-fold-rows.js';
import { FoldMergers, foldRound, type FoldRoundResult } from './fold-round.js';
import { RetrySchedule } from './retry-schedule.js';

export interface TallyFolderOptions {
  /** Pause between rounds while the backlog is empty or small. Default 1000 ms. */
  intervalMs?: number;
  /** Most pending rows claimed by one round (its transaction holds their row locks). Default 5000. */
  maxRowsPerRound?: number;
  /** First backoff after a failed round; doubles up to maxBackoffMs, equal jitter. Default 250 ms. */
  baseBackoffMs?: number;
  /** Default 30 s. */
  maxBackoffMs?: number;
  /** How long stop() waits for the current round and one last round. Default 5 s. */
  stopTimeoutMs?: number;
  /**
   * Set when ClickHouse is configured: each round also puts its rollup_minute delta rows in
   * rollup_clickhouse_outbox (sent by ClickhouseOutboxSender), tagged with this receiver id.
   * Every folder on a database must agree, or the rounds of those without it miss ClickHouse.
   */
  clickhouseReceiverId?: string | null;
  /** Called with fresh stats after every round, folded, empty or failed (the folder thread posts them to the main thread). */
  onRound?: (stats: TallyFolderStats) => void;
}

/** Plain numbers for /metrics; counters count since start. */
export interface TallyFolderStats {
  rounds: number;
  /** Pending rows folded into the rollup tables (and deleted). */
  rowsFolded: number;
  requestsFolded: number;
  /** Failed rounds (each rolled back: its rows stay pending for a later round). */
  failures: number;
  /** Age in seconds of the oldest pending row at the end of the last round, any folder's; 0 when none is pending. */
  lagSeconds: number;
  /** Duration of the last round that folded something. */
  lastRoundMs: number;
  /** Stored histograms that did not decode (their counts stay; their latencies are lost to the percentiles). */
  undecodableHistograms: number;
  /** rollup_minute rows put in the ClickHouse outbox, and cells left out (minutes outside DateTime). */
  clickhouseRowsQueued: number;
  clickhouseCellsSkipped: number;
}

/** Age of the oldest pending row: one probe of the primary key. */
const LAG_SQL = `SELECT extract(epoch FROM now() - created_at)::float8 AS lag FROM rollup_pending ORDER BY id LIMIT 1`;

/**
 * The loop every receiver runs: fold rounds (fold-round.ts) one after the other while a
 * round comes back full, then every intervalMs; jittered exponential backoff after a failed
 * round. Any number of folders may run on one database: they claim disjoint rows.
 */
export class TallyFolder {
  private readonly intervalMs: number;
  private readonly maxRows: number;
  private readonly stopTimeoutMs: number;
  private readonly mergers = new FoldMergers();
  private readonly clickhouse: ClickhouseFoldRows | null;
  private readonly retry: RetrySchedule;
  private readonly onRound: ((stats: TallyFolderStats) => void) | undefined;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;
  private started = false;
  private readonly counters = { rounds: 0, rowsFolded: 0, requestsFolded: 0, failures: 0, lagSeconds: 0, lastRoundMs: 0, clickhouseRowsQueued: 0 };

  constructor(
    private readonly pool: pg.Pool,
    options: TallyFolderOptions,
    private readonly log: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.maxRows = options.maxRowsPerRound ?? 5000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 5000;
    this.clickhouse = options.clickhouseReceiverId === undefined || options.clickhouseReceiverId === null ? null : new ClickhouseFoldRows(options.clickhouseReceiverId);
    this.retry = new RetrySchedule(options.baseBackoffMs ?? 250, options.maxBackoffMs ?? 30_000, () => this.kick());
    this.onRound = options.onRound;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.kick();
  }

  stats(): TallyFolderStats {
    return { ...this.counters, undecodableHistograms: this.mergers.undecodable, clickhouseCellsSkipped: this.clickhouse?.skipped ?? 0 };
  }

  /**
   * Folds until a round comes back short of maxRowsPerRound (or fails). Rounds never overlap
   * within one folder; the same promise is returned to concurrent callers.
   */
  foldNow(): Promise<void> {
    if (this.running !== null) return this.running;
    const run = this.drain().finally(() => {
      if (this.running === run) this.running = null;
    });
    this.running = run;
    return run;
  }

  /**
   * Stops the loop, then folds once more (what this receiver's last batches wrote; skipped
   * when `finalRound` is false), within stopTimeoutMs. A round still running at the deadline is abandoned: when the caller ends
   * the pool its transaction rolls back and its rows stay pending for another folder.
   */
  async stop(finalRound = true): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.retry.cancel();
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      deadline = setTimeout(() => resolve('timeout'), this.stopTimeoutMs).unref();
    });
    const last = (async () => {
      await this.running?.catch(() => undefined);
      if (finalRound) await this.round().catch(() => undefined);
    })();
    const outcome = await Promise.race([last.then(() => 'done' as const), timedOut]);
    clearTimeout(deadline);
    if (outcome === 'timeout') this.log.warn({ timeoutMs: this.stopTimeoutMs }, 'rollup folder: last round did not finish in time; its rows stay pending');
  }

  private kick(): void {
    if (this.stopping) return;
    void this.foldNow();
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const r = await this.round();
        if (r.rows < this.maxRows || this.stopping) break;
      }
      this.retry.succeeded();
      this.schedule(this.intervalMs);
    } catch (err) {
      this.counters.failures++;
      this.onRound?.(this.stats());
      const kind = classifyPgError(err);
      if (!this.stopping) {
        const delay = this.retry.failed();
        this.log.warn({ err, kind, retryInMs: Math.round(delay) }, 'rollup folder: round failed; its rows stay pending');
      }
    }
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    if (this.timer !== null) clearTimeout(this.timer);
    // unref: the folder alone must not keep a stopping process alive.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, ms).unref();
  }

  /** One round on its own connection; a connection that broke mid-round is not reused. */
  private async round(): Promise<FoldRoundResult> {
    const client = await this.pool.connect();
    // A connection that drops between two statements emits 'error' on the checked-out client
    // (the pool only listens on idle ones); unhandled, that would end the process. The next
    // statement fails with the same cause, which is what decides the outcome.
    const onError = (): void => undefined;
    client.on('error', onError);
    let broken = false;
    const started = performance.now();
    try {
      const r = await foldRound(client, this.maxRows, this.mergers, this.clickhouse);
      this.counters.rounds++;
      if (r.rows > 0) {
        this.counters.rowsFolded += r.rows;
        this.counters.requestsFolded += r.requests;
        this.counters.clickhouseRowsQueued += r.clickhouseRows;
        this.counters.lastRoundMs = performance.now() - started;
      }
      const lag = await client.query<{ lag: number }>(LAG_SQL);
      this.counters.lagSeconds = Math.max(0, lag.rows[0]?.lag ?? 0);
      return r;
    } catch (err) {
      broken = classifyPgError(err) === 'unavailable';
      if (!broken) await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
      this.onRound?.(this.stats());
    }
  }
}
