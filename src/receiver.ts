import { join } from 'node:path';
import { Piscina } from 'piscina';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import { CounterMirror, createMetrics, type Metrics } from './metrics.js';
import { AgentRegistry, IngestPipeline, SpoolReplayer } from './pipeline/index.js';
import type { TaskInput, TaskOutput, WorkerSettings } from './pipeline/worker/index.js';
import { RingBuffer } from './ring/index.js';
import { RollupService } from './rollups/index.js';
import { Spool } from './sinks/spool/index.js';
import { ApiKeyCache } from './api-keys/index.js';
import { type Exchange, IngestRoute, RateLimiter, startHttpServer } from './server/index.js';
import { createPool, type EmbeddedDatabase, ensureMonthlyPartitions, openDatabase, PostgresHealth } from './database/index.js';
import { type InsertedGroup, PostgresCopySink } from './sinks/postgres/index.js';

export interface RunningReceiver {
  port: number;
  metrics: Metrics;
  isReady(): boolean;
  /** Graceful stop: refuse new work, answer what is in flight (up to the deadline), close. */
  stop(): Promise<void>;
}

const WORKER_FILE = new URL('../workers/ingest-worker.js', import.meta.url);
const PARTITION_CHECK_MS = 60 * 60 * 1000;

export async function startReceiver(config: Config, log: Logger): Promise<RunningReceiver> {
  const { url, embedded } = await openDatabase(config, log, 'serve');
  try {
    return await startServing(config, log, url, embedded);
  } catch (err) {
    await embedded?.stop().catch(() => undefined);
    throw err;
  }
}

async function startServing(config: Config, log: Logger, url: string, embedded: EmbeddedDatabase | null): Promise<RunningReceiver> {
  const metrics = createMetrics();
  // Two connections beyond the COPY slots, so replay, rollups and upkeep never wait behind ingest.
  const pool = createPool(url, config.pgPoolSize + 2, log.child({ component: 'postgres' }));
  const ring = RingBuffer.create(config.ringBytes);
  metrics.ringCapacityBytes.set(ring.capacity);
  if (config.clickhouseUrl === null || !config.rollups) {
    for (const name of ['machpay_clickhouse_up', 'machpay_rollup_spool_bytes', 'machpay_rollup_spool_records']) metrics.registry.removeSingleMetric(name);
  }
  const mirror = new CounterMirror();

  const settings: WorkerSettings = {
    ring: ring.buffer,
    maxDecodedBytes: config.maxDecodedBytes,
    maxEvents: config.maxEvents,
    rollups: config.rollups,
  };
  const workers = new Piscina<TaskInput, TaskOutput>({
    filename: WORKER_FILE.href,
    minThreads: config.workers,
    maxThreads: config.workers,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    workerData: settings,
  });

  const spool =
    config.spoolMaxBytes > 0
      ? await Spool.open(
          { dir: join(config.dataDir, 'spool'), maxBytes: config.spoolMaxBytes, segmentBytes: config.spoolSegmentBytes },
          log.child({ component: 'spool' }),
        )
      : null;
  let spoolFull = false;
  /** The spool has room again once a tenth of it has drained. */
  const spoolHasRoom = () => {
    if (spool === null) return false;
    if (spoolFull && spool.stats().bytes < config.spoolMaxBytes * 0.9) spoolFull = false;
    return !spoolFull;
  };

  let stopping = false;
  let replayer: SpoolReplayer | null = null;
  const health = new PostgresHealth(pool, log.child({ component: 'postgres' }), (up) => {
    metrics.postgresUp.set(up ? 1 : 0);
    if (up) replayer?.kick();
  });
  metrics.postgresUp.set(1);
  // A 2xx is honest while PostgreSQL takes writes, or while the spool can take them instead.
  const isReady = () => !stopping && (health.isUp || spoolHasRoom());

  const agents = new AgentRegistry(pool, log.child({ component: 'agents' }));
  agents.start(5000);
  const apiKeys = new ApiKeyCache(pool, url, config.apiKeyCacheMs, log.child({ component: 'api-keys' }));
  await apiKeys.start();

  // The route and the pipeline answer each other: the route hands requests in, the pipeline
  // hands outcomes back through `route.answer`.
  const rollups = config.rollups
    ? new RollupService(pool, { flushIntervalMs: config.rollupFlushMs, clickhouseUrl: config.clickhouseUrl, clickhouseSpoolDir: join(config.dataDir, 'rollup-spool') }, log.child({ component: 'rollups' }))
    : null;
  await rollups?.start();
  const recordInserted = (groups: InsertedGroup[]) => rollups?.record(groups);

  let route: IngestRoute | null = null;
  const sink = new PostgresCopySink(pool, rollups !== null);
  const pipeline = new IngestPipeline<Exchange>({
    ring,
    pool: workers,
    sink,
    agents,
    metrics,
    log: log.child({ component: 'pipeline' }),
    answer: (ex, status, body, code) => route?.answer(ex, status, body, code),
    onInserted: recordInserted,
    onSinkUnavailable: (err) => health.markDown(err),
    isSinkUp: () => health.isUp,
    spool,
    onSpoolFull: (full) => (spoolFull = full),
    spillPendingRows: config.spillPendingRows,
    retryAfterSeconds: config.retryAfterSeconds,
    dispatchBatchBytes: config.dispatchBatchBytes,
    workers: config.workers,
    maxTasksInFlight: config.workers * 2,
    copyBatchRows: config.copyBatchRows,
    copyConcurrency: config.pgPoolSize,
    parallelCopyRows: config.parallelCopyRows,
    parallelCopyAfterMs: config.parallelCopyAfterMs,
  });
  if (spool !== null) {
    replayer = new SpoolReplayer(spool, sink, () => health.isUp, recordInserted, (err) => health.markDown(err), log.child({ component: 'spool' }));
    replayer.start();
  }
  route = new IngestRoute({
    config,
    ring,
    pipeline,
    apiKeys,
    metrics,
    isReady,
    agentLimiter: new RateLimiter(config.agentRateLimit, config.agentRateBurst),
    keyLimiter: new RateLimiter(config.apiKeyRateLimit, config.apiKeyRateBurst),
  });

  const server = await startHttpServer(config.host, config.port, {
    ingest: route,
    isReady,
    retryAfterSeconds: config.retryAfterSeconds,
    metricsText: async () => {
      metrics.ringUsedBytes.set(ring.usedBytes());
      metrics.requestsInFlight.set(pipeline.inFlight);
      metrics.ready.set(isReady() ? 1 : 0);
      metrics.workerUtilization.set(workers.utilization);
      metrics.workerThreads.set(workers.threads.length);
      metrics.workerTasksInFlight.set(pipeline.tasksRunning);
      if (rollups !== null) {
        const r = rollups.stats();
        if (config.clickhouseUrl !== null) metrics.clickhouseUp.set(r.clickhouseUp ? 1 : 0);
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
      return { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() };
    },
  });
  const partitionTimer = setInterval(() => {
    pool
      .connect()
      .then(async (client) => {
        try {
          await ensureMonthlyPartitions(client);
        } finally {
          client.release();
        }
      })
      .catch((err: Error) => log.warn({ err: err.message }, 'partition maintenance failed; retrying in an hour'));
  }, PARTITION_CHECK_MS);
  partitionTimer.unref();
  log.info({ port: server.port, host: config.host, workers: config.workers, ringBytes: ring.capacity }, 'receiver ready');

  return {
    port: server.port,
    metrics,
    isReady,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      log.info({ inFlight: pipeline.inFlight }, 'stopping: no new requests, answering those in flight');
      server.closeListener();
      clearInterval(partitionTimer);
      const deadline = (ms: number) => new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref());
      let drained = await Promise.race([pipeline.drained().then(() => true), deadline(config.shutdownTimeoutMs)]);
      if (!drained && spool !== null) {
        // PostgreSQL did not take everything in time: what is still waiting goes to the spool.
        log.warn({ inFlight: pipeline.inFlight }, 'shutdown deadline passed: spooling what is still waiting');
        pipeline.spillToSpool();
        drained = await Promise.race([pipeline.drained().then(() => true), deadline(5000)]);
      }
      if (!drained) log.warn({ inFlight: pipeline.inFlight }, 'stopping with requests unanswered');
      await replayer?.stop();
      await rollups?.stop();
      await spool?.close();
      health.stop();
      route?.stop();
      await agents.stop();
      await apiKeys.stop();
      await workers.destroy();
      await pool.end();
      await embedded?.stop();
      log.info('stopped');
    },
  };
}
