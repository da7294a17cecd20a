-- Alerts (docs/read-api.md §5): one row per alert, from the moment it fires until it
-- resolves, and kept afterwards as the alert's history (GET /v1/agent/alerts).
--
-- agent_id is the agent's public key, as in every other table of the read side (the seed
-- plan's table referenced agents(id), a surrogate the read side never exposes). tenant_id is
-- the tenant the agent was linked to when the alert fired: its webhooks are told, and only its
-- keys list the alert.
--
-- Several receivers evaluate the same agents: the unique partial index below lets exactly one
-- INSERT of an open alert per (agent, type) succeed, and a resolution is an UPDATE guarded by
-- state = 'firing', so a change of state happens, and is sent to webhooks, once.

CREATE TABLE IF NOT EXISTS agent_alerts (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id        VARCHAR(64) NOT NULL REFERENCES agents (pubkey),
    tenant_id       VARCHAR(64) NOT NULL,
    type            VARCHAR(32) NOT NULL
                        CHECK (type IN ('low_balance', 'runway', 'spend_limit', 'high_error_rate', 'stale_telemetry')),
    severity        VARCHAR(16) NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
    state           VARCHAR(16) NOT NULL DEFAULT 'firing' CHECK (state IN ('firing', 'resolved')),
    message         TEXT NOT NULL,
    -- The values that crossed and the threshold; on resolution, `resolution` is added with
    -- the reason and the values that ended it.
    data            JSONB NOT NULL DEFAULT '{}',
    fired_at        TIMESTAMPTZ NOT NULL,
    resolved_at     TIMESTAMPTZ,
    acknowledged_at TIMESTAMPTZ,
    -- high_error_rate resolves once its condition has been false for 5 minutes: when an
    -- evaluator first saw it false (NULL while it holds). Kept in the row, not in memory, so
    -- that every receiver counts from the same instant.
    clear_since     TIMESTAMPTZ,
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The transaction that last changed the alert's state (fired, resolved), as the stream's
    -- other tables carry it (006): a stream reader sends the row again when it changes.
    -- Acknowledging and clear_since do not change it: they are not changes of state.
    stream_xid      BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    CHECK ((state = 'firing') = (resolved_at IS NULL))
);

-- At most one open alert per (agent, type), across every receiver of the database. Also the
-- sweep's list of open alerts and the list endpoint's state=firing filter.
CREATE UNIQUE INDEX IF NOT EXISTS idx_agent_alerts_one_open ON agent_alerts (agent_id, type) WHERE state = 'firing';

-- GET /v1/agent/alerts: an agent's alerts, newest first, keyset on (fired_at, id).
CREATE INDEX IF NOT EXISTS idx_agent_alerts_agent_fired ON agent_alerts (agent_id, fired_at DESC, id DESC);

-- Stream readers follow changes by transaction id.
CREATE INDEX IF NOT EXISTS idx_agent_alerts_stream_xid ON agent_alerts (stream_xid);
