import type { Piscina } from 'piscina';
import { CounterMirror, type Metrics } from './metrics.js';
import type { IngestPipeline, SpoolReplayer, Ticket } from './pipeline/index.js';
import type { RingBuffer } from './ring/index.js';
import type { RollupService } from './rollups/index.js';
import type { Spool } from './sinks/spool/index.js';

export interface SampledComponents {
  metrics: Metrics;
  ring: RingBuffer;
  pipeline: IngestPipeline<Ticket>;
  workers: Piscina;
  isReady(): boolean;
  rollups: RollupService | null;
  /** Whether the rollups write to ClickHouse (else its metrics are not exported at all). */
  clickhouse: boolean;
  spool: Spool | null;
  replayer: SpoolReplayer | null;
}

/**
 * The gauges and mirrored counters whose values live in other components: read from them
 * when /metrics is scraped, so no component pays for a metric between scrapes.
 */
export class MetricsSampler {
  private readonly mirror = new CounterMirror();

  constructor(private readonly c: SampledComponents) {
    if (c.rollups === null || !c.clickhouse) {
      for (const name of ['machpay_clickhouse_up', 'machpay_rollup_spool_bytes', 'machpay_rollup_spool_records']) c.metrics.registry.removeSingleMetric(name);
    }
  }

  /** The exposition text, after a fresh sample. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.sample();
    const registry = this.c.metrics.registry;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  private sample(): void {
    const { metrics, ring, pipeline, workers, rollups, spool, replayer } = this.c;
    const mirror = this.mirror;
    metrics.ringUsedBytes.set(ring.usedBytes());
    metrics.requestsInFlight.set(pipeline.inFlight);
    metrics.ready.set(this.c.isReady() ? 1 : 0);
    metrics.workerUtilization.set(workers.utilization);
    metrics.workerThreads.set(workers.threads.length);
    metrics.workerTasksInFlight.set(pipeline.tasksRunning);
    if (rollups !== null) {
      const r = rollups.stats();
      if (this.c.clickhouse) metrics.clickhouseUp.set(r.clickhouseUp ? 1 : 0);
      metrics.rollupPendingRows.set(r.pendingRows);
      metrics.rollupFlushLag.set(r.lastFlushLagSeconds);
      if (r.clickhouseSpool !== null) {
        metrics.rollupSpoolBytes.set(r.clickhouseSpool.bytes);
        metrics.rollupSpoolRecords.set(r.clickhouseSpool.records);
      }
      for (const d of ['clickhouse', 'postgres'] as const) {
        const destination = { destination: d };
        mirror.advance(metrics.rollupRows, r.rowsWritten[d], destination);
        mirror.advance(metrics.rollupFlushFailures, r.flushFailures[d], destination);
        mirror.advance(metrics.rollupRowsDropped, r.rowsDropped[d], destination);
        mirror.advance(metrics.rollupRequestsDropped, r.requestsDropped[d], destination);
      }
    }
    if (spool !== null) {
      const st = spool.stats();
      metrics.spoolBytes.set(st.bytes);
      metrics.spoolRecords.set(st.records);
      metrics.spoolReplayLag.set(st.oldestAppendedAt === null ? 0 : (Date.now() - st.oldestAppendedAt) / 1000);
      mirror.advance(metrics.spoolReplayed, replayer?.replayedBatches ?? 0);
    }
  }
}
