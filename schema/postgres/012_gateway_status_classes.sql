-- Gateway status classes and verified payments (docs/read-api.md §3, GET /v1/gateway/metrics).
--
-- A gateway tally counts its rows by status class (2xx, 3xx, 4xx, 5xx of status_code; 1xx
-- is the rest of total_requests) and the rows whose payment_verified is true, beside the
-- counts it already had. The columns ride along every path the other counts take: written
-- with the batch into rollup_pending, folded into the minute, hour and day tables, added by
-- a reader to the still-pending tallies. Agent tallies leave them 0.
--
-- ADD COLUMN with a constant default rewrites nothing (the default is kept in the catalog),
-- so this is quick on tables of any size. Buckets folded before it count 0 in every class.

ALTER TABLE rollup_pending
    ADD COLUMN IF NOT EXISTS status_2xx        INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_3xx        INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_4xx        INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_5xx        INT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS payments_verified INT NOT NULL DEFAULT 0;

ALTER TABLE gateway_stats_minute
    ADD COLUMN IF NOT EXISTS status_2xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_3xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_4xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_5xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS payments_verified BIGINT NOT NULL DEFAULT 0;

ALTER TABLE gateway_stats_hourly
    ADD COLUMN IF NOT EXISTS status_2xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_3xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_4xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_5xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS payments_verified BIGINT NOT NULL DEFAULT 0;

ALTER TABLE gateway_stats_daily
    ADD COLUMN IF NOT EXISTS status_2xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_3xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_4xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_5xx        BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS payments_verified BIGINT NOT NULL DEFAULT 0;
