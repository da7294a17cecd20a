-- Hourly latency and spend rollups (the MachPay plan, Phase 6), kept by src/rollups from the
-- rows each COPY transaction actually inserted, so the product answers "p99 of agent X over
-- the last day" from PostgreSQL alone, with or without ClickHouse.
--
-- Every flush of a receiver adds its counts to the hour's row and merges its HDR histogram
-- into the stored one (read under FOR UPDATE, merged exactly, written back): several
-- receivers, late events and restarts all add up. Percentile columns are those of the
-- merged histogram: within 1/1024 of the exact nearest-rank percentile (src/rollups/README.md).
-- For a window of several hours, merge `latency_histogram` of its rows in application code
-- (src/rollups mergeEncodedHistograms); percentiles of percentiles are not percentiles.
--
-- Differences from the plan's table, and why:
--   total_spend_atomic is NUMERIC, not BIGINT: it is a sum of int64 amounts, which need not
--     fit an int64 (PostgreSQL's own sum(bigint) returns numeric for the same reason), and an
--     overflow would make the hour's row impossible to update.
--   latency_sum_ms makes avg_latency_ms exact; p50/p90/max and latency_histogram are added;
--   vendor_breakdown holds, per vendor, the same fields with that vendor's own histogram, so
--     per-vendor percentiles merge exactly too.
-- If an older deployment created agent_stats_hourly from the plan, the ADD COLUMN statements
-- below bring it up to this shape (its BIGINT spend column stays as it was).

CREATE TABLE IF NOT EXISTS agent_stats_hourly (
    bucket              TIMESTAMPTZ NOT NULL,
    agent_id            VARCHAR(64) NOT NULL,
    total_requests      BIGINT NOT NULL DEFAULT 0,
    successful_requests BIGINT NOT NULL DEFAULT 0,
    failed_requests     BIGINT NOT NULL DEFAULT 0,
    total_spend_atomic  NUMERIC(39, 0) NOT NULL DEFAULT 0,
    avg_latency_ms      FLOAT,
    p99_latency_ms      FLOAT,
    vendor_breakdown    JSONB,
    PRIMARY KEY (bucket, agent_id)
);

ALTER TABLE agent_stats_hourly
    ADD COLUMN IF NOT EXISTS latency_sum_ms    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS p50_latency_ms    FLOAT,
    ADD COLUMN IF NOT EXISTS p90_latency_ms    FLOAT,
    ADD COLUMN IF NOT EXISTS max_latency_ms    INT,
    -- HdrHistogram V2 compressed encoding, base64 (readable by every HdrHistogram library).
    ADD COLUMN IF NOT EXISTS latency_histogram TEXT,
    ADD COLUMN IF NOT EXISTS updated_at        TIMESTAMPTZ NOT NULL DEFAULT now();

CREATE INDEX IF NOT EXISTS idx_agent_stats_hourly_agent ON agent_stats_hourly (agent_id, bucket DESC);

-- The same for payment gateways (PROTOCOL.md §5 gateway requests), per tenant: a gateway id
-- is only unique within the tenant whose API key sends it. Success is status_code < 400.
CREATE TABLE IF NOT EXISTS gateway_stats_hourly (
    bucket              TIMESTAMPTZ NOT NULL,
    tenant_id           VARCHAR(64) NOT NULL,
    gateway_id          VARCHAR(64) NOT NULL,
    total_requests      BIGINT NOT NULL DEFAULT 0,
    successful_requests BIGINT NOT NULL DEFAULT 0,
    failed_requests     BIGINT NOT NULL DEFAULT 0,
    total_spend_atomic  NUMERIC(39, 0) NOT NULL DEFAULT 0,
    latency_sum_ms      BIGINT NOT NULL DEFAULT 0,
    avg_latency_ms      FLOAT,
    p50_latency_ms      FLOAT,
    p90_latency_ms      FLOAT,
    p99_latency_ms      FLOAT,
    max_latency_ms      INT,
    latency_histogram   TEXT,
    vendor_breakdown    JSONB,
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (bucket, tenant_id, gateway_id)
);

CREATE INDEX IF NOT EXISTS idx_gateway_stats_hourly_gateway ON gateway_stats_hourly (tenant_id, gateway_id, bucket DESC);

-- One row per rollup batch applied to the two tables above, written in the batch's own
-- transaction: a batch retried after an ambiguous failure (the connection lost around
-- COMMIT) finds its id here and is not added twice. Rows older than a week are pruned.
CREATE TABLE IF NOT EXISTS rollup_applied_batches (
    batch_id    UUID PRIMARY KEY,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS idx_rollup_applied_batches_applied_at ON rollup_applied_batches (applied_at);
