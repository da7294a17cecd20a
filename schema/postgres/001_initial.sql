-- machpay-receiver schema v1: the tables of PROTOCOL.md §4-§5.
-- Column types and lengths follow the MachPay plan (Phase 2); the receiver applies this
-- file once, in a transaction, and records it in schema_migrations.

-- One paid request made by an agent. Natural key (agent_id, nonce); the table is
-- partitioned by month on time, so the primary key must include time as well.
CREATE TABLE IF NOT EXISTS agent_interactions (
    time                TIMESTAMPTZ NOT NULL,
    agent_id            VARCHAR(64) NOT NULL,
    vendor_id           VARCHAR(64) NOT NULL,
    request_url         VARCHAR(512),
    request_method      VARCHAR(16),
    amount_atomic       BIGINT,
    token_mint          VARCHAR(64),
    nonce               BIGINT NOT NULL,
    success             BOOLEAN NOT NULL,
    latency_ms          INT NOT NULL,
    error_type          VARCHAR(64),
    error_message       TEXT,
    signature           VARCHAR(128),
    PRIMARY KEY (time, agent_id, nonce)
) PARTITION BY RANGE (time);

CREATE TABLE IF NOT EXISTS agent_interactions_default PARTITION OF agent_interactions DEFAULT;

CREATE INDEX IF NOT EXISTS idx_agent_interactions_agent ON agent_interactions (agent_id, time DESC);
CREATE INDEX IF NOT EXISTS idx_agent_interactions_vendor ON agent_interactions (vendor_id, time DESC);

-- Periodic health report from an agent SDK; time is the report's period_end.
CREATE TABLE IF NOT EXISTS agent_telemetry (
    time                    TIMESTAMPTZ NOT NULL,
    agent_id                VARCHAR(64) NOT NULL,
    sol_balance_lamports    BIGINT,
    usdc_balance_atomic     BIGINT,
    low_balance_warnings    INT DEFAULT 0,
    period_seconds          INT,
    total_requests          INT DEFAULT 0,
    total_payments          INT DEFAULT 0,
    total_spend_atomic      BIGINT DEFAULT 0,
    interactions            JSONB,
    sdk_version             VARCHAR(32),
    PRIMARY KEY (time, agent_id)
) PARTITION BY RANGE (time);

CREATE TABLE IF NOT EXISTS agent_telemetry_default PARTITION OF agent_telemetry DEFAULT;

CREATE INDEX IF NOT EXISTS idx_agent_telemetry_agent ON agent_telemetry (agent_id, time DESC);

-- One request seen by a payment gateway, sent with an API key of tenant_id.
-- Natural key: the CloudEvent's (source, id).
CREATE TABLE IF NOT EXISTS gateway_telemetry (
    time                TIMESTAMPTZ NOT NULL,
    tenant_id           VARCHAR(64) NOT NULL,
    event_source        VARCHAR(256) NOT NULL,
    event_id            VARCHAR(128) NOT NULL,
    gateway_id          VARCHAR(64) NOT NULL,
    vendor_id           VARCHAR(64) NOT NULL,
    route               VARCHAR(512) NOT NULL,
    method              VARCHAR(16) NOT NULL,
    status_code         SMALLINT NOT NULL,
    latency_ms          INT NOT NULL,
    agent_id            VARCHAR(64),
    amount_atomic       BIGINT,
    payment_verified    BOOLEAN,
    risk_score          DOUBLE PRECISION,
    error_code          VARCHAR(64),
    PRIMARY KEY (event_source, event_id)
);

CREATE INDEX IF NOT EXISTS idx_gateway_telemetry_gateway ON gateway_telemetry (gateway_id, time DESC);
CREATE INDEX IF NOT EXISTS idx_gateway_telemetry_tenant ON gateway_telemetry (tenant_id, time DESC);

-- Agents register themselves with their first valid packet.
CREATE TABLE IF NOT EXISTS agents (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    pubkey          VARCHAR(64) UNIQUE NOT NULL,
    name            VARCHAR(128),
    status          VARCHAR(32) NOT NULL DEFAULT 'pending',
    first_seen_at   TIMESTAMPTZ NOT NULL,
    last_seen_at    TIMESTAMPTZ NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Gateway API keys (PROTOCOL.md §4): only a SHA-256 of each key is kept.
CREATE TABLE IF NOT EXISTS api_keys (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       VARCHAR(64) NOT NULL,
    name            VARCHAR(128) NOT NULL,
    environment     VARCHAR(8) NOT NULL CHECK (environment IN ('live', 'test')),
    key_prefix      VARCHAR(24) NOT NULL,
    key_hash        BYTEA NOT NULL UNIQUE,
    scopes          TEXT[] NOT NULL DEFAULT ARRAY['ingest'],
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at    TIMESTAMPTZ,
    revoked_at      TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS idx_api_keys_tenant ON api_keys (tenant_id);
