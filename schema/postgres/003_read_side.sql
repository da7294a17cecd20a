-- The read side (docs/read-api.md): agents linked to tenants, their alert settings, link
-- codes, and the exact rollups that the read API sums.
--
-- Exactness: every batch of raw rows writes its per-(minute, entity, vendor) tallies into
-- rollup_pending in the same transaction as the rows; a folder later moves them, in one
-- transaction, into agent_stats_minute, agent_stats_hourly and agent_stats_daily. A reader
-- adds the folded buckets and the still-pending tallies of its window inside one snapshot,
-- so every event committed before that snapshot is counted exactly once, folded or not.

-- §1/§2: an agent belongs to at most one tenant. NULL settings mean "the configured default".
ALTER TABLE agents
    ADD COLUMN IF NOT EXISTS tenant_id                    VARCHAR(64),
    ADD COLUMN IF NOT EXISTS linked_at                    TIMESTAMPTZ,
    ADD COLUMN IF NOT EXISTS low_balance_threshold_atomic BIGINT,
    ADD COLUMN IF NOT EXISTS runway_alert_hours           DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS daily_spend_limit_atomic     BIGINT,
    ADD COLUMN IF NOT EXISTS error_rate_threshold         DOUBLE PRECISION,
    ADD COLUMN IF NOT EXISTS error_rate_min_requests      INT,
    ADD COLUMN IF NOT EXISTS alerts_enabled               BOOLEAN;

-- GET /v1/agents: a tenant's agents, most recently seen first, keyset on (last_seen_at, pubkey).
CREATE INDEX IF NOT EXISTS idx_agents_tenant_last_seen ON agents (tenant_id, last_seen_at DESC, pubkey DESC)
    WHERE tenant_id IS NOT NULL;

-- §2 link codes: one live code per agent (a new init overwrites the row), stored only as the
-- SHA-256 of the normalised code (8 upper-case Crockford base32 characters, no dash).
-- used_by_tenant lets a confirm retried after a lost answer get the same 200 again.
CREATE TABLE IF NOT EXISTS agent_link_codes (
    agent_id        VARCHAR(64) PRIMARY KEY,
    code_hash       BYTEA NOT NULL UNIQUE,
    requested_name  VARCHAR(128),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at      TIMESTAMPTZ NOT NULL,
    used_at         TIMESTAMPTZ,
    used_by_tenant  VARCHAR(64)
);

-- Folded minute and day buckets, one row per (agent, bucket, vendor). Hours stay in
-- agent_stats_hourly (002), one row per (hour, agent) with the vendors in vendor_breakdown.
-- latency_histogram: HdrHistogram V2 compressed, base64 (src/rollups).
CREATE TABLE IF NOT EXISTS agent_stats_minute (
    agent_id            VARCHAR(64) NOT NULL,
    bucket              TIMESTAMPTZ NOT NULL,
    vendor_id           VARCHAR(64) NOT NULL,
    total_requests      BIGINT NOT NULL DEFAULT 0,
    successful_requests BIGINT NOT NULL DEFAULT 0,
    failed_requests     BIGINT NOT NULL DEFAULT 0,
    total_spend_atomic  NUMERIC(39, 0) NOT NULL DEFAULT 0,
    latency_sum_ms      BIGINT NOT NULL DEFAULT 0,
    max_latency_ms      INT,
    latency_histogram   TEXT,
    PRIMARY KEY (agent_id, bucket, vendor_id)
);

CREATE TABLE IF NOT EXISTS agent_stats_daily (
    agent_id            VARCHAR(64) NOT NULL,
    bucket              TIMESTAMPTZ NOT NULL,
    vendor_id           VARCHAR(64) NOT NULL,
    total_requests      BIGINT NOT NULL DEFAULT 0,
    successful_requests BIGINT NOT NULL DEFAULT 0,
    failed_requests     BIGINT NOT NULL DEFAULT 0,
    total_spend_atomic  NUMERIC(39, 0) NOT NULL DEFAULT 0,
    latency_sum_ms      BIGINT NOT NULL DEFAULT 0,
    max_latency_ms      INT,
    latency_histogram   TEXT,
    PRIMARY KEY (agent_id, bucket, vendor_id)
);

-- Tallies committed with their raw rows and not folded yet. kind 'agent': entity_id is the
-- agent (tenant_id ''); kind 'gateway': entity_id is the gateway of tenant_id.
CREATE TABLE IF NOT EXISTS rollup_pending (
    id                  BIGSERIAL PRIMARY KEY,
    kind                VARCHAR(8) NOT NULL CHECK (kind IN ('agent', 'gateway')),
    tenant_id           VARCHAR(64) NOT NULL DEFAULT '',
    entity_id           VARCHAR(64) NOT NULL,
    vendor_id           VARCHAR(64) NOT NULL,
    minute              TIMESTAMPTZ NOT NULL,
    total_requests      INT NOT NULL DEFAULT 0,
    successful_requests INT NOT NULL DEFAULT 0,
    failed_requests     INT NOT NULL DEFAULT 0,
    total_spend_atomic  NUMERIC(39, 0) NOT NULL DEFAULT 0,
    latency_sum_ms      BIGINT NOT NULL DEFAULT 0,
    max_latency_ms      INT,
    latency_histogram   TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- A reader's window: the pending tallies of one entity between two minutes.
CREATE INDEX IF NOT EXISTS idx_rollup_pending_entity ON rollup_pending (kind, entity_id, minute);
