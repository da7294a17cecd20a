import { randomBytes } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type pg from 'pg';
import { ThrottledLog, type Logger } from '../logger.js';
import { Spool } from '../sinks/spool/index.js';
import { clickhouseDateTime, clickhouseRows, fitsDateTime, type ClickhouseRow } from './clickhouse-rows.js';
import { ClickhouseRollupSink } from './clickhouse-sink.js';
import { ClickhouseWriter } from './clickhouse-writer.js';
import { HourDeltas } from './hour-deltas.js';
import { newLatencyHistogram } from './latency-histogram.js';
import { MinuteCells, recordLatencies, type MinuteCell } from './minute-cells.js';
import { PostgresHourlySink } from './postgres-hourly-sink.js';
import { PostgresHourlyWriter } from './postgres-hourly-writer.js';
import { SingleFlight } from './single-flight.js';
import type { RollupDestination, RollupGroup, RollupOptions, RollupStats } from './types.js';

/** Optional hooks for /metrics beyond stats(): e.g. a prom-client histogram of write durations. */
export interface RollupMetricsHooks {
  observeWrite?(destination: RollupDestination, rows: number, seconds: number): void;
}

const MINUTE_MS = 60_000;
/** Encoding yields to the event loop after this much work, so HTTP acks never wait long behind a flush. */
const ENCODE_SLICE_MS = 5;
/** Sealed keys beyond this many times maxOpenKeys are encoded inside record(): the event loop itself becomes the back-pressure. */
const SEALED_BACKLOG_FACTOR = 4;
const DEFAULT_SPOOL_MAX_BYTES = 256 * 1024 * 1024;
/** Segments are reclaimed whole once acknowledged: small enough that a drained outage gives its disk back soon. */
const MAX_SPOOL_SEGMENT_BYTES = 16 * 1024 * 1024;

/**
 * Per-minute latency rollups: HDR histograms per (minute, agent, vendor) and
 * (minute, gateway, vendor), written on an interval as delta rows to ClickHouse and merged
 * into the hourly rows of PostgreSQL.
 *
 * record() only touches memory. A flush seals the open keys at once (synchronously, so
 * record() goes on into fresh ones), encodes them in slices that yield to the event loop,
 * and hands the results to two independent outboxes; a slow or absent ClickHouse never
 * delays PostgreSQL, and neither ever delays record().
 */
export class RollupService {
  private readonly cells = new MinuteCells();
  private sealed: MinuteCell[][] = [];
  private sealedKeys = 0;
  private readonly encoder: SingleFlight;
  private timer: NodeJS.Timeout | null = null;
  private stopping: Promise<void> | null = null;
  private readonly postgres: PostgresHourlyWriter;
  private readonly postgresSink: PostgresHourlySink;
  private readonly clickhouse: ClickhouseWriter | null = null;
  private readonly clickhouseSink: ClickhouseRollupSink | null = null;
  private clickhouseSpool: Spool | null = null;
  private readonly receiverId: string;
  private rowSeq = 0;
  /** Start of the UTC minute in which the last flush sealed: groups older than it are late. */
  private lastSealMinute = Number.NEGATIVE_INFINITY;
  private readonly invalidLog: ThrottledLog;
  private readonly maxOpenKeys: number;
  private readonly maxPendingLatencies: number;
  /** One histogram reused for every cell a flush encodes (reset between cells): see MinuteCells. */
  private readonly scratch = newLatencyHistogram();
  private earlyFlushes = 0;
  private lateGroups = 0;
  private invalidGroups = 0;

  constructor(
    pgPool: pg.Pool,
    private readonly options: RollupOptions,
    private readonly log: Logger,
    hooks: RollupMetricsHooks = {},
  ) {
    this.maxOpenKeys = options.maxOpenKeys ?? 8192;
    this.maxPendingLatencies = options.maxPendingLatencies ?? 1_000_000;
    this.receiverId = options.receiverId ?? randomBytes(6).toString('hex');
    this.invalidLog = new ThrottledLog(log, 10_000);
    // A bug, not an outcome: logged, and the writers still send what they have.
    this.encoder = new SingleFlight(
      () => this.encodeLoop(),
      (err) => this.log.error({ err: (err as Error).message }, 'rollup encoding failed'),
    );
    const maxBackoffMs = options.maxBackoffMs ?? 30_000;
    this.postgresSink = new PostgresHourlySink(pgPool);
    this.postgres = new PostgresHourlyWriter(
      this.postgresSink,
      {
        maxPendingRows: options.maxPendingPostgresRows ?? 10_000,
        batchRows: options.postgresBatchRows ?? 500,
        maxBackoffMs,
        onWrite: (rows, seconds) => hooks.observeWrite?.('postgres', rows, seconds),
      },
      log,
    );
    if (options.clickhouseUrl !== null) {
      this.clickhouseSink = new ClickhouseRollupSink(options.clickhouseUrl, options.clickhouseDatabase ?? 'default', options.clickhouseRequestTimeoutMs ?? 10_000);
      this.clickhouse = new ClickhouseWriter(
        this.clickhouseSink,
        {
          maxPendingRows: options.maxPendingClickhouseRows ?? 100_000,
          batchRows: options.clickhouseBatchRows ?? 20_000,
          maxBackoffMs,
          onWrite: (rows, seconds) => hooks.observeWrite?.('clickhouse', rows, seconds),
        },
        log,
      );
    }
  }

  /**
   * Opens the ClickHouse spool (when configured: what an earlier process left in it is sent
   * first), applies the ClickHouse DDL, waiting for it at most clickhouseStartWaitMs; if
   * ClickHouse is down it is retried in the background and rows wait in the outbox. Then
   * starts the flush interval.
   */
  async start(): Promise<void> {
    if (this.clickhouse !== null) {
      const dir = this.options.clickhouseSpoolDir;
      if (dir !== undefined) {
        const maxBytes = this.options.clickhouseSpoolMaxBytes ?? DEFAULT_SPOOL_MAX_BYTES;
        const segmentBytes = Math.max(1024, Math.min(MAX_SPOOL_SEGMENT_BYTES, Math.floor(maxBytes / 4)));
        try {
          this.clickhouseSpool = await Spool.open({ dir, maxBytes, segmentBytes }, this.log.child({ component: 'rollup-spool' }));
          this.clickhouse.attachSpool(this.clickhouseSpool);
          const left = this.clickhouseSpool.stats().records;
          if (left > 0) this.log.info({ records: left, dir }, 'rollup batches left in the ClickHouse spool by an earlier run; sending them first');
        } catch (err) {
          // Rollups are secondary: an unusable spool directory must not stop ingest.
          this.log.error({ err: (err as Error).message, dir }, 'could not open the ClickHouse rollup spool; its rows wait in memory only');
        }
      }
      const waitMs = this.options.clickhouseStartWaitMs ?? 3_000;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.clickhouse.drain(), new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
      clearTimeout(timer);
      if (!this.clickhouse.up) this.log.warn({ waitedMs: waitMs }, 'ClickHouse not ready at start; rollups for it will wait and retry in the background');
    }
    const postgresEveryMs = Math.max(this.options.postgresFlushIntervalMs ?? 0, this.options.flushIntervalMs);
    let lastPostgres = Date.now();
    this.timer = setInterval(() => {
      this.seal();
      // ClickHouse takes every flush; PostgreSQL's hour rows when postgresFlushIntervalMs has
      // passed (their deltas coalesce meanwhile): each write there rewrites every hour row it
      // touches, histograms and all.
      const now = Date.now();
      const withPostgres = now - lastPostgres >= postgresEveryMs - this.options.flushIntervalMs / 2;
      if (withPostgres) lastPostgres = now;
      void this.finishFlush(false, withPostgres);
    }, this.options.flushIntervalMs);
    // The interval must not keep a stopping process alive; stop() does the final flush.
    this.timer.unref();
  }

  /**
   * Adds inserted groups to their minute's keys. Synchronous, memory only; keeps each group's
   * `latencies` array (not a copy) until the flush records it, so callers must not reuse it.
   */
  record(groups: readonly RollupGroup[]): void {
    const now = Date.now();
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] as RollupGroup;
      if (this.cells.add(g, now) === 'invalid') {
        this.invalidGroups++;
        this.invalidLog.warn({ kind: g.kind, requests: g.requests, latencies: g.latencies.length }, 'rollup group refused: its counts do not add up');
      } else if (g.minute < this.lastSealMinute) {
        this.lateGroups++;
      }
    }
    if (this.cells.size >= this.maxOpenKeys || this.cells.pendingLatencies >= this.maxPendingLatencies) {
      this.earlyFlushes++;
      void this.flush();
      if (this.sealedKeys > SEALED_BACKLOG_FACTOR * this.maxOpenKeys) this.encodeBacklogNow();
    }
  }

  /** Writes everything recorded so far; resolves when both destinations have had their attempt. Never rejects. */
  flush(): Promise<void> {
    this.seal();
    return this.finishFlush(false);
  }

  /** Final flush (one attempt at each destination, backoff or not), bounded by stopTimeoutMs; then releases the ClickHouse client. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (this.timer !== null) clearInterval(this.timer);
      this.timer = null;
      this.seal();
      const timeoutMs = this.options.stopTimeoutMs ?? 5_000;
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        this.finishFlush(true).then(() => true),
        new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
      ]);
      clearTimeout(timer);
      this.postgres.stop();
      this.clickhouse?.stop();
      await this.clickhouse?.close();
      const left = this.stats().pendingRows;
      const spooled = this.clickhouseSpool?.stats().records ?? 0;
      if (!finished || left > 0) this.log.warn({ pendingRows: left, finished, spooledBatches: spooled }, spooled > 0 ? 'rollups stopped with rows unwritten (spooled batches are sent at the next start)' : 'rollups stopped with rows unwritten');
      await this.clickhouseSink?.close();
    })();
    return this.stopping;
  }

  stats(): RollupStats {
    const ch = this.clickhouse;
    const pg = this.postgres;
    const lags = [pg.lastLagSeconds, ch?.lastLagSeconds ?? null].filter((x): x is number => x !== null);
    return {
      clickhouseUp: ch?.up ?? false,
      pendingRows: this.cells.size + this.sealedKeys + pg.pendingRows + (ch?.pendingRows ?? 0),
      rowsWritten: { clickhouse: ch?.rowsWritten ?? 0, postgres: pg.rowsWritten },
      flushFailures: { clickhouse: ch?.failures ?? 0, postgres: pg.failures },
      lastFlushLagSeconds: lags.length === 0 ? 0 : Math.max(...lags),
      rowsDropped: { clickhouse: ch?.rowsDropped ?? 0, postgres: pg.rowsDropped },
      requestsDropped: { clickhouse: ch?.requestsDropped ?? 0, postgres: pg.requestsDropped },
      openKeys: this.cells.size,
      earlyFlushes: this.earlyFlushes,
      lateGroups: this.lateGroups,
      invalidGroups: this.invalidGroups,
      clampedLatencies: this.cells.clamped,
      undecodableHistograms: this.postgresSink.problems.undecodable,
      clickhouseVersion: this.clickhouseSink?.version ?? null,
      clickhouseSpool: this.clickhouseSpool === null ? null : { bytes: this.clickhouseSpool.stats().bytes, records: this.clickhouseSpool.stats().records },
    };
  }

  private seal(): void {
    const cells = this.cells.seal();
    this.lastSealMinute = Math.floor(Date.now() / MINUTE_MS) * MINUTE_MS;
    if (cells.length === 0) return;
    this.sealed.push(cells);
    this.sealedKeys += cells.length;
  }

  private async finishFlush(force: boolean, withPostgres = true): Promise<void> {
    await this.encoder.run();
    await Promise.all([withPostgres ? this.postgres.drain(force) : undefined, this.clickhouse?.drain(force)]);
  }

  private async encodeLoop(): Promise<void> {
    for (let generation = this.sealed.shift(); generation !== undefined; generation = this.sealed.shift()) {
      const out = this.newOutput();
      let sliceStart = performance.now();
      for (const cell of generation) {
        this.encodeCell(cell, out);
        if (performance.now() - sliceStart > ENCODE_SLICE_MS) {
          await yieldToEventLoop();
          sliceStart = performance.now();
        }
      }
      this.deliver(out);
    }
  }

  /** The back-pressure valve of record(): encodes whole queued generations right now. */
  private encodeBacklogNow(): void {
    while (this.sealedKeys > (SEALED_BACKLOG_FACTOR / 2) * this.maxOpenKeys && this.sealed.length > 0) {
      const generation = this.sealed.shift() as MinuteCell[];
      const out = this.newOutput();
      for (const cell of generation) this.encodeCell(cell, out);
      this.deliver(out);
    }
  }

  private newOutput(): EncodeOutput {
    return { hours: new HourDeltas(), rows: [], rowRequests: 0, oldestOpenedAt: Number.POSITIVE_INFINITY, unwritable: 0, unwritableRequests: 0, flushedAt: clickhouseDateTime(Date.now()) };
  }

  /** One sealed cell → its ClickHouse row(s) and its share of an hour delta (which takes its latencies over). */
  private encodeCell(cell: MinuteCell, out: EncodeOutput): void {
    this.sealedKeys--;
    if (this.clickhouse !== null) {
      if (fitsDateTime(cell.minute)) {
        const h = this.scratch;
        h.reset();
        recordLatencies(h, cell.latencies);
        for (const row of clickhouseRows(cell, h, () => this.nextRowId(), this.receiverId, out.flushedAt)) out.rows.push(row);
        out.rowRequests += cell.requests;
        if (cell.openedAt < out.oldestOpenedAt) out.oldestOpenedAt = cell.openedAt;
      } else {
        out.unwritable++;
        out.unwritableRequests += cell.requests;
      }
    }
    out.hours.addCell(cell);
  }

  private deliver(out: EncodeOutput): void {
    this.postgres.enqueue(out.hours);
    if (this.clickhouse !== null) {
      this.clickhouse.enqueue(out.rows, out.rowRequests, out.oldestOpenedAt);
      this.clickhouse.discard(out.unwritable, out.unwritableRequests, 'minute outside the years ClickHouse DateTime holds (1970-2106)');
    }
  }

  private nextRowId(): string {
    return `${this.receiverId}-${(this.rowSeq++).toString(36)}`;
  }
}

interface EncodeOutput {
  hours: HourDeltas;
  rows: ClickhouseRow[];
  rowRequests: number;
  oldestOpenedAt: number;
  unwritable: number;
  unwritableRequests: number;
  flushedAt: string;
}
