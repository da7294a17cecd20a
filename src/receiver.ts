import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { Piscina } from 'piscina';
import { AlertEvaluator, registerAlertMetrics, registerAlertRoutes } from './alerts/index.js';
import { ApiKeyCache } from './api-keys/index.js';
import { corsOriginList, type Config } from './config.js';
import { consoleAssetsDir, registerConsoleRoutes } from './console/index.js';
import { createPool, endPool, ensureMonthlyPartitions, openDatabase, PostgresHealth, readiness, sessionSettings, type EmbeddedDatabase } from './database/index.js';
import { Lifecycle, type LifecycleStep } from './lifecycle.js';
import type { Logger } from './logger.js';
import { MetricsSampler } from './metrics-sampler.js';
import { createMetrics, type Metrics } from './metrics.js';
import { registerOutboxLagMetrics } from './observability/index.js';
import { AgentRegistry, IngestPipeline, SpoolReplayer } from './pipeline/index.js';
import type { TaskInput, TaskOutput, WorkerSettings } from './pipeline/worker/index.js';
import { RingBuffer } from './ring/index.js';
import { DEFAULT_ALERT_SETTINGS, registerReadRoutes, ScopedKeyCache, type AlertDefaults } from './read/index.js';
import { RetentionJob, type RetentionPolicy } from './retention/index.js';
import { ClickhouseOutboxSender, ClickhouseRollupSink, TallyFolderThread } from './rollups/index.js';
import { IngestRoute, RateLimiter, startHttpServer, type Exchange, type HttpServer, type RouteRegistration } from './server/index.js';
import { PostgresCopySink } from './sinks/postgres/index.js';
import { Spool, SpoolLock, spoolLocation } from './sinks/spool/index.js';
import { registerStreamMetrics, registerStreamRoutes, type StreamRoutes } from './stream/index.js';
import { streamSecret } from './stream-secret.js';
import { registerWebhookMetrics, registerWebhookRoutes, WebhookDispatcher, webhookDispatcherConfig, type WebhookAuthenticator } from './webhooks/index.js';

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
 * How long a pool may wait at stop for its checked-out connections; then their sockets are
 * destroyed (src/database/pool.ts endPool). The step's own deadline leaves it a margin.
 */
const POOL_END_TIMEOUT_MS = 1500;
const POOL_STEP_STOP_MS = POOL_END_TIMEOUT_MS + 500;
/** How long what the shutdown deadline spilled may take to be spooled and answered. */
const SPILL_TIMEOUT_MS = 5000;
/** The rollup folder's last round and the ClickHouse sender's last send, together. */
const ROLLUPS_STOP_MS = 5000;

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
  let spoolLock: SpoolLock | null = null;
  let spoolFull = false;
  let health!: PostgresHealth;
  let apiKeys!: ApiKeyCache;
  let keyPool!: pg.Pool;
  let agents!: AgentRegistry;
  let readPool!: pg.Pool;
  let webhookPool!: pg.Pool;
  let dispatcher!: WebhookDispatcher;
  let alerts!: AlertEvaluator;
  let folder: TallyFolderThread | null = null;
  let clickhouseSink: ClickhouseRollupSink | null = null;
  let clickhouse: ClickhouseOutboxSender | null = null;
  let secret!: Buffer;
  let stream: StreamRoutes | null = null;
  let sink!: PostgresCopySink;
  let replayer: SpoolReplayer | null = null;
  let pipeline!: IngestPipeline<Exchange>;
  let route: IngestRoute | null = null;
  let partitionTimer: NodeJS.Timeout | null = null;
  let server!: HttpServer;

  // Every connection of every pool carries these limits (src/database/session-settings.ts).
  const pgSettings = sessionSettings({
    statementTimeoutMs: config.pgStatementTimeoutMs,
    queryTimeoutMs: config.pgQueryTimeoutMs,
    idleInTransactionTimeoutMs: config.pgIdleInTransactionTimeoutMs,
    connectTimeoutMs: config.pgConnectTimeoutMs,
    keepAliveInitialDelayMs: config.pgKeepaliveDelayMs,
    ddlLockTimeoutMs: config.pgDdlLockTimeoutMs,
  });
  const retentionPolicy: RetentionPolicy = {
    agentTelemetryDays: config.retentionAgentTelemetryDays,
    agentInteractionsDays: config.retentionAgentInteractionsDays,
    gatewayTelemetryDays: config.retentionGatewayTelemetryDays,
    rollupDays: config.retentionRollupDays,
    minuteRollupDays: config.retentionMinuteRollupDays,
    refusedRowsDays: config.retentionRefusedRowsDays,
    webhookHistoryDays: config.retentionWebhookHistoryDays,
    resolvedAlertsDays: config.retentionResolvedAlertsDays,
  };
  const retention = new RetentionJob(
    {
      policy: retentionPolicy,
      lockTimeoutMs: pgSettings.ddlLockTimeoutMs,
      statementTimeoutMs: pgSettings.ddlStatementTimeoutMs,
      batchRows: config.retentionBatchRows,
      maxRunMs: config.retentionMaxRunMs,
    },
    log.child({ component: 'retention' }),
  );

  /** The spool has room again once a tenth of it has drained. */
  const spoolHasRoom = () => {
    if (spool === null) return false;
    if (spoolFull && spool.stats().bytes < config.spoolMaxBytes * 0.9) spoolFull = false;
    return !spoolFull;
  };
  // A 2xx is honest while PostgreSQL takes writes, or while the spool can take them instead.
  const readinessNow = () =>
    readiness({
      stopping,
      postgres: health,
      pool,
      spool: spool === null ? null : { ...spool.stats(), full: !spoolHasRoom(), failed: spool.failed, maxBytes: config.spoolMaxBytes },
    });
  const isReady = () => readinessNow().ready;
  // Built once: the pipeline calls these after every commit, so they must not allocate.
  const agentCommitted = (agentId: string) => alerts.touch(agentId);
  const committed = () => stream?.notifier.committed();
  const defaults = alertDefaults(config);

  /** The read side's routes, registered by the HTTP server before its catch-all. */
  const readSideRoutes = (): RouteRegistration[] => {
    const timestampWindowMs = config.timestampWindowSeconds * 1000;
    const keys = new ScopedKeyCache(readPool, config.apiKeyCacheMs);
    const authenticate: WebhookAuthenticator = async (headers) => {
      const key = await keys.resolve(headers.authorization ?? '');
      return key === null ? { status: 401, code: 'invalid_api_key', message: 'The API key is missing, unknown or revoked.' } : { tenantId: key.tenantId, scopes: [...key.scopes] };
    };
    const routes: RouteRegistration[] = [
      // Settings changed, an agent linked or unlinked: its alerts are evaluated again.
      (app) => registerReadRoutes(app, { pool: readPool, log, defaults, timestampWindowMs, keyCacheTtlMs: config.apiKeyCacheMs, onAgentChanged: agentCommitted, retention: retentionPolicy }).routes,
      (app) => registerWebhookRoutes(app, { pool: readPool, authenticate, allowPrivateUrls: config.webhookAllowPrivateUrls, log }).routes,
      (app) => registerAlertRoutes(app, { pool: readPool, log, timestampWindowMs, keyCacheTtlMs: config.apiKeyCacheMs }).routes,
      (app) => {
        stream = registerStreamRoutes(app, {
          pool: readPool,
          log,
          secret,
          timestampWindowMs,
          keyCacheTtlMs: config.apiKeyCacheMs,
          resumeWindowMs: config.streamResumeWindowMs,
          heartbeatMs: config.streamHeartbeatMs,
          pollIntervalMs: config.streamPollIntervalMs,
          maxQueuedBytes: config.streamSubscriberBufferBytes,
        });
        return stream.routes;
      },
    ];
    const consoleDir = consoleAssetsDir();
    if (existsSync(join(consoleDir, 'index.html'))) routes.push((app) => registerConsoleRoutes(app, { dir: consoleDir }).routes);
    else log.warn({ dir: consoleDir }, 'the console is not built (npm run build); /console/ is not served');
    return routes;
  };

  const steps: LifecycleStep[] = [
    {
      name: 'database',
      start: async () => ({ url, embedded } = await openDatabase(config, log, 'serve')),
      stop: () => embedded?.stop(),
    },
    {
      name: 'postgres pool',
      // Three connections beyond the COPY slots, so replay, the rollups' ClickHouse outbox
      // and upkeep never wait behind ingest (the rollup folder has connections of its own).
      start: () => void (pool = createPool(url, config.pgPoolSize + 3, log.child({ component: 'postgres' }), pgSettings)),
      stop: () => endPool(pool, POOL_END_TIMEOUT_MS),
      stopTimeoutMs: POOL_STEP_STOP_MS,
    },
    {
      name: 'read pool',
      // Reads (read API, stream, alerts) on their own connections: a slow query never holds a COPY slot.
      start: () => void (readPool = createPool(url, config.readPoolSize, log.child({ component: 'postgres-read' }), pgSettings)),
      stop: () => endPool(readPool, POOL_END_TIMEOUT_MS),
      stopTimeoutMs: POOL_STEP_STOP_MS,
    },
    {
      name: 'worker threads',
      start: () => {
        ring = RingBuffer.create(config.ringBytes);
        metrics.ringCapacityBytes.set(ring.capacity);
        const settings: WorkerSettings = {
          ring: ring.buffer,
          maxDecodedBytes: config.maxDecodedBytes,
          maxEvents: config.maxEvents,
          rollups: config.rollups,
          eventTimeLimits: { maxAgeMs: config.eventMaxAgeSeconds * 1000, maxFutureMs: config.eventMaxFutureSeconds * 1000 },
        };
        workers = new Piscina<TaskInput, TaskOutput>({
          filename: WORKER_FILE.href,
          minThreads: config.workers,
          maxThreads: config.workers,
          idleTimeout: Number.MAX_SAFE_INTEGER,
          workerData: settings,
          ...(config.workerYoungGenerationMb > 0 ? { resourceLimits: { maxYoungGenerationSizeMb: config.workerYoungGenerationMb } } : {}),
        });
      },
      stop: () => workers.destroy(),
    },
    {
      name: 'spool',
      start: async () => {
        if (config.spoolMaxBytes <= 0) return;
        // The lock keeps `spool replay` off this spool while the receiver serves from it.
        const where = spoolLocation(config.dataDir);
        spoolLock = await SpoolLock.acquire(where.lockFile, 'receiver');
        const options = { dir: where.dir, maxBytes: config.spoolMaxBytes, segmentBytes: config.spoolSegmentBytes };
        spool = await Spool.open(options, log.child({ component: 'spool' })).catch(async (err: unknown) => {
          await spoolLock?.release();
          throw err;
        });
      },
      stop: async () => {
        await spool?.close();
        await spoolLock?.release();
      },
    },
    {
      name: 'postgres health',
      start: () => {
        health = new PostgresHealth(
          pool,
          log.child({ component: 'postgres' }),
          (up) => {
            metrics.postgresUp.set(up ? 1 : 0);
            if (up) replayer?.kick();
          },
          { probeTimeoutMs: config.pgHealthProbeTimeoutMs },
        );
        health.alsoCloses(readPool);
        metrics.postgresUp.set(1);
      },
      stop: () => health.stop(),
    },
    {
      name: 'api keys',
      // Its own two connections: a flood of unknown keys never queries on the COPY slots.
      start: () => {
        keyPool = createPool(url, 2, log.child({ component: 'postgres-keys' }), pgSettings);
        health.alsoCloses(keyPool);
        return (apiKeys = new ApiKeyCache(keyPool, url, config.apiKeyCacheMs, log.child({ component: 'api-keys' }), { concurrentLookups: 2 })).start();
      },
      stop: async () => {
        await apiKeys.stop();
        await endPool(keyPool, POOL_END_TIMEOUT_MS);
      },
      stopTimeoutMs: POOL_STEP_STOP_MS,
    },
    {
      name: 'agent registry',
      start: () => (agents = new AgentRegistry(pool, log.child({ component: 'agents' }))).start(5000),
      stop: () => agents.stop(),
    },
    {
      name: 'webhook dispatcher',
      start: () => {
        webhookPool = createPool(url, config.webhookPoolSize, log.child({ component: 'postgres-webhooks' }), pgSettings);
        health.alsoCloses(webhookPool);
        dispatcher = new WebhookDispatcher({ pool: webhookPool, config: webhookConfig(config), log: log.child({ component: 'webhooks' }), metrics: registerWebhookMetrics(metrics.registry) });
        dispatcher.start();
      },
      stop: async () => {
        await dispatcher.stop();
        await endPool(webhookPool, POOL_END_TIMEOUT_MS);
      },
      stopTimeoutMs: POOL_STEP_STOP_MS,
    },
    {
      name: 'alerts',
      start: () => {
        alerts = new AlertEvaluator({
          pool: readPool,
          log,
          defaults,
          wakeWebhooks: () => dispatcher.wake(),
          // Each change appended its `alert` event: this receiver's stream reads it at once.
          onChange: committed,
          metrics: registerAlertMetrics(metrics.registry),
          options: { sweepIntervalMs: config.alertSweepIntervalMs, debounceMs: config.alertDebounceMs },
        });
        alerts.start();
      },
      stop: () => alerts.stop(),
    },
    {
      name: 'stream secret',
      start: async () => {
        secret = await streamSecret(config, log.child({ component: 'stream' }));
        registerStreamMetrics(metrics.registry, () => stream?.stats() ?? null);
      },
      stop: () => undefined,
    },
    {
      // Listed before the pipeline so that it stops after the pipeline's last commit: the
      // folder's last round takes what this receiver's final batches tallied.
      name: 'rollups',
      start: async () => {
        if (!config.rollups) return;
        // ClickHouse rows get their ids when they are folded, so every receiver must put
        // them in the outbox: any receiver may fold any tally.
        const receiverId = config.clickhouseUrl === null ? null : randomReceiverId();
        // In a thread of its own, with its own connections: folding never holds the event loop that answers HTTP.
        folder = new TallyFolderThread(
          { url, pgSettings, folder: { intervalMs: config.rollupFoldIntervalMs, clickhouseReceiverId: receiverId } },
          log.child({ component: 'rollup-folder' }),
        );
        await folder.start();
        health.alsoCloses(folder);
        if (config.clickhouseUrl !== null) {
          clickhouseSink = new ClickhouseRollupSink(config.clickhouseUrl, 'default', 10_000, {
            cluster: config.clickhouseCluster,
            replicated: config.clickhouseReplicated,
            retentionDays: config.clickhouseRetentionDays,
          });
          clickhouse = new ClickhouseOutboxSender(pool, clickhouseSink, { intervalMs: config.rollupFoldIntervalMs }, log.child({ component: 'rollup-clickhouse' }));
          clickhouse.start();
        }
      },
      // The folder and the ClickHouse sender stop side by side under one deadline: a round
      // cut short leaves its rows pending (or in the outbox) for the next round of any receiver.
      stop: async () => {
        const sender = async () => {
          await clickhouse?.stop();
          await clickhouseSink?.close();
        };
        // With PostgreSQL down, a last round would only wait for its connection timeout.
        await Promise.all([folder?.stop(health.isUp), sender()]);
      },
      stopTimeoutMs: ROLLUPS_STOP_MS,
    },
    {
      name: 'spool replay',
      start: () => {
        sink = new PostgresCopySink(pool, folder !== null);
        if (spool === null) return;
        replayer = new SpoolReplayer(spool, sink, () => health.isUp, (err) => health.markDown(err), log.child({ component: 'spool' }), {
          committed,
          // A replayed batch does not say which agents it holds: every linked agent is looked at once per pass.
          passReplayed: () => alerts.evaluateAll(),
        });
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
          onAgentCommitted: agentCommitted,
          onCommitted: committed,
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
      // drain() bounds itself: the deadline, then the spill's.
      stopTimeoutMs: config.shutdownTimeoutMs + SPILL_TIMEOUT_MS + 1000,
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
      // The monthly partitions, then retention (docs/read-api.md §7): now, then every hour.
      start: () => {
        const upkeep = () =>
          pool
            .connect()
            .then(async (client) => {
              try {
                await ensureMonthlyPartitions(client, new Date(), pgSettings);
                await retention.run(client);
              } finally {
                client.release();
              }
            })
            .catch((err: Error) => log.warn({ err: err.message }, 'partition maintenance failed; retrying in an hour'));
        void upkeep();
        partitionTimer = setInterval(upkeep, PARTITION_CHECK_MS);
        partitionTimer.unref();
      },
      stop: () => {
        if (partitionTimer !== null) clearInterval(partitionTimer);
        retention.stop();
      },
    },
    {
      name: 'http listener',
      start: async () => {
        const sampler = new MetricsSampler({ metrics, ring, pipeline, workers, isReady, folder, clickhouse, spool, replayer, retention });
        // Read at scrape time on the read pool, never on the COPY slots.
        if (clickhouse !== null) registerOutboxLagMetrics(metrics.registry, readPool);
        try {
          server = await startHttpServer(config.host, config.port, {
            ingest: route as IngestRoute,
            readiness: readinessNow,
            retryAfterSeconds: config.retryAfterSeconds,
            metricsText: () => sampler.render(),
            routes: readSideRoutes(),
            corsOrigins: corsOriginList(config.corsOrigins),
          });
        } catch (err) {
          // The stream registers (and starts reading) with the routes: a listener that then
          // fails to start must not leave it running.
          await stream?.close();
          throw err;
        }
      },
      stop: async () => {
        log.info({ inFlight: pipeline.inFlight }, 'stopping: no new requests, answering those in flight');
        server.closeListener();
        // Open streams end now; their clients resume on another receiver with their last id.
        await stream?.close();
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
    drained = await Promise.race([pipeline.drained().then(() => true), deadline(SPILL_TIMEOUT_MS)]);
  }
  if (!drained) log.warn({ inFlight: pipeline.inFlight }, 'stopping with requests unanswered');
}

/** The alert defaults of agents without their own settings (docs/read-api.md §5). */
function alertDefaults(config: Config): AlertDefaults {
  return Object.freeze({
    ...DEFAULT_ALERT_SETTINGS,
    lowBalanceThresholdAtomic: BigInt(config.alertLowBalanceThresholdAtomic),
    runwayAlertHours: config.alertRunwayHours,
    dailySpendLimitAtomic: BigInt(config.alertDailySpendLimitAtomic),
    errorRateThreshold: config.alertErrorRateThreshold,
    errorRateMinRequests: config.alertErrorRateMinRequests,
    alertsEnabled: config.alertsEnabledDefault,
  });
}

function webhookConfig(config: Config) {
  return webhookDispatcherConfig({
    timeoutMs: config.webhookTimeoutMs,
    concurrency: config.webhookConcurrency,
    concurrencyPerWebhook: config.webhookConcurrencyPerEndpoint,
    pollIntervalMs: config.webhookPollIntervalMs,
    retryBaseMs: config.webhookRetryBaseMs,
    retryCapMs: config.webhookRetryCapMs,
    retryWindowMs: config.webhookRetryWindowMs,
    claimLeaseMs: config.webhookClaimLeaseMs,
    allowPrivateUrls: config.webhookAllowPrivateUrls,
  });
}

function randomReceiverId(): string {
  return randomBytes(6).toString('hex');
}
