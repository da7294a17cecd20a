-- Webhooks (docs/read-api.md §6): endpoints a tenant registers, the durable queue of messages
-- to deliver to them, and the log of every attempt made.
--
-- The queue lives in PostgreSQL so that an alert change and its deliveries commit in one
-- transaction, a pending delivery survives a crash of the receiver that queued it, and every
-- receiver of one database shares the work: dispatchers claim due rows with
-- FOR UPDATE SKIP LOCKED and hold them for a lease (next_attempt_at pushed past the attempt's
-- timeout, claim_token set), so two receivers never send the same attempt at once and a crashed
-- receiver's claim expires on its own.

CREATE TABLE IF NOT EXISTS webhooks (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       VARCHAR(64) NOT NULL,
    url             TEXT NOT NULL,
    event_types     TEXT[] NOT NULL,
    description     TEXT,
    -- The signing secret, `whsec_` + base64 of 32 random bytes, kept as it was shown. Unlike
    -- an API key (stored as its SHA-256 only), this secret is the HMAC key of every delivery's
    -- signature: the receiver must be able to read it back to sign, so a one-way hash cannot
    -- stand in for it. It is never returned after creation and never logged; protect this
    -- column as the database's credentials are protected.
    secret          TEXT NOT NULL,
    disabled_at     TIMESTAMPTZ,
    disabled_reason TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS idx_webhooks_tenant ON webhooks (tenant_id, created_at DESC) WHERE deleted_at IS NULL;

-- One row per (message, webhook). message_id is the `webhook-id` header: the same on every
-- attempt, and shared by the deliveries of one event to several endpoints of a tenant.
-- payload is the whole body ({"type", "timestamp", "data"}), fixed when the event is queued.
-- attempts counts attempts started (a claim increments it, so an attempt cut short by a crash
-- still counts); next_attempt_at is when the row is next due, or, while claimed, when the
-- claim expires.
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id          VARCHAR(64) NOT NULL,
    webhook_id          UUID NOT NULL REFERENCES webhooks (id),
    event_type          VARCHAR(64) NOT NULL,
    payload             JSONB NOT NULL,
    state               VARCHAR(16) NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'delivered', 'failed', 'disabled')),
    attempts            INT NOT NULL DEFAULT 0,
    next_attempt_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    claim_token         UUID,
    last_response_code  SMALLINT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    completed_at        TIMESTAMPTZ,
    UNIQUE (message_id, webhook_id)
);

-- "Due now" for the claim, and the pending count for the queue-size gauge: only pending rows
-- are indexed, so delivered history does not slow either.
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
-- Disabling or deleting an endpoint ends its pending deliveries.
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_webhook_pending ON webhook_deliveries (webhook_id) WHERE state = 'pending';
-- Attempts in flight per endpoint (the claim's per-webhook cap): claim_token is set only
-- while a claim lives, or after one expired unrecorded.
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_claimed ON webhook_deliveries (webhook_id) WHERE claim_token IS NOT NULL;
-- Pruning delivered history by age.
CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_completed ON webhook_deliveries (completed_at) WHERE completed_at IS NOT NULL;

-- Every attempt made, for GET /v1/webhooks/{id}/deliveries (newest first by id, keyset).
-- status is what the attempt left the delivery as: delivered, retrying, failed (retries
-- exhausted) or disabled (the endpoint answered 410, or was deleted meanwhile). error names why
-- an attempt got no 2xx (http_status, timeout, connection_failed, refused_address,
-- receiver_stopping).
CREATE TABLE IF NOT EXISTS webhook_delivery_attempts (
    id                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id          UUID NOT NULL REFERENCES webhooks (id),
    delivery_id         BIGINT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    message_id          VARCHAR(64) NOT NULL,
    event_type          VARCHAR(64) NOT NULL,
    attempt             INT NOT NULL,
    status              VARCHAR(16) NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed', 'disabled')),
    response_code       SMALLINT,
    error               VARCHAR(32),
    duration_ms         INT NOT NULL,
    attempted_at        TIMESTAMPTZ NOT NULL,
    next_attempt_at     TIMESTAMPTZ
);

CREATE INDEX IF NOT EXISTS idx_webhook_delivery_attempts_webhook ON webhook_delivery_attempts (webhook_id, id DESC);
CREATE INDEX IF NOT EXISTS idx_webhook_delivery_attempts_delivery ON webhook_delivery_attempts (delivery_id);
