import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { readBuildInfo } from './build-info.js';

/**
 * Every metric the receiver exports, with stable names and units. Label values are
 * bounded sets (endpoint, table, status, error code): never an agent id or a key.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // prom-client names these gauges *_total, which Prometheus reserves for counters
  // (promtool check metrics flags them); nodejs_active_handles and friends remain.
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(name);
  }
  const r = [registry];
  const build = readBuildInfo();
  new Gauge({
    name: 'machpay_build_info',
    help: 'Always 1; the labels name the receiver version, the Node.js version and the source commit (unknown outside an image build).',
    labelNames: ['version', 'node_version', 'commit'] as const,
    registers: r,
  })
    .labels(build.version, build.nodeVersion, build.commit)
    .set(1);
  return {
    registry,
    requests: new Counter({
      name: 'machpay_http_requests_total',
      help: 'Ingest HTTP requests answered, by endpoint and status code.',
      labelNames: ['endpoint', 'status'] as const,
      registers: r,
    }),
    requestErrors: new Counter({
      name: 'machpay_http_request_errors_total',
      help: 'Ingest requests refused as a whole, by endpoint and error code (docs/protocol.md §6).',
      labelNames: ['endpoint', 'code'] as const,
      registers: r,
    }),
    events: new Counter({
      name: 'machpay_events_total',
      help: 'Events received, by endpoint and outcome (accepted, or the per-event rejection code).',
      labelNames: ['endpoint', 'outcome'] as const,
      registers: r,
    }),
    receivedBytes: new Counter({
      name: 'machpay_http_received_bytes_total',
      help: 'Request body bytes received by the ingest endpoints, by endpoint (answered requests only).',
      labelNames: ['endpoint'] as const,
      registers: r,
    }),
    ackLatency: new Histogram({
      name: 'machpay_ack_latency_seconds',
      help: 'Time from the start of an ingest request to its response, by endpoint and status class (2xx, 4xx, 5xx).',
      labelNames: ['endpoint', 'status_class'] as const,
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    ringUsedBytes: new Gauge({ name: 'machpay_ring_used_bytes', help: 'Bytes of the request ring in use.', registers: r }),
    ringCapacityBytes: new Gauge({ name: 'machpay_ring_capacity_bytes', help: 'Size of the request ring.', registers: r }),
    requestsInFlight: new Gauge({ name: 'machpay_requests_in_flight', help: 'Ingest requests received and not yet answered.', registers: r }),
    eventsAcknowledged: new Counter({
      name: 'machpay_events_acknowledged_total',
      help: 'Accepted events acknowledged with 202 (committed in PostgreSQL or fsynced to the spool), by event type (duplicates included).',
      labelNames: ['type'] as const,
      registers: r,
    }),
    workerTasks: new Counter({ name: 'machpay_worker_tasks_total', help: 'Tasks run by the worker pool.', registers: r }),
    workerTaskFailures: new Counter({ name: 'machpay_worker_task_failures_total', help: 'Worker tasks that threw or whose worker died.', registers: r }),
    workerUtilization: new Gauge({ name: 'machpay_worker_utilization_ratio', help: 'Share of time the worker threads were busy (Piscina utilization).', registers: r }),
    workerThreads: new Gauge({ name: 'machpay_worker_threads', help: 'Worker threads running.', registers: r }),
    workerTasksInFlight: new Gauge({ name: 'machpay_worker_tasks_in_flight', help: 'Tasks handed to workers and not yet returned.', registers: r }),
    workerTaskRequests: new Histogram({
      name: 'machpay_worker_task_requests',
      help: 'Requests handed to a worker in one task.',
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers: r,
    }),
    workerQueue: new Gauge({ name: 'machpay_worker_queue_requests', help: 'Received requests waiting for a worker.', registers: r }),
    copyRows: new Counter({
      name: 'machpay_copy_rows_total',
      help: 'Rows sent to PostgreSQL with COPY, by table (duplicates included, then skipped on insert).',
      labelNames: ['table'] as const,
      registers: r,
    }),
    copyBatches: new Counter({
      name: 'machpay_copy_batches_total',
      help: 'COPY transactions, by outcome (committed, committed_after_duplicate: redone through staging, committed_refusing_some: split by request after PostgreSQL refused a row, those requests answered 422, unavailable, permanent).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    copyDuration: new Histogram({
      name: 'machpay_copy_batch_duration_seconds',
      help: 'Duration of one COPY transaction, commit included.',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    copyPendingRows: new Gauge({ name: 'machpay_copy_pending_rows', help: 'Rows waiting for a COPY transaction.', registers: r }),
    postgresUp: new Gauge({ name: 'machpay_postgres_up', help: '1 while PostgreSQL accepts writes, else 0.', registers: r }),
    clickhouseUp: new Gauge({ name: 'machpay_clickhouse_up', help: '1 while ClickHouse takes rollups, 0 when not (absent when CLICKHOUSE_URL is unset).', registers: r }),
    spoolAppends: new Counter({
      name: 'machpay_spool_appends_total',
      help: 'Batches offered to the local spool, by outcome (ok, full, error).',
      labelNames: ['outcome'] as const,
      registers: r,
    }),
    spoolBytes: new Gauge({ name: 'machpay_spool_bytes', help: 'Bytes on disk in the local spool.', registers: r }),
    spoolCapacityBytes: new Gauge({ name: 'machpay_spool_capacity_bytes', help: 'Bound of the local spool (SPOOL_MAX_BYTES); an append past it is refused (absent without a spool).', registers: r }),
    spoolRecords: new Gauge({ name: 'machpay_spool_records', help: 'Batches in the local spool waiting for PostgreSQL.', registers: r }),
    spoolReplayLag: new Gauge({ name: 'machpay_spool_replay_lag_seconds', help: 'Age of the oldest batch waiting in the spool (0 when empty).', registers: r }),
    spoolReplayed: new Counter({ name: 'machpay_spool_replayed_batches_total', help: 'Spooled batches replayed into PostgreSQL.', registers: r }),
    rollupRows: new Counter({
      name: 'machpay_rollup_rows_written_total',
      help: 'Rollup rows written, by destination (postgres: pending tallies folded into the minute, hour and day tables; clickhouse: rollup_minute rows sent from the outbox).',
      labelNames: ['destination'] as const,
      registers: r,
    }),
    rollupFlushFailures: new Counter({
      name: 'machpay_rollup_flush_failures_total',
      help: 'Failed rollup rounds (each rolled back and retried with backoff), by destination (postgres: fold rounds; clickhouse: outbox sends).',
      labelNames: ['destination'] as const,
      registers: r,
    }),
    rollupClickhouseParked: new Counter({
      name: 'machpay_rollup_clickhouse_rows_parked_total',
      help: 'rollup_minute rows ClickHouse refused, parked in its rollup_minute_rejected table so the outbox moves on (any is worth a look: the rows are not counted in rollup_minute).',
      registers: r,
    }),
    rollupFoldRounds: new Counter({ name: 'machpay_rollup_fold_rounds_total', help: 'Fold rounds this receiver ran (each one transaction).', registers: r }),
    rollupFoldedRequests: new Counter({ name: 'machpay_rollup_folded_requests_total', help: 'Requests (interactions and gateway calls) this receiver folded into the rollup tables.', registers: r }),
    rollupFlushLag: new Gauge({ name: 'machpay_rollup_flush_lag_seconds', help: 'Age of the oldest tally not yet folded (any receiver\'s), at the end of the last fold round; 0 when none waits.', registers: r }),
    retentionRuns: new Counter({ name: 'machpay_retention_runs_total', help: 'Retention runs this receiver finished (docs/read-api.md §7), with the partition check.', registers: r }),
    retentionFailures: new Counter({ name: 'machpay_retention_failures_total', help: 'Retention runs that stopped on an error (a lock not granted within PG_DDL_LOCK_TIMEOUT_MS among them); the next check tries again.', registers: r }),
    retentionPartitionsDropped: new Counter({
      name: 'machpay_retention_partitions_dropped_total',
      help: 'Monthly partitions retention dropped, by table.',
      labelNames: ['table'] as const,
      registers: r,
    }),
    retentionRowsDeleted: new Counter({
      name: 'machpay_retention_rows_deleted_total',
      help: 'Rows retention deleted in batches, by table (rollup buckets, gateway_telemetry, the default partitions\' old rows, agent_interaction_keys, refused_rows, agent_alerts, webhook_deliveries and webhooks).',
      labelNames: ['table'] as const,
      registers: r,
    }),
    refusedRows: new Gauge({
      name: 'machpay_refused_rows',
      help: 'Rows PostgreSQL refused during a spool replay, kept in refused_rows for an operator (docs/read-api.md §7), as the last retention check counted them (hourly); any is worth a look.',
      registers: r,
    }),
    refusedRowsOldestAge: new Gauge({
      name: 'machpay_refused_rows_oldest_age_seconds',
      help: 'Age of the oldest row in refused_rows at the last retention check; 0 when there is none. Rows go after RETENTION_REFUSED_ROWS_DAYS.',
      registers: r,
    }),
    ready: new Gauge({ name: 'machpay_ready', help: '1 while /readyz answers 200.', registers: r }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Advances counters that mirror a component's own running totals (read at scrape time):
 * each call adds what the total grew by since the previous one.
 */
export class CounterMirror {
  private readonly last = new Map<string, number>();

  advance(counter: Counter<string>, total: number, labels: Record<string, string> = {}): void {
    const key = (counter as unknown as { name: string }).name + JSON.stringify(labels);
    const delta = total - (this.last.get(key) ?? 0);
    this.last.set(key, total);
    // Incrementing by 0 still exports the series, so "no failures" reads 0 rather than absent.
    counter.inc(labels, Math.max(0, delta));
  }
}
