import type { Piscina } from 'piscina';
import { CounterMirror, type Metrics } from './metrics.js';
import { DegradingExposition } from './observability/index.js';
import type { IngestPipeline, SpoolReplayer, Ticket } from './pipeline/index.js';
import type { RetentionJob } from './retention/index.js';
import type { RingBuffer } from './ring/index.js';
import type { ClickhouseOutboxSender, TallyFolderThread } from './rollups/index.js';
import type { Spool } from './sinks/spool/index.js';

export interface SampledComponents {
  metrics: Metrics;
  ring: RingBuffer;
  pipeline: IngestPipeline<Ticket>;
  workers: Piscina;
  isReady(): boolean;
  /** Null while rollups are off. */
  folder: TallyFolderThread | null;
  /** Null without ClickHouse (its metrics are then not exported at all). */
  clickhouse: ClickhouseOutboxSender | null;
  spool: Spool | null;
  replayer: SpoolReplayer | null;
  /** Null when this process runs no partition check. */
  retention?: RetentionJob | null;
}

/**
 * The gauges and mirrored counters whose values live in other components: read from them
 * when /metrics is scraped, so no component pays for a metric between scrapes.
 */
export class MetricsSampler {
  private readonly mirror = new CounterMirror();
  private readonly exposition: DegradingExposition;

  /** `collectTimeoutMs` bounds a collector that reads PostgreSQL at scrape time. */
  constructor(
    private readonly c: SampledComponents,
    collectTimeoutMs = 2_000,
  ) {
    if (c.clickhouse === null) c.metrics.registry.removeSingleMetric('machpay_clickhouse_up');
    if (c.spool === null) c.metrics.registry.removeSingleMetric('machpay_spool_capacity_bytes');
    this.exposition = new DegradingExposition(c.metrics.registry, collectTimeoutMs);
    for (const [name] of this.samplers) this.exposition.countFailure(name, 0);
  }

  /**
   * The exposition text, after a fresh sample. Never fails: a component that cannot be
   * sampled keeps its previous values, and a collector that fails serves its previous text
   * (both counted in machpay_metrics_collect_failures_total, by component or metric).
   */
  async render(): Promise<{ contentType: string; body: string }> {
    const registry = this.c.metrics.registry;
    for (const [name, sample] of this.samplers) {
      try {
        sample();
      } catch {
        this.exposition.countFailure(name);
      }
    }
    return { contentType: registry.contentType, body: await this.exposition.render() };
  }

  /** Each component is sampled on its own: one that throws leaves the others' values fresh. */
  private readonly samplers: readonly [string, () => void][] = [
    ['ring', () => this.c.metrics.ringUsedBytes.set(this.c.ring.usedBytes())],
    ['pipeline', () => this.samplePipeline()],
    ['ready', () => this.c.metrics.ready.set(this.c.isReady() ? 1 : 0)],
    ['workers', () => this.sampleWorkers()],
    ['rollup_folder', () => this.sampleFolder()],
    ['clickhouse_outbox', () => this.sampleClickhouse()],
    ['spool', () => this.sampleSpool()],
    ['retention', () => this.sampleRetention()],
  ];

  private samplePipeline(): void {
    const { metrics, pipeline } = this.c;
    metrics.requestsInFlight.set(pipeline.inFlight);
    metrics.workerTasksInFlight.set(pipeline.tasksRunning);
  }

  private sampleWorkers(): void {
    const { metrics, workers } = this.c;
    metrics.workerUtilization.set(workers.utilization);
    metrics.workerThreads.set(workers.threads.length);
  }

  private sampleFolder(): void {
    const { metrics, folder } = this.c;
    const mirror = this.mirror;
    if (folder !== null) {
      const f = folder.stats();
      const postgres = { destination: 'postgres' };
      mirror.advance(metrics.rollupRows, f.rowsFolded, postgres);
      mirror.advance(metrics.rollupFlushFailures, f.failures, postgres);
      mirror.advance(metrics.rollupFoldRounds, f.rounds);
      mirror.advance(metrics.rollupFoldedRequests, f.requestsFolded);
      metrics.rollupFlushLag.set(f.lagSeconds);
    }
  }

  private sampleClickhouse(): void {
    const { metrics, clickhouse } = this.c;
    const mirror = this.mirror;
    if (clickhouse !== null) {
      const c = clickhouse.stats();
      const destination = { destination: 'clickhouse' };
      metrics.clickhouseUp.set(c.clickhouseUp ? 1 : 0);
      mirror.advance(metrics.rollupRows, c.rowsSent, destination);
      mirror.advance(metrics.rollupFlushFailures, c.failures, destination);
      mirror.advance(metrics.rollupClickhouseParked, c.rowsParked);
    }
  }

  private sampleRetention(): void {
    const { metrics, retention } = this.c;
    if (retention === undefined || retention === null) return;
    const st = retention.stats();
    this.mirror.advance(metrics.retentionRuns, st.runs);
    this.mirror.advance(metrics.retentionFailures, st.failures);
    for (const [table, n] of st.partitionsDropped) this.mirror.advance(metrics.retentionPartitionsDropped, n, { table });
    for (const [table, n] of st.rowsDeleted) this.mirror.advance(metrics.retentionRowsDeleted, n, { table });
    if (st.refusedRows !== null) {
      metrics.refusedRows.set(st.refusedRows.rows);
      metrics.refusedRowsOldestAge.set(st.refusedRows.oldestMs === null ? 0 : Math.max(0, Date.now() - st.refusedRows.oldestMs) / 1000);
    }
  }

  private sampleSpool(): void {
    const { metrics, spool, replayer } = this.c;
    if (spool !== null) {
      const st = spool.stats();
      metrics.spoolBytes.set(st.bytes);
      metrics.spoolCapacityBytes.set(spool.maxBytes);
      metrics.spoolRecords.set(st.records);
      metrics.spoolReplayLag.set(st.oldestAppendedAt === null ? 0 : (Date.now() - st.oldestAppendedAt) / 1000);
      this.mirror.advance(metrics.spoolReplayed, replayer?.replayedBatches ?? 0);
    }
  }
}
