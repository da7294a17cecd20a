import { availableParallelism } from 'node:os';
import { ConfigError } from './config-error.js';
import { AddressRanges } from './net/index.js';

/**
 * The receiver's one configuration object: defaults, then environment, then flags.
 * Every key is declared once in SPEC below with its type, default and documentation;
 * `--help` and the README table are generated from the same list.
 */

/** `decimal`: a non-negative integer of any size, kept as its decimal string (atomic amounts); `ratio`: a number from 0 to 1. */
type Kind = 'int' | 'string' | 'url' | 'enum' | 'bool' | 'decimal' | 'ratio';

interface KeySpec {
  readonly env: string;
  readonly kind: Kind;
  readonly default: string | number | boolean | null;
  readonly doc: string;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** For `string`: the fewest bytes (UTF-8) a value must have. */
  readonly minBytes?: number;
}

const MiB = 1024 * 1024;

export const SPEC = {
  port: { env: 'PORT', kind: 'int', default: 8080, min: 0, max: 65535, doc: 'TCP port of the HTTP server (0 picks a free one).' },
  host: { env: 'HOST', kind: 'string', default: '0.0.0.0', doc: 'Address the HTTP server binds.' },
  corsOrigins: {
    env: 'CORS_ORIGINS',
    kind: 'string',
    default: '',
    doc: 'Comma-separated origins (scheme://host[:port], as browsers send them) whose web pages may call the receiver: preflights are answered and responses carry Access-Control-Allow-Origin. Empty: no cross-origin access.',
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    kind: 'url',
    default: null,
    doc: 'PostgreSQL connection URL. Unset: an embedded PostgreSQL under DATA_DIR/postgres, started and stopped with the receiver.',
  },
  dataDir: { env: 'DATA_DIR', kind: 'string', default: './.data', doc: 'Directory for local state (the embedded PostgreSQL).' },
  clickhouseUrl: { env: 'CLICKHOUSE_URL', kind: 'url', default: null, doc: 'ClickHouse HTTP URL for rollups. Unset: rollups off.' },
  clickhouseCluster: {
    env: 'CLICKHOUSE_CLUSTER',
    kind: 'string',
    default: null,
    doc: 'ClickHouse cluster (a name in the servers\' remote_servers): the rollup tables are created ON CLUSTER as <table>_local, plus a Distributed table under the usual name, sharded by agent or gateway. Needs the servers\' ZooKeeper for ON CLUSTER; docs/clickhouse.md. Unset: one server.',
  },
  clickhouseReplicated: {
    env: 'CLICKHOUSE_REPLICATED',
    kind: 'bool',
    default: false,
    doc: 'Create the ClickHouse rollup tables with Replicated engines (path /clickhouse/tables/{shard}/<database>/<table>, replica {replica}: the servers\' macros and ZooKeeper must be set).',
  },
  clickhouseRetentionDays: {
    env: 'CLICKHOUSE_RETENTION_DAYS',
    kind: 'int',
    default: 0,
    min: 0,
    max: 36_500,
    doc: 'Days ClickHouse keeps rollup rows (a TTL on the table, set when the receiver creates it on ClickHouse 20.3 or later; older releases keep rows). 0: for ever.',
  },
  workers: {
    env: 'WORKERS',
    kind: 'int',
    default: Math.max(1, Math.min(4, availableParallelism() - 1)),
    min: 1,
    max: 64,
    doc: 'Worker threads that verify, decode and encode rows (default: cores - 1, 1 to 4).',
  },
  workerYoungGenerationMb: {
    env: 'WORKER_YOUNG_GENERATION_MB',
    kind: 'int',
    default: 0,
    min: 0,
    max: 1024,
    doc: "MiB of each worker thread's young V8 generation (two semi-spaces of a third each, plus new large objects). 0: V8's default, which grows it up to 48 (32 MiB resident per worker under load). A smaller one (12: at most 8 MiB resident) trades memory for more frequent scavenges.",
  },
  ringBytes: {
    env: 'RING_BYTES',
    kind: 'int',
    default: 64 * MiB,
    min: 4 * MiB,
    max: 1024 * MiB,
    doc: 'Size of the shared-memory ring holding request bodies in flight; rounded up to a power of two. Full: 429 overloaded.',
  },
  maxBodyBytes: { env: 'MAX_BODY_BYTES', kind: 'int', default: 1 * MiB, min: 1024, max: 64 * MiB, doc: 'Largest request body as transmitted (413 body_too_large).' },
  maxDecodedBytes: {
    env: 'MAX_DECODED_BYTES',
    kind: 'int',
    default: 8 * MiB,
    min: 1024,
    max: 256 * MiB,
    doc: 'Largest body after gzip decoding (413 body_too_large).',
  },
  maxEvents: { env: 'MAX_EVENTS', kind: 'int', default: 1000, min: 1, max: 100_000, doc: 'Most events in one request (413 too_many_events).' },
  timestampWindowSeconds: {
    env: 'TIMESTAMP_WINDOW_SECONDS',
    kind: 'int',
    default: 300,
    min: 1,
    max: 86_400,
    doc: 'Largest distance between X-MachPay-Timestamp and the receiver clock (401 timestamp_out_of_window).',
  },
  eventMaxAgeSeconds: {
    env: 'EVENT_MAX_AGE_SECONDS',
    kind: 'int',
    default: 35 * 86_400,
    min: 60,
    max: 3650 * 86_400,
    doc: "How far before the receiver clock an event's time (a telemetry report's period_end) may lie; older events are rejected (invalid_event).",
  },
  eventMaxFutureSeconds: {
    env: 'EVENT_MAX_FUTURE_SECONDS',
    kind: 'int',
    default: 300,
    min: 0,
    max: 86_400,
    doc: "How far after the receiver clock an event's time (a telemetry report's period_end) may lie; later events are rejected (invalid_event).",
  },
  pgPoolSize: {
    env: 'PG_POOL_SIZE',
    kind: 'int',
    default: 3,
    min: 1,
    max: 64,
    doc: 'Most COPY transactions at once (one more runs only while PARALLEL_COPY_ROWS rows wait).',
  },
  pgStatementTimeoutMs: {
    env: 'PG_STATEMENT_TIMEOUT_MS',
    kind: 'int',
    default: 30_000,
    min: 0,
    max: 3_600_000,
    doc: 'statement_timeout of the receiver\'s PostgreSQL sessions: a COPY or COMMIT running longer is cancelled and its batch spooled (a 20,000-row batch takes about 0.5 s). 0: no limit.',
  },
  pgQueryTimeoutMs: {
    env: 'PG_QUERY_TIMEOUT_MS',
    kind: 'int',
    default: 35_000,
    min: 0,
    max: 3_600_000,
    doc: 'How long the driver waits for any answer from PostgreSQL before it gives the connection up: what frees a COMMIT sent to a server that silently drops packets. Must exceed PG_STATEMENT_TIMEOUT_MS. 0: no limit.',
  },
  pgIdleInTransactionTimeoutMs: {
    env: 'PG_IDLE_IN_TRANSACTION_TIMEOUT_MS',
    kind: 'int',
    default: 60_000,
    min: 0,
    max: 3_600_000,
    doc: 'idle_in_transaction_session_timeout of the receiver\'s sessions: PostgreSQL ends a session of a frozen or cut-off receiver that holds locks. 0: no limit.',
  },
  pgConnectTimeoutMs: {
    env: 'PG_CONNECT_TIMEOUT_MS',
    kind: 'int',
    default: 5_000,
    min: 100,
    max: 600_000,
    doc: 'Time to connect and authenticate to PostgreSQL, or to wait for a free pooled connection, before the batch goes to the spool.',
  },
  pgKeepaliveDelayMs: {
    env: 'PG_KEEPALIVE_DELAY_MS',
    kind: 'int',
    default: 10_000,
    min: 1_000,
    max: 7_200_000,
    doc: 'Idle time before TCP keepalive probes start on PostgreSQL connections (probe interval and count are the kernel\'s).',
  },
  pgDdlLockTimeoutMs: {
    env: 'PG_DDL_LOCK_TIMEOUT_MS',
    kind: 'int',
    default: 5_000,
    min: 100,
    max: 600_000,
    doc: 'lock_timeout of partition upkeep: its lock request would queue every COPY behind it, so it gives up and tries again within the hour.',
  },
  pgHealthProbeTimeoutMs: {
    env: 'PG_HEALTH_PROBE_TIMEOUT_MS',
    kind: 'int',
    default: 1_500,
    min: 100,
    max: 60_000,
    doc: 'The most one readiness probe of PostgreSQL (connect and one query, every second) may take; two in a row without an answer mark it down and close its connections.',
  },
  parallelCopyRows: {
    env: 'PARALLEL_COPY_ROWS',
    kind: 'int',
    default: 2_000,
    min: 1,
    max: 10_000_000,
    doc: 'Rows waiting before a COPY transaction starts beside one in flight; below it, rows wait and join the next batch (fewer, larger commits).',
  },
  parallelCopyAfterMs: {
    env: 'PARALLEL_COPY_AFTER_MS',
    kind: 'int',
    default: 5,
    min: 0,
    max: 60_000,
    doc: 'How long a COPY transaction may run before another starts beside it whatever the batch size, so that one slow commit does not delay every request behind it.',
  },
  copyBatchRows: {
    env: 'COPY_BATCH_ROWS',
    kind: 'int',
    default: 20_000,
    min: 1,
    max: 1_000_000,
    doc: 'Most rows in one COPY transaction; batches form while earlier ones commit.',
  },
  dispatchBatchBytes: {
    env: 'DISPATCH_BATCH_BYTES',
    kind: 'int',
    default: 4 * MiB,
    min: 64 * 1024,
    max: 256 * MiB,
    doc: 'Most request bytes handed to a worker in one task.',
  },
  apiKeyCacheMs: {
    env: 'API_KEY_CACHE_MS',
    kind: 'int',
    default: 5_000,
    min: 0,
    max: 3_600_000,
    doc: 'How long a looked-up API key is trusted before it is checked again (revocations are also pushed at once).',
  },
  spoolMaxBytes: {
    env: 'SPOOL_MAX_BYTES',
    kind: 'int',
    default: 1024 * MiB,
    min: 0,
    max: 1024 * 1024 * MiB,
    doc: 'Bound of the local spool under DATA_DIR/spool, where accepted batches are fsynced while PostgreSQL is down or slow (0 = no spool: 503 instead). Full: 503 not_ready.',
  },
  spoolSegmentBytes: { env: 'SPOOL_SEGMENT_BYTES', kind: 'int', default: 16 * MiB, min: 64 * 1024, max: 1024 * MiB, doc: 'Size of one spool segment file.' },
  spillPendingRows: {
    env: 'SPILL_PENDING_ROWS',
    kind: 'int',
    default: 100_000,
    min: 1,
    max: 100_000_000,
    doc: 'Rows waiting for PostgreSQL past which new batches are acknowledged through the spool instead (PostgreSQL too slow).',
  },
  rollups: {
    env: 'ROLLUPS',
    kind: 'bool',
    default: true,
    doc: 'Keep exact rollups: every COPY transaction tallies what it stored, and each receiver folds the tallies into the minute, hour and day tables (and ClickHouse when CLICKHOUSE_URL is set). The read API and alerts read them. Off: raw rows only.',
  },
  rollupFoldIntervalMs: {
    env: 'ROLLUP_FOLD_INTERVAL_MS',
    kind: 'int',
    default: 1_000,
    min: 50,
    max: 600_000,
    doc: 'Pause between fold rounds while few tallies wait (a full round is followed by the next at once): how far the rollup tables trail the raw rows.',
  },
  readPoolSize: {
    env: 'READ_POOL_SIZE',
    kind: 'int',
    default: 4,
    min: 1,
    max: 256,
    doc: 'PostgreSQL connections of the read side (read API, stream, alerts): a pool of its own, so reads never wait behind ingest or take its COPY connections.',
  },
  retentionAgentTelemetryDays: {
    env: 'RETENTION_AGENT_TELEMETRY_DAYS',
    kind: 'int',
    default: 30,
    min: 1,
    max: 36_500,
    doc: 'Days of agent_telemetry kept: a monthly partition is dropped once all of it is older (docs/read-api.md §7).',
  },
  retentionAgentInteractionsDays: {
    env: 'RETENTION_AGENT_INTERACTIONS_DAYS',
    kind: 'int',
    default: 90,
    min: 1,
    max: 36_500,
    doc: 'Days of agent_interactions kept: a monthly partition is dropped (with its natural keys) once all of it is older.',
  },
  retentionGatewayTelemetryDays: {
    env: 'RETENTION_GATEWAY_TELEMETRY_DAYS',
    kind: 'int',
    default: 90,
    min: 1,
    max: 36_500,
    doc: 'Days of gateway_telemetry kept (deleted in batches: the table is not partitioned).',
  },
  retentionRollupDays: {
    env: 'RETENTION_ROLLUP_DAYS',
    kind: 'int',
    default: 400,
    min: 1,
    max: 36_500,
    doc: 'Days of hourly and daily rollups kept: what metrics windows longer than 2 h read.',
  },
  retentionMinuteRollupDays: {
    env: 'RETENTION_MINUTE_ROLLUP_DAYS',
    kind: 'int',
    default: 7,
    min: 1,
    max: 36_500,
    doc: 'Days of minute rollups kept: what windows of 2 h or less read; older such windows are refused (400 invalid_query).',
  },
  retentionRefusedRowsDays: {
    env: 'RETENTION_REFUSED_ROWS_DAYS',
    kind: 'int',
    default: 30,
    min: 1,
    max: 36_500,
    doc: 'Days a row PostgreSQL refused during a spool replay is kept in refused_rows for an operator to look at (docs/read-api.md §7); machpay_refused_rows counts them.',
  },
  retentionWebhookHistoryDays: {
    env: 'RETENTION_WEBHOOK_HISTORY_DAYS',
    kind: 'int',
    default: 30,
    min: 1,
    max: 36_500,
    doc: 'Days ended webhook deliveries (delivered, failed, disabled) and their attempt log are kept; pending deliveries stay whatever their age.',
  },
  retentionResolvedAlertsDays: {
    env: 'RETENTION_RESOLVED_ALERTS_DAYS',
    kind: 'int',
    default: 90,
    min: 1,
    max: 36_500,
    doc: 'Days a resolved alert is kept in the alert history after its resolution (deleted in batches by resolved_at); open alerts stay whatever their age.',
  },
  retentionBatchRows: {
    env: 'RETENTION_BATCH_ROWS',
    kind: 'int',
    default: 5_000,
    min: 1,
    max: 1_000_000,
    doc: 'Rows one retention DELETE removes at most (each batch its own short transaction).',
  },
  retentionMaxRunMs: {
    env: 'RETENTION_MAX_RUN_MS',
    kind: 'int',
    default: 600_000,
    min: 1_000,
    max: 3_600_000,
    doc: 'Longest a retention run (with the hourly partition check) keeps starting batches; what is left waits for the next check.',
  },
  alertLowBalanceThresholdAtomic: {
    env: 'ALERT_LOW_BALANCE_THRESHOLD_ATOMIC',
    kind: 'decimal',
    default: '5000000',
    doc: 'Default low_balance threshold of an agent without its own setting, in atomic units (5 USDC).',
  },
  alertRunwayHours: { env: 'ALERT_RUNWAY_HOURS', kind: 'int', default: 24, min: 1, max: 8_760, doc: 'Default runway alert: fires when the balance lasts fewer hours at the recent spend rate.' },
  alertDailySpendLimitAtomic: {
    env: 'ALERT_DAILY_SPEND_LIMIT_ATOMIC',
    kind: 'decimal',
    default: '100000000',
    doc: 'Default spend_limit of an agent per UTC day, in atomic units (100 USDC).',
  },
  alertErrorRateThreshold: { env: 'ALERT_ERROR_RATE_THRESHOLD', kind: 'ratio', default: 0.2, doc: 'Default high_error_rate threshold: share of failed interactions (0 to 1).' },
  alertErrorRateMinRequests: {
    env: 'ALERT_ERROR_RATE_MIN_REQUESTS',
    kind: 'int',
    default: 20,
    min: 1,
    max: 1_000_000,
    doc: 'Default fewest interactions in the window before high_error_rate can fire.',
  },
  alertsEnabledDefault: { env: 'ALERTS_ENABLED_DEFAULT', kind: 'bool', default: true, doc: 'Whether alerts are on for an agent that has not set it.' },
  alertSweepIntervalMs: {
    env: 'ALERT_SWEEP_INTERVAL_MS',
    kind: 'int',
    default: 15_000,
    min: 100,
    max: 3_600_000,
    doc: 'How often conditions that change with time alone (runway, error-rate window, a new day) are checked without a new event.',
  },
  alertDebounceMs: {
    env: 'ALERT_DEBOUNCE_MS',
    kind: 'int',
    default: 200,
    min: 0,
    max: 60_000,
    doc: 'How long an agent touched by a commit waits before it is evaluated, so a burst of commits costs one evaluation.',
  },
  webhookAllowPrivateUrls: {
    env: 'WEBHOOK_ALLOW_PRIVATE_URLS',
    kind: 'bool',
    default: false,
    doc: 'Allow webhook URLs on private, loopback and link-local addresses (off: refused at registration and at delivery, against SSRF).',
  },
  webhookTimeoutMs: { env: 'WEBHOOK_TIMEOUT_MS', kind: 'int', default: 15_000, min: 100, max: 600_000, doc: 'Time one delivery attempt may take, up to the status line.' },
  webhookConcurrency: { env: 'WEBHOOK_CONCURRENCY', kind: 'int', default: 16, min: 1, max: 1_000, doc: 'Delivery attempts in flight at once on this receiver.' },
  webhookConcurrencyPerEndpoint: {
    env: 'WEBHOOK_CONCURRENCY_PER_ENDPOINT',
    kind: 'int',
    default: 4,
    min: 1,
    max: 1_000,
    doc: 'Attempts in flight at once to one webhook: a slow endpoint never takes every slot.',
  },
  webhookPollIntervalMs: { env: 'WEBHOOK_POLL_INTERVAL_MS', kind: 'int', default: 1_000, min: 10, max: 600_000, doc: 'How often the delivery queue is polled when nothing woke the dispatcher.' },
  webhookRetryBaseMs: { env: 'WEBHOOK_RETRY_BASE_MS', kind: 'int', default: 5_000, min: 1, max: 86_400_000, doc: 'Delay after a first failed attempt; doubles per failure (jittered) up to WEBHOOK_RETRY_CAP_MS.' },
  webhookRetryCapMs: { env: 'WEBHOOK_RETRY_CAP_MS', kind: 'int', default: 3_600_000, min: 1, max: 86_400_000, doc: 'Longest delay between two attempts.' },
  webhookRetryWindowMs: {
    env: 'WEBHOOK_RETRY_WINDOW_MS',
    kind: 'int',
    default: 86_400_000,
    min: 1_000,
    max: 30 * 86_400_000,
    doc: 'How long a delivery is retried after it was queued before it is given up as failed (about a day).',
  },
  webhookClaimLeaseMs: {
    env: 'WEBHOOK_CLAIM_LEASE_MS',
    kind: 'int',
    default: 45_000,
    min: 1_000,
    max: 3_600_000,
    doc: 'How long a receiver holds a delivery it is attempting; another receiver takes it over after that (a crash). Must exceed WEBHOOK_TIMEOUT_MS.',
  },
  webhookPoolSize: { env: 'WEBHOOK_POOL_SIZE', kind: 'int', default: 2, min: 1, max: 64, doc: 'PostgreSQL connections of the webhook dispatcher (its own pool).' },
  streamTokenSecret: {
    env: 'STREAM_TOKEN_SECRET',
    kind: 'string',
    default: null,
    minBytes: 32,
    doc: 'Secret (at least 32 bytes) that signs stream tokens and event ids; every receiver of one database must share it so that tokens and Last-Event-ID work on any of them. Unset: a random one is made once and kept in DATA_DIR/stream-secret, which is right for a single receiver.',
  },
  streamResumeWindowMs: {
    env: 'STREAM_RESUME_WINDOW_MS',
    kind: 'int',
    default: 300_000,
    min: 1_000,
    max: 86_400_000,
    doc: 'How old a Last-Event-ID may be and still resume without a gap; older ids get a reset event.',
  },
  streamHeartbeatMs: { env: 'STREAM_HEARTBEAT_MS', kind: 'int', default: 10_000, min: 100, max: 15_000, doc: 'Interval of the heartbeat comment on open streams (at most 15 s).' },
  streamPollIntervalMs: {
    env: 'STREAM_POLL_INTERVAL_MS',
    kind: 'int',
    default: 100,
    min: 10,
    max: 60_000,
    doc: 'How often the stream reads new rows while anyone subscribes and no commit woke it (commits on any receiver wake it through NOTIFY).',
  },
  streamSubscriberBufferBytes: {
    env: 'STREAM_SUBSCRIBER_BUFFER_BYTES',
    kind: 'int',
    default: 8 * MiB,
    min: 64 * 1024,
    max: 1024 * MiB,
    doc: 'Bytes held for one subscriber that does not read; past it the subscriber gets a reset event and is closed, and ingest never waits.',
  },
  agentRateLimit: {
    env: 'AGENT_RATE_LIMIT',
    kind: 'int',
    default: 2_000,
    min: 0,
    max: 10_000_000,
    doc: 'Requests per second one agent may send to /v1/agent (token bucket; 0 = no limit). Over it: 429 rate_limited.',
  },
  agentRateBurst: { env: 'AGENT_RATE_BURST', kind: 'int', default: 4_000, min: 1, max: 10_000_000, doc: 'Bucket size of AGENT_RATE_LIMIT.' },
  apiKeyRateLimit: {
    env: 'API_KEY_RATE_LIMIT',
    kind: 'int',
    default: 10_000,
    min: 0,
    max: 10_000_000,
    doc: 'Requests per second one API key may send to /v1/ingest (token bucket; 0 = no limit). Over it: 429 rate_limited.',
  },
  apiKeyRateBurst: { env: 'API_KEY_RATE_BURST', kind: 'int', default: 20_000, min: 1, max: 10_000_000, doc: 'Bucket size of API_KEY_RATE_LIMIT.' },
  authFailureRateLimit: {
    env: 'AUTH_FAILURE_RATE_LIMIT',
    kind: 'int',
    default: 20,
    min: 0,
    max: 10_000_000,
    doc: 'Answers of 401 per second one client address (an IPv6 /64) may receive (token bucket; 0 = no limit). Past it, its ingest requests get 429 rate_limited before any work.',
  },
  authFailureRateBurst: { env: 'AUTH_FAILURE_RATE_BURST', kind: 'int', default: 200, min: 1, max: 10_000_000, doc: 'Bucket size of AUTH_FAILURE_RATE_LIMIT.' },
  unauthenticatedBytesPerAddress: {
    env: 'UNAUTHENTICATED_BYTES_PER_ADDRESS',
    kind: 'int',
    default: 0,
    min: 0,
    max: 1024 * MiB,
    doc: 'Body bytes one client address (an IPv6 /64) may always have in ingest requests not yet authenticated; beyond it, an address borrows from RING_BYTES / 4 shared by all addresses over theirs (all such requests hold at most RING_BYTES / 2). 0 = RING_BYTES / 32, at least one request of MAX_BODY_BYTES. Past it: 429 overloaded. Behind a proxy that hides client addresses, raise it to RING_BYTES / 2.',
  },
  trustedProxies: {
    env: 'TRUSTED_PROXIES',
    kind: 'string',
    default: '',
    doc: 'Comma-separated addresses and CIDR blocks (10.0.0.0/8, fd00::/8) of load balancers in front of the receiver. A request whose peer is one of them is counted, for the per-address limits, under the right-most X-Forwarded-For address that is not one of them. Empty: the peer address always (X-Forwarded-For ignored, since any client can write it).',
  },
  bodyTimeoutMs: {
    env: 'BODY_TIMEOUT_MS',
    kind: 'int',
    default: 10_000,
    min: 100,
    max: 600_000,
    doc: 'A request body must arrive within this time of its headers, or the connection is closed (slow-body protection; idle and slow-header connections are closed by the HTTP layer after 10 s).',
  },
  maxConcurrentRequests: {
    env: 'MAX_CONCURRENT_REQUESTS',
    kind: 'int',
    default: 10_000,
    min: 1,
    max: 1_000_000,
    doc: 'Most ingest requests being received or processed at once; past it: 429 overloaded.',
  },
  retryAfterSeconds: { env: 'RETRY_AFTER_SECONDS', kind: 'int', default: 1, min: 1, max: 3600, doc: 'Retry-After sent with 429 and 503.' },
  shutdownTimeoutMs: {
    env: 'SHUTDOWN_TIMEOUT_MS',
    kind: 'int',
    default: 10_000,
    min: 0,
    max: 600_000,
    doc: 'On SIGTERM/SIGINT: how long in-flight requests may take to be answered before the process exits.',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    kind: 'enum',
    default: 'info',
    values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
    doc: 'Log level (logs go to stderr as JSON lines).',
  },
} as const satisfies Record<string, KeySpec>;

type Spec = typeof SPEC;
type ValueOf<K extends keyof Spec> = Spec[K]['kind'] extends 'int' | 'ratio'
  ? number
  : Spec[K]['kind'] extends 'bool'
    ? boolean
    : Spec[K]['default'] extends null
      ? string | null
      : string;

export type Config = { readonly [K in keyof Spec]: ValueOf<K> };
export type ConfigKey = keyof Spec;

/** `--ring-bytes` for `ringBytes`. */
export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

function parseValue(key: string, spec: KeySpec, raw: string): string | number | boolean {
  const name = spec.env;
  switch (spec.kind) {
    case 'int': {
      if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(name, `expected an integer, got ${JSON.stringify(raw)}`);
      const n = Number(raw);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(name, `must be >= ${spec.min}, got ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(name, `must be <= ${spec.max}, got ${n}`);
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(name, `expected true or false, got ${JSON.stringify(raw)}`);
    case 'url':
      try {
        new URL(raw);
      } catch {
        throw new ConfigError(name, `not a valid URL`);
      }
      return raw;
    case 'enum':
      if (!spec.values?.includes(raw)) throw new ConfigError(name, `must be one of ${spec.values?.join(', ')}, got ${JSON.stringify(raw)}`);
      return raw;
    case 'string':
      if (raw.length === 0) throw new ConfigError(name, 'must not be empty');
      if (spec.minBytes !== undefined && Buffer.byteLength(raw) < spec.minBytes) throw new ConfigError(name, `must be at least ${spec.minBytes} bytes`);
      return raw;
    case 'decimal':
      if (!/^\d{1,38}$/.test(raw.trim())) throw new ConfigError(name, `expected a non-negative integer, got ${JSON.stringify(raw)}`);
      return BigInt(raw.trim()).toString();
    case 'ratio': {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new ConfigError(name, `expected a number from 0 to 1, got ${JSON.stringify(raw)}`);
      return n;
    }
  }
  throw new ConfigError(key, 'unknown kind');
}

/**
 * Builds the frozen config. `flags` are `--kebab-name value` or `--kebab-name=value` pairs
 * already split from the command line; unknown flags fail with their name.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, flags: readonly string[] = []): Config {
  const out: Record<string, unknown> = {};
  const byFlag = new Map<string, string>();
  for (const key of Object.keys(SPEC)) byFlag.set(flagName(key), key);

  for (const [key, spec] of Object.entries(SPEC) as [string, KeySpec][]) {
    const raw = env[spec.env];
    out[key] = raw === undefined || raw === '' ? spec.default : parseValue(key, spec, raw);
  }
  for (let i = 0; i < flags.length; i++) {
    const arg = flags[i] ?? '';
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const key = byFlag.get(flag);
    if (key === undefined) throw new ConfigError(flag, 'unknown option (see --help)');
    const value = eq === -1 ? flags[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new ConfigError(flag, 'needs a value');
    out[key] = parseValue(key, SPEC[key as ConfigKey] as KeySpec, value);
  }
  out.ringBytes = nextPowerOfTwo(out.ringBytes as number);
  corsOriginList(out.corsOrigins as string);
  try {
    new AddressRanges(out.trustedProxies as string);
  } catch (err) {
    throw new ConfigError('TRUSTED_PROXIES', (err as Error).message);
  }
  // A record holds the body plus a header and the ce-* attributes (under 64 KiB), and the
  // ring takes records up to half its size: the largest body must always fit.
  if ((out.maxBodyBytes as number) + 64 * 1024 > (out.ringBytes as number) / 2) {
    throw new ConfigError('MAX_BODY_BYTES', 'must be at most half of RING_BYTES minus 64 KiB');
  }
  // A query timeout that fires first would throw away connections PostgreSQL was about to free with a cancel.
  if ((out.pgQueryTimeoutMs as number) > 0 && (out.pgStatementTimeoutMs as number) > 0 && (out.pgQueryTimeoutMs as number) <= (out.pgStatementTimeoutMs as number)) {
    throw new ConfigError('PG_QUERY_TIMEOUT_MS', `must exceed PG_STATEMENT_TIMEOUT_MS (${String(out.pgStatementTimeoutMs)})`);
  }
  // A claim that ends before its attempt can time out lets another receiver send the same
  // delivery while the first is still sending it.
  if ((out.webhookClaimLeaseMs as number) <= (out.webhookTimeoutMs as number)) {
    throw new ConfigError('WEBHOOK_CLAIM_LEASE_MS', `must exceed WEBHOOK_TIMEOUT_MS (${String(out.webhookTimeoutMs)})`);
  }
  if ((out.webhookRetryCapMs as number) < (out.webhookRetryBaseMs as number)) {
    throw new ConfigError('WEBHOOK_RETRY_CAP_MS', `must be at least WEBHOOK_RETRY_BASE_MS (${String(out.webhookRetryBaseMs)})`);
  }
  return Object.freeze(out) as Config;
}

/**
 * CORS_ORIGINS as a list. Each entry must be an origin exactly as a browser sends it in
 * `Origin` (lower-case host, no default port, no path), since origins are compared as
 * strings: an entry that could never match fails at start instead.
 */
export function corsOriginList(value: string): string[] {
  const origins: string[] = [];
  for (const part of value.split(',')) {
    const origin = part.trim();
    if (origin === '') continue;
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      parsed = null;
    }
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.origin !== origin) {
      throw new ConfigError('CORS_ORIGINS', `${JSON.stringify(origin)} is not an origin such as https://app.example.com (scheme, host and port only, as browsers send them)`);
    }
    origins.push(origin);
  }
  return origins;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** The option table for `--help` and the README. */
export function describeConfig(): string {
  const rows = (Object.entries(SPEC) as [string, KeySpec][]).map(([key, s]) => {
    const def = s.default === null ? '(unset)' : String(s.default);
    return `  ${flagName(key).padEnd(28)} ${s.env.padEnd(26)} default ${def}\n      ${s.doc}`;
  });
  return rows.join('\n');
}

/** The option table of the README, in Markdown (kept in sync by a test). */
export function configMarkdown(): string {
  const rows = (Object.entries(SPEC) as [string, KeySpec][]).map(([key, s]) => {
    const def = s.default === null ? 'unset' : s.env === 'WORKERS' ? 'cores − 1 (1–4)' : `\`${String(s.default)}\``;
    return `| \`${s.env}\` | \`${flagName(key)}\` | ${def} | ${s.doc} |`;
  });
  return ['| variable | flag | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}
