-- Gateway status classes and verified payments in rollup_minute: the counts PostgreSQL's
-- gateway_stats_minute / _hourly / _daily carry (schema/postgres/012) and GET /v1/gateway/metrics
-- serves (docs/read-api.md §3), so a query over ClickHouse sees a gateway's 5xx rate and its
-- verified payments too. Each row takes them from the same fold as PostgreSQL's tables
-- (src/rollups/clickhouse-fold-rows.ts), so both stores agree.
-- Same rules as 001: idempotent, and valid on 18.16 and current releases.
--
-- Columns (per delta row, like every count of 001: sum them over rows, never read one alone):
-- status_2xx, status_3xx, status_4xx and status_5xx count the row's gateway requests whose
-- status_code is 200-299, 300-399, 400-499 and 500-599; 1xx is the rest of `requests`.
-- successes are the requests below 400 (1xx, 2xx, 3xx), failures those from 400 (4xx, 5xx).
-- payments_verified counts the requests whose payment_verified is true. Agent rows hold 0 in
-- all five. Rows written before these columns existed read 0 (the DEFAULT), as do their
-- buckets in PostgreSQL folded before 012: a window that reaches back before the upgrade
-- undercounts the classes, never the requests.
--
-- A gateway's 5xx share and verified payments over a window:
--   SELECT entity_id, sum(status_5xx) / sum(requests) AS share_5xx, sum(payments_verified) AS verified
--   FROM rollup_minute FINAL
--   WHERE kind = 'gateway' AND tenant_id = {tenant} AND minute >= {from} AND minute < {to}
--   GROUP BY entity_id
--
-- ClickHouse 18.16 has no IF NOT EXISTS in ALTER TABLE … ADD COLUMN (a syntax error there).
-- The receiver (src/rollups/clickhouse-ddl.ts) therefore adds only the columns system.columns
-- lacks, with the clause from 20.3 on and without it before. On a cluster it alters
-- rollup_minute_local ON CLUSTER, then drops the Distributed rollup_minute and makes it again
-- over them ON CLUSTER (18.16 refuses an ALTER ON CLUSTER of a Distributed table where the
-- shards are replicated; it holds no rows, as the receiver inserts through it synchronously).
-- By hand on 18.16, leave out the IF NOT EXISTS and any column that is already there.
ALTER TABLE rollup_minute
    ADD COLUMN IF NOT EXISTS status_2xx        UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_3xx        UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_4xx        UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS status_5xx        UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS payments_verified UInt64 DEFAULT 0
