-- Exact rollups through crashes (src/rollups/pending-tallies.ts, tally-folder.ts).
--
-- A batch of raw rows writes its per-(minute, entity, vendor) tallies into rollup_pending in
-- the same transaction, with the raw latencies of its rows (SQL's array_agg on the staged
-- path; a histogram is not something SQL can build). A folder claims pending rows with
-- FOR UPDATE SKIP LOCKED, merges them into the minute, hour and day tables and deletes them,
-- all in one transaction: several folders never count a row twice, and a folder that dies
-- mid-way leaves its rows pending for the next one.

-- One latency_ms per raw row of the tally, in no particular order; the folder builds the
-- HDR histograms from them. latency_histogram (003) stays for writers that send a histogram
-- instead; a row carries one or the other (or neither: a tally of spend-only rows).
ALTER TABLE rollup_pending
    ADD COLUMN IF NOT EXISTS latencies INT[];

-- The folder claims the oldest ids first: the primary key serves that scan, and the age of
-- the oldest pending row (the folder's lag) is one probe of it. Nothing else to index.
-- The table is a queue (rows live about a fold interval): vacuumed after a fixed number of
-- deleted rows rather than a share of a table that is mostly dead, so the claim's index scan
-- does not wade through dead entries.
ALTER TABLE rollup_pending SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000,
                                autovacuum_vacuum_cost_delay = 0);

-- Every fold rewrites the rows of the buckets it touches (their key columns unchanged): room
-- left in each page lets PostgreSQL keep the new version on the same page without touching
-- the indexes (a HOT update).
ALTER TABLE agent_stats_minute SET (fillfactor = 70);
ALTER TABLE agent_stats_daily SET (fillfactor = 70);
ALTER TABLE agent_stats_hourly SET (fillfactor = 70);
ALTER TABLE gateway_stats_hourly SET (fillfactor = 70);

-- Minute and day buckets of gateways, per (tenant, gateway, vendor), shaped like the agents'
-- tables of 003: the gateway metrics' chart_data needs 1-minute buckets as the agents' does.
-- Hours stay in gateway_stats_hourly (002).
CREATE TABLE IF NOT EXISTS gateway_stats_minute (
    tenant_id           VARCHAR(64) NOT NULL,
    gateway_id          VARCHAR(64) NOT NULL,
    bucket              TIMESTAMPTZ NOT NULL,
    vendor_id           VARCHAR(64) NOT NULL,
    total_requests      BIGINT NOT NULL DEFAULT 0,
    successful_requests BIGINT NOT NULL DEFAULT 0,
    failed_requests     BIGINT NOT NULL DEFAULT 0,
    total_spend_atomic  NUMERIC(39, 0) NOT NULL DEFAULT 0,
    latency_sum_ms      BIGINT NOT NULL DEFAULT 0,
    max_latency_ms      INT,
    latency_histogram   TEXT,
    PRIMARY KEY (tenant_id, gateway_id, bucket, vendor_id)
) WITH (fillfactor = 70);

CREATE TABLE IF NOT EXISTS gateway_stats_daily (
    tenant_id           VARCHAR(64) NOT NULL,
    gateway_id          VARCHAR(64) NOT NULL,
    bucket              TIMESTAMPTZ NOT NULL,
    vendor_id           VARCHAR(64) NOT NULL,
    total_requests      BIGINT NOT NULL DEFAULT 0,
    successful_requests BIGINT NOT NULL DEFAULT 0,
    failed_requests     BIGINT NOT NULL DEFAULT 0,
    total_spend_atomic  NUMERIC(39, 0) NOT NULL DEFAULT 0,
    latency_sum_ms      BIGINT NOT NULL DEFAULT 0,
    max_latency_ms      INT,
    latency_histogram   TEXT,
    PRIMARY KEY (tenant_id, gateway_id, bucket, vendor_id)
) WITH (fillfactor = 70);

-- Minute rows have a short retention of their own (deleted by bucket, oldest first).
CREATE INDEX IF NOT EXISTS idx_agent_stats_minute_bucket ON agent_stats_minute (bucket);
CREATE INDEX IF NOT EXISTS idx_gateway_stats_minute_bucket ON gateway_stats_minute (bucket);

-- ClickHouse delta rows decided by a fold, in the fold's own transaction: each fold writes
-- one row here holding its rollup_minute rows (JSON array, row_id fixed at fold time). A
-- sender inserts them into ClickHouse, then deletes them; a row sent again after a lost reply
-- or a crash carries the same row_ids and collapses under FINAL (ReplacingMergeTree), so
-- ClickHouse counts every pending tally exactly once and a down ClickHouse never delays a fold.
CREATE TABLE IF NOT EXISTS rollup_clickhouse_outbox (
    id          BIGSERIAL PRIMARY KEY,
    rows        TEXT NOT NULL,
    row_count   INT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
