import type { Piscina } from 'piscina';
import { CounterMirror, type Metrics } from './metrics.js';
import type { IngestPipeline, SpoolReplayer, Ticket } from './pipeline/index.js';
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
}

/**
 * The gauges and mirrored counters whose values live in other components: read from them
 * when /metrics is scraped, so no component pays for a metric between scrapes.
 */
export class MetricsSampler {
  private readonly mirror = new CounterMirror();

  constructor(private readonly c: SampledComponents) {
    if (c.clickhouse === null) c.metrics.registry.removeSingleMetric('machpay_clickhouse_up');
  }

  /** The exposition text, after a fresh sample. */
  async render(): Promise<{ contentType: string; body: string }> {
    this.sample();
    const registry = this.c.metrics.registry;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }

  private sample(): void {
    const { metrics, ring, pipeline, workers, folder, clickhouse, spool, replayer } = this.c;
    const mirror = this.mirror;
    metrics.ringUsedBytes.set(ring.usedBytes());
    metrics.requestsInFlight.set(pipeline.inFlight);
    metrics.ready.set(this.c.isReady() ? 1 : 0);
    metrics.workerUtilization.set(workers.utilization);
    metrics.workerThreads.set(workers.threads.length);
    metrics.workerTasksInFlight.set(pipeline.tasksRunning);
    if (folder !== null) {
      const f = folder.stats();
      const postgres = { destination: 'postgres' };
      mirror.advance(metrics.rollupRows, f.rowsFolded, postgres);
      mirror.advance(metrics.rollupFlushFailures, f.failures, postgres);
      mirror.advance(metrics.rollupFoldRounds, f.rounds);
      mirror.advance(metrics.rollupFoldedRequests, f.requestsFolded);
      metrics.rollupFlushLag.set(f.lagSeconds);
    }
    if (clickhouse !== null) {
      const c = clickhouse.stats();
      const destination = { destination: 'clickhouse' };
      metrics.clickhouseUp.set(c.clickhouseUp ? 1 : 0);
      mirror.advance(metrics.rollupRows, c.rowsSent, destination);
      mirror.advance(metrics.rollupFlushFailures, c.failures, destination);
      mirror.advance(metrics.rollupClickhouseParked, c.rowsParked);
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
