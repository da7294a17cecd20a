import { join } from 'node:path';
import type pg from 'pg';
import { Piscina } from 'piscina';
import { ApiKeyCache } from './api-keys/index.js';
import type { Config } from './config.js';
import { createPool, ensureMonthlyPartitions, openDatabase, PostgresHealth, type EmbeddedDatabase } from './database/index.js';
import { Lifecycle, type LifecycleStep } from './lifecycle.js';
import type { Logger } from './logger.js';
import { MetricsSampler } from './metrics-sampler.js';
import { createMetrics, type Metrics } from './metrics.js';
import { AgentRegistry, IngestPipeline, SpoolReplayer } from './pipeline/index.js';
import type { TaskInput, TaskOutput, WorkerSettings } from './pipeline/worker/index.js';
import { RingBuffer } from './ring/index.js';
import { RollupService } from './rollups/index.js';
import { IngestRoute, RateLimiter, startHttpServer, type Exchange, type HttpServer } from './server/index.js';
import { PostgresCopySink, type InsertedGroup } from './sinks/postgres/index.js';
import { Spool } from './sinks/spool/index.js';

export interface RunningReceiver {
  port: number;
  metrics: Metrics;
  isReady(): boolean;
  /** Graceful stop: refuse new work, answer what is in flight (up to the deadline), close. */
  stop(): Promise<void>;
}

const WORKER_FILE = new URL('../workers/ingest-worker.js', import.meta.url);
const PARTITION_CHECK_MS = 60 * 60 * 1000;

/**
 * Wires the receiver's components and starts them in one ordered list (src/lifecycle.ts):
 * each step builds and starts one component from those before it, and stopping runs the
 * list backwards, from the HTTP listener down to the database. A start that fails stops
 * what had started.
 */
export async function startReceiver(config: Config, log: Logger): Promise<RunningReceiver> {
  const metrics = createMetrics();
  const lifecycle = new Lifecycle(log);
  let stopping = false;

  let url!: string;
  let embedded: EmbeddedDatabase | null = null;
  let pool!: pg.Pool;
  let ring!: RingBuffer;
  let workers!: Piscina<TaskInput, TaskOutput>;
  let spool: Spool | null = null;
  let spoolFull = false;
  let health!: PostgresHealth;
  let apiKeys!: ApiKeyCache;
  let agents!: AgentRegistry;
  let rollups: RollupService | null = null;
  let sink!: PostgresCopySink;
  let replayer: SpoolReplayer | null = null;
  let pipeline!: IngestPipeline<Exchange>;
  let route: IngestRoute | null = null;
  let partitionTimer: NodeJS.Timeout | null = null;
  let server!: HttpServer;

  /** The spool has room again once a tenth of it has drained. */
  const spoolHasRoom = () => {
    if (spool === null) return false;
    if (spoolFull && spool.stats().bytes < config.spoolMaxBytes * 0.9) spoolFull = false;
    return !spoolFull;
  };
  // A 2xx is honest while PostgreSQL takes writes, or while the spool can take them instead.
  const isReady = () => !stopping && (health.isUp || spoolHasRoom());
  const recordInserted = (groups: InsertedGroup[]) => rollups?.record(groups);

  const steps: LifecycleStep[] = [
    {
      name: 'database',
      start: async () => ({ url, embedded } = await openDatabase(config, log, 'serve')),
      stop: () => embedded?.stop(),
    },
    {
      name: 'postgres pool',
      // Two connections beyond the COPY slots, so replay, rollups and upkeep never wait behind ingest.
      start: () => void (pool = createPool(url, config.pgPoolSize + 2, log.child({ component: 'postgres' }))),
      stop: () => pool.end(),
    },
    {
      name: 'worker threads',
      start: () => {
        ring = RingBuffer.create(config.ringBytes);
        metrics.ringCapacityBytes.set(ring.capacity);
        const settings: WorkerSettings = { ring: ring.buffer, maxDecodedBytes: config.maxDecodedBytes, maxEvents: config.maxEvents, rollups: config.rollups };
        workers = new Piscina<TaskInput, TaskOutput>({
          filename: WORKER_FILE.href,
          minThreads: config.workers,
          maxThreads: config.workers,
          idleTimeout: Number.MAX_SAFE_INTEGER,
          workerData: settings,
        });
      },
      stop: () => workers.destroy(),
    },
    {
      name: 'spool',
      start: async () => {
        if (config.spoolMaxBytes <= 0) return;
        const options = { dir: join(config.dataDir, 'spool'), maxBytes: config.spoolMaxBytes, segmentBytes: config.spoolSegmentBytes };
        spool = await Spool.open(options, log.child({ component: 'spool' }));
      },
      stop: () => spool?.close(),
    },
    {
      name: 'postgres health',
      start: () => {
        health = new PostgresHealth(pool, log.child({ component: 'postgres' }), (up) => {
          metrics.postgresUp.set(up ? 1 : 0);
          if (up) replayer?.kick();
        });
        metrics.postgresUp.set(1);
      },
      stop: () => health.stop(),
    },
    {
      name: 'api keys',
      start: () => (apiKeys = new ApiKeyCache(pool, url, config.apiKeyCacheMs, log.child({ component: 'api-keys' }))).start(),
      stop: () => apiKeys.stop(),
    },
    {
      name: 'agent registry',
      start: () => (agents = new AgentRegistry(pool, log.child({ component: 'agents' }))).start(5000),
      stop: () => agents.stop(),
    },
    {
      name: 'rollups',
      start: async () => {
        if (!config.rollups) return;
        const options = { flushIntervalMs: config.rollupFlushMs, clickhouseUrl: config.clickhouseUrl, clickhouseSpoolDir: join(config.dataDir, 'rollup-spool') };
        rollups = new RollupService(pool, options, log.child({ component: 'rollups' }));
        await rollups.start();
      },
      stop: () => rollups?.stop(),
    },
    {
      name: 'spool replay',
      start: () => {
        sink = new PostgresCopySink(pool, rollups !== null);
        if (spool === null) return;
        replayer = new SpoolReplayer(spool, sink, () => health.isUp, recordInserted, (err) => health.markDown(err), log.child({ component: 'spool' }));
        replayer.start();
      },
      stop: () => replayer?.stop(),
    },
    {
      name: 'pipeline',
      // The route and the pipeline answer each other: the route hands requests in, the
      // pipeline hands outcomes back through `route.answer`.
      start: () =>
        void (pipeline = new IngestPipeline<Exchange>({
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
        })),
      stop: () => drain(pipeline, spool, config.shutdownTimeoutMs, log),
    },
    {
      name: 'ingest route',
      start: () =>
        void (route = new IngestRoute({
          config,
          ring,
          pipeline,
          apiKeys,
          metrics,
          isReady,
          agentLimiter: new RateLimiter(config.agentRateLimit, config.agentRateBurst),
          keyLimiter: new RateLimiter(config.apiKeyRateLimit, config.apiKeyRateBurst),
        })),
      stop: () => route?.stop(),
    },
    {
      name: 'partition upkeep',
      start: () => {
        partitionTimer = setInterval(() => {
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
      },
      stop: () => {
        if (partitionTimer !== null) clearInterval(partitionTimer);
      },
    },
    {
      name: 'http listener',
      start: async () => {
        const sampler = new MetricsSampler({ metrics, ring, pipeline, workers, isReady, rollups, clickhouse: config.clickhouseUrl !== null, spool, replayer });
        server = await startHttpServer(config.host, config.port, {
          ingest: route as IngestRoute,
          isReady,
          retryAfterSeconds: config.retryAfterSeconds,
          metricsText: () => sampler.render(),
        });
      },
      stop: () => {
        log.info({ inFlight: pipeline.inFlight }, 'stopping: no new requests, answering those in flight');
        server.closeListener();
      },
    },
  ];

  await lifecycle.start(steps);
  log.info({ port: server.port, host: config.host, workers: config.workers, ringBytes: ring.capacity }, 'receiver ready');

  return {
    port: server.port,
    metrics,
    isReady,
    stop: async () => {
      if (stopping) return;
      stopping = true;
      await lifecycle.stop();
      log.info('stopped');
    },
  };
}

/** Waits for every request in flight to be answered; past the deadline, what still waits goes to the spool. */
async function drain(pipeline: IngestPipeline<Exchange>, spool: Spool | null, timeoutMs: number, log: Logger): Promise<void> {
  const deadline = (ms: number) => new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref());
  let drained = await Promise.race([pipeline.drained().then(() => true), deadline(timeoutMs)]);
  if (!drained && spool !== null) {
    // PostgreSQL did not take everything in time: what is still waiting goes to the spool.
    log.warn({ inFlight: pipeline.inFlight }, 'shutdown deadline passed: spooling what is still waiting');
    pipeline.spillToSpool();
    drained = await Promise.race([pipeline.drained().then(() => true), deadline(5000)]);
  }
  if (!drained) log.warn({ inFlight: pipeline.inFlight }, 'stopping with requests unanswered');
}
